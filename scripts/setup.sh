#!/usr/bin/env bash
# Installs what AetherFlow needs on Debian 12 (only what is missing), then
# configures and builds it in build/. Idempotent: run it as often as you like.
#
#   scripts/setup.sh            # packages + build
#   BUILD_TYPE=Debug scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libncurses-dev libsqlite3-dev libgtest-dev libgmock-dev
  libbenchmark-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
  libcurl4-openssl-dev libsystemd-dev libre2-dev
  # aetherflow web: the HTTP server (a compiled library in Debian)
  libcpp-httplib-dev
  # the man pages are written from the README at build time
  pandoc
  # tests and benchmarks: terminal tests, DB inspection, the ninja baseline,
  # pgrep/pkill (procps), the test certificates (openssl)
  tmux sqlite3 python3 bc procps openssl
  # the YAML syntax check of files LLM steps write (PyYAML); git, which
  # --apply asks about uncommitted files and --commit commits with
  python3-yaml git
  # the web page's tests: a real headless browser driven by Selenium, and
  # Prometheus' own parser of /metrics (curl for the load bench)
  chromium chromium-driver python3-selenium python3-prometheus-client curl
  # the system's CA roots, which a TLS client without --tls-ca trusts; only
  # suggested by openssl and recommended by libcurl, so --no-install-recommends
  # leaves them out of a minimal system
  ca-certificates
  # the systemd tests: systemd-analyze verify, systemd-sysusers,
  # systemd-socket-activate (systemd need not be running)
  systemd
  # multi-user tests: useradd/groupadd, setpriv; a client without the
  # system's CAs: unshare, mount (all in a minimal Debian, listed so)
  passwd util-linux mount
  # issue 16: man --warnings (man-db), completion tests (bash-completion,
  # zsh, fish),
  # the .deb check (lintian, dpkg-dev, fakeroot), start-up timings
  # (hyperfine) and the task-spooler baseline (tsp)
  man-db bash-completion zsh fish lintian dpkg-dev fakeroot hyperfine task-spooler
  # scripts/hardening.sh: libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
)
# The `aetherflow mcp` test drives it with the official MCP TypeScript SDK:
# node and npm (Debian's; a nodejs that bundles its own npm will do).
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j "$(nproc)"

# For the tests only (the product never needs npm): the MCP TypeScript SDK
# at the version pinned in tests/mcp/package-lock.json, in build/mcp-sdk/.
sdk=build/mcp-sdk
if ! cmp -s tests/mcp/package-lock.json "$sdk/package-lock.json" ||
   [ ! -f "$sdk/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
  echo "setup: installing the MCP TypeScript SDK for the tests into $sdk/"
  mkdir -p "$sdk"
  cp tests/mcp/package.json tests/mcp/package-lock.json "$sdk/"
  (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
fi
