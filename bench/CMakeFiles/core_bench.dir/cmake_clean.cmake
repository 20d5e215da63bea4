file(REMOVE_RECURSE
  "CMakeFiles/core_bench.dir/core_bench.cc.o"
  "CMakeFiles/core_bench.dir/core_bench.cc.o.d"
  "core_bench"
  "core_bench.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/core_bench.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
