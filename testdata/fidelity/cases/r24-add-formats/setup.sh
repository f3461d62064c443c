mkdir -p t/d && echo a > t/d/a && chmod 4711 t/d/a
tar -cjf t.tar.bz2 -C t .
tar -cJf t.tar.xz -C t .
tar -czf disguised.bin -C t .
python3 - <<'PY'
import tarfile, io
def reg(t, n, data, **kw):
    i = tarfile.TarInfo(n); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data))
with tarfile.open("hl.tar", "w") as t:
    reg(t, "a", b"hard\n", mode=0o600)
    i = tarfile.TarInfo("sub/b"); i.type = tarfile.LNKTYPE; i.linkname = "a"; t.addfile(i)
with tarfile.open("implicit.tar", "w") as t:
    reg(t, "x/y/z/file", b"deep\n", uid=3, gid=4)
with tarfile.open("pax.tar", "w", format=tarfile.PAX_FORMAT) as t:
    reg(t, "p/" + "n" * 150, b"long\n", uid=3000000, gid=3000001, uname="someone", gname="grp", pax_headers={"comment": "hi"})
    reg(t, "p/ünï", b"u\n")
with tarfile.open("special.tar", "w") as t:
    i = tarfile.TarInfo("fifo"); i.type = tarfile.FIFOTYPE; i.mode = 0o640; t.addfile(i)
    i = tarfile.TarInfo("null"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; i.mode=0o666; t.addfile(i)
    i = tarfile.TarInfo("dir"); i.type = tarfile.DIRTYPE; i.mode = 0o1750; i.uid = 9; t.addfile(i)
import zipfile
with zipfile.ZipFile("x.zip", "w") as z: z.writestr("in.txt", "zip\n")
PY
tar -cf empty.tar -T /dev/null
printf 'this is not a tar at all' > bogus.tar
rm -rf t
