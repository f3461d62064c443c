#!/usr/bin/env bash
# kiln's ways of isolating a RUN step side by side (issue 24, points 3
# and 5), on build.sh's workloads, cold, in one run, beside buildah's
# chroot isolation (buildah bud --isolation chroot, as root):
#   overlay  kiln's sandbox over an overlay of the snapshots (the default)
#   copy     kiln's sandbox over a copy of them (KILN_SNAPSHOTTER=copy:
#            what kiln uses where overlayfs does not mount)
#   chroot   chroot isolation (KILN_ISOLATION=chroot: what kiln falls back
#            to in a container that allows no namespace)
# Each kiln column has a store of its own (chroot isolation's snapshots
# are of another kind). Every RUN uses the host's network: chroot
# isolation has no other. Usage: bench/isolation.sh ['small steps30
# stages4'] (the default). Needs root; see bench/common.sh.
set -euo pipefail
ONLY=${1:-small steps30 stages4}
cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup isolation
ctx=$work/ctx
write_build_workloads "$ctx"
for kind in copy chroot; do
  KILN_ROOT=$work/store-$kind "$kiln" $([ $kind = chroot ] && echo --isolation chroot) \
    load -i "$work/base-docker.tar" >/dev/null
done
build() { # KIND WORKLOAD
  case $1 in
    overlay) "$kiln" build --no-cache --network host -q -t "bench-$2" "$ctx/$2" ;;
    copy) KILN_SNAPSHOTTER=copy KILN_ROOT=$work/store-copy \
      "$kiln" build --no-cache --network host -q -t "bench-$2" "$ctx/$2" ;;
    chroot) KILN_ROOT=$work/store-chroot \
      "$kiln" --isolation chroot build --no-cache --network host -q -t "bench-$2" "$ctx/$2" ;;
    buildah) buildah bud --layers --no-cache --isolation chroot -q -t "bench-$2" "$ctx/$2" ;;
  esac
}
printf '%-8s %9s %9s %9s %9s %12s %12s\n' workload overlay copy chroot buildah copy/overlay chroot/buildah
for w in $ONLY; do
  o=$(seconds build overlay "$w")
  c=$(seconds build copy "$w")
  r=$(seconds build chroot "$w")
  b=$(seconds build buildah "$w") || b=0
  printf '%-8s %9.3f %9.3f %9.3f %9.3f %12.2f %12.2f\n' "$w" "$o" "$c" "$r" "$b" \
    "$(echo "scale=3; $c / $o" | bc)" "$(echo "scale=3; $r / $b" | bc)"
done
