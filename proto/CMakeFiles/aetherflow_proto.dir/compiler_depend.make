# Empty compiler generated dependencies file for aetherflow_proto.
# This may be replaced when dependencies are built.
