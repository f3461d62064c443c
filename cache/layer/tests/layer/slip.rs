//! Malicious layers (tar-slip and friends): whatever a layer says, nothing
//! outside the snapshot root changes. Each test checks a sentinel directory
//! beside the root (names, contents, modes, mtimes, link counts, xattrs)
//! and that no inode under the root is shared with anything outside it,
//! then that the layer was either refused with an error naming the entry
//! or applied safely inside the root.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kiln_layer::{UnpackError, UnpackOptions, Unpacked};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use tar::{EntryType, Header};

use crate::common::*;

/// A hand-built tar: raw names, no checks, as an attacker would write it.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn header(&mut self, name: &[u8], kind: EntryType, link: &[u8], size: u64) -> &mut Tar {
        self.header_with(name, kind, link, size, |_| {})
    }

    fn header_with(
        &mut self,
        name: &[u8],
        kind: EntryType,
        link: &[u8],
        size: u64,
        customize: impl FnOnce(&mut Header),
    ) -> &mut Tar {
        let mut h = Header::new_ustar();
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let n = link.len().min(100);
        h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
        h.set_entry_type(kind);
        h.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(size);
        if let Some(ustar) = h.as_ustar_mut() {
            ustar.set_device_major(0);
            ustar.set_device_minor(0);
        }
        customize(&mut h);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self
    }

    fn data(&mut self, data: &[u8]) -> &mut Tar {
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
        self
    }

    fn file(&mut self, name: &[u8], data: &[u8]) -> &mut Tar {
        self.header(name, EntryType::Regular, b"", data.len() as u64)
            .data(data)
    }

    fn dir(&mut self, name: &[u8]) -> &mut Tar {
        self.header(name, EntryType::Directory, b"", 0)
    }

    fn symlink(&mut self, name: &[u8], target: &[u8]) -> &mut Tar {
        self.header(name, EntryType::Symlink, target, 0)
    }

    fn hardlink(&mut self, name: &[u8], target: &[u8]) -> &mut Tar {
        self.header(name, EntryType::Link, target, 0)
    }

    fn device(&mut self, name: &[u8], kind: EntryType, major: u32, minor: u32) -> &mut Tar {
        self.header_with(name, kind, b"", 0, |h| {
            if let Some(ustar) = h.as_ustar_mut() {
                ustar.set_device_major(major);
                ustar.set_device_minor(minor);
            }
        })
    }

    /// A pax extended header with raw records for the next entry.
    fn pax(&mut self, records: &[(&[u8], &[u8])]) -> &mut Tar {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = key.len() + value.len() + 3;
            let mut len = body + body.to_string().len();
            if len.to_string().len() != body.to_string().len() {
                len = body + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} ").as_bytes());
            data.extend_from_slice(key);
            data.push(b'=');
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.header(b"PaxHeader", EntryType::XHeader, b"", data.len() as u64)
            .data(&data)
    }

    /// A GNU long name for the next entry.
    fn gnu_long_name(&mut self, name: &[u8]) -> &mut Tar {
        let mut data = name.to_vec();
        data.push(0);
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(EntryType::GNULongName);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.data(&data)
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.0);
        out.resize(out.len() + 1024, 0);
        out
    }
}

/// A snapshot root with a sentinel directory beside it.
struct Sandbox {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    sentinel: PathBuf,
    before: BTreeMap<Vec<u8>, Node>,
    outside_inodes: Vec<(u64, u64)>,
    passwd: Vec<u8>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let root = base.join("root");
        let sentinel = base.join("sentinel");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(sentinel.join("sub")).unwrap();
        std::fs::write(sentinel.join("keep"), b"precious").unwrap();
        std::fs::write(sentinel.join("sub/deeper"), b"also precious").unwrap();
        set_all_mtimes(&base, 1_500_000_000);
        let before = describe_except(&base, &["root"]);
        let mut outside_inodes = Vec::new();
        for path in [
            sentinel.join("keep"),
            sentinel.join("sub/deeper"),
            "/etc/passwd".into(),
        ] {
            let meta = std::fs::metadata(&path).unwrap();
            outside_inodes.push((meta.dev(), meta.ino()));
        }
        Sandbox {
            _tmp: tmp,
            base,
            root,
            sentinel,
            before,
            outside_inodes,
            passwd: std::fs::read("/etc/passwd").unwrap(),
        }
    }

    /// The sentinel's absolute path, as bytes.
    fn sentinel_abs(&self) -> Vec<u8> {
        self.sentinel.as_os_str().as_bytes().to_vec()
    }

    /// Where an absolute path lands inside the root.
    fn inside(&self, abs: &Path) -> PathBuf {
        self.root.join(abs.strip_prefix("/").unwrap())
    }

    fn unpack(&self, tar: &[u8]) -> Result<Unpacked, UnpackError> {
        let result = kiln_layer::unpack_layer(tar, &self.root, &UnpackOptions::default());
        self.assert_contained();
        result
    }

    /// Nothing outside the root changed or gained a link from inside.
    fn assert_contained(&self) {
        assert_eq!(
            describe_except(&self.base, &["root"]),
            self.before,
            "the sentinel changed"
        );
        assert_eq!(std::fs::read("/etc/passwd").unwrap(), self.passwd);
        // Through descriptors: trees deeper than PATH_MAX are expected here.
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut stack = vec![rustix::fs::open(&self.root, flags, Mode::empty()).unwrap()];
        while let Some(dir) = stack.pop() {
            let mut entries = rustix::fs::Dir::read_from(&dir).unwrap();
            while let Some(entry) = entries.read() {
                let entry = entry.unwrap();
                let name = entry.file_name();
                if name == c"." || name == c".." {
                    continue;
                }
                let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).unwrap();
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    stack.push(rustix::fs::openat(&dir, name, flags, Mode::empty()).unwrap());
                } else {
                    assert!(
                        !self.outside_inodes.contains(&(st.st_dev, st.st_ino)),
                        "{name:?} is linked to a file outside the root"
                    );
                }
            }
        }
    }
}

