#!/usr/bin/env bash
# `kiln build` beside `docker build --network host` (dockerd 20.10's
# BuildKit) and `buildah bud --layers --isolation chroot` on the same
# workloads, all cold (no cache), one run each unless RUNS is set (the
# best run counts):
#   small    w1: busybox, 8 instructions, 3 RUN      target kiln ≤ 0.2× docker
#   ctx      w2: one COPY of 20,000 files (~200 MB)  target ≤ 0.3× docker
#   big      w3: one RUN writing 1 GiB random + 1 GiB text; also the same
#            script run natively (the same busybox, no builder), and each
#            tool's overhead over it       target kiln's ≤ 0.15× docker's
#   stages4  w4: 4 independent stages (sleep 1) + COPY --from each   target ≤ 1.15 s
#   steps30  w5: 30 RUN steps                        target ≤ 15 ms per step
# Prints seconds per tool and the ratios. Needs root; installs docker.io,
# buildah and busybox-static when missing (Debian); see bench/common.sh.
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")} # before the cd, so a relative path works
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
ONLY=${1:-small ctx big stages4 steps30}

. bench/common.sh
bench_setup build

# The workloads.
write_build_workloads "$work"
case " $ONLY " in *" ctx "*)
  write_ctx "$work/ctx"
  printf 'FROM benchbase:local\nCOPY . /ctx/\n' >"$work/ctx/Dockerfile"
esac

# `best DIR CMD...`: the best of RUNS runs of `CMD... DIR`. ctx's runs each
# get a fresh copy of the context at a new path (copied untimed), so that
# no tool reuses an earlier run's upload or stat cache.
best() {
  local dir=$1 use i
  shift
  for i in $(seq "$RUNS"); do
    use=$dir
    if [ "$(basename "$dir")" = ctx ]; then
      use=$work/ctx-run-$i
      rm -rf "$use" && cp -a "$dir" "$use" && sync
    fi
    seconds "$@" "$use"
    [ "$use" = "$dir" ] || rm -rf "$use"
  done | sort -n | head -1
}

printf '%-8s %9s %9s %9s %12s %12s\n' workload kiln docker buildah kiln/docker kiln/buildah
for w in $ONLY; do
  k=$(best "$work/$w" "$kiln" build --no-cache --progress plain -t "bench-$w")
  d=$(best "$work/$w" docker build --no-cache --network host -q -t "bench-$w")
  b=$(best "$work/$w" buildah bud --layers --no-cache --isolation chroot -q -t "bench-$w")
  printf '%-8s %9.3f %9.3f %9.3f %12.3f %12.3f\n' "$w" "$k" "$d" "$b" \
    "$(echo "$k / $d" | bc -l)" "$(echo "$k / $b" | bc -l)"
  if [ "$w" = steps30 ]; then
    printf '         kiln per RUN step: %.1f ms\n' "$(echo "$k * 1000 / 30" | bc -l)"
  fi
  if [ "$w" = big ]; then
    # The step's own work: the same command, the same busybox, no builder
    # (its files in the work directory, removed after).
    native=$work/native
    n=$(for _ in $(seq "$RUNS"); do
      rm -rf "$native" && mkdir -p "$native" && sync
      seconds busybox sh -c "cd $native && head -c 1073741824 /dev/urandom > random && yes 'the quick brown fox jumps over the lazy dog' | head -c 1073741824 > text"
    done | sort -n | head -1)
    rm -rf "$native"
    ratio=n/a # docker's overhead not above zero: no ratio
    [ "$(echo "$d > $n" | bc)" = 1 ] && ratio=$(printf '%.3f' "$(echo "($k - $n) / ($d - $n)" | bc -l)")
    printf '         native RUN %.3f s; overhead kiln %.3f s, docker %.3f s, buildah %.3f s; kiln/docker %s (target ≤ 0.15)\n' \
      "$n" "$(echo "$k - $n" | bc -l)" "$(echo "$d - $n" | bc -l)" "$(echo "$b - $n" | bc -l)" "$ratio"
  fi
  # Free the space between workloads (the big one writes 2 GiB per tool).
  docker rmi -f "bench-$w" >/dev/null 2>&1 || true
  buildah rmi -f "bench-$w" >/dev/null 2>&1 || true
done
docker rmi -f benchbase:local >/dev/null 2>&1 || true
