#!/usr/bin/env bash
# The Debian package (issue 16): `cpack -G DEB` builds it, lintian finds no
# error, it installs into a fresh root with `dpkg --root`, runs there
# (`aetherflow --version` and a one-step plan on its own daemon), and
# `dpkg -r` removes all it installed but the state directory.
#
# The fresh root: no debootstrap (it needs a mirror, and CI is offline), so
# the root gets only what running the package needs, copied from this
# machine: /bin/sh for the maintainer scripts, systemd-sysusers, the
# shared libraries of those and of the two binaries (ldd), and dpkg's
# status file, so that the Depends: computed by dpkg-shlibdeps are met by
# the same packages as here. dpkg runs the maintainer scripts chrooted into
# the root, and so does this test for the binaries: it needs root.
#   package_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$(cd "$1" && pwd) version=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "package test: needs root (chroot); skipped"
  exit 77
fi
for tool in cpack lintian dpkg-shlibdeps fakeroot; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (scripts/setup.sh installs it)"; exit 1; }
done
tmp=$(mktemp -d /tmp/aetherflow-package.XXXXXX)
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. The package.
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
deb="$tmp/out/aetherflow_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { ls "$tmp/out"; fail "no $deb"; }
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for want in ./usr/bin/aetherflow ./usr/bin/aetherflowd \
    ./usr/lib/systemd/system/aetherflowd.service ./usr/lib/systemd/system/aetherflowd.socket \
    ./usr/lib/systemd/user/aetherflowd.service ./usr/lib/systemd/user/aetherflowd.socket \
    ./usr/lib/sysusers.d/aetherflow.conf \
    ./usr/share/bash-completion/completions/aetherflow \
    ./usr/share/zsh/vendor-completions/_aetherflow \
    ./usr/share/fish/vendor_completions.d/aetherflow.fish \
    ./usr/share/man/man1/aetherflow.1.gz ./usr/share/man/man8/aetherflowd.8.gz \
    ./usr/share/man/man5/aetherflow-plan.5.gz ./usr/share/doc/aetherflow/README.md \
    ./usr/share/doc/aetherflow/copyright; do
  grep -qxF -- "$want" <<<"$contents" || fail "the package lacks $want"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libgrpc++1.51 libsqlite3-0 libsystemd0; do
  grep -q "$lib" <<<"$depends" || fail "Depends: lacks $lib: $depends"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version: is not $version"

# 2. lintian: no error (warnings are listed, not fatal).
lintian --fail-on error --no-tag-display-limit "$deb" >"$tmp/lintian.log" 2>&1 ||
  { cat "$tmp/lintian.log"; fail "lintian reports errors"; }

# 3. A fresh root.
root="$tmp/root"
mkdir -p "$root"/{etc,tmp,var/lib/dpkg/info,var/lib/dpkg/updates,var/lib/dpkg/triggers,usr/bin}
chmod 1777 "$root/tmp"
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
touch "$root/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
mkdir -p "$root/root" "$root/dev"
# /dev/null for the maintainer scripts (a plain file where mknod is refused)
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || install -m 666 /dev/null "$root/dev/null"
copy() {  # a file of this machine, at the same path in the root
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
programs=(/bin/sh /usr/bin/env /usr/bin/true /usr/bin/systemd-sysusers)
for p in "${programs[@]}"; do copy "$p"; done
for f in "${programs[@]}" "$build/aetherflow" "$build/aetherflowd"; do
  ldd "$f" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'
done | sort -u | while read -r lib; do copy "$lib"; done
# usrmerge: /lib64/ld-linux and /lib are /usr/lib on Debian 12
for d in lib lib64; do [ -L "/$d" ] && [ ! -e "$root/$d" ] && ln -s "usr/$d" "$root/$d"; done

# 4. Install.
dpkg --root="$root" --log=/dev/null -i "$deb" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log"; fail "dpkg --root -i"; }
grep -q '^aetherflow:' "$root/etc/group" || fail "postinst made no aetherflow group"

# 5. Run it there.
out=$(chroot "$root" /usr/bin/aetherflow --version)
[ "$out" = "aetherflow $version" ] || fail "aetherflow --version says \"$out\""
out=$(chroot "$root" /usr/bin/aetherflowd --version)
[ "$out" = "aetherflowd $version" ] || fail "aetherflowd --version says \"$out\""
chroot "$root" /usr/bin/aetherflowd --socket /tmp/af.sock --state-dir /var/lib/aetherflow \
  >"$tmp/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 1 600); do
  [ -S "$root/tmp/af.sock" ] && break
  kill -0 "$daemon" 2>/dev/null || { cat "$tmp/daemon.log"; fail "aetherflowd died"; }
  sleep 0.1
done
if ! chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin \
    /usr/bin/aetherflow --socket /tmp/af.sock run --plain -- true >"$tmp/run.log" 2>&1; then
  cat "$tmp/run.log" "$tmp/daemon.log"; fail "a one-step plan in the root"
fi
kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""

# 6. Remove: every file of the package goes, the state directory stays.
dpkg --root="$root" --log=/dev/null -r aetherflow >"$tmp/dpkg-r.log" 2>&1 ||
  { cat "$tmp/dpkg-r.log"; fail "dpkg --root -r"; }
while read -r path; do
  path=${path#.}
  [ -z "$path" ] || [ -d "$root$path" ] && continue
  [ -e "$root$path" ] && fail "dpkg -r left $path"
done <<<"$contents"
[ -f "$root/var/lib/aetherflow/aetherflow.db" ] || fail "dpkg -r removed the state directory"
echo "package: ok ($(basename "$deb"))"
