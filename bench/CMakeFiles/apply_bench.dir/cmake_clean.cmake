file(REMOVE_RECURSE
  "CMakeFiles/apply_bench.dir/apply_bench.cc.o"
  "CMakeFiles/apply_bench.dir/apply_bench.cc.o.d"
  "apply_bench"
  "apply_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/apply_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
