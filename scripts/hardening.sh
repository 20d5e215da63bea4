#!/usr/bin/env bash
# The hardening half of the tests. scripts/test.sh runs it after the main
# suite, and CI runs both; alone:
#
#   scripts/hardening.sh               # both stages
#   scripts/hardening.sh sanitize      # or: fuzz
#   FUZZ_SECONDS=600 scripts/hardening.sh fuzz
#
# sanitize: the whole test suite built with g++ and -fsanitize=address,
#   undefined in build-asan/, then ctest. The integration tests start the
#   real daemon and client, so they run sanitized too. Every sanitized
#   process writes its reports into build-asan/sanitizer-reports/; any
#   report fails the stage, whether or not a test noticed it (the daemon's
#   stderr goes to a file no test reads). Leaks are checked at every exit;
#   tests/sanitizers/lsan.supp lists the third-party ones.
# fuzz: the libFuzzer targets of tests/fuzz/ built with clang in
#   build-fuzz/, run side by side for FUZZ_SECONDS each (default 60) from
#   their seed corpus. A crash, a leak, a sanitizer report, an input that
#   takes over 10 s or 2 GB fails; the input is kept in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
root="$PWD"

sanitize() {
  local build=build-asan
  echo "hardening: the test suite under ASan + UBSan, in $build/"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DAETHERFLOW_SANITIZE=address,undefined -DAETHERFLOW_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j "$jobs"
  local reports="$root/$build/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  chmod 1777 "$reports"  # some tests run the client as other users
  local status=0
  (
    export ASAN_OPTIONS="log_path=$reports/asan:log_exe_name=1:detect_leaks=1:halt_on_error=1:exitcode=86"
    export UBSAN_OPTIONS="log_path=$reports/ubsan:log_exe_name=1:halt_on_error=1:print_stacktrace=1:exitcode=87"
    export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
    cd "$build"
    ctest --output-on-failure -j "$jobs"
  ) || status=$?
  local found=("$reports"/*)
  if [ -e "${found[0]}" ]; then
    # One bug usually shows in many processes: the first few in full.
    local report
    for report in "${found[@]:0:5}"; do
      echo "hardening: sanitizer report $report:"
      head -n 80 "$report"
    done
    echo "hardening: FAILED: ${#found[@]} sanitizer reports in $reports/" >&2
    { grep -h -m1 -E 'ERROR:|runtime error' "${found[@]}" || true; } |
      sed -E 's/==[0-9]+==/ /' | sort | uniq -c | sort -rn | head -n 20 >&2
    return 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "hardening: FAILED: tests failed under the sanitizers" >&2
    return 1
  fi
  echo "hardening: the suite passed under ASan + UBSan, no report"
}

fuzz() {
  local build=build-fuzz seconds="${FUZZ_SECONDS:-60}"
  echo "hardening: fuzzing for $seconds s per target, in $build/"
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAETHERFLOW_FUZZ=ON >/dev/null
  cmake --build "$build" -j "$jobs"
  mkdir -p "$build/artifacts"
  local name pids=() names=()
  for name in plan_parser log_analysis mcp_protocol; do
    # New inputs go to build-fuzz/corpus/; the committed seeds stay as
    # they are (the first directory is the one libFuzzer writes to).
    mkdir -p "$build/corpus/$name"
    (
      unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
      exec "$build/tests/fuzz/${name}_fuzz" "$build/corpus/$name" \
        "tests/fuzz/corpus/$name" -dict="tests/fuzz/$name.dict" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-"
    ) >"$build/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
  done
  local i failed=0
  for i in "${!pids[@]}"; do
    name="${names[$i]}"
    if wait "${pids[$i]}"; then
      echo "hardening: ${name}_fuzz: $(grep -E '^Done [0-9]+ runs' "$build/$name.log")," \
        "$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$build/$name.log" | tail -n 1)"
    else
      echo "hardening: ${name}_fuzz FAILED; the end of $build/$name.log:" >&2
      grep -v '^#[0-9]' "$build/$name.log" | tail -n 60 >&2
      failed=1
    fi
  done
  if [ "$failed" -ne 0 ]; then
    echo "hardening: FAILED: reproduce with $build/tests/fuzz/<target>_fuzz" \
      "$build/artifacts/<file> (or the same target in build/tests/fuzz/, with g++)" >&2
    return 1
  fi
  echo "hardening: the fuzzers found nothing"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanitize fuzz)
for stage in "${stages[@]}"; do
  case "$stage" in
    sanitize | fuzz) start=$SECONDS; "$stage"; echo "hardening: $stage took $((SECONDS - start)) s" ;;
    *) echo "usage: $0 [sanitize] [fuzz]" >&2; exit 2 ;;
  esac
done
