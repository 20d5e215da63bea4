#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest):
# unit tests of the pure core and integration tests with a real daemon;
# then scripts/hardening.sh (the suite under sanitizers, and the fuzzers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
# Then the suite under ASan + UBSan, and the fuzzers for a bounded time.
# AETHERFLOW_QUICK=1 skips this half locally; CI always runs it.
if [ "${AETHERFLOW_QUICK:-0}" != 1 ] || [ -n "${CI:-}" ]; then
  scripts/hardening.sh
fi
