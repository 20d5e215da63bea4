
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/client/checkin_commands.cc" "CMakeFiles/aetherflow_client.dir/client/checkin_commands.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/checkin_commands.cc.o.d"
  "/work/wt-h15/client/cli_util.cc" "CMakeFiles/aetherflow_client.dir/client/cli_util.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/cli_util.cc.o.d"
  "/work/wt-h15/client/commands.cc" "CMakeFiles/aetherflow_client.dir/client/commands.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/commands.cc.o.d"
  "/work/wt-h15/client/connection.cc" "CMakeFiles/aetherflow_client.dir/client/connection.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/connection.cc.o.d"
  "/work/wt-h15/client/export.cc" "CMakeFiles/aetherflow_client.dir/client/export.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/export.cc.o.d"
  "/work/wt-h15/client/follow.cc" "CMakeFiles/aetherflow_client.dir/client/follow.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/follow.cc.o.d"
  "/work/wt-h15/client/monitor_screen.cc" "CMakeFiles/aetherflow_client.dir/client/monitor_screen.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/monitor_screen.cc.o.d"
  "/work/wt-h15/client/monitor_view.cc" "CMakeFiles/aetherflow_client.dir/client/monitor_view.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/monitor_view.cc.o.d"
  "/work/wt-h15/client/remote.cc" "CMakeFiles/aetherflow_client.dir/client/remote.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/remote.cc.o.d"
  "/work/wt-h15/client/render.cc" "CMakeFiles/aetherflow_client.dir/client/render.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/render.cc.o.d"
  "/work/wt-h15/client/run_actions.cc" "CMakeFiles/aetherflow_client.dir/client/run_actions.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/run_actions.cc.o.d"
  "/work/wt-h15/client/run_model.cc" "CMakeFiles/aetherflow_client.dir/client/run_model.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/run_model.cc.o.d"
  "/work/wt-h15/client/run_times.cc" "CMakeFiles/aetherflow_client.dir/client/run_times.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/run_times.cc.o.d"
  "/work/wt-h15/client/step_log_view.cc" "CMakeFiles/aetherflow_client.dir/client/step_log_view.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/step_log_view.cc.o.d"
  "/work/wt-h15/client/timeline.cc" "CMakeFiles/aetherflow_client.dir/client/timeline.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/timeline.cc.o.d"
  "/work/wt-h15/client/web_metrics.cc" "CMakeFiles/aetherflow_client.dir/client/web_metrics.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/web_metrics.cc.o.d"
  "/work/wt-h15/client/web_view.cc" "CMakeFiles/aetherflow_client.dir/client/web_view.cc.o" "gcc" "CMakeFiles/aetherflow_client.dir/client/web_view.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
