file(REMOVE_RECURSE
  "CMakeFiles/systemd_test.dir/integration/harness.cc.o"
  "CMakeFiles/systemd_test.dir/integration/harness.cc.o.d"
  "CMakeFiles/systemd_test.dir/integration/systemd_test.cc.o"
  "CMakeFiles/systemd_test.dir/integration/systemd_test.cc.o.d"
  "systemd_test"
  "systemd_test.pdb"
  "systemd_test[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/systemd_test.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
