#!/usr/bin/env bash
# Rebuilds (the build cache): `kiln build` beside `docker build --network
# host` (dockerd 20.10's BuildKit) and `buildah bud --layers --isolation
# chroot`, each after an untimed warm-up build with the same tag and
# context, one timed rebuild each unless RUNS is set:
#   noop-small   build.sh's small, unchanged                        target kiln ≤ 0.2× docker
#   noop-ctx     COPY + RUN over 20,000 files (~200 MB), unchanged  target ≤ 0.1× docker
#   onefile-ctx  the same with one file's content changed           target ≤ 0.3× docker
# Prints seconds per tool, the ratios and whether the target is met. Needs
# root; installs docker.io, buildah and busybox-static when missing (Debian);
# KILN=/path/to/kiln uses that binary (see bench/common.sh).
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")} # before the cd, so a relative path works
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
ONLY=${1:-noop-small noop-ctx onefile-ctx}

. bench/common.sh
bench_setup cache

# The workloads: small is build.sh's; ctx is common.sh's 20,000 files.
write_small "$work/small"
write_ctx "$work/ctx"
printf 'FROM benchbase:local\nCOPY . /ctx/\nRUN ls /ctx | wc -l > /count\n' >"$work/ctx/Dockerfile"

# The same flags for warm-up and timed rebuild: they are part of the cache keys.
k_build() { "$kiln" build -q -t "$1" "$2"; }
d_build() { docker build --network host -q -t "$1" "$2"; }
b_build() { buildah bud --layers --isolation chroot -q -t "$1" "$2"; }
warm() { k_build "$@" && d_build "$@" && b_build "$@"; } >/dev/null
# Every image a tag pointed at, for the clean-up: a rebuild with a new result
# leaves the last one dangling (200 MB each for ctx), which `rmi TAG` misses.
note() { docker images -q "$1" >>"$work/ids.docker"; buildah images -q "$1" >>"$work/ids.buildah"; }

least() { printf '%s\n' "$@" | sort -n | head -1; }

printf '%-11s %9s %9s %9s %12s %12s %8s %4s\n' workload kiln docker buildah kiln/docker kiln/buildah target met
warmed_ctx=
for w in $ONLY; do
  case $w in
    noop-small) tag=bench-small ctx=$work/small target=0.2 ;;
    noop-ctx) tag=bench-ctx ctx=$work/ctx target=0.1 ;;
    onefile-ctx) tag=bench-ctx ctx=$work/ctx target=0.3 ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
  # Both ctx workloads share one context and tag: warm it once, and every
  # onefile run starts from the last run's state, as an edit-build loop does.
  if [ "$ctx" != "$work/ctx" ] || [ -z "$warmed_ctx" ]; then
    warm "$tag" "$ctx"; note "$tag"
    [ "$ctx" = "$work/ctx" ] && warmed_ctx=1
  fi
  ks=() ds=() bs=()
  for _ in $(seq "$RUNS"); do
    # New random bytes (not a fixed edit) so no tool's cache, in this run
    # or from an earlier one of this script, already holds the content;
    # all three tools see the same change.
    if [ "$w" = onefile-ctx ]; then
      f=$ctx/d100/f050; head -c "$(stat -c %s "$f")" /dev/urandom >"$f.new"; mv "$f.new" "$f"
    fi
    ks+=("$(seconds k_build "$tag" "$ctx")")
    ds+=("$(seconds d_build "$tag" "$ctx")")
    bs+=("$(seconds b_build "$tag" "$ctx")")
    note "$tag"
  done
  k=$(least "${ks[@]}") d=$(least "${ds[@]}") b=$(least "${bs[@]}")
  kd=$(echo "$k / $d" | bc -l)
  printf '%-11s %9.3f %9.3f %9.3f %12.3f %12.3f %7s× %4s\n' "$w" "$k" "$d" "$b" \
    "$kd" "$(echo "$k / $b" | bc -l)" "$target" "$([ "$(echo "$kd <= $target" | bc)" = 1 ] && echo yes || echo no)"
done
sort -u "$work/ids.docker" | xargs -r /usr/bin/docker rmi -f >/dev/null 2>&1 || true
sort -u "$work/ids.buildah" | xargs -r buildah rmi -f >/dev/null 2>&1 || true
docker rmi -f benchbase:local >/dev/null 2>&1 || true
