#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest):
# unit tests of the pure core and integration tests with a real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
