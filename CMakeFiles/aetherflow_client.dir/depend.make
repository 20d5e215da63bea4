# Empty dependencies file for aetherflow_client.
# This may be replaced when dependencies are built.
