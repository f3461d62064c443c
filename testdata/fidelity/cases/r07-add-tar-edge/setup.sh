python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x", typ=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, link=""):
    i = tarfile.TarInfo(name); i.type = typ; i.mode = mode; i.uid=uid; i.gid=gid; i.linkname = link
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("wh.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, ".wh.keep", b"whiteout-looking\n")
    add(t, "sub/.wh..wh..opq", b"opq\n")
    add(t, "sub/regular", b"r\n")
with tarfile.open("over.tar", "w") as t:
    add(t, "wasfile", typ=tarfile.DIRTYPE, mode=0o755)
    add(t, "wasfile/in", b"in\n")
    add(t, "wasdir", b"now a file\n")
    add(t, "keep", typ=tarfile.DIRTYPE, mode=0o700, uid=5, gid=6)
    add(t, "keep/added", b"a\n", uid=7, gid=8)
with tarfile.open("abs.tar", "w") as t:
    add(t, "/etc/abs-file", b"abs\n")
    add(t, "./dot/f", b"dot\n")
with tarfile.open("own.tar", "w") as t:
    add(t, "o/f", b"o\n", uid=11, gid=12)
PY
mkdir -p nested && cp own.tar nested/inner.tar && echo p > plain.txt
