#!/usr/bin/env bash
# Issue 24, point 5: the fidelity cases (shared and the project's) built
# with chroot isolation (`KILN_ISOLATION=chroot`, what kiln falls back to
# in a container that allows no namespace), in a store of their own, judged
# by the same harness against docker's images. The cases that differ by
# design (docs/differences.md, "Containers and chroot isolation": a step
# shares kiln's host name and PIDs, and runs with no_new_privs) are listed
# below; any other failure, or one of them passing, fails. Run as root by
# .ci/run after the root run; usage: .ci/chroot-fidelity.sh KILN_BINARY.
set -euo pipefail
kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
expected="p03-run-etc-hosts p08-run-pid-1 r10-run-env-shell r19-setuid-nonroot"
store=$(mktemp -d /var/tmp/kiln-chroot-store.XXXXXX)
log=$(mktemp)
trap 'rm -rf "$store" "$log"' EXIT
for cases in ../shared/fidelity/cases "$PWD/testdata/fidelity/cases"; do
  CASES=$cases KILN=$kiln KILN_ROOT=$store KILN_ISOLATION=chroot \
    WORK=/var/tmp/kiln-fidelity-chroot bash ../shared/fidelity/run.sh | tee -a "$log"
done
if grep -q '^ORACLE-FAIL' "$log"; then
  echo "docker could not build a case"; exit 1
fi
failed=$(grep -o '^FAIL [^:]*' "$log" | cut -d' ' -f2 | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$failed" != "$expected" ]; then
  echo "chroot isolation: failed cases [$failed], expected exactly [$expected]"
  exit 1
fi
echo "chroot isolation: every case passes but the $(echo "$expected" | wc -w) that differ by design"
