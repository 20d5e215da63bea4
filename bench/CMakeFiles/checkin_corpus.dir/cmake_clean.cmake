file(REMOVE_RECURSE
  "CMakeFiles/checkin_corpus.dir/checkin_corpus.cc.o"
  "CMakeFiles/checkin_corpus.dir/checkin_corpus.cc.o.d"
  "checkin_corpus"
  "checkin_corpus.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/checkin_corpus.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
