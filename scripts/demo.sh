#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo plan (command steps
# only, no API key) on a private daemon, following it live in this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
demo=$(mktemp -d /tmp/aetherflow-demo-XXXXXX)
build/aetherflowd --socket "$demo/aetherflowd.sock" --state-dir "$demo/state" \
  2>"$demo/aetherflowd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$demo/aetherflowd.sock" ] && break; sleep 0.05; done
cd examples
../build/aetherflow --socket "$demo/aetherflowd.sock" run demo.json || true
echo
echo "Demo state kept in $demo (daemon log: $demo/aetherflowd.log)."
