#!/usr/bin/env bash
# Issue 24, point 2: the fidelity cases (shared and the project's) built by
# rootless kiln — kiln run by an ordinary user this script makes, with a
# subordinate id range, its store in that user's home — judged by the same
# harness against docker's images. Run as root by .ci/run after the root
# run; usage: .ci/rootless-fidelity.sh KILN_BINARY. Exit 1 when a case
# fails.
#
# The harness runs `kiln load -i`, `kiln build` and `kiln save -o` with
# files of its root-owned work directory; the wrapper below gives the
# user what it cannot reach (the archive on stdin and stdout, the context
# handed over with chown, as a user's own context would be) and builds with
# `--network none`: RUN steps' default network needs /dev/net/tun open to
# the user, which this machine does not grant (`kiln doctor --environment`).
set -euo pipefail
kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
user=kilnci$$
home=$(mktemp -d /var/tmp/kiln-rootless-home.XXXXXX)
wrap=$(mktemp -d /var/tmp/kiln-rootless-wrap.XXXXXX)
work=/var/tmp/kiln-fidelity-rootless
cleanup() {
  userdel "$user" 2>/dev/null || true
  rm -rf "$home" "$wrap"
}
trap cleanup EXIT
# Ten million subordinate ids, not login.defs' 65536: r24-add-formats
# ADDs a file owned by uid 3000000, which a 65536-id range cannot map
# (rootless BuildKit and podman share the limit; the error says so).
useradd -M -d "$home" -s /bin/sh -K SUB_UID_COUNT=10000000 -K SUB_GID_COUNT=10000000 "$user"
chown "$user:" "$home"
uid=$(id -u "$user")
gid=$(id -g "$user")
chmod 755 "$wrap"
cat >"$wrap/kiln" <<EOF
#!/bin/sh
as_user() { runuser -u $user -- env HOME=$home "$kiln" "\$@"; }
case "\$1" in
  load) shift; [ "\$1" = -i ] && { file=\$2; shift 2; as_user load "\$@" <"\$file"; exit; }; as_user load "\$@" ;;
  save) shift; [ "\$1" = -o ] && { file=\$2; shift 2; as_user save "\$@" >"\$file"; exit; }; as_user save "\$@" ;;
  build)
    shift
    for context; do :; done
    # The user's own context: its files the user's (inside kiln's
    # namespace, root's: the same image). chown clears set-id bits, so
    # each entry's mode is put back.
    python3 - "\$context" <<'PY'
import os, sys
for top, dirs, files in os.walk(sys.argv[1]):
    for path in [top] + [os.path.join(top, n) for n in dirs + files]:
        st = os.lstat(path)
        os.lchown(path, $uid, $gid)
        if not os.path.islink(path):
            os.chmod(path, st.st_mode & 0o7777)
PY
    as_user build --network none "\$@" ;;
  *) as_user "\$@" ;;
esac
EOF
chmod 755 "$wrap/kiln"
rm -rf "$work"
status=0
for cases in "" "$PWD/testdata/fidelity/cases"; do
  log=$(mktemp)
  CASES=${cases:-../shared/fidelity/cases} WORK=$work KILN=$wrap/kiln bash ../shared/fidelity/run.sh | tee "$log"
  if ! tail -1 "$log" | grep -q ' 0 failed$' || grep -q '^ORACLE-FAIL' "$log"; then
    status=1
  fi
  rm -f "$log"
done
exit "$status"
