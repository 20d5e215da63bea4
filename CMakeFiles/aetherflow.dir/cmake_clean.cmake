file(REMOVE_RECURSE
  "CMakeFiles/aetherflow.dir/client/main.cc.o"
  "CMakeFiles/aetherflow.dir/client/main.cc.o.d"
  "aetherflow"
  "aetherflow.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/aetherflow.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
