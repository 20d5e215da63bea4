file(REMOVE_RECURSE
  "CMakeFiles/client_test.dir/client/export_test.cc.o"
  "CMakeFiles/client_test.dir/client/export_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/monitor_screen_test.cc.o"
  "CMakeFiles/client_test.dir/client/monitor_screen_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/remote_test.cc.o"
  "CMakeFiles/client_test.dir/client/remote_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/render_test.cc.o"
  "CMakeFiles/client_test.dir/client/render_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/run_actions_test.cc.o"
  "CMakeFiles/client_test.dir/client/run_actions_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/run_model_test.cc.o"
  "CMakeFiles/client_test.dir/client/run_model_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/run_times_test.cc.o"
  "CMakeFiles/client_test.dir/client/run_times_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/status_reasons_test.cc.o"
  "CMakeFiles/client_test.dir/client/status_reasons_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/step_log_view_test.cc.o"
  "CMakeFiles/client_test.dir/client/step_log_view_test.cc.o.d"
  "CMakeFiles/client_test.dir/client/web_view_test.cc.o"
  "CMakeFiles/client_test.dir/client/web_view_test.cc.o.d"
  "client_test"
  "client_test.pdb"
  "client_test[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/client_test.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
