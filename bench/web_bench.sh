#!/usr/bin/env bash
# `aetherflow web` under load (SPEC §13): PAGES open pages (Server-Sent
# Event streams, as many browsers' tabs) on one run of STEPS short steps.
# Prints the web process's CPU time and peak memory, the streams it holds
# to the daemon, and the daemon's CPU time next to the same run followed
# by one `aetherflow attach --plain` instead.
#
#   bench/web_bench.sh [STEPS] [PAGES]     (default 2000 50)
set -euo pipefail
steps=${1:-2000}
pages=${2:-50}
source "$(dirname "$0")/lib.sh"
bench_workdir af-wbench
cpu_seconds() {  # utime + stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
python3 - "$steps" > "$work/plan.json" <<'PY'
import json, sys
print(json.dumps({"max_parallel": 4, "steps": [
    {"id": f"s{i}", "run": "sleep 0.01", "description": f"step {i}"}
    for i in range(int(sys.argv[1]))]}))
PY
af() { "$bin/aetherflow" --socket "$work/d.sock" "$@"; }
: > "$work/config.toml"

# 1. One attached client (plain mode), for the daemon's side.
start_daemon
id=$(af submit "$work/plan.json")
af attach --plain "$id" > /dev/null 2>&1 || true
attach_daemon_cpu=$(cpu_seconds "$daemon")
kill "$daemon"; wait "$daemon" 2>/dev/null || true
rm -rf "$work/state" "$work/d.sock"

# 2. PAGES pages on `aetherflow web`.
start_daemon
"$bin/aetherflow" --socket "$work/d.sock" web --listen 127.0.0.1:0 > "$work/web.out" 2> "$work/web.err" &
web=$!
for _ in $(seq 200); do grep -q serving "$work/web.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.*serving \(http[^ ]*\)\/ .*/\1/p' "$work/web.out")
web_idle_kib=$(kib "$web" VmRSS)
id=$(af submit "$work/plan.json")
for i in $(seq "$pages"); do
  curl -sN "$url/api/runs/$id/events" > "$work/page$i.txt" &
done
for _ in $(seq 400); do
  n=$(curl -s "$url/metrics" | awk '$1 == "aetherflow_web_clients" { print $2 }')
  [ "${n:-0}" = "$pages" ] && break; sleep 0.05
done
streams=$(curl -s "$url/metrics" | awk '$1 == "aetherflow_web_daemon_streams" { print $2 }')
web_cpu0=$(cpu_seconds "$web")
af attach --plain "$id" > /dev/null 2>&1 || true   # waits for the end
wait_pages=0
for i in $(seq "$pages"); do  # each page's stream ends with the run
  for _ in $(seq 200); do grep -q '"ended":true' "$work/page$i.txt" && break; sleep 0.05; done
done
web_cpu=$(echo "$(cpu_seconds "$web") - $web_cpu0" | bc -l)
web_peak_kib=$(kib "$web" VmHWM)
web_daemon_cpu=$(cpu_seconds "$daemon")
kill "$web"; wait "$web" 2>/dev/null || true
printf 'run of %d steps, %d pages\n' "$steps" "$pages"
printf '  streams from aetherflow web to the daemon: %s\n' "$streams"
printf '  aetherflow web CPU while the run ran: %.2f s\n' "$web_cpu"
printf '  aetherflow web memory: %d KiB idle, %d KiB peak\n' "$web_idle_kib" "$web_peak_kib"
printf '  daemon CPU, one attach --plain:           %.2f s\n' "$attach_daemon_cpu"
printf '  daemon CPU, web with %d pages (+1 attach): %.2f s\n' "$pages" "$web_daemon_cpu"
