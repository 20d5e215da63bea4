#!/usr/bin/env bash
# The man pages as the build wrote them (cmake/man.cmake): each renders
# without a warning from `man --warnings`, carries the project version, and
# has what its binary's CLI11 definition and the README say.
#   man_test.sh MAN_DIR VERSION
set -euo pipefail
dir=$1 version=$2
fail=0
check() {  # page, then strings its text must contain
  local page=$dir/$1; shift
  local warnings text
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null) || true
  if [ -n "$warnings" ]; then
    echo "FAIL: $page: man --warnings says:"; echo "$warnings"; fail=1
  fi
  text=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$page" 2>/dev/null | col -b)
  for want in "aetherflow $version" "$@"; do
    if ! grep -qF -- "$want" <<<"$text"; then
      echo "FAIL: $page lacks \"$want\""; fail=1
    fi
  done
}
check aetherflow.1.gz "aetherflow - run plans" "--socket" "--ids" "logs RUN [STEP]" \
  "EXIT CODES" "aetherflow-plan(5)"
check aetherflowd.8.gz "aetherflowd - the AetherFlow daemon" "--state-dir" "--max-parallel" \
  "RUNNING AS A SERVICE"
check aetherflow-plan.5.gz "aetherflow-plan - the plan files" "max_parallel" "LLM STEPS"
[ $fail = 0 ] && echo "man pages: ok"
exit $fail
