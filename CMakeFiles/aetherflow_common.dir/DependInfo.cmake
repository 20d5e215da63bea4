
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/wt-h15/common/attempt_log.cc" "CMakeFiles/aetherflow_common.dir/common/attempt_log.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/attempt_log.cc.o.d"
  "/work/wt-h15/common/byte_size.cc" "CMakeFiles/aetherflow_common.dir/common/byte_size.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/byte_size.cc.o.d"
  "/work/wt-h15/common/checkin.cc" "CMakeFiles/aetherflow_common.dir/common/checkin.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/checkin.cc.o.d"
  "/work/wt-h15/common/checkin_corpus.cc" "CMakeFiles/aetherflow_common.dir/common/checkin_corpus.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/checkin_corpus.cc.o.d"
  "/work/wt-h15/common/config.cc" "CMakeFiles/aetherflow_common.dir/common/config.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/config.cc.o.d"
  "/work/wt-h15/common/control_line.cc" "CMakeFiles/aetherflow_common.dir/common/control_line.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/control_line.cc.o.d"
  "/work/wt-h15/common/duration.cc" "CMakeFiles/aetherflow_common.dir/common/duration.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/duration.cc.o.d"
  "/work/wt-h15/common/edit_format.cc" "CMakeFiles/aetherflow_common.dir/common/edit_format.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/edit_format.cc.o.d"
  "/work/wt-h15/common/llm.cc" "CMakeFiles/aetherflow_common.dir/common/llm.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/llm.cc.o.d"
  "/work/wt-h15/common/log_analysis.cc" "CMakeFiles/aetherflow_common.dir/common/log_analysis.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/log_analysis.cc.o.d"
  "/work/wt-h15/common/log_patterns.cc" "CMakeFiles/aetherflow_common.dir/common/log_patterns.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/log_patterns.cc.o.d"
  "/work/wt-h15/common/paths.cc" "CMakeFiles/aetherflow_common.dir/common/paths.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/paths.cc.o.d"
  "/work/wt-h15/common/plan_parser.cc" "CMakeFiles/aetherflow_common.dir/common/plan_parser.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/plan_parser.cc.o.d"
  "/work/wt-h15/common/project_path.cc" "CMakeFiles/aetherflow_common.dir/common/project_path.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/project_path.cc.o.d"
  "/work/wt-h15/common/secrets.cc" "CMakeFiles/aetherflow_common.dir/common/secrets.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/secrets.cc.o.d"
  "/work/wt-h15/common/states.cc" "CMakeFiles/aetherflow_common.dir/common/states.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/states.cc.o.d"
  "/work/wt-h15/common/text.cc" "CMakeFiles/aetherflow_common.dir/common/text.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/text.cc.o.d"
  "/work/wt-h15/common/unified_diff.cc" "CMakeFiles/aetherflow_common.dir/common/unified_diff.cc.o" "gcc" "CMakeFiles/aetherflow_common.dir/common/unified_diff.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
