# Empty dependencies file for apply_bench.
# This may be replaced when dependencies are built.
