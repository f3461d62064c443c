#!/usr/bin/env bash
# Rootless kiln beside root kiln (issue 24, point 8), and beside buildah
# and podman run rootless by the same ordinary user, on build.sh's
# workloads plus a cached rebuild:
#   small    busybox, 8 instructions, 3 RUN, cold
#   steps30  30 RUN steps, cold
#   stages4  4 independent stages (sleep 1) + COPY --from each, cold
#   noop     small again, everything cached (cache.sh's no-op rebuild)
#   big      one RUN writing 1 GiB random + 1 GiB text, cold
# Usage: bench/rootless.sh ['small steps30 stages4 noop'] (the default;
# add big for the 2 GiB one). Target: rootless/root ≤ 1.15 per workload.
# Every RUN uses --network none (podman too; buildah's chroot isolation
# has only the host's network):
# rootless user-mode networking needs /dev/net/tun open to the user, which
# some machines (this one) keep root's, and a like-for-like comparison
# needs the same network on both sides. The user is made here (useradd,
# with login.defs' subordinate range) and removed at exit. Needs root;
# installs podman when missing (Debian); see bench/common.sh.
set -euo pipefail
KILN=${KILN:+$(realpath "$KILN")}
cd "$(dirname "$0")/.."
ONLY=${1:-small steps30 stages4 noop}
. bench/common.sh
bench_setup rootless
command -v podman >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman
}

user=kilnbench$$
home=$work/home
useradd -M -d "$home" -s /bin/sh "$user"
# podman leaves a pause process behind for the user: ended first.
at_exit "pkill -u $user; sleep 0.5; userdel $user"
mkdir -p "$home"
chown "$user:" "$home"
chmod 755 "$work"
as_user() { runuser -u "$user" -- env -u KILN_ROOT HOME="$home" XDG_RUNTIME_DIR="$home/run" "$@"; }
mkdir -p "$home/run" && chown "$user:" "$home/run" && chmod 700 "$home/run"

# The workloads, in the user's home (root reads them there too).
ctx=$home/ctx
write_build_workloads "$ctx"
cp -r "$ctx/small" "$ctx/noop"
chown -R "$user:" "$ctx"

# The base in each store: root's kiln has it (bench_setup); the user's
# kiln, buildah and podman load the same docker archive.
cp "$work/base-docker.tar" "$home/base.tar" && chown "$user:" "$home/base.tar"
as_user "$kiln" load -i "$home/base.tar" >/dev/null
as_user buildah pull -q "docker-archive:$home/base.tar" >/dev/null 2>&1 || true
as_user buildah tag "$(as_user buildah images -q | head -1)" benchbase:local 2>/dev/null || true
as_user podman load -q -i "$home/base.tar" >/dev/null 2>&1 || true
as_user podman tag "$(as_user podman images -q | head -1)" benchbase:local 2>/dev/null || true

cold() { [ "$1" = noop ] || echo --no-cache; }
# What runuser itself costs (a few ms), taken off the user's kiln times so
# the ratio is kiln's own: the fastest of 10 runs of `true` as the user.
base=$(for _ in $(seq 10); do seconds as_user true; done | sort -n | head -1)
echo "runuser's own cost, subtracted from rootless: $(printf '%.4f' "$base") s"
printf '%-8s %9s %9s %9s %9s %14s\n' workload root rootless buildah podman rootless/root
for w in $ONLY; do
  # noop: a first (untimed) build fills the cache, the timed one reuses it.
  if [ "$w" = noop ]; then
    "$kiln" build -q --network none -t "bench-$w" "$ctx/$w" >/dev/null
    as_user "$kiln" build -q --network none -t "bench-$w" "$ctx/$w" >/dev/null
    as_user buildah bud --layers --isolation chroot -q -t "bench-$w" "$ctx/$w" >/dev/null 2>&1 || true
    as_user podman build --layers --network none -q -t "bench-$w" "$ctx/$w" >/dev/null 2>&1 || true
  fi
  r=$(seconds "$kiln" build $(cold "$w") --network none -q -t "bench-$w" "$ctx/$w")
  u=$(seconds as_user "$kiln" build $(cold "$w") --network none -q -t "bench-$w" "$ctx/$w")
  u=$(echo "$u - $base" | bc)
  b=$(seconds as_user buildah bud --layers $(cold "$w") --isolation chroot -q -t "bench-$w" "$ctx/$w") || b=FAIL
  p=$(seconds as_user podman build --layers $(cold "$w") --network none -q -t "bench-$w" "$ctx/$w") || p=FAIL
  ratio=$(echo "scale=3; $u / $r" | bc)
  met=$([ "$(echo "$ratio <= 1.15" | bc)" = 1 ] && echo met || echo "NOT met")
  round() { [ "$1" = FAIL ] && echo FAIL || printf '%.3f' "$1"; }
  printf '%-8s %9.3f %9.3f %9s %9s %8s (%s)\n' "$w" "$r" "$u" "$(round "$b")" "$(round "$p")" "$ratio" "$met"
done
