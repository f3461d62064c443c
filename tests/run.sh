#!/usr/bin/env bash
# The whole test suite, as the README gives it and .ci/run runs it:
# `cargo test --workspace --locked` (extra arguments are passed on), then
# the list of tests that skipped because this machine lacks root or a peer
# program. libtest counts a skipped test as passed, so the list is the only
# place a skip shows at the end; under CI=true a skip already fails its
# test, and any listed here fails the run too.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
KILN_SKIP_LOG=$log cargo test --workspace --locked "$@"
status=$?
if [ -s "$log" ]; then
  echo
  echo "$(sort -u "$log" | wc -l) tests skipped (they passed without testing anything):"
  sort -u "$log" | sed 's/^/  /'
  if [ "${CI:-}" = true ]; then
    echo "a skip is a failure under CI=true"
    status=1
  fi
fi
exit "$status"
