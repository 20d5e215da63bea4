
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/tests/integration/harness.cc" "tests/CMakeFiles/systemd_test.dir/integration/harness.cc.o" "gcc" "tests/CMakeFiles/systemd_test.dir/integration/harness.cc.o.d"
  "/work/wt-h15/tests/integration/systemd_test.cc" "tests/CMakeFiles/systemd_test.dir/integration/systemd_test.cc.o" "gcc" "tests/CMakeFiles/systemd_test.dir/integration/systemd_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/wt-h15/CMakeFiles/aetherflow_common.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
