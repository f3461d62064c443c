#!/usr/bin/env bash
# The README's main job: on a fresh machine, offline (no Docker Hub), make a
# busybox base image from Debian's busybox-static, build the hello example
# with kiln and run it. Uses the store in $KILN_ROOT (default: a fresh
# directory under /var/tmp, so the user's store is untouched).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# busybox-static for the base; slirp4netns connects RUN steps' own network
# namespace (kiln's default network for RUN).
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "building kiln (a release build: a few minutes the first time)" >&2
cargo build --release --locked
kiln=$PWD/target/release/kiln
export KILN_ROOT=${KILN_ROOT:-/var/tmp/kiln-example-store}

# The base: /bin/busybox, its applet links, root and nobody. Made once per
# store: imported again, it would be a new image (new times), and every
# step built on it would run again instead of coming from the cache.
make_base() {
  local base
  base=$(mktemp -d)
  trap 'rm -rf "$base"' RETURN
  mkdir -p "$base/bin" "$base/etc" "$base/tmp" "$base/root"
  cp /bin/busybox "$base/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$base/$(dirname "$applet")"
    ln -sf /bin/busybox "$base/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$base/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$base/etc/group"
  chmod 1777 "$base/tmp"
  chmod 700 "$base/root"
  tar --numeric-owner --owner=0 --group=0 -C "$base" -c . | "$kiln" import - busybox:local >/dev/null
}
"$kiln" inspect busybox:local >/dev/null 2>&1 || make_base

"$kiln" build -t hello testdata/examples/hello
"$kiln" run --rm hello
echo "run this script again: every step comes from the build cache (CACHED) and the image ID stays the same" >&2
