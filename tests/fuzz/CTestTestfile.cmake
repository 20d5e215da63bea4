# CMake generated Testfile for 
# Source directory: /work/wt-h15/tests/fuzz
# Build directory: /work/wt-h15/tests/fuzz
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[fuzz_corpus.plan_parser]=] "/work/wt-h15/tests/fuzz/plan_parser_fuzz" "/work/wt-h15/tests/fuzz/corpus/plan_parser")
set_tests_properties([=[fuzz_corpus.plan_parser]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-h15/tests/fuzz/CMakeLists.txt;14;add_test;/work/wt-h15/tests/fuzz/CMakeLists.txt;0;")
add_test([=[fuzz_corpus.log_analysis]=] "/work/wt-h15/tests/fuzz/log_analysis_fuzz" "/work/wt-h15/tests/fuzz/corpus/log_analysis")
set_tests_properties([=[fuzz_corpus.log_analysis]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/wt-h15/tests/fuzz/CMakeLists.txt;14;add_test;/work/wt-h15/tests/fuzz/CMakeLists.txt;0;")
