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

  base_tar /bin/busybox "$work/base" "$work/base.tar"
  docker import "$work/base.tar" benchbase:local >/dev/null
  docker save benchbase:local -o "$work/base-docker.tar"
  "$kiln" load -i "$work/base-docker.tar" >/dev/null
  buildah pull -q "docker-archive:$work/base-docker.tar" >/dev/null 2>&1 ||
    buildah pull "docker-archive:$work/base-docker.tar" >/dev/null
  buildah tag "$(buildah images -q | head -1)" benchbase:local 2>/dev/null || true
}

docker() { /usr/bin/docker "$@"; }

# `base_tar BUSYBOX DIR OUT`: the base root file system in DIR — BUSYBOX
# (any architecture) as /bin/busybox, the host busybox's applet links,
# root — tarred to OUT.
base_tar() {
  local r=$2 a
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root"
  cp "$1" "$r/bin/busybox"
  for a in $(/bin/busybox --list-full); do
    [ "$a" = bin/busybox ] && continue
    mkdir -p "$r/$(dirname "$a")"; ln -sf /bin/busybox "$r/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$3" .
}

# `seconds CMD...`: wall time of one run, output discarded (its last lines
# shown when it fails).
seconds() {
  local s e log=${work:-/tmp}/seconds.log
  s=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { echo "FAILED: $*" >&2; tail -5 "$log" >&2; return 1; }
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

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

# `write_build_workloads DIR`: build.sh's workloads, each a directory of
# DIR with its Dockerfile: small (write_small), steps30 (30 RUN steps),
# stages4 (4 independent stages of `sleep 1`, each copied into a last
# one), big (one RUN writing 1 GiB random + 1 GiB text).
write_build_workloads() {
  local dir=$1
  mk() { mkdir -p "$dir/$1"; cat >"$dir/$1/Dockerfile"; }
  write_small "$dir/small"
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
}

# `write_ctx DIR`: the 20,000-file (~200 MB) context — 200 dirs × 100 files
# of 9-11 KB of random bytes (written by python: 20,000 `head` processes
# take minutes).
write_ctx() {
  mkdir -p "$1"
  python3 - "$1" <<'PY'
import os, sys
for d in range(200):
    p = os.path.join(sys.argv[1], f"d{d:03}"); os.mkdir(p)
    for f in range(100):
        with open(os.path.join(p, f"f{f:03}"), "wb") as out:
            out.write(os.urandom(9216 + (d * 100 + f) % 2048))
PY
}

# `at_exit CMD`: run CMD at exit, before what is already set to run then
# (bench_setup's rm -rf of the work directory, which a registry writes
# into). errexit holds in traps too: CMD failing must not skip the rest.
at_exit() {
  local add=$1 cur
  cur=$(trap -p EXIT)
  eval "set -- $cur" # trap -- 'CMD' EXIT: $3 is CMD, unquoted
  trap "{ $add; } || true; ${3:-}" EXIT
}

# `start_registry`: a loopback docker-registry (CNCF distribution, plain
# http) on a free port, its files in the work directory, stopped at exit.
# Sets reg (HOST:PORT); its access log is $work/access.log.
start_registry() {
  command -v docker-registry >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry curl
  }
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  reg=127.0.0.1:$port
  cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $reg
YML
  # distribution writes its access log (one Combined Log Format line per
  # request) to stdout and its own log, also one line per request, to
  # stderr: the access log alone is what upload counts read.
  docker-registry serve "$work/registry.yml" >"$work/access.log" 2>"$work/registry.log" &
  registry_pid=$!
  at_exit "kill $registry_pid 2>/dev/null; wait $registry_pid 2>/dev/null"
  for _ in $(seq 50); do curl -sf "http://$reg/v2/" >/dev/null && break; sleep 0.2; done
  curl -sf "http://$reg/v2/" >/dev/null || { echo "docker-registry did not start:" >&2; cat "$work/registry.log" >&2; exit 1; }
}
