#!/usr/bin/env python3
"""Writes an `expect` file for a fidelity case from docker's image of it.

A docker-oracle case whose behaviour current BuildKit changed since docker
20.10's BuildKit (v0.8, the local oracle) becomes an expect case: its
expectations are docker's image (every entry the case added or changed
over the base, and every base entry it removed, plus the config), except
for the paths given with --take, whose expectations come from kiln's image
of the same case. Each --take must be a difference the case's header
comment explains with the BuildKit source or test it follows; the header
is written by hand above what this prints.

usage: expect_from_docker.py OUT_DIR BASE_IMAGE [--take PATH]...
  OUT_DIR     the harness's output folder of the case (docker.tar, kiln.tar)
  BASE_IMAGE  the harness's busybox.tar (what every case starts from)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../shared/fidelity"))
import imgflat  # noqa: E402

# Files up to this size are expected byte for byte; larger ones by mode and
# owner only.
MAX_CONTENT = 4096


def contents(path):
    """path -> bytes of every regular file in the image at `path`."""
    _, layers = imgflat.load(path)
    files = {}
    for data in layers:
        t = imgflat.open_layer(data)
        for m in t.getmembers():
            if m.isfile():
                files[imgflat.norm(m.name)] = t.extractfile(m).read()
    return files


def escape(data):
    """CONTENT as imgflat's `file` expectation reads it back."""
    return data.decode("latin-1").encode("unicode_escape").decode("ascii")


def lines_for(path, entry, files):
    out = []
    if entry["type"] == "file" and entry["size"] <= MAX_CONTENT and " " not in path:
        out.append("file %s %s" % (path, escape(files[path])))
    if entry["type"] != "symlink":
        out.append("mode %s %s" % (path, entry["mode"]))
    out.append("owner %s %d:%d" % (path, entry["uid"], entry["gid"]))
    return out


def main(args):
    out_dir, base_image = args[0], args[1]
    take = set()
    rest = args[2:]
    while rest:
        if rest[0] != "--take" or len(rest) < 2:
            sys.exit(__doc__)
        take.add(rest[1])
        rest = rest[2:]
    base = imgflat.summarize(base_image)["tree"]
    images = {
        "docker": (json.load(open(os.path.join(out_dir, "docker.json"))),
                   contents(os.path.join(out_dir, "docker.tar"))),
        "kiln": (json.load(open(os.path.join(out_dir, "kiln.json"))),
                 contents(os.path.join(out_dir, "kiln.tar"))),
    }
    docker = images["docker"][0]
    for key in imgflat.CONFIG_KEYS:
        value = docker["config"].get(key)
        if value is not None:
            print("config %s %s" % (key, json.dumps(value, sort_keys=True)))
    paths = set(docker["tree"]) | set(base) | take
    for path in sorted(paths):
        source = "kiln" if path in take else "docker"
        tree, files = images[source][0]["tree"], images[source][1]
        entry = tree.get(path)
        if entry is None:
            if path in base or path in take:
                print("absent %s" % path)
            continue
        if base.get(path) == entry and source == "docker":
            continue
        for line in lines_for(path, entry, files):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
