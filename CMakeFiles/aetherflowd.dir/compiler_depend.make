# Empty compiler generated dependencies file for aetherflowd.
# This may be replaced when dependencies are built.
