# shellcheck shell=bash
# Set-up shared by the LLM benchmarks (llm_bench.sh, fairness_bench.sh):
# source it after `set -euo pipefail`. Sets `root` (the source tree) and
# `bin` (the build, $BUILD_DIR or build/).
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD_DIR:-$root/build}

# bench_workdir NAME: a fresh /tmp/NAME-XXXXXX in `work`, removed at exit
# with the daemon and the fake server started below.
bench_workdir() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  trap bench_cleanup EXIT
  export AETHERFLOW_NO_AUTOSTART=1
}
bench_cleanup() {
  [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null
  [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}

# start_fake_openai LATENCY_MS MAX_CONCURRENCY: the OpenAI-compatible test
# server in the background (pid in `fake`), answering after LATENCY_MS, and
# $work/config.toml pointing the deepseek provider at it with
# MAX_CONCURRENCY requests in flight.
start_fake_openai() {
  "$bin/tests/fake_openai" --port-file "$work/port" --latency-ms "$1" &
  fake=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  cat > "$work/config.toml" <<TOML
[providers.deepseek]
base_url = "http://127.0.0.1:$(cat "$work/port")/v1"
max_concurrency = $2
TOML
}

# start_daemon [ARGS...]: aetherflowd on $work/d.sock with its state in
# $work/state, the config above and ARGS, in the background (pid in
# `daemon`, stderr in $work/daemon.log); returns once its socket exists.
start_daemon() {
  DEEPSEEK_API_KEY=bench "$bin/aetherflowd" --socket "$work/d.sock" --state-dir "$work/state" \
    --config "$work/config.toml" "$@" 2>"$work/daemon.log" &
  daemon=$!
  for _ in $(seq 200); do [ -S "$work/d.sock" ] && break; sleep 0.05; done
}
