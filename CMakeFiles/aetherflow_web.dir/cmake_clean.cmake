file(REMOVE_RECURSE
  "CMakeFiles/aetherflow_web.dir/client/web_hub.cc.o"
  "CMakeFiles/aetherflow_web.dir/client/web_hub.cc.o.d"
  "CMakeFiles/aetherflow_web.dir/client/web_server.cc.o"
  "CMakeFiles/aetherflow_web.dir/client/web_server.cc.o.d"
  "CMakeFiles/aetherflow_web.dir/generated/web_assets.cc.o"
  "CMakeFiles/aetherflow_web.dir/generated/web_assets.cc.o.d"
  "generated/web_assets.cc"
  "libaetherflow_web.a"
  "libaetherflow_web.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/aetherflow_web.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
