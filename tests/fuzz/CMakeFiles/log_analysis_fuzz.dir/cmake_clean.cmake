file(REMOVE_RECURSE
  "CMakeFiles/log_analysis_fuzz.dir/log_analysis_fuzz.cc.o"
  "CMakeFiles/log_analysis_fuzz.dir/log_analysis_fuzz.cc.o.d"
  "CMakeFiles/log_analysis_fuzz.dir/replay_main.cc.o"
  "CMakeFiles/log_analysis_fuzz.dir/replay_main.cc.o.d"
  "log_analysis_fuzz"
  "log_analysis_fuzz.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/log_analysis_fuzz.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
