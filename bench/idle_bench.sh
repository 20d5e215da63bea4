#!/usr/bin/env bash
# An idle daemon (no runs, no clients): its CPU time and how often each of
# its threads wakes up over SECONDS, and its resident memory.
#
#   bench/idle_bench.sh [SECONDS]     (default 60)
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD_DIR:-$root/build}
work=$(mktemp -d /tmp/af-idle-XXXXXX)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$bin/aetherflowd" --socket "$work/d.sock" --state-dir "$work/state" 2>>"$work/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$work/d.sock" ] && break; sleep 0.05; done
sleep 2  # past start-up
switches() {  # tid comm context-switches, one thread a line
  for t in /proc/"$daemon"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" \
      "$(awk '/ctxt_switches/ { n += $2 } END { print n }' "$t/status")"
  done | sort
}
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$daemon/stat"; }
before=$(switches); t0=$(ticks)
sleep "$secs"
after=$(switches); t1=$(ticks)
hz=$(getconf CLK_TCK)
printf 'idle daemon over %s s: %s ms of CPU (%.3f %%), %s\n' "$secs" \
  "$(( (t1 - t0) * 1000 / hz ))" "$(echo "($t1 - $t0) * 100 / $hz / $secs" | bc -l)" \
  "$(grep VmRSS "/proc/$daemon/status" | tr -s ' \t' ' ')"
echo "wake-ups per thread:"
join <(echo "$before") <(echo "$after") | awk '$5 > $3 { printf "  %-16s %d\n", $2, $5 - $3 }'
