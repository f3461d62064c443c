#!/usr/bin/env bash
# What the multi-platform tests and bench/platforms.sh need, unpacked
# from Debian packages into one folder (default /var/cache/kiln-platforms;
# the first argument overrides it):
#   busybox-arm64/bin/busybox, busybox-armhf/bin/busybox  (busybox-static
#     of those architectures: base images made on the spot)
#   qemu/usr/bin/qemu-*-static  (qemu-user-static's emulators)
# The packages are downloaded and unpacked with dpkg-deb, never
# installed: installing qemu-user-static would let systemd-binfmt register
# its handlers in the host's /proc/sys/fs/binfmt_misc, which the tests must
# leave as they found it. Needs root once (dpkg --add-architecture, apt-get
# update); later runs find everything in place and do nothing. Safe to run
# from several processes at once (a lock).
set -euo pipefail
dest=${1:-/var/cache/kiln-platforms}
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if [ -x "$dest/busybox-arm64/bin/busybox" ] && [ -x "$dest/busybox-armhf/bin/busybox" ] \
  && [ -x "$dest/qemu/usr/bin/qemu-aarch64-static" ] && [ -x "$dest/qemu/usr/bin/qemu-arm-static" ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
added=
for arch in arm64 armhf; do
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    added=1
  fi
done
download() {
  # apt-get download needs the package in the lists: update once if not.
  (cd "$work" && apt-get download -qq "$@" 2>/dev/null) ||
    { apt-get update -qq && (cd "$work" && apt-get download -qq "$@"); }
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
[ -z "$added" ] || apt-get update -qq
download busybox-static:arm64 busybox-static:armhf qemu-user-static
for arch in arm64 armhf; do
  rm -rf "$dest/busybox-$arch"
  dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$dest/busybox-$arch"
done
rm -rf "$dest/qemu"
dpkg-deb -x "$work"/qemu-user-static_*.deb "$dest/qemu"
echo "unpacked busybox (arm64, armhf) and qemu-user-static into $dest"
