
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/client/web_hub.cc" "CMakeFiles/aetherflow_web.dir/client/web_hub.cc.o" "gcc" "CMakeFiles/aetherflow_web.dir/client/web_hub.cc.o.d"
  "/work/wt-h15/client/web_server.cc" "CMakeFiles/aetherflow_web.dir/client/web_server.cc.o" "gcc" "CMakeFiles/aetherflow_web.dir/client/web_server.cc.o.d"
  "/work/wt-h15/generated/web_assets.cc" "CMakeFiles/aetherflow_web.dir/generated/web_assets.cc.o" "gcc" "CMakeFiles/aetherflow_web.dir/generated/web_assets.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_client.dir/DependInfo.cmake"
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  "/work/wt-h15/proto/CMakeFiles/aetherflow_proto.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
