# Empty compiler generated dependencies file for client_test.
# This may be replaced when dependencies are built.