/// The unpack failed with an error naming `entry`.
fn assert_rejected(result: Result<Unpacked, UnpackError>, entry: &str) {
    match result {
        Ok(u) => panic!(
            "layer accepted ({} entries), expected an error naming {entry:?}",
            u.entries
        ),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(&format!("{entry:?}")),
                "{message:?} does not name {entry:?}"
            );
        }
    }
}

fn is_whiteout(path: &Path) -> bool {
    let meta = std::fs::symlink_metadata(path).unwrap();
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

macro_rules! root_test {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            if !root_or_skip(stringify!($name)) {
                return;
            }
            let sandbox = Sandbox::new();
            let body: fn(&Sandbox) = $body;
            body(&sandbox);
        }
    };
}

root_test!(dotdot_names_are_refused, |s| {
    let tar = Tar::new().file(b"../escape", b"pwned").finish();
    assert_rejected(s.unpack(&tar), "../escape");
    let tar = Tar::new()
        .dir(b"a/")
        .file(b"a/../../escape", b"pwned")
        .finish();
    assert_rejected(s.unpack(&tar), "a/../../escape");
    assert!(!s.base.join("escape").exists());
});

root_test!(absolute_names_land_inside_the_root, |s| {
    let mut target = s.sentinel_abs();
    target.extend_from_slice(b"/pwn");
    let tar = Tar::new()
        .file(b"/abs", b"inside")
        .pax(&[(b"path", &target)])
        .file(b"ignored", b"inside too")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("abs")).unwrap(), b"inside");
    assert_eq!(
        std::fs::read(s.inside(&s.sentinel.join("pwn"))).unwrap(),
        b"inside too"
    );
});

root_test!(absolute_symlink_parent_resolves_inside_the_root, |s| {
    let tar = Tar::new()
        .symlink(b"l", &s.sentinel_abs())
        .file(b"l/pwn", b"inside")
        .symlink(b"slash", b"/")
        .file(
            &[b"slash".as_slice(), &s.sentinel_abs(), b"/keep"].concat(),
            b"pwned",
        )
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(
        std::fs::read(s.inside(&s.sentinel.join("pwn"))).unwrap(),
        b"inside"
    );
    assert_eq!(
        std::fs::read(s.inside(&s.sentinel.join("keep"))).unwrap(),
        b"pwned"
    );
});

root_test!(relative_symlink_parent_cannot_climb_out, |s| {
    let tar = Tar::new()
        .symlink(b"a", b"../../..")
        .file(b"a/x", b"clamped at the root")
        .symlink(b"b", b"../sentinel")
        .file(b"b/keep", b"pwned")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(
        std::fs::read(s.root.join("x")).unwrap(),
        b"clamped at the root"
    );
    assert_eq!(
        std::fs::read(s.root.join("sentinel/keep")).unwrap(),
        b"pwned"
    );
});

root_test!(hardlink_to_host_passwd_is_refused, |s| {
    let tar = Tar::new().hardlink(b"passwd", b"/etc/passwd").finish();
    assert_rejected(s.unpack(&tar), "passwd");
    assert!(!s.root.join("passwd").exists());
});

