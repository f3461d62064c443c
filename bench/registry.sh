#!/usr/bin/env bash
# Registry push and pull: one image with a 2 GiB layer (build.sh's big: 1 GiB
# random + 1 GiB text), built untimed by each tool, then pushed to and pulled
# from a loopback docker-registry (CNCF distribution 2.8, plain http, files
# in the work directory) by `kiln push`/`kiln pull`, `docker push`/`docker
# pull` (dockerd 20.10) and `buildah push`/`buildah pull`, one run each:
#   push         target kiln ≤ 0.5× the faster peer
#   pull         into an empty store             target ≤ 0.5× the faster peer
#                (all three unpack the layer during the pull)
#   pull+run     kiln's pull and its first run: the run finds the layer
#                unpacked, so this shows nothing was left for first use
#   repeat push  the unchanged image again       target: no blob uploaded
#   peak RSS     of kiln push and kiln pull      target < 100 MB
# Each tool pulls what it pushed. Also prints the compressed layer sizes in
# the registry: the compression level trades push time against size.
# SIZE_MB (default 1024) sets each half of the layer, to try the script small.
# Needs root; installs docker.io, buildah, busybox-static, docker-registry,
# skopeo, time and jq when missing (Debian); KILN=/path/to/kiln uses that
# binary (see bench/common.sh).
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")} # before the cd, so a relative path works
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}

. bench/common.sh
bench_setup registry

need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/time ] || need+=(time) # the program: bash's `time` keyword has no %M
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

start_registry

# The image: build.sh's big workload, one RUN making one 2 GiB layer.
bytes=$((SIZE_MB * 1048576))
mkdir -p "$work/big"
cat >"$work/big/Dockerfile" <<DF
FROM benchbase:local
RUN head -c $bytes /dev/urandom > /random && yes 'the quick brown fox jumps over the lazy dog' | head -c $bytes > /text
DF
name=bench-registry
# Every docker/buildah image ID the build adds, so the pull can start with
# the layer really gone (buildah --layers keeps an image per step).
docker images -aq --no-trunc | sort -u >"$work/ids.docker.before"
buildah images -aq --no-trunc | sort -u >"$work/ids.buildah.before"
"$kiln" build -q -t "$name" "$work/big" >/dev/null
docker build --network host -q -t "$name" "$work/big" >/dev/null
buildah bud --layers --isolation chroot -q -t "$name" "$work/big" >/dev/null
docker images -aq --no-trunc | sort -u | comm -13 "$work/ids.docker.before" - >"$work/ids.docker"
buildah images -aq --no-trunc | sort -u | comm -13 "$work/ids.buildah.before" - >"$work/ids.buildah"

# `timed NAME CMD...`: seconds of one run of CMD, or FAIL (with CMD's output
# on stderr, so a failed tool costs its rows, not the whole run). CMD's
# output stays in $work/NAME.log for the checks below.
keep() { local log=$1; shift; "$@" >"$log" 2>&1; }
timed() {
  local name=$1; shift
  # Every tool starts with no writeback pending: the builds (and the
  # previous tool) leave gigabytes of dirty pages that would otherwise be
  # flushed during, and charged to, whichever run comes next.
  sync
  seconds keep "$work/$name.log" "$@" || { echo "--- $name failed:" >&2; cat "$work/$name.log" >&2; echo FAIL; }
}
# `rss NAME CMD...`: timed, also keeping CMD's peak RSS (KiB) in $work/NAME.rss.
rss() { local name=$1; shift; timed "$name" /usr/bin/time -f %M -o "$work/$name.rss" "$@"; }
# In MB (10^6 bytes, as the target); time's %M counts KiB. A failed run's
# file starts with "Command exited with non-zero status".
mb() { [ "$(wc -l <"$work/$1.rss")" = 1 ] && echo "$(cat "$work/$1.rss") * 1024 / 1000000" | bc -l || echo FAIL; }

# Blob uploads the registry received since line $1 of its access log: the
# PUT that completes an upload and any PATCH carrying a chunk (a POST only
# opens an upload, or mounts a blob the registry already has).
uploads_since() {
  sleep 1 # the access log line is written after the response is sent
  tail -n +"$(($1 + 1))" "$work/access.log" | grep -cE '"(PUT|PATCH) [^"]*/blobs/uploads/' || true
}
lines() { wc -l <"$work/access.log"; }

# Push, each to its own repository.
k_push=$(rss k-push "$kiln" push "$name" "$reg/kiln/big:1")
docker tag "$name" "$reg/docker/big:1"
d_push=$(timed d-push docker push "$reg/docker/big:1")
b_push=$(rss b-push buildah push --tls-verify=false "$name" "docker://$reg/buildah/big:1")

# The same pushes again, nothing changed: what each still uploads.
n=$(lines); k_again=$(timed k-again "$kiln" push "$name" "$reg/kiln/big:1"); k_up=$(uploads_since "$n")
n=$(lines); d_again=$(timed d-again docker push "$reg/docker/big:1"); d_up=$(uploads_since "$n")
n=$(lines); b_again=$(timed b-again buildah push --tls-verify=false "$name" "docker://$reg/buildah/big:1"); b_up=$(uploads_since "$n")

# The compressed layers as pushed (what the registry lists in each manifest).
layers_mb() {
  skopeo inspect --tls-verify=false --raw "docker://$reg/$1/big:1" 2>/dev/null |
    jq '[.layers[].size] | add / 1000000' 2>/dev/null || echo FAIL
}
k_size=$(layers_mb kiln) d_size=$(layers_mb docker) b_size=$(layers_mb buildah)

