# Empty dependencies file for daemon_test.
# This may be replaced when dependencies are built.
