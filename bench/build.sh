#!/usr/bin/env bash
# `kiln build` beside `docker build --network host` (dockerd 20.10's
# BuildKit) and `buildah bud --layers --isolation chroot` on the same
# workloads, all cold (no cache), one run each unless RUNS is set:
#   small    busybox, 8 instructions, 3 RUN          target kiln ≤ 0.3× docker
#   steps30  30 RUN steps                            target ≤ 15 ms per step
#   stages4  4 independent stages (sleep 1) + COPY --from each   target ≤ 1.15 s
#   big      one RUN writing 1 GiB random + 1 GiB text          target ≤ 0.3× docker
# Prints seconds per tool and the ratios. Needs root; installs docker.io,
# buildah and busybox-static when missing (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1}
ONLY=${1:-small steps30 stages4 big}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v buildah >/dev/null || need+=(buildah)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
cargo build --release --locked -q
kiln=$PWD/target/release/kiln
docker() { /usr/bin/docker "$@"; }
export DOCKER_BUILDKIT=1

work=$(mktemp -d /var/tmp/kiln-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KILN_ROOT=$work/store

if ! docker info >/dev/null 2>&1; then
  (dockerd --data-root /var/lib/kiln-bench-docker --iptables=false --ip6tables=false \
    --bridge=none >"$work/dockerd.log" 2>&1 &)
  for _ in $(seq 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi

# The base, in all three tools.
r=$work/base
mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list-full); do
  [ "$a" = bin/busybox ] && continue
  mkdir -p "$r/$(dirname "$a")"; ln -sf /bin/busybox "$r/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\n' >"$r/etc/group"
chmod 1777 "$r/tmp"
tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$work/base.tar" .
docker import "$work/base.tar" benchbase:local >/dev/null
docker save benchbase:local -o "$work/base-docker.tar"
"$kiln" load -i "$work/base-docker.tar" >/dev/null
buildah pull -q "docker-archive:$work/base-docker.tar" >/dev/null 2>&1 ||
  buildah pull "docker-archive:$work/base-docker.tar" >/dev/null
buildah tag "$(buildah images -q | head -1)" benchbase:local 2>/dev/null || true

# The workloads.
mk() { mkdir -p "$work/$1"; cat >"$work/$1/Dockerfile"; }
mk small <<'DF'
FROM benchbase:local
ENV APP=/app
WORKDIR /app
RUN echo one > one.txt
COPY Dockerfile /app/
RUN mkdir -p data && echo two > data/two.txt
LABEL bench=small
RUN rm one.txt
DF
{ echo "FROM benchbase:local"; for i in $(seq 30); do echo "RUN echo $i > /step$i"; done; } | mk steps30
{
  for i in 1 2 3 4; do printf 'FROM benchbase:local AS s%s\nRUN sleep 1 && echo %s > /out%s\n' "$i" "$i" "$i"; done
  echo "FROM benchbase:local"
  for i in 1 2 3 4; do echo "COPY --from=s$i /out$i /out$i"; done
} | mk stages4
mk big <<'DF'
FROM benchbase:local
RUN head -c 1073741824 /dev/urandom > /random && yes 'the quick brown fox jumps over the lazy dog' | head -c 1073741824 > /text
DF

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { for _ in $(seq "$RUNS"); do seconds "$@"; done | sort -n | head -1; }

printf '%-8s %9s %9s %9s %12s %12s\n' workload kiln docker buildah kiln/docker kiln/buildah
for w in $ONLY; do
  k=$(best "$kiln" build --progress plain -t "bench-$w" "$work/$w")
  d=$(best docker build --no-cache --network host -q -t "bench-$w" "$work/$w")
  b=$(best buildah bud --layers --no-cache --isolation chroot -q -t "bench-$w" "$work/$w")
  printf '%-8s %9.3f %9.3f %9.3f %12.3f %12.3f\n' "$w" "$k" "$d" "$b" \
    "$(echo "$k / $d" | bc -l)" "$(echo "$k / $b" | bc -l)"
  if [ "$w" = steps30 ]; then
    printf '         kiln per RUN step: %.1f ms\n' "$(echo "$k * 1000 / 30" | bc -l)"
  fi
  # Free the space between workloads (the big one writes 2 GiB per tool).
  docker rmi -f "bench-$w" >/dev/null 2>&1 || true
  buildah rmi -f "bench-$w" >/dev/null 2>&1 || true
done
docker rmi -f benchbase:local >/dev/null 2>&1 || true
