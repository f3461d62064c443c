#!/usr/bin/env bash
# Issue 26, point 5: every fidelity case (shared and the project's) built
# by kiln through `--builder docker` (dockerd 20.10's BuildKit 0.8 runs
# the LLB kiln's frontend lowers) and by `docker build` on the same
# dockerd, both flattened by the harness's imgflat.py and compared: config
# and file system must be the same. Where docker's own frontend cannot
# build a case (syntax or features newer than docker 20.10), kiln must
# either refuse it before anything runs, naming the BuildKit capability
# the builder lacks (the cases listed in $refused, each with its reason),
# or build it (kiln's frontend gives that BuildKit syntax it lacks) to the
# case's expectations, except for the behaviours of BuildKit 0.8 that no
# capability announces ($old_buildkit, see docs/llb.md). Run as root by
# .ci/run after the main fidelity run (dockerd and busybox:local are
# there); usage: .ci/builder-fidelity.sh KILN_BINARY.
set -uo pipefail
kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
here=$PWD
flat="python3 ../shared/fidelity/imgflat.py"
docker() { /usr/bin/docker "$@"; }
export DOCKER_BUILDKIT=1
# Refused by capability: RUN --mount=type=secret,env= (exec.secretenv,
# v0.10) and COPY --link (mergeop, v0.10).
refused="p06-secret-env-missing p11-copy-link-merge"
# BuildKit 0.8's own behaviour (docs/llb.md): mount points of RUN --mount
# left in the image; no supplementary groups for the RUN user; COPY
# --chmod not applied to directories; ADD --chown not applied to an
# archive's files; ADD does not extract zstd archives; a redeclared
# global TARGET* arg left empty by docker 20.10's frontend.
old_buildkit="k04-chown-names k15-run-mounts p07-copy-chmod-dirs p12-add-tar-zst r07-add-tar-edge
  r10-run-env-shell r20-user-groups r33-run-mounts2 r43-dockerignore-bind r46-mount-source-symlink
  r47-mount-target-symlink r58-mounts-nonroot r59-cache-id-uid r62-add-chown-archive
  r64-mount-target-dangling r65-resolv-conf-dangling r68-chown-forms"
work=$(mktemp -d /var/tmp/kiln-builder-fidelity.XXXXXX)
store=$(mktemp -d /var/tmp/kiln-builder-store.XXXXXX)
trap 'rm -rf "$work" "$store"' EXIT
"$kiln" --root "$store" load -i "${WORK:-/var/tmp/kiln-fidelity}/busybox.tar" >/dev/null
pass=0; fail=0; got_refused=()
for c in ../shared/fidelity/cases/*/ testdata/fidelity/cases/*/; do
  name=$(basename "$c"); ctx="$work/ctx/$name"; out="$work/out/$name"
  mkdir -p "$ctx" "$out"; cp -a "$c/." "$ctx/"
  (cd "$ctx" && [ -f setup.sh ] && sh setup.sh && rm -f setup.sh)
  flags=()
  [ -f "$ctx/args" ] && while read -r a; do flags+=(--build-arg "$a"); done < "$ctx/args"
  [ -f "$ctx/target" ] && flags+=(--target "$(cat "$ctx/target")")
  [ -f "$ctx/secret-tok" ] && flags+=(--secret "id=tok,src=$ctx/secret-tok")
  rm -f "$ctx/args" "$ctx/target"
  spec=""; [ -f "$ctx/expect" ] && { spec="$out/expect"; mv "$ctx/expect" "$spec"; }
  tag="builder-fidelity-$name"
  docker_ok=false
  if docker build --network host -q -t "$tag" "${flags[@]}" "$ctx" >"$out/docker.log" 2>&1; then
    docker_ok=true
    docker save "$tag" -o "$out/docker.tar" && $flat "$out/docker.tar" >"$out/docker.json"
    docker rmi -f "$tag" >/dev/null 2>&1
  fi
  if ! timeout 300 "$kiln" --root "$store" build --builder docker --network host -q -t "$tag" \
      "${flags[@]}" "$ctx" >"$out/kiln.log" 2>&1; then
    if grep -q "cannot run this build: .* needs BuildKit v[0-9.]* or later (capability " "$out/kiln.log"; then
      got_refused+=("$name"); echo "REFUSED $name: $(grep -o 'cannot run this build: .*' "$out/kiln.log")"
      continue
    fi
    echo "FAIL $name: kiln --builder docker failed: $(tail -1 "$out/kiln.log")"; fail=$((fail+1)); continue
  fi
  "$kiln" --root "$store" save -o "$out/kiln.tar" "$tag" && $flat "$out/kiln.tar" >"$out/kiln.json"
  old=false; case " $(echo $old_buildkit) " in *" $name "*) old=true ;; esac
  if [ -n "$spec" ] && ! $old; then
    check=(--expect "$spec" "$out/kiln.json")
  elif $docker_ok; then
    check=(--diff "$out/docker.json" "$out/kiln.json")
  else
    echo "FAIL $name: docker could not build it: $(tail -1 "$out/docker.log")"; fail=$((fail+1)); continue
  fi
  if $old && $flat --expect "$spec" "$out/kiln.json" >/dev/null 2>&1; then
    echo "FAIL $name: listed as BuildKit 0.8 behaviour but meets its expectations: take it off the list"
    fail=$((fail+1)); continue
  fi
  if $flat "${check[@]}" >"$out/diff.txt"; then
    pass=$((pass+1))
  else
    echo "FAIL $name (${check[0]}): $(head -2 "$out/diff.txt" | cut -c1-300 | tr '\n' ';')"
    fail=$((fail+1))
  fi
done
echo "builder docker: $pass passed, $fail failed, refused: ${got_refused[*]:-none}"
[ "$fail" = 0 ] || exit 1
if [ "${got_refused[*]:-}" != "$refused" ]; then
  echo "refused [${got_refused[*]:-}], expected exactly [$refused]"; exit 1
fi
