# Shared set-up of the bench scripts that run kiln beside docker build and
# buildah bud (sourced, not run): installs what is missing (Debian), picks
# the kiln binary, makes a work directory with its own store, starts a
# dockerd if none runs, and loads the same busybox base, `benchbase:local`,
# into all three tools. Sets: kiln, work, KILN_ROOT; defines docker().
# KILN=/path/to/kiln uses that binary instead of building target/release/kiln.

bench_setup() {
  local name=$1
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v buildah >/dev/null || need+=(buildah)
  command -v bc >/dev/null || need+=(bc)
  [ -x /bin/busybox ] || need+=(busybox-static)
  command -v slirp4netns >/dev/null || need+=(slirp4netns)
  if [ "${#need[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  if [ -n "${KILN:-}" ]; then
    kiln=$KILN
  else
    cargo build --release --locked -q
    kiln=$PWD/target/release/kiln
  fi
  export DOCKER_BUILDKIT=1
  work=$(mktemp -d "/var/tmp/kiln-bench-$name.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  export KILN_ROOT=$work/store

  if ! docker info >/dev/null 2>&1; then
    (dockerd --data-root /var/lib/kiln-bench-docker --iptables=false --ip6tables=false \
      --bridge=none >"$work/dockerd.log" 2>&1 &)
    for _ in $(seq 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi

  # The base: busybox, its applet links, root.
  local r=$work/base a
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
}

docker() { /usr/bin/docker "$@"; }

# `seconds CMD...`: wall time of one run, output discarded.
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }

# The small workload both scripts use: busybox, 8 instructions, 3 RUN.
write_small() {
  mkdir -p "$1"
  cat >"$1/Dockerfile" <<'DF'
FROM benchbase:local
ENV APP=/app
WORKDIR /app
RUN echo one > one.txt
COPY Dockerfile /app/
RUN mkdir -p data && echo two > data/two.txt
LABEL bench=small
RUN rm one.txt
DF
}
