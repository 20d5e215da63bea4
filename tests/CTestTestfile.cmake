# CMake generated Testfile for 
# Source directory: /work/wt-h15/tests
# Build directory: /work/wt-h15/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/wt-h15/tests/common_test[1]_include.cmake")
include("/work/wt-h15/tests/daemon_test[1]_include.cmake")
include("/work/wt-h15/tests/client_test[1]_include.cmake")
include("/work/wt-h15/tests/integration_test[1]_include.cmake")
include("/work/wt-h15/tests/systemd_test[1]_include.cmake")
subdirs("fuzz")
