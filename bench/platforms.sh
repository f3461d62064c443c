#!/usr/bin/env bash
# Multi-platform builds side by side (issue 25, point 5): a Dockerfile
# whose `$BUILDPLATFORM` stage does the heavy work natively for each
# target ("cross-compiling": a CPU loop) and whose target stage copies the
# result and runs three RUN steps, emulated on the foreign platform.
# Cold builds (--no-cache) of linux/amd64 alone, linux/arm64 alone and both
# at once, by kiln and by buildah (bud --platform, --manifest for both;
# its storage in overlay, --isolation chroot, which has the host's network
# only), then the cost of emulating
# one CPU-bound RUN step (the same loop on arm64 vs natively).
#
# Nothing is registered on the host: kiln registers QEMU in each foreign
# step's own binfmt_misc; buildah runs inside bench/binfmt-ns.py, a user
# namespace with the same private binfmt_misc (buildah has no such setup
# of its own). docker is not run: its BuildKit needs QEMU's handlers in
# the host's /proc/sys/fs/binfmt_misc, which this benchmark never changes.
# Emulators and the arm64 busybox come from testdata/platforms/fetch.sh.
#
# Usage: bench/platforms.sh ['mixed loop'] (the default: both workloads;
# `mixed` is the build above, `loop` the emulation overhead). Needs root
# and Linux 6.7+. KILN=/path/to/kiln uses that binary.
set -euo pipefail
ONLY=${1:-mixed loop}
cd "$(dirname "$0")/.."
. bench/common.sh
command -v buildah >/dev/null && command -v bc >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah bc
}
if [ -n "${KILN:-}" ]; then kiln=$KILN; else
  cargo build --release --locked -q
  kiln=$PWD/target/release/kiln
fi
kit=/var/cache/kiln-platforms
bash testdata/platforms/fetch.sh "$kit" >/dev/null
export KILN_QEMU_DIR=$kit/qemu/usr/bin
work=$(mktemp -d /var/tmp/kiln-bench-platforms.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
export KILN_ROOT=$work/store
binfmt_before=$(ls /proc/sys/fs/binfmt_misc 2>/dev/null || true)

# Bases: busybox of each architecture, as kiln images and OCI archives,
# and `localhost/base`, an index of both (a multi-platform base, as the
# images on Docker Hub are: buildah 1.28 resolves a `FROM
# --platform=$BUILDPLATFORM` stage's base by the target platform unless
# the base is a manifest list).
for arch in amd64 arm64; do
  case $arch in
    amd64) busybox=/bin/busybox ;;
    arm64) busybox=$kit/busybox-arm64/bin/busybox ;;
  esac
  base_tar "$busybox" "$work/rootfs-$arch" "$work/base-$arch.tar"
  "$kiln" import --platform "linux/$arch" "$work/base-$arch.tar" "localhost/base-$arch" >/dev/null
  "$kiln" save --format oci -o "$work/base-$arch-oci.tar" "localhost/base-$arch"
done
mkdir -p "$work/base"
printf 'ARG TARGETARCH\nFROM localhost/base-${TARGETARCH}\n' >"$work/base/Dockerfile"
"$kiln" build -q --platform linux/amd64,linux/arm64 -t localhost/base "$work/base" >/dev/null
buildah_ns() { python3 bench/binfmt-ns.py "$KILN_QEMU_DIR" aarch64 -- "$@"; }
bh="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver overlay"
for arch in amd64 arm64; do
  buildah_ns sh -c "$bh pull -q oci-archive:$work/base-$arch-oci.tar >/dev/null &&
    $bh tag \$($bh images -q | head -1) localhost/base-$arch" >/dev/null 2>&1 ||
    { echo "buildah could not load base-$arch"; exit 1; }
done
buildah_ns sh -c "$bh manifest create localhost/base && $bh manifest add localhost/base localhost/base-amd64 &&
  $bh manifest add localhost/base localhost/base-arm64" >/dev/null

mkdir -p "$work/mixed" "$work/loop"
cat >"$work/mixed/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM localhost/base AS build
ARG TARGETARCH
RUN i=0; s=0; while [ $i -lt 400000 ]; do s=$((s+i)); i=$((i+1)); done; echo "$TARGETARCH $s" > /app
FROM localhost/base
COPY --from=build /app /app
RUN i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; uname -m > /arch
RUN ls -lR /bin /etc > /list
RUN cat /app /arch && wc -l /list
EOF
cat >"$work/loop/Dockerfile" <<'EOF'
FROM localhost/base
RUN i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done
EOF

build() { # TOOL WORKLOAD PLATFORMS
  case $1 in
    kiln) "$kiln" build --no-cache --network none -q --platform "$3" -t "bench-$2" "$work/$2" ;;
    buildah)
      local n=$RANDOM
      buildah_ns $bh bud --no-cache --isolation chroot -q --platform "$3" \
        --manifest "bench-$2-$n" "$work/$2" 2>"$work/buildah.err" ||
        { cp "$work/buildah.err" "$work/buildah.failed"; return 1; } ;;
  esac
}
ratio() { echo "scale=2; $1 / $2" | bc; }
max() { echo "if ($1 > $2) $1 else $2" | bc; }

for w in $ONLY; do
  case $w in
    mixed)
      printf '%-8s %-8s %9s %9s %9s %14s\n' workload tool amd64 arm64 both both/slower
      for tool in kiln buildah; do
        # A failed build is reported and counts as 0 s.
        a=$(seconds build $tool mixed linux/amd64) || a=0
        r=$(seconds build $tool mixed linux/arm64) || r=0
        b=$(seconds build $tool mixed linux/amd64,linux/arm64) || b=0
        if [ -f "$work/buildah.failed" ]; then tail -3 "$work/buildah.failed" >&2; rm "$work/buildah.failed"; fi
        printf '%-8s %-8s %9.3f %9.3f %9.3f %14s\n' mixed $tool "$a" "$r" "$b" "$(ratio "$b" "$(max "$a" "$r")")"
        eval "both_$tool=$b"
      done
      printf 'kiln both / buildah both: %s\n' "$(ratio "$both_kiln" "$both_buildah")"
      ;;
    loop)
      n=$(seconds build kiln loop linux/amd64)
      e=$(seconds build kiln loop linux/arm64)
      printf 'loop     kiln     native %.3f s, emulated %.3f s: emulation costs %sx\n' "$n" "$e" "$(ratio "$e" "$n")"
      ;;
  esac
done
[ "$(ls /proc/sys/fs/binfmt_misc 2>/dev/null || true)" = "$binfmt_before" ] ||
  { echo "the host's binfmt_misc changed"; exit 1; }
