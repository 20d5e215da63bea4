# Empty dependencies file for plan_parser_fuzz.
# This may be replaced when dependencies are built.
