# Empty compiler generated dependencies file for integration_test.
# This may be replaced when dependencies are built.
