#!/usr/bin/env bash
# How fast the client starts, and queues work (issue 16; README:
# Benchmarks). With hyperfine (Debian's, scripts/setup.sh installs it):
#   aetherflow --version              target 5 ms
#   aetherflow ls   (20 runs stored)  target 8 ms
#   aetherflow submit -- true
# then 1,000 one-command runs queued three ways: 1,000 `aetherflow submit --
# true`, one `aetherflow submit --stdin-batch` of 1,000 lines, and 1,000
# `tsp true` (task-spooler, its own server, jobs run one at a time).
#   bench/startup_bench.sh            # BUILD_DIR=... for another build
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_workdir aetherflow-startup
: >"$work/config.toml"
start_daemon
af=("$bin/aetherflow" --socket "$work/d.sock")
for _ in $(seq 20); do "${af[@]}" submit -- true >/dev/null; done
echo "client: $bin/aetherflow ($(ldd "$bin/aetherflow" | wc -l) shared objects)"
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 20 --runs 300 --style basic \
    "$bin/aetherflow --version" \
    "$bin/aetherflow --socket $work/d.sock ls" \
    "$bin/aetherflow --socket $work/d.sock submit -- true" 2>&1 |
    grep -E "^Benchmark|Time|Range"
else
  echo "(no hyperfine: scripts/setup.sh installs it)"
fi

n=1000
seconds() { local start=$EPOCHREALTIME; "$@"; echo "$EPOCHREALTIME - $start" | bc; }
one_by_one() { for _ in $(seq $n); do "${af[@]}" submit -- true >/dev/null; done; }
batch() { yes true | head -n $n | "${af[@]}" submit --stdin-batch >/dev/null; }
echo "queueing $n one-command runs:"
printf '  %-38s %6.2f s\n' "aetherflow submit -- true, $n times" "$(seconds one_by_one)"
printf '  %-38s %6.2f s\n' "aetherflow submit --stdin-batch" "$(seconds batch)"
if command -v tsp >/dev/null; then
  export TS_SOCKET=$work/tsp.sock TS_MAXFINISHED=$((n + 10)) TMPDIR=$work
  tsp_all() { for _ in $(seq $n); do tsp true >/dev/null; done; }
  printf '  %-38s %6.2f s\n' "tsp true, $n times" "$(seconds tsp_all)"
  tsp -K 2>/dev/null || true
else
  echo "  (no tsp: scripts/setup.sh installs task-spooler)"
fi
