
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/daemon/active_run.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/active_run.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/active_run.cc.o.d"
  "/work/wt-h15/daemon/admission.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/admission.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/admission.cc.o.d"
  "/work/wt-h15/daemon/caller.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/caller.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/caller.cc.o.d"
  "/work/wt-h15/daemon/capacity.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/capacity.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/capacity.cc.o.d"
  "/work/wt-h15/daemon/checkin_call.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/checkin_call.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/checkin_call.cc.o.d"
  "/work/wt-h15/daemon/command_executor.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/command_executor.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/command_executor.cc.o.d"
  "/work/wt-h15/daemon/engine.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/engine.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/engine.cc.o.d"
  "/work/wt-h15/daemon/engine_requests.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/engine_requests.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/engine_requests.cc.o.d"
  "/work/wt-h15/daemon/event_hub.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/event_hub.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/event_hub.cc.o.d"
  "/work/wt-h15/daemon/identity.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/identity.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/identity.cc.o.d"
  "/work/wt-h15/daemon/journal.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/journal.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/journal.cc.o.d"
  "/work/wt-h15/daemon/listener.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/listener.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/listener.cc.o.d"
  "/work/wt-h15/daemon/llm_executor.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_executor.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_executor.cc.o.d"
  "/work/wt-h15/daemon/llm_runner.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_runner.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_runner.cc.o.d"
  "/work/wt-h15/daemon/llm_steps.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_steps.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/llm_steps.cc.o.d"
  "/work/wt-h15/daemon/log.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/log.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/log.cc.o.d"
  "/work/wt-h15/daemon/process_runner.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/process_runner.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/process_runner.cc.o.d"
  "/work/wt-h15/daemon/progress_watcher.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/progress_watcher.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/progress_watcher.cc.o.d"
  "/work/wt-h15/daemon/project_writer.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/project_writer.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/project_writer.cc.o.d"
  "/work/wt-h15/daemon/run_layout.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/run_layout.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/run_layout.cc.o.d"
  "/work/wt-h15/daemon/scheduler.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/scheduler.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/scheduler.cc.o.d"
  "/work/wt-h15/daemon/server.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/server.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/server.cc.o.d"
  "/work/wt-h15/daemon/snapshot_rows.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/snapshot_rows.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/snapshot_rows.cc.o.d"
  "/work/wt-h15/daemon/state_store.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/state_store.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/state_store.cc.o.d"
  "/work/wt-h15/daemon/submit_check.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/submit_check.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/submit_check.cc.o.d"
  "/work/wt-h15/daemon/syntax_check.cc" "CMakeFiles/aetherflow_daemon.dir/daemon/syntax_check.cc.o" "gcc" "CMakeFiles/aetherflow_daemon.dir/daemon/syntax_check.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
