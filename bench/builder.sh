#!/usr/bin/env bash
# `kiln build --builder docker` beside `docker build` against the same
# dockerd (20.10, BuildKit 0.8), cold (--no-cache), both `--network host`:
#   small    busybox, 8 instructions, 3 RUN       target kiln/docker ≤ 1.05
#   steps30  30 RUN steps                         target ≤ 1.05
#   stages4  4 independent stages + COPY --from   target ≤ 1.05
#   ctx20k   the 20,000-file context (~200 MB) bind-mounted into one RUN:
#            what the build costs is the context upload (each run from a
#            fresh copy of the context, so that no earlier upload is
#            reused); beside docker's upload of the same
# kiln's time includes loading the built image back into kiln's store
# (docker's leaves it in dockerd). Prints seconds (best of RUNS, default
# 3) and the ratio. Needs root; see bench/common.sh.
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")}
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
ONLY=${1:-small steps30 stages4 ctx20k}

. bench/common.sh
bench_setup builder

write_build_workloads "$work"
write_ctx "$work/ctx-source"
printf 'FROM benchbase:local\nRUN --mount=type=bind,target=/ctx ls /ctx | wc -l\n' >"$work/ctx-source/Dockerfile"

# `fresh W`: the context directory of workload W for one run (ctx20k: a
# new copy at a new path: both clients key what the builder keeps of an
# upload by the context's path, and a kept one is only updated).
fresh() {
  if [ "$1" = ctx20k ]; then
    local dir; dir=$work/ctx20k-$(date +%s%N)
    rm -rf "$work/ctx20k"-*; cp -a "$work/ctx-source" "$dir"
    echo "$dir"
  else
    echo "$work/$1"
  fi
}
best() {
  local f=$1 w=$2
  for _ in $(seq "$RUNS"); do
    local dir; dir=$(fresh "$w")
    case $f in
      kiln) seconds "$kiln" build --builder docker --network host --no-cache -q -t "bench-$w" "$dir" ;;
      docker) seconds docker build --no-cache --network host -q -t "bench-$w" "$dir" ;;
    esac
  done | sort -n | head -1
}

printf '%-8s %9s %9s %12s\n' workload kiln docker kiln/docker
for w in $ONLY; do
  k=$(best kiln "$w")
  d=$(best docker "$w")
  printf '%-8s %9.3f %9.3f %12.3f\n' "$w" "$k" "$d" "$(echo "$k / $d" | bc -l)"
  docker rmi -f "bench-$w" >/dev/null 2>&1 || true
done
rm -rf "$work"/ctx20k-*
docker rmi -f benchbase:local >/dev/null 2>&1 || true
