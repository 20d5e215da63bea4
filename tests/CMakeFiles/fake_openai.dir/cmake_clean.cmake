file(REMOVE_RECURSE
  "CMakeFiles/fake_openai.dir/tools/fake_openai.cc.o"
  "CMakeFiles/fake_openai.dir/tools/fake_openai.cc.o.d"
  "fake_openai"
  "fake_openai.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/fake_openai.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
