# Empty dependencies file for aetherflow_common.
# This may be replaced when dependencies are built.