# Pull, each into a store without the image's layers: kiln into a new store;
# docker and buildah after removing every image the build or push made (the
# base, 2 MB, stays with them). Build cache also holds docker's layer.
pulled=() # tool:access-log line before its pull, for the check below
pulled+=("kiln:$(lines)")
k_pull=$(rss k-pull env KILN_ROOT="$work/store-pull" "$kiln" pull "$reg/kiln/big:1")
# The first run after the pull: with the layer unpacked during the pull it
# only starts a container (the "pull+run" row).
k_unpack=$(timed k-unpack env KILN_ROOT="$work/store-pull" "$kiln" run --rm "$reg/kiln/big:1" true)
docker rmi -f "$name" "$reg/docker/big:1" >/dev/null
xargs -r /usr/bin/docker rmi -f <"$work/ids.docker" >/dev/null 2>&1 || true
docker image prune -f >/dev/null
docker builder prune -af >/dev/null
pulled+=("docker:$(lines)")
d_pull=$(timed d-pull docker pull "$reg/docker/big:1")
buildah rmi -f "$name" >/dev/null
xargs -r buildah rmi -f <"$work/ids.buildah" >/dev/null 2>&1 || true
pulled+=("buildah:$(lines)")
b_pull=$(rss b-pull buildah pull --tls-verify=false "docker://$reg/buildah/big:1")
# A pull that found the big layer still stored locally would time nothing
# (buildah does not even say it skipped one): the registry must have sent it.
sleep 1
for p in "${pulled[@]}"; do
  t=${p%%:*}
  big=$(skopeo inspect --tls-verify=false --raw "docker://$reg/$t/big:1" 2>/dev/null | jq -r '.layers[-1].digest') ||
    continue # its push failed: nothing to pull
  tail -n +"$((${p#*:} + 1))" "$work/access.log" | grep -F "\"GET /v2/$t/big/blobs/$big " >/dev/null ||
    echo "warning: $t pull did not download the big layer $big: the pull time is not a real one" >&2
done

# The table. Ratios against the faster peer that did not fail.
num() { [[ $1 =~ ^[0-9.]+$ ]]; }
faster() { local best=FAIL v; for v in "$@"; do num "$v" && { [ "$best" = FAIL ] || [ "$(echo "$v < $best" | bc)" = 1 ]; } && best=$v; done; echo "$best"; }
ratio() { num "$1" && num "$2" && echo "$1 / $2" | bc -l || echo FAIL; }
fmt() { num "$1" && printf '%.3f' "$1" || printf '%s' "$1"; }
yesno() { [ "$1" = 1 ] && echo yes || echo no; }
row() { # workload kiln docker buildah ratio target met
  printf '%-13s %9s %9s %9s %12s %9s %4s\n' "$1" "$(fmt "$2")" "$(fmt "$3")" "$(fmt "$4")" "$(fmt "$5")" "$6" "$7"
}
le() { num "$1" && [ "$(echo "$1 <= $2" | bc)" = 1 ] && echo 1 || echo 0; }
lt() { num "$1" && [ "$(echo "$1 < $2" | bc)" = 1 ] && echo 1 || echo 0; }

echo "image: 1 layer of $SIZE_MB MiB random + $SIZE_MB MiB text; registry $reg (docker-registry, filesystem)"
printf '%-13s %9s %9s %9s %12s %9s %4s\n' workload kiln docker buildah kiln/faster target met
r=$(ratio "$k_push" "$(faster "$d_push" "$b_push")")
row push "$k_push" "$d_push" "$b_push" "$r" 0.5× "$(yesno "$(le "$r" 0.5)")"
r=$(ratio "$k_pull" "$(faster "$d_pull" "$b_pull")")
row pull "$k_pull" "$d_pull" "$b_pull" "$r" 0.5× "$(yesno "$(le "$r" 0.5)")"
k_both=FAIL; num "$k_pull" && num "$k_unpack" && k_both=$(echo "$k_pull + $k_unpack" | bc -l)
r=$(ratio "$k_both" "$(faster "$d_pull" "$b_pull")")
row 'pull+run' "$k_both" "$d_pull" "$b_pull" "$r" 0.5× "$(yesno "$(le "$r" 0.5)")"
ok=0; num "$k_again" && [ "$k_up" = 0 ] && ok=1
row 'repeat push' "$k_again" "$d_again" "$b_again" "$(ratio "$k_again" "$(faster "$d_again" "$b_again")")" '0 blobs' "$(yesno $ok)"
k=$(mb k-push); row 'push RSS MB' "$k" - "$(mb b-push)" - '<100' "$(yesno "$(lt "$k" 100)")"
k=$(mb k-pull); row 'pull RSS MB' "$k" - "$(mb b-pull)" - '<100' "$(yesno "$(lt "$k" 100)")"
echo "repeat push: $k_up blob uploads (target 0); docker $d_up, buildah $b_up"
printf 'compressed layers in the registry: kiln %s MB, docker %s MB, buildah %s MB; kiln/docker %s\n' \
  "$(fmt "$k_size")" "$(fmt "$d_size")" "$(fmt "$b_size")" "$(fmt "$(ratio "$k_size" "$d_size")")"
echo "(peak RSS of the client process: docker's work happens in dockerd, so none is shown)"

docker rmi -f "$reg/docker/big:1" benchbase:local >/dev/null 2>&1 || true
buildah rmi -f "$reg/buildah/big:1" >/dev/null 2>&1 || true
