#!/usr/bin/env bash
# The hardening half of the tests (scripts/test.sh runs it after the main
# suite; CI runs both):
#   1. the whole test suite again, built with AddressSanitizer and
#      UndefinedBehaviorSanitizer (g++), in build-asan/;
#   2. the libFuzzer targets (clang) for the plan parser and the log
#      analyser, each for FUZZ_SECONDS (default 60) from tests/fuzz/corpus,
#      in build-fuzz/. A crash, a sanitizer report or a timeout fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

echo "hardening: test suite under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DAETHERFLOW_SANITIZE=ON -DAETHERFLOW_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
# Leak checking is off for the suite: gRPC and protobuf keep process-wide
# state until exit by design. The fuzzers below run with it on.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=86"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
(cd build-asan && ctest --output-on-failure -j "$jobs")

echo "hardening: fuzzing for ${FUZZ_SECONDS:-60} s per target"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAETHERFLOW_FUZZ=ON -DAETHERFLOW_WITH_RPC=OFF -DAETHERFLOW_BUILD_TESTS=OFF \
  -DAETHERFLOW_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs"
unset ASAN_OPTIONS UBSAN_OPTIONS
for target in plan_parser_fuzz log_analysis_fuzz; do
  corpus="build-fuzz/corpus/${target%_fuzz}"
  mkdir -p "$corpus"
  # New inputs go to build-fuzz/; the committed seeds stay as they are.
  build-fuzz/tests/fuzz/"$target" "$corpus" "tests/fuzz/corpus/${target%_fuzz}" \
    -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 2>&1 | tail -n 12
done
echo "hardening: passed"
