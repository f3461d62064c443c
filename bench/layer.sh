#!/usr/bin/env bash
# Layer write benchmark (issue: the store): a directory of 1 GiB random and
# 1 GiB text written as a layer by kiln (none, gzip -6, zstd -3), beside
# `tar | gzip -6` and `tar | pigz -6` on the same tree, with wall time and
# peak RSS. Then unpack throughput of kiln's gzip layer beside `tar -xzf`.
# usage: bench/layer.sh [WORKDIR]   (default /var/tmp/kiln-bench-layer)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/kiln-bench-layer}
mkdir -p "$work"
command -v pigz >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pigz >/dev/null
cargo build --release -q -p kiln-layer --example write_layer --example unpack_layer
bin=target/release/examples/write_layer

data="$work/data"
if [ ! -f "$data/.complete" ]; then
  rm -rf "$data"; mkdir -p "$data/random" "$data/text"
  for i in $(seq 0 15); do head -c 64M /dev/urandom > "$data/random/r$i"; done
  python3 - "$data/text" <<'PY'
import random, sys, os
words = open('/usr/share/dict/words').read().split() if os.path.exists('/usr/share/dict/words') else \
    "kiln layer overlay digest the of snapshot tar build image registry manifest config blob".split()
rng = random.Random(42)
for i in range(16):
    with open(os.path.join(sys.argv[1], f"t{i}"), "w") as f:
        left = 64 << 20
        while left > 0:
            line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
            f.write(line); left -= len(line)
PY
  touch "$data/.complete"
fi
cat "$data"/random/* "$data"/text/* > /dev/null   # warm the page cache

measure() { # name, command...
  local name=$1; shift
  local out
  out=$( { /usr/bin/time -f "%e %M" "$@" > "$work/$name.out" ; } 2>&1 | tail -1)
  set -- $out
  printf '%-12s %7.2f s  %7.0f MB/s  peak RSS %6.1f MiB\n' "$name" "$1" "$(echo "2147 / $1" | bc -l)" "$(echo "$2 / 1024" | bc -l)"
  echo "$1" > "$work/$name.time"
}

echo "== write a 2 GiB directory as a layer"
measure kiln-none "$bin" "$data" none "$work/kiln-none.tar"
measure kiln-gzip "$bin" "$data" gzip "$work/kiln.tar.gz"
measure kiln-zstd "$bin" "$data" zstd "$work/kiln.tar.zst"
measure tar-gzip sh -c "tar -C '$data' -cf - . | gzip -6 > '$work/gnu.tar.gz'"
measure tar-pigz sh -c "tar -C '$data' -cf - . | pigz -6 > '$work/gnu.tar.pigz.gz'"
ratio() { echo "scale=2; $(cat "$work/$1.time") / $(cat "$work/$2.time")" | bc; }
echo "kiln gzip / tar|gzip: $(ratio kiln-gzip tar-gzip)x   kiln gzip / tar|pigz: $(ratio kiln-gzip tar-pigz)x   kiln zstd / tar|pigz: $(ratio kiln-zstd tar-pigz)x"

echo "== unpack the gzip layer"
rm -rf "$work/unpack-kiln" "$work/unpack-tar"; mkdir -p "$work/unpack-kiln" "$work/unpack-tar"
measure kiln-unpack target/release/examples/unpack_layer "$work/kiln.tar.gz" "$work/unpack-kiln"
measure tar-xzf tar -C "$work/unpack-tar" -xzf "$work/kiln.tar.gz"
echo "kiln unpack / tar -xzf: $(ratio kiln-unpack tar-xzf)x"
cat "$work"/kiln-*.out
