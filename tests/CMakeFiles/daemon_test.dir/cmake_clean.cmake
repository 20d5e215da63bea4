file(REMOVE_RECURSE
  "CMakeFiles/daemon_test.dir/daemon/admission_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/admission_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/capacity_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/capacity_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/engine_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/engine_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/event_hub_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/event_hub_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/journal_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/journal_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/llm_steps_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/llm_steps_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/process_runner_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/process_runner_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/project_writer_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/project_writer_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/pump_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/pump_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/scheduler_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/scheduler_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/state_store_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/state_store_test.cc.o.d"
  "CMakeFiles/daemon_test.dir/daemon/syntax_check_test.cc.o"
  "CMakeFiles/daemon_test.dir/daemon/syntax_check_test.cc.o.d"
  "daemon_test"
  "daemon_test.pdb"
  "daemon_test[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/daemon_test.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
