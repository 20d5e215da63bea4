# CMake generated Testfile for 
# Source directory: /work/wt-h15/bench
# Build directory: /work/wt-h15/bench
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
