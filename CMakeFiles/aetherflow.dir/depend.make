# Empty dependencies file for aetherflow.
# This may be replaced when dependencies are built.
