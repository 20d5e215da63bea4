#!/usr/bin/env bash
# LLM steps at scale: N independent LLM steps against the local
# OpenAI-compatible test server answering after LATENCY ms, at CONCURRENCY
# requests in flight. Prints the run's wall time against the ideal
# (N * latency / concurrency) and the daemon's peak RSS.
#
#   bench/llm_bench.sh [N] [LATENCY_MS] [CONCURRENCY]   (default 1000 200 64)
set -euo pipefail
n=${1:-1000}
latency=${2:-200}
concurrency=${3:-64}
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_workdir af-llmbench
start_fake_openai "$latency" "$concurrency"
start_daemon
python3 - "$n" > "$work/plan.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"task_id": "llm-bench", "steps": [
    {"id": f"gen_{i}", "type": "code_generation", "description": f"Generate module {i}",
     "context": {"language": "python", "files": [f"mod_{i}.py"]}} for i in range(n)]}))
PY
start=$(date +%s.%N)
"$bin/aetherflow" --socket "$work/d.sock" --plain run "$work/plan.json" --output "$work/out" >/dev/null
end=$(date +%s.%N)
wall=$(echo "$end - $start" | bc -l)
ideal=$(echo "$n * $latency / 1000 / $concurrency" | bc -l)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")
files=$(ls "$work/out" | wc -l)
printf '%s LLM steps, %s ms per answer, %s in flight: %.2f s (ideal %.2f s, %.2fx); %s output files\n' \
  "$n" "$latency" "$concurrency" "$wall" "$ideal" "$(echo "$wall / $ideal" | bc -l)" "$files"
printf 'daemon peak RSS: %.1f MiB\n' "$(echo "$rss / 1024" | bc -l)"
