#!/usr/bin/env python3
"""Runs a command with QEMU handlers in a binfmt_misc of its own, so that a
peer (buildah) can run foreign RUN steps without anything registered on
the host: the command runs as root in a new user namespace that maps every
id to itself, in a new mount namespace where binfmt_misc is mounted on
/proc/sys/fs/binfmt_misc (Linux 6.7+) with one handler per emulator given.
This is the setup kiln makes for its own sandboxes, offered to the peer
for a fair comparison; the host's binfmt_misc is never written.

Usage (as root): binfmt-ns.py QEMU_DIR ARCH[,ARCH...] -- COMMAND...
ARCH is QEMU's name (aarch64, arm)."""

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

# ELF e_ident class/data and e_machine of each emulated CPU (ELF gABI).
MACHINES = {
    "aarch64": (2, 1, 183),
    "arm": (1, 1, 40),
    "riscv64": (2, 1, 243),
    "ppc64le": (2, 1, 21),
    "s390x": (2, 2, 22),
}


def pattern(arch):
    cls, data, machine = MACHINES[arch]
    m = machine.to_bytes(2, "big" if data == 2 else "little")
    e_type = b"\x00\x02" if data == 2 else b"\x02\x00"
    magic = bytes([0x7F, 0x45, 0x4C, 0x46, cls, data, 1]) + bytes(9) + e_type + m
    type_mask = b"\xff\xfe" if data == 2 else b"\xfe\xff"
    mask = b"\xff" * 7 + bytes(2) + b"\xff" * 7 + type_mask + b"\xff\xff"
    return magic, mask


def esc(b):
    return "".join("\\x%02x" % x for x in b)


def main():
    qemu_dir, arches, sep, *command = sys.argv[1:]
    assert sep == "--" and command, __doc__
    libc = ctypes.CDLL(None, use_errno=True)
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        # Stays in the host's namespace: writes the identity maps.
        os.close(ready_w)
        os.close(mapped_r)
        os.read(ready_r, 1)
        parent = os.getppid()
        for f in ("uid_map", "gid_map"):
            with open("/proc/%d/%s" % (parent, f), "w") as out:
                out.write("0 0 4294967295\n")
        os.write(mapped_w, b"m")
        os._exit(0)
    os.close(ready_r)
    os.close(mapped_w)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
    os.write(ready_w, b"u")
    if os.read(mapped_r, 1) != b"m":
        sys.exit("the helper could not map the ids")
    os.waitpid(helper, 0)
    # No mount event goes back to the host's namespace.
    if libc.mount(None, b"/", None, 0x40000 | 0x4000, None) != 0:  # MS_PRIVATE|MS_REC
        sys.exit("mount --make-rprivate /: %s" % os.strerror(ctypes.get_errno()))
    target = b"/proc/sys/fs/binfmt_misc"
    if libc.mount(b"binfmt_misc", target, b"binfmt_misc", 0, None) != 0:
        sys.exit("mount binfmt_misc: %s" % os.strerror(ctypes.get_errno()))
    for arch in arches.split(","):
        magic, mask = pattern(arch)
        interpreter = os.path.join(qemu_dir, "qemu-%s-static" % arch)
        line = ":bench-%s:M::%s:%s:%s:POCF" % (arch, esc(magic), esc(mask), interpreter)
        with open("/proc/sys/fs/binfmt_misc/register", "w") as out:
            out.write(line)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
