# Empty compiler generated dependencies file for aetherflow_web.
# This may be replaced when dependencies are built.
