
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/daemon/admission_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/admission_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/admission_test.cc.o.d"
  "/work/wt-h15/tests/daemon/capacity_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/capacity_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/capacity_test.cc.o.d"
  "/work/wt-h15/tests/daemon/engine_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/engine_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/engine_test.cc.o.d"
  "/work/wt-h15/tests/daemon/event_hub_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/event_hub_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/event_hub_test.cc.o.d"
  "/work/wt-h15/tests/daemon/journal_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/journal_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/journal_test.cc.o.d"
  "/work/wt-h15/tests/daemon/llm_steps_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/llm_steps_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/llm_steps_test.cc.o.d"
  "/work/wt-h15/tests/daemon/process_runner_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/process_runner_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/process_runner_test.cc.o.d"
  "/work/wt-h15/tests/daemon/project_writer_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/project_writer_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/project_writer_test.cc.o.d"
  "/work/wt-h15/tests/daemon/pump_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/pump_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/pump_test.cc.o.d"
  "/work/wt-h15/tests/daemon/scheduler_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/scheduler_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/scheduler_test.cc.o.d"
  "/work/wt-h15/tests/daemon/state_store_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/state_store_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/state_store_test.cc.o.d"
  "/work/wt-h15/tests/daemon/syntax_check_test.cc" "tests/CMakeFiles/daemon_test.dir/daemon/syntax_check_test.cc.o" "gcc" "tests/CMakeFiles/daemon_test.dir/daemon/syntax_check_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_daemon.dir/DependInfo.cmake"
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
