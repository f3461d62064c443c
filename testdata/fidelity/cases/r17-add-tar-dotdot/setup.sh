python3 - <<'PY'
import tarfile, io
with tarfile.open("dd.tar", "w") as t:
    for n in ["../escape", "a/../../up2", "/rooted", "ok"]:
        i = tarfile.TarInfo(n); i.size = 2; t.addfile(i, io.BytesIO(b"x\n"))
    i = tarfile.TarInfo("lnk"); i.type = tarfile.SYMTYPE; i.linkname = "../../../etc"; t.addfile(i)
PY
