# Empty compiler generated dependencies file for log_analysis_fuzz.
# This may be replaced when dependencies are built.
