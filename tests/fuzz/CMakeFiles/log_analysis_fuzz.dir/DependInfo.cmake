
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/fuzz/log_analysis_fuzz.cc" "tests/fuzz/CMakeFiles/log_analysis_fuzz.dir/log_analysis_fuzz.cc.o" "gcc" "tests/fuzz/CMakeFiles/log_analysis_fuzz.dir/log_analysis_fuzz.cc.o.d"
  "/work/wt-h15/tests/fuzz/replay_main.cc" "tests/fuzz/CMakeFiles/log_analysis_fuzz.dir/replay_main.cc.o" "gcc" "tests/fuzz/CMakeFiles/log_analysis_fuzz.dir/replay_main.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
