# Empty compiler generated dependencies file for aetherflow_daemon.
# This may be replaced when dependencies are built.
