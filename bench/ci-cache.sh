#!/usr/bin/env bash
# Issue 23's CI loop, side by side: two runners with empty stores and one
# loopback registry. Job 1 builds the 20,000-file (~200 MB) context
# workload, pushes the image and exports the build cache to the registry;
# job 2, on a fresh store, changes one file and builds with the cache
# imported, pushing again.
#   kiln:   --cache-to type=registry,ref=…,mode=max / --cache-from type=registry,ref=…
#   docker: its inline cache (--build-arg BUILDKIT_INLINE_CACHE=1, pushed with
#           the image), then --cache-from the image after `docker builder
#           prune -af` and removing the images (its "fresh runner": dockerd's
#           data root cannot be swapped here without a second daemon)
# Also times job 1 without --cache-to, for the export's overhead.
# Targets: kiln job 2 ≤ 0.3× docker job 2; kiln job 1 with --cache-to ≤
# 1.2× without. Needs root; see bench/common.sh.
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")}
cd "$(dirname "$0")/.."
. bench/common.sh
bench_setup ci-cache
start_registry

# The base in the registry, so fresh stores pull it as CI runners would.
"$kiln" push -q benchbase:local "$reg/bench/base:1" >/dev/null
write_ctx "$work/ctx"
printf 'FROM %s/bench/base:1\nCOPY . /ctx/\nRUN ls -R /ctx | wc -l > /count\n' "$reg" >"$work/ctx/Dockerfile"
cp -a "$work/ctx" "$work/ctx2"
head -c 9216 /dev/urandom >"$work/ctx2/d100/f050"

runner() { export KILN_ROOT=$work/runner-$1; }
cache=type=registry,ref=$reg/bench/kiln:buildcache

runner plain
k_plain=$(seconds "$kiln" build -q -t "$reg/bench/plain:1" --push "$work/ctx")
runner one
k_job1=$(seconds "$kiln" build -q -t "$reg/bench/kiln:1" --cache-to "$cache,mode=max" --push "$work/ctx")
runner two
k_job2=$(seconds "$kiln" build -q -t "$reg/bench/kiln:2" --cache-from "$cache" --push "$work/ctx2")
# What job 2 fetched: its store's blobs.
k_bytes=$(du -sb "$KILN_ROOT/blobs" | cut -f1)

docker_job() { docker build --network host -q --build-arg BUILDKIT_INLINE_CACHE=1 "$@" && docker push -q "${@: -2:1}"; }
d_job1=$(seconds docker_job -t "$reg/bench/docker:1" "$work/ctx")
docker rmi -f "$reg/bench/docker:1" "$reg/bench/base:1" >/dev/null 2>&1 || true
docker builder prune -af >/dev/null 2>&1 || true
d_job2=$(seconds docker_job --cache-from "$reg/bench/docker:1" -t "$reg/bench/docker:2" "$work/ctx2")
docker rmi -f "$reg/bench/docker:2" "$reg/bench/base:1" >/dev/null 2>&1 || true

ratio() { echo "scale=3; $1 / $2" | bc; }
printf '%-26s %9s %9s %8s %7s %4s\n' measure kiln docker ratio target met
met() { [ "$(echo "$1 <= $2" | bc)" = 1 ] && echo yes || echo no; }
r=$(ratio "$k_job2" "$d_job2")
printf '%-26s %9.2f %9.2f %8s %7s %4s\n' "job 2 (one file changed)" "$k_job2" "$d_job2" "$r" 0.3 "$(met "$r" 0.3)"
printf '%-26s %9.2f %9.2f %8s\n' "job 1 (cold, push, export)" "$k_job1" "$d_job1" "$(ratio "$k_job1" "$d_job1")"
r=$(ratio "$k_job1" "$k_plain")
printf '%-26s %9.2f %9s %8s %7s %4s\n' "kiln job 1 / no --cache-to" "$k_plain" - "$r" 1.2 "$(met "$r" 1.2)"
echo "kiln job 2 store blobs: $k_bytes bytes"
