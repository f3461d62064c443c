#!/usr/bin/env bash
# Issue 23's CI loop, side by side: runners with empty stores and one
# loopback registry. Usage: bench/ci-cache.sh ['loop big'] (the workloads,
# one quoted argument; both by default).
#
# loop: job 1 builds the 20,000-file (~200 MB) context workload, pushes
#   the image and exports the build cache to the registry; job 2, on a fresh
#   store, changes one file and builds with the cache imported, pushing
#   again.
#     kiln:    --cache-to type=registry,ref=…,mode=max / --cache-from type=registry,ref=…
#     docker:  its inline cache (--build-arg BUILDKIT_INLINE_CACHE=1, pushed
#              with the image), then --cache-from the image after `docker
#              builder prune -af` and removing the images (its "fresh
#              runner": dockerd's data root cannot be swapped here without a
#              second daemon)
#     buildah: --layers --cache-to/--cache-from REPO (an image per step),
#              each job with its own --root (a fresh store)
#   Also times kiln's job 1 without --cache-to, for the export's overhead.
#   Targets: kiln job 2 ≤ 0.3× docker job 2; kiln job 1 with --cache-to ≤
#   1.2× without.
# big: one RUN writing a 2 GiB layer (build.sh's big), built, pushed and
#   its cache exported by one store; then a fresh store rebuilds it
#   unchanged with --cache-from and --push. Target: ≤ 2 s and no layer byte
#   downloaded (the store's blobs and the registry's access log are read).
# Needs root; see bench/common.sh.
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")}
cd "$(dirname "$0")/.."
WORKLOADS=${1:-loop big}
. bench/common.sh
bench_setup ci-cache
start_registry

# The base in the registry, so fresh stores pull it as CI runners would.
"$kiln" push -q benchbase:local "$reg/bench/base:1" >/dev/null
runner() { export KILN_ROOT=$work/runner-$1; }
ratio() { echo "scale=3; $1 / $2" | bc; }
met() { [ "$(echo "$1 <= $2" | bc)" = 1 ] && echo yes || echo no; }
# Bytes of blobs the registry served (GET …/blobs/… answered 200) from
# line $1 of its access log on.
served_since() {
  sleep 1 # the access log line is written after the response is sent
  tail -n +"$1" "$work/access.log" | awk '$6 == "\"GET" && $7 ~ /\/blobs\// && $9 == 200 { s += $10 } END { print s + 0 }'
}
log_lines() { wc -l <"$work/access.log"; }

loop() {
  write_ctx "$work/ctx"
  printf 'FROM %s/bench/base:1\nCOPY . /ctx/\nRUN ls -R /ctx | wc -l > /count\n' "$reg" >"$work/ctx/Dockerfile"
  cp -a "$work/ctx" "$work/ctx2"
  head -c 9216 /dev/urandom >"$work/ctx2/d100/f050"
  local cache=type=registry,ref=$reg/bench/kiln:buildcache

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

  # buildah, each job on a store of its own; its cache is a repository.
  buildah_job() {
    local root=$work/buildah-$1; shift
    local tag=${*: -2:1}
    buildah --root "$root" --runroot "$root.run" build --layers --isolation chroot -q \
      --tls-verify=false "$@" &&
      buildah --root "$root" --runroot "$root.run" push -q --tls-verify=false "$tag"
  }
  local bcache=$reg/bench/buildah-cache
  b_job1=$(seconds buildah_job one --cache-to "$bcache" -t "$reg/bench/buildah:1" "$work/ctx") || b_job1=FAIL
  b_job2=$(seconds buildah_job two --cache-from "$bcache" -t "$reg/bench/buildah:2" "$work/ctx2") || b_job2=FAIL
  round() { [ "$1" = FAIL ] && echo FAIL || printf '%.2f' "$1"; }
  b_job1=$(round "$b_job1")
  b_job2=$(round "$b_job2")
  rm -rf "$work/buildah-one" "$work/buildah-two" 2>/dev/null || true

  printf '%-28s %9s %9s %9s %8s %7s %4s\n' measure kiln docker buildah k/docker target met
  local r
  r=$(ratio "$k_job2" "$d_job2")
  printf '%-28s %9.2f %9.2f %9s %8s %7s %4s\n' "job 2 (one file changed)" "$k_job2" "$d_job2" "$b_job2" "$r" 0.3 "$(met "$r" 0.3)"
  printf '%-28s %9.2f %9.2f %9s %8s\n' "job 1 (cold, push, export)" "$k_job1" "$d_job1" "$b_job1" "$(ratio "$k_job1" "$d_job1")"
  r=$(ratio "$k_job1" "$k_plain")
  printf '%-28s %9.2f %9s %9s %8s %7s %4s\n' "kiln job 1 / no --cache-to" "$k_plain" - - "$r" 1.2 "$(met "$r" 1.2)"
  echo "kiln job 2 store blobs: $k_bytes bytes"
}

big() {
  mkdir -p "$work/big"
  printf 'FROM %s/bench/base:1\nRUN head -c 1073741824 /dev/urandom > /random && yes %s | head -c 1073741824 > /text\n' \
    "$reg" "'the quick brown fox jumps over the lazy dog'" >"$work/big/Dockerfile"
  local cache=type=registry,ref=$reg/bench/big:buildcache
  runner big-one
  local j1
  j1=$(seconds "$kiln" build -q -t "$reg/bench/big:1" --cache-to "$cache" --push "$work/big")
  rm -rf "$KILN_ROOT"
  sync
  runner big-two
  local from_line k_big got
  from_line=$(($(log_lines) + 1))
  k_big=$(seconds "$kiln" build -q -t "$reg/bench/big:2" --cache-from "$cache" --push "$work/big")
  got=$(served_since "$from_line")
  # The layers of the pushed image that the fresh store holds.
  local manifest held=0 digest
  manifest=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/bench/big/manifests/2")
  for digest in $(echo "$manifest" | python3 -c 'import json, sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'); do
    local f=$KILN_ROOT/blobs/sha256/${digest#sha256:}
    [ -f "$f" ] && held=$((held + $(stat -c %s "$f")))
  done
  printf '%-44s %9s %7s %4s\n' measure kiln target met
  printf '%-44s %9.2f\n' "big: job 1 (cold build, push, export)" "$j1"
  printf '%-44s %9.2f %7s %4s\n' "big: fresh store, unchanged, --cache-from --push" "$k_big" 2 "$(met "$k_big" 2)"
  printf '%-44s %9s %7s %4s\n' "big: layer bytes in the fresh store" "$held" 0 "$([ "$held" = 0 ] && echo yes || echo no)"
  printf '%-44s %9s\n' "big: blob bytes the registry served it" "$got"
}

for w in $WORKLOADS; do
  case $w in
    loop) loop ;;
    big) big ;;
    *) echo "unknown workload $w (loop, big)" >&2; exit 2 ;;
  esac
done