root_test!(hardlink_with_dotdot_targets_is_refused, |s| {
    let tar = Tar::new().hardlink(b"h", b"../sentinel/keep").finish();
    assert_rejected(s.unpack(&tar), "h");
    let tar = Tar::new()
        .dir(b"a/")
        .hardlink(b"h2", b"a/../../sentinel/keep")
        .finish();
    assert_rejected(s.unpack(&tar), "h2");
});

root_test!(hardlink_through_symlinked_parent_stays_inside, |s| {
    let mut target = b"l".to_vec();
    target.extend_from_slice(b"/keep");
    let tar = Tar::new()
        .symlink(b"l", &s.sentinel_abs())
        .hardlink(b"h", &target)
        .finish();
    // l/keep resolves to <root>/<sentinel>/keep, which does not exist.
    assert_rejected(s.unpack(&tar), "h");
});

root_test!(hardlink_to_a_symlink_links_the_symlink, |s| {
    let mut out = s.sentinel_abs();
    out.extend_from_slice(b"/keep");
    let tar = Tar::new()
        .symlink(b"s", &out)
        .hardlink(b"h", b"s")
        .file(b"h", b"replaces h, not what it points to")
        .finish();
    s.unpack(&tar).unwrap();
    assert!(
        std::fs::symlink_metadata(s.root.join("s"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read(s.root.join("h")).unwrap(),
        b"replaces h, not what it points to"
    );
});

root_test!(file_over_symlink_replaces_the_symlink, |s| {
    let mut keep = s.sentinel_abs();
    keep.extend_from_slice(b"/keep");
    let tar = Tar::new()
        .symlink(b"s", &keep)
        .file(b"s", b"pwned")
        .symlink(b"d", &s.sentinel_abs())
        .dir(b"d/")
        .file(b"d/keep", b"pwned")
        .symlink(b"n", &keep)
        .device(b"n", EntryType::Fifo, 0, 0)
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.root.join("s")).unwrap(), b"pwned");
    assert!(
        std::fs::symlink_metadata(s.root.join("d"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(std::fs::read(s.root.join("d/keep")).unwrap(), b"pwned");
});

root_test!(device_nodes_stay_inside, |s| {
    use std::os::unix::fs::FileTypeExt;
    let tar = Tar::new()
        .device(b"dev/null", EntryType::Char, 1, 3)
        .symlink(b"l", &s.sentinel_abs())
        .device(b"l/sda", EntryType::Block, 8, 0)
        .finish();
    s.unpack(&tar).unwrap();
    let null = std::fs::symlink_metadata(s.root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert!(
        std::fs::symlink_metadata(s.inside(&s.sentinel.join("sda")))
            .unwrap()
            .file_type()
            .is_block_device()
    );
    let tar = Tar::new()
        .device(b"../sentinel/null", EntryType::Char, 1, 3)
        .finish();
    assert_rejected(s.unpack(&tar), "../sentinel/null");
});

root_test!(very_long_names, |s| {
    // 6001 bytes, 3001 components: deeper than one openat2 call can take.
    let deep = [b"a/".repeat(3000), b"x".to_vec()].concat();
    let tar = Tar::new()
        .pax(&[(b"path", &deep)])
        .file(b"short", b"deep")
        .finish();
    s.unpack(&tar).unwrap();
    // Too deep for one path syscall: checked through descriptors.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW;
    let mut dir = rustix::fs::open(&s.root, flags, Mode::empty()).unwrap();
    for _ in 0..3000 {
        dir = rustix::fs::openat(&dir, "a", flags, Mode::empty()).unwrap();
    }
    let st = rustix::fs::statat(&dir, "x", AtFlags::SYMLINK_NOFOLLOW).unwrap();
    assert_eq!(st.st_size, 4);
    let hidden = [b"a/".repeat(100), b"../".repeat(200), b"escape".to_vec()].concat();
    let tar = Tar::new()
        .pax(&[(b"path", &hidden)])
        .file(b"benign", b"pwned")
        .finish();
    let shown = String::from_utf8(hidden).unwrap();
    assert_rejected(s.unpack(&tar), &shown);
    let tar = Tar::new()
        .gnu_long_name(b"../../escape-via-gnu")
        .file(b"benign", b"pwned")
        .finish();
    assert_rejected(s.unpack(&tar), "../../escape-via-gnu");
    let tar = Tar::new()
        .pax(&[(b"path", b"../pax-override")])
        .file(b"benign", b"pwned")
        .finish();
    assert_rejected(s.unpack(&tar), "../pax-override");
    let tar = Tar::new()
        .pax(&[(b"linkpath", b"../../sentinel/keep")])
        .hardlink(b"h", b"benign")
        .finish();
    assert_rejected(s.unpack(&tar), "h");
    // A 1 GiB pax header is refused before it is buffered.
    let mut tar = Tar::new();
    tar.header(b"PaxHeader", EntryType::XHeader, b"", 1 << 30);
    let tar = tar.finish();
    assert!(matches!(s.unpack(&tar), Err(UnpackError::Malformed { .. })));
});

root_test!(whiteouts_cannot_reach_outside, |s| {
    let tar = Tar::new().file(b"../.wh.keep", b"").finish();
    assert_rejected(s.unpack(&tar), "../.wh.keep");
    let tar = Tar::new().file(b"a/.wh..", b"").finish();
    assert_rejected(s.unpack(&tar), "a/.wh..");
    let tar = Tar::new().file(b".wh.", b"").finish();
    assert_rejected(s.unpack(&tar), ".wh.");
    let tar = Tar::new()
        .symlink(b"l", &s.sentinel_abs())
        .file(b"l/.wh.keep", b"")
        .file(b"l/sub/.wh..wh..opq", b"")
        .finish();
    s.unpack(&tar).unwrap();
    let inside = s.inside(&s.sentinel);
    assert!(is_whiteout(&inside.join("keep")));
    assert_eq!(
        xattrs(&inside.join("sub")),
        vec![(b"trusted.overlay.opaque".to_vec(), b"y".to_vec())]
    );
    assert!(xattrs(&s.sentinel.join("sub")).is_empty());
});

root_test!(symlink_loops_are_errors, |s| {
    let tar = Tar::new()
        .symlink(b"a", b"b")
        .symlink(b"b", b"a")
        .file(b"a/x", b"")
        .finish();
    assert_rejected(s.unpack(&tar), "a/x");
});

root_test!(root_cannot_be_replaced, |s| {
    let tar = Tar::new().file(b"./", b"").finish();
    assert_rejected(s.unpack(&tar), "./");
    let tar = Tar::new().symlink(b"/", &s.sentinel_abs()).finish();
    assert_rejected(s.unpack(&tar), "/");
    assert!(s.root.is_dir());
});

root_test!(header_only_types_cannot_hide_entries, |s| {
    // A directory whose size field claims the next block: Go's archive/tar
    // (and so containerd) reads that block as a header; so must we.
    let mut tar = Tar::new();
    tar.header(b"d/", EntryType::Directory, b"", 512);
    tar.file(b"../hidden", b"pwned");
    let tar = tar.finish();
    assert_rejected(s.unpack(&tar), "../hidden");
});

root_test!(overlay_xattrs_are_never_restored, |s| {
    let tar = Tar::new()
        .pax(&[
            (b"SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            (b"SCHILY.xattr.trusted.overlay.metacopy", b""),
            (b"SCHILY.xattr.user.overlay.opaque", b"y"),
            (b"SCHILY.xattr.user.fine", b"kept"),
        ])
        .file(b"f", b"data")
        .finish();
    let unpacked = s.unpack(&tar).unwrap();
    assert_eq!(unpacked.skipped_xattrs, 3);
    assert_eq!(
        xattrs(&s.root.join("f")),
        vec![(b"user.fine".to_vec(), b"kept".to_vec())]
    );
});

root_test!(out_of_range_owners_are_refused, |s| {
    let tar = Tar::new()
        .pax(&[(b"uid", b"4294967295")])
        .file(b"f", b"")
        .finish();
    assert_rejected(s.unpack(&tar), "f");
    let tar = Tar::new()
        .pax(&[(b"gid", b"99999999999")])
        .file(b"g", b"")
        .finish();
    assert_rejected(s.unpack(&tar), "g");
});

root_test!(duplicate_entries_replace_in_order, |s| {
    let tar = Tar::new()
        .dir(b"d/")
        .file(b"d/inner", b"kept: a directory over a directory merges")
        .dir(b"d/")
        .file(b"x", b"first")
        .file(b"x", b"second")
        .dir(b"y/")
        .file(b"y/child", b"gone with its directory")
        .file(b"y", b"a file replaces the directory")
        .file(b".wh.w", b"")
        .dir(b"w/")
        .finish();
    s.unpack(&tar).unwrap();
    assert_eq!(
        std::fs::read(s.root.join("d/inner")).unwrap(),
        b"kept: a directory over a directory merges"
    );
    assert_eq!(std::fs::read(s.root.join("x")).unwrap(), b"second");
    assert_eq!(
        std::fs::read(s.root.join("y")).unwrap(),
        b"a file replaces the directory"
    );
    // A directory replacing a whiteout of this layer hides the lower one.
    assert_eq!(
        xattrs(&s.root.join("w")),
        vec![(b"trusted.overlay.opaque".to_vec(), b"y".to_vec())]
    );
});
