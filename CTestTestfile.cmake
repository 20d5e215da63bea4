# CMake generated Testfile for 
# Source directory: /work/wt-h15
# Build directory: /work/wt-h15
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("proto")
subdirs("tests")
subdirs("bench")
