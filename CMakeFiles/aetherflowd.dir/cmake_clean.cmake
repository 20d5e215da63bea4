file(REMOVE_RECURSE
  "CMakeFiles/aetherflowd.dir/daemon/main.cc.o"
  "CMakeFiles/aetherflowd.dir/daemon/main.cc.o.d"
  "aetherflowd"
  "aetherflowd.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/aetherflowd.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
