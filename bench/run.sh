#!/usr/bin/env bash
# Sandbox start-to-exit time: `kiln run --rm --network none box /bin/true`
# beside `crun run` and `runc run` on the same busybox rootfs (an OCI
# bundle from `runc spec`, which also gives a new network namespace), and
# `podman run` when podman is installed. Prints medians and ratios.
#
# Needs root, hyperfine, runc and crun (apt-get install hyperfine runc crun).
# crun 1.8 refuses this machine's hybrid cgroup layout, so the whole
# benchmark runs in a private mount namespace without the (empty) unified
# hierarchy: every runtime sees the same pure-v1 layout.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-100}

if [ "${KILN_BENCH_INNER:-}" != 1 ]; then
  for tool in hyperfine runc crun busybox; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 2; }
  done
  cargo build --release --locked -q
  export KILN_BENCH_INNER=1
  exec unshare -m --propagation private bash -c \
    'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; exec "$0"' "$0"
fi

work=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
kiln=$PWD/target/release/kiln

# The rootfs: busybox-static and its applet links.
rootfs=$work/bundle/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $(busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

# The same tree as a kiln image.
tar -C "$rootfs" -cf "$work/rootfs.tar" .
"$kiln" --root "$work/store" import "$work/rootfs.tar" box >/dev/null

# The same tree as an OCI bundle for runc and crun.
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
spec["root"]["readonly"] = False
json.dump(spec, open(path, "w"))
PY

commands=(
  -n kiln "$kiln --root $work/store run --rm --network none box /bin/true"
  -n crun "crun run --bundle $work/bundle kiln-bench-crun"
  -n runc "runc run --bundle $work/bundle kiln-bench-runc"
)
if command -v podman >/dev/null; then
  podman import -q "$work/rootfs.tar" kiln-bench-box >/dev/null
  # CAP_SYS_RESOURCE may be missing (as here): keep podman's rlimits within
  # the hard limits, or its crun cannot set them.
  commands+=(-n podman "podman run --rm --network none --ulimit nofile=1024:4096 --ulimit nproc=4096:4096 kiln-bench-box /bin/true")
else
  echo "podman is not installed: its row is skipped" >&2
fi

hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/result.json" "${commands[@]}" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
kiln = results["kiln"]["median"]
print(f"{'runtime':8} {'median':>9} {'mean':>9} {'min':>9}   kiln/runtime")
for name, r in results.items():
    print(f"{name:8} {r['median']*1e3:7.2f}ms {r['mean']*1e3:7.2f}ms {r['min']*1e3:7.2f}ms   {kiln / r['median']:.2f}x")
PY
