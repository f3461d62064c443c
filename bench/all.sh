#!/usr/bin/env bash
# Every figure of the performance issue in one command, each benchmark
# running kiln beside its peers (docker 20.10's BuildKit, buildah 1.28,
# crun/runc) in one run and printing ratios:
#   build.sh     w1 small, w2 ctx, w3 big (with the RUN's native time and
#                each builder's overhead over it), w4 stages4, w5 steps30
#   registry.sh  w3's push and pull to a loopback registry, peak RSS
#   cache.sh     no-op and one-file-change rebuilds (no regression)
#   run.sh       `kiln run` start to exit beside crun and runc
# Needs root; each script installs what it lacks (see its header).
# RUNS is passed on (best of RUNS for builds; run.sh's sample count is
# its own RUN_SAMPLES, default 100).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for script in build.sh registry.sh cache.sh; do
  echo "== bench/$script"
  bash "bench/$script" || status=1
done
echo "== bench/run.sh"
RUNS=${RUN_SAMPLES:-100} bash bench/run.sh || status=1
exit "$status"
