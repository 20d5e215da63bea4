
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/common/attempt_log_test.cc" "tests/CMakeFiles/common_test.dir/common/attempt_log_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/attempt_log_test.cc.o.d"
  "/work/wt-h15/tests/common/byte_size_test.cc" "tests/CMakeFiles/common_test.dir/common/byte_size_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/byte_size_test.cc.o.d"
  "/work/wt-h15/tests/common/checkin_corpus_test.cc" "tests/CMakeFiles/common_test.dir/common/checkin_corpus_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/checkin_corpus_test.cc.o.d"
  "/work/wt-h15/tests/common/checkin_test.cc" "tests/CMakeFiles/common_test.dir/common/checkin_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/checkin_test.cc.o.d"
  "/work/wt-h15/tests/common/config_test.cc" "tests/CMakeFiles/common_test.dir/common/config_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/config_test.cc.o.d"
  "/work/wt-h15/tests/common/control_line_test.cc" "tests/CMakeFiles/common_test.dir/common/control_line_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/control_line_test.cc.o.d"
  "/work/wt-h15/tests/common/duration_test.cc" "tests/CMakeFiles/common_test.dir/common/duration_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/duration_test.cc.o.d"
  "/work/wt-h15/tests/common/edit_format_test.cc" "tests/CMakeFiles/common_test.dir/common/edit_format_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/edit_format_test.cc.o.d"
  "/work/wt-h15/tests/common/llm_test.cc" "tests/CMakeFiles/common_test.dir/common/llm_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/llm_test.cc.o.d"
  "/work/wt-h15/tests/common/log_analysis_test.cc" "tests/CMakeFiles/common_test.dir/common/log_analysis_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/log_analysis_test.cc.o.d"
  "/work/wt-h15/tests/common/log_patterns_test.cc" "tests/CMakeFiles/common_test.dir/common/log_patterns_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/log_patterns_test.cc.o.d"
  "/work/wt-h15/tests/common/paths_test.cc" "tests/CMakeFiles/common_test.dir/common/paths_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/paths_test.cc.o.d"
  "/work/wt-h15/tests/common/plan_parser_test.cc" "tests/CMakeFiles/common_test.dir/common/plan_parser_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/plan_parser_test.cc.o.d"
  "/work/wt-h15/tests/common/project_path_test.cc" "tests/CMakeFiles/common_test.dir/common/project_path_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/project_path_test.cc.o.d"
  "/work/wt-h15/tests/common/secrets_test.cc" "tests/CMakeFiles/common_test.dir/common/secrets_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/secrets_test.cc.o.d"
  "/work/wt-h15/tests/common/text_test.cc" "tests/CMakeFiles/common_test.dir/common/text_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/text_test.cc.o.d"
  "/work/wt-h15/tests/common/unified_diff_test.cc" "tests/CMakeFiles/common_test.dir/common/unified_diff_test.cc.o" "gcc" "tests/CMakeFiles/common_test.dir/common/unified_diff_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
