#!/usr/bin/env bash
# AetherFlow against ninja on the same DAG of `true` commands, at the same
# parallelism, with every AetherFlow state change persisted in SQLite.
#
#   bench/ninja_compare.sh [STEPS] [PARALLEL] [REPEATS]    (default 10000 2 3)
#
# Prints the best wall time of each and their ratio. Needs a build in
# build/ (or $BUILD_DIR) and ninja.
#
#   AS_USER=alice bench/ninja_compare.sh ...   (as root)
#
# runs the daemon as root and the client as that user, as on a shared
# server: every step then starts as the user (setresuid in the child).
set -euo pipefail
steps=${1:-10000}
parallel=${2:-2}
repeats=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD_DIR:-$root/build}
work=$(mktemp -d /tmp/af-bench-XXXXXX)
trap 'kill $daemon 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

python3 "$root/bench/gen_dag.py" "$steps" "$parallel" "$work"
now() { date +%s.%N; }

best_ninja=""
for _ in $(seq "$repeats"); do
  rm -rf "$work/n" && mkdir "$work/n" && cp "$work/build.ninja" "$work/n/"
  t0=$(now); ninja -C "$work/n" -j "$parallel" >/dev/null; t1=$(now)
  t=$(echo "$t1 - $t0" | bc)
  if [ -z "$best_ninja" ] || (( $(echo "$t < $best_ninja" | bc) )); then best_ninja=$t; fi
done

export AETHERFLOW_SOCKET=$work/d.sock AETHERFLOW_STATE_DIR=$work/state
client=("$bin/aetherflow")
daemon_args=(--max-parallel "$parallel")
if [ -n "${AS_USER:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "AS_USER needs root" >&2; exit 2; }
  chmod 755 "$work" && chmod 644 "$work/plan.json"
  daemon_args+=(--socket-group "$(id -gn "$AS_USER")")
  client=(setpriv --reuid="$AS_USER" --regid="$AS_USER" --init-groups
          env AETHERFLOW_NO_AUTOSTART=1 "$bin/aetherflow")
fi
"$bin/aetherflowd" "${daemon_args[@]}" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$work/d.sock" ] && break; sleep 0.05; done
best_af=""
for _ in $(seq "$repeats"); do
  t0=$(now)
  (cd "$work" && "${client[@]}" --socket "$work/d.sock" run "$work/plan.json" >/dev/null)
  t1=$(now)
  t=$(echo "$t1 - $t0" | bc)
  if [ -z "$best_af" ] || (( $(echo "$t < $best_af" | bc) )); then best_af=$t; fi
done
events=$(sqlite3 "$work/state/aetherflow.db" "select count(*) from events" 2>/dev/null || echo "?")

printf 'steps=%s parallel=%s repeats=%s (best of)%s\n' "$steps" "$parallel" "$repeats" \
  "${AS_USER:+, client as $AS_USER, daemon as root}"
printf 'ninja      %8.3f s\n' "$best_ninja"
printf 'aetherflow %8.3f s  (submit + run + follow; %s events persisted)\n' "$best_af" "$events"
printf 'ratio      %8.3f x\n' "$(echo "$best_af / $best_ninja" | bc -l)"
