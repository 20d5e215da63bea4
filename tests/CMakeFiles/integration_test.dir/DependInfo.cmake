
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/integration/api_test.cc" "tests/CMakeFiles/integration_test.dir/integration/api_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/api_test.cc.o.d"
  "/work/wt-h15/tests/integration/checkin_corpus_test.cc" "tests/CMakeFiles/integration_test.dir/integration/checkin_corpus_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/checkin_corpus_test.cc.o.d"
  "/work/wt-h15/tests/integration/checkin_test.cc" "tests/CMakeFiles/integration_test.dir/integration/checkin_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/checkin_test.cc.o.d"
  "/work/wt-h15/tests/integration/checkin_verdict_test.cc" "tests/CMakeFiles/integration_test.dir/integration/checkin_verdict_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/checkin_verdict_test.cc.o.d"
  "/work/wt-h15/tests/integration/core_test.cc" "tests/CMakeFiles/integration_test.dir/integration/core_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/core_test.cc.o.d"
  "/work/wt-h15/tests/integration/first_hour_test.cc" "tests/CMakeFiles/integration_test.dir/integration/first_hour_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/first_hour_test.cc.o.d"
  "/work/wt-h15/tests/integration/follow_test.cc" "tests/CMakeFiles/integration_test.dir/integration/follow_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/follow_test.cc.o.d"
  "/work/wt-h15/tests/integration/harness.cc" "tests/CMakeFiles/integration_test.dir/integration/harness.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/harness.cc.o.d"
  "/work/wt-h15/tests/integration/limits_test.cc" "tests/CMakeFiles/integration_test.dir/integration/limits_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/limits_test.cc.o.d"
  "/work/wt-h15/tests/integration/llm_keys_test.cc" "tests/CMakeFiles/integration_test.dir/integration/llm_keys_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/llm_keys_test.cc.o.d"
  "/work/wt-h15/tests/integration/llm_test.cc" "tests/CMakeFiles/integration_test.dir/integration/llm_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/llm_test.cc.o.d"
  "/work/wt-h15/tests/integration/ownership_test.cc" "tests/CMakeFiles/integration_test.dir/integration/ownership_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/ownership_test.cc.o.d"
  "/work/wt-h15/tests/integration/pause_test.cc" "tests/CMakeFiles/integration_test.dir/integration/pause_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/pause_test.cc.o.d"
  "/work/wt-h15/tests/integration/remote_test.cc" "tests/CMakeFiles/integration_test.dir/integration/remote_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/remote_test.cc.o.d"
  "/work/wt-h15/tests/integration/resources_test.cc" "tests/CMakeFiles/integration_test.dir/integration/resources_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/resources_test.cc.o.d"
  "/work/wt-h15/tests/integration/scheduling_test.cc" "tests/CMakeFiles/integration_test.dir/integration/scheduling_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/scheduling_test.cc.o.d"
  "/work/wt-h15/tests/integration/step_reasons_test.cc" "tests/CMakeFiles/integration_test.dir/integration/step_reasons_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/step_reasons_test.cc.o.d"
  "/work/wt-h15/tests/integration/terminal_test.cc" "tests/CMakeFiles/integration_test.dir/integration/terminal_test.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/terminal_test.cc.o.d"
  "/work/wt-h15/tests/integration/tmux.cc" "tests/CMakeFiles/integration_test.dir/integration/tmux.cc.o" "gcc" "tests/CMakeFiles/integration_test.dir/integration/tmux.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
