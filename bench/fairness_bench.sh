#!/usr/bin/env bash
# Fair sharing of a provider's slots (SPEC §9): a one-step LLM run
# submitted one second after a BIG-step LLM run on the same provider
# (SLOTS in flight, LATENCY ms answers). Prints how long the small run
# took from its submit to its end; one turnover of the slots is LATENCY.
# With KIND=command both runs are command steps of LATENCY ms instead.
#
#   bench/fairness_bench.sh [BIG] [LATENCY_MS] [SLOTS]   (default 300 200 5)
set -euo pipefail
big=${1:-300}
latency=${2:-200}
slots=${3:-5}
kind=${KIND:-llm}
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_workdir af-fairbench
start_fake_openai "$latency" "$slots"
start_daemon --max-parallel "$slots"
plan() {  # plan N NAME
  python3 - "$1" "$2" "$kind" "$latency" <<'PY'
import json, sys
n, name, kind, latency = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def step(i):
    if kind == "command":
        return {"id": f"{name}_{i}", "run": f"sleep {latency / 1000}"}
    return {"id": f"{name}_{i}", "type": "code_generation", "description": f"module {i}"}
print(json.dumps({"task_id": name, "steps": [step(i) for i in range(n)]}))
PY
}
plan "$big" big > "$work/big.json"
plan 1 small > "$work/small.json"
af=("$bin/aetherflow" --socket "$work/d.sock")
big_id=$("${af[@]}" submit "$work/big.json" --output "$work/out-big")
sleep 1
start=$(date +%s.%N)
small_id=$("${af[@]}" submit "$work/small.json" --output "$work/out-small")
"${af[@]}" --plain attach "$small_id" >/dev/null || true
end=$(date +%s.%N)
state=$("${af[@]}" --json status "$small_id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["state"])')
printf '%s steps: a 1-step run behind a %s-step run (%s slots, %s ms): %.2f s from submit to end (%s)\n' \
  "$kind" "$big" "$slots" "$latency" "$(echo "$end - $start" | bc -l)" "$state"
"${af[@]}" cancel "$big_id" >/dev/null 2>&1 || true
