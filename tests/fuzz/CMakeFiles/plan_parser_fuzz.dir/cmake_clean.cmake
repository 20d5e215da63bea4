file(REMOVE_RECURSE
  "CMakeFiles/plan_parser_fuzz.dir/plan_parser_fuzz.cc.o"
  "CMakeFiles/plan_parser_fuzz.dir/plan_parser_fuzz.cc.o.d"
  "CMakeFiles/plan_parser_fuzz.dir/replay_main.cc.o"
  "CMakeFiles/plan_parser_fuzz.dir/replay_main.cc.o.d"
  "plan_parser_fuzz"
  "plan_parser_fuzz.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/plan_parser_fuzz.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
