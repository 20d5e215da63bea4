
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/client/export_test.cc" "tests/CMakeFiles/client_test.dir/client/export_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/export_test.cc.o.d"
  "/work/wt-h15/tests/client/monitor_screen_test.cc" "tests/CMakeFiles/client_test.dir/client/monitor_screen_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/monitor_screen_test.cc.o.d"
  "/work/wt-h15/tests/client/remote_test.cc" "tests/CMakeFiles/client_test.dir/client/remote_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/remote_test.cc.o.d"
  "/work/wt-h15/tests/client/render_test.cc" "tests/CMakeFiles/client_test.dir/client/render_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/render_test.cc.o.d"
  "/work/wt-h15/tests/client/run_actions_test.cc" "tests/CMakeFiles/client_test.dir/client/run_actions_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/run_actions_test.cc.o.d"
  "/work/wt-h15/tests/client/run_model_test.cc" "tests/CMakeFiles/client_test.dir/client/run_model_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/run_model_test.cc.o.d"
  "/work/wt-h15/tests/client/run_times_test.cc" "tests/CMakeFiles/client_test.dir/client/run_times_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/run_times_test.cc.o.d"
  "/work/wt-h15/tests/client/status_reasons_test.cc" "tests/CMakeFiles/client_test.dir/client/status_reasons_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/status_reasons_test.cc.o.d"
  "/work/wt-h15/tests/client/step_log_view_test.cc" "tests/CMakeFiles/client_test.dir/client/step_log_view_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/step_log_view_test.cc.o.d"
  "/work/wt-h15/tests/client/web_view_test.cc" "tests/CMakeFiles/client_test.dir/client/web_view_test.cc.o" "gcc" "tests/CMakeFiles/client_test.dir/client/web_view_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_client.dir/DependInfo.cmake"
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
