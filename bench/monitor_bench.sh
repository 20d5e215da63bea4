#!/usr/bin/env bash
# The live monitor under load:
#  1. attaching to a 10,000-step run: time from starting `aetherflow attach`
#     in a terminal (tmux) to the first full screen;
#  2. daemon CPU time for the same run with 0 and with 50 attached clients.
#
#   bench/monitor_bench.sh [STEPS] [CLIENTS]     (default 10000 50)
set -euo pipefail
steps=${1:-10000}
clients=${2:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD_DIR:-$root/build}
work=$(mktemp -d /tmp/af-mbench-XXXXXX)
server=afbench$$
cleanup() {
  tmux -L "$server" kill-server 2>/dev/null || true
  pkill -f "aetherflowd --socket $work" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export AETHERFLOW_NO_AUTOSTART=1
now() { date +%s.%N; }

start_daemon() {
  "$bin/aetherflowd" --socket "$work/d.sock" --state-dir "$work/state$1" --max-parallel 4 \
    2>>"$work/daemon.log" &
  daemon=$!
  for _ in $(seq 200); do [ -S "$work/d.sock" ] && break; sleep 0.05; done
}
cpu_seconds() {  # utime + stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
plan() {  # $1 steps of `sleep $2`, 4 at a time
  python3 - "$1" "$2" > "$3" <<'PY'
import json, sys
n, d = int(sys.argv[1]), sys.argv[2]
print(json.dumps({"task_id": "mbench", "max_parallel": 4, "steps": [
    {"id": f"s{i}", "type": "bench", "run": f"sleep {d}",
     "description": f"Étape numéro {i} du banc d'essai"} for i in range(n)]}))
PY
}

# 1. Time to the first full screen of a 10,000-step run.
start_daemon 1
plan "$steps" 60 "$work/big.json"
id=$("$bin/aetherflow" --socket "$work/d.sock" submit "$work/big.json")
sleep 1
t0=$(now)
tmux -L "$server" new-session -d -s m -x 150 -y 50 \
  "LANG=C.UTF-8 $bin/aetherflow --socket $work/d.sock attach $id; sleep 60"
while ! tmux -L "$server" capture-pane -p -t m | grep -q "steps 1-"; do sleep 0.005; done
t1=$(now)
first_screen=$(echo "($t1 - $t0) * 1000" | bc -l)
tmux -L "$server" kill-server
"$bin/aetherflow" --socket "$work/d.sock" cancel "$id" >/dev/null
kill "$daemon"; wait "$daemon" 2>/dev/null || true

# 2. Daemon CPU for a run of short steps, without and with clients.
run_cpu() {  # $1 = number of attached clients
  start_daemon "c$1"
  plan 2000 0.01 "$work/short.json"
  local id pids=()
  id=$("$bin/aetherflow" --socket "$work/d.sock" submit "$work/short.json")
  for _ in $(seq "$1"); do
    "$bin/aetherflow" --socket "$work/d.sock" --plain attach "$id" >/dev/null 2>&1 &
    pids+=($!)
  done
  local state
  while state=$("$bin/aetherflow" --socket "$work/d.sock" status "$id" --json) &&
      grep -q '"state": "running"\|"state": "queued"' <<<"$state"; do sleep 0.2; done
  cpu_seconds "$daemon"
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  kill "$daemon"; wait "$daemon" 2>/dev/null || true
}
cpu0=$(run_cpu 0)
cpuN=$(run_cpu "$clients")

printf 'first full screen of a %s-step run: %.0f ms (attach in tmux, 150x50)\n' "$steps" "$first_screen"
printf 'daemon CPU, 2000 short steps: %.2f s with 0 clients, %.2f s with %s attached clients\n' \
  "$cpu0" "$cpuN" "$clients"
