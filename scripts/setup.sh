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
  # the man pages are written from the README at build time
  pandoc
  # tests and benchmarks: terminal tests, DB inspection, the ninja baseline,
  # pgrep/pkill (procps), the test certificates (openssl)
  tmux sqlite3 python3 bc procps openssl
  # the YAML syntax check of files LLM steps write (PyYAML)
  python3-yaml
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
