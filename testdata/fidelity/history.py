#!/usr/bin/env python3
"""Compares the image history (created_by, empty_layer, comment of each
entry) of docker's and kiln's builds of every fidelity case, from the
archives the harness leaves in its output directory (docker.tar: `docker
save`; kiln.tar: an OCI or docker archive). The harness compares configs
and file systems only; history texts are what `docker history` shows.

One deliberate difference is allowed: a step that changed nothing has no
layer in kiln's image (its entry is marked empty, as BuildKit's own image
exporter does), where docker's exporter keeps an empty one (see
docs/differences.md). An entry docker marks empty must be empty in kiln's.

usage: history.py OUT_DIR [CASE...]   (exit 1 when any case differs)
"""
import json
import os
import sys
import tarfile


def config_of(path):
    with tarfile.open(path) as tar:
        names = set(tar.getnames())

        def load(name):
            return json.load(tar.extractfile(name))

        if "manifest.json" in names:
            manifest = load("manifest.json")[0]
            return load(manifest["Config"])
        index = load("index.json")
        desc = index["manifests"][0]
        blob = lambda d: load("blobs/" + d["digest"].replace(":", "/"))
        manifest = blob(desc)
        if "manifests" in manifest:  # an index inside
            manifest = blob(manifest["manifests"][0])
        return blob(manifest["config"])


def entries(config):
    return [
        (h.get("created_by", ""), bool(h.get("empty_layer", False)), h.get("comment", ""))
        for h in config.get("history", [])
    ]


def same(docker, kiln):
    """Equal, but for a layer docker kept that kiln dropped as empty."""
    (d_text, d_empty, d_comment), (k_text, k_empty, k_comment) = docker, kiln
    return (d_text, d_comment) == (k_text, k_comment) and (d_empty == k_empty or k_empty)


def main():
    out = sys.argv[1]
    cases = sys.argv[2:] or sorted(os.listdir(out))
    failed = 0
    checked = 0
    for case in cases:
        docker, kiln = (os.path.join(out, case, f"{n}.tar") for n in ("docker", "kiln"))
        if not (os.path.isfile(docker) and os.path.isfile(kiln)):
            continue
        checked += 1
        d, k = entries(config_of(docker)), entries(config_of(kiln))
        if len(d) == len(k) and all(same(a, b) for a, b in zip(d, k)):
            continue
        failed += 1
        print(f"HISTORY {case}:")
        for i in range(max(len(d), len(k))):
            a = d[i] if i < len(d) else None
            b = k[i] if i < len(k) else None
            if a is None or b is None or not same(a, b):
                print(f"  #{i} docker {a}\n  #{i} kiln   {b}")
    print(f"history: {checked - failed} same, {failed} differ")
    if checked == 0:
        print("history: no case had both archives; nothing was compared")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
