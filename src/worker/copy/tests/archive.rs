//! `ADD`'s extraction of local tar archives (Dockerfile reference, ADD
//! "Adding local tar archives"; BuildKit unpack.go, unpack_root.go).

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

use super::fixture::*;
use kiln_solver::IdOrName;
use tar::EntryType;

/// One entry of a test archive; names are raw bytes so hostile ones can
/// be written (the `tar` crate's path setters refuse them).
#[derive(Clone)]
struct E {
    name: &'static str,
    kind: EntryType,
    data: &'static str,
    mode: u32,
    ids: (u64, u64),
    mtime: u64,
    link: &'static str,
}

fn file(name: &'static str, data: &'static str) -> E {
    E {
        name,
        kind: EntryType::Regular,
        data,
        mode: 0o644,
        ids: (0, 0),
        mtime: 1_600_000_000,
        link: "",
    }
}

fn dir(name: &'static str) -> E {
    E {
        kind: EntryType::Directory,
        mode: 0o755,
        ..file(name, "")
    }
}

fn symlink(name: &'static str, target: &'static str) -> E {
    E {
        kind: EntryType::Symlink,
        mode: 0o777,
        link: target,
        ..file(name, "")
    }
}

fn hardlink(name: &'static str, target: &'static str) -> E {
    E {
        kind: EntryType::Link,
        link: target,
        ..file(name, "")
    }
}

fn header(e: &E, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let old = h.as_old_mut();
    old.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
    old.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
    h.set_entry_type(e.kind);
    h.set_size(size);
    h.set_mode(e.mode);
    h.set_uid(e.ids.0);
    h.set_gid(e.ids.1);
    h.set_mtime(e.mtime);
    h.set_cksum();
    h
}

fn tar(entries: &[E]) -> Vec<u8> {
    tar_with_pax(entries, &[])
}

/// An archive whose first entry is preceded by PAX records.
fn tar_with_pax(entries: &[E], pax: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    if !pax.is_empty() {
        let mut data = Vec::new();
        for (key, value) in pax {
            let body = [key.as_bytes(), b"=", value, b"\n"].concat();
            // The length counts its own digits and the space.
            let mut len = body.len() + 2;
            while format!("{len} ").len() + body.len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len} ").as_bytes());
            data.extend_from_slice(&body);
        }
        let mut h = tar::Header::new_ustar();
        h.set_path("PaxHeader").unwrap();
        h.set_entry_type(EntryType::XHeader);
        h.set_size(data.len() as u64);
        h.set_cksum();
        builder.append(&h, data.as_slice()).unwrap();
    }
    for e in entries {
        let data = e.data.as_bytes();
        builder.append(&header(e, data.len() as u64), data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).unwrap()
}

fn put(fx: &Fx, name: &str, bytes: &[u8]) {
    fs::write(fx.src.join(name), bytes).unwrap();
}

#[test]
fn archives_are_recognised_by_content_not_name() {
    let fx = Fx::new();
    let plain = tar(&[dir("d"), file("d/hello", "world")]);
    put(&fx, "plain.bin", &plain);
    put(&fx, "gz.data", &gzip(&plain));
    put(&fx, "bz.data", &bzip2(&plain));
    put(&fx, "xz.data", &xz(&plain));
    put(&fx, "zst.data", &zstd(&plain));
    put(&fx, "fake.tar.gz", b"not an archive at all");
    for (source, dest) in [
        ("plain.bin", "/plain"),
        ("gz.data", "/gz"),
        ("bz.data", "/bz"),
        ("xz.data", "/xz"),
        ("zst.data", "/zst"),
    ] {
        let stats = fx.run(&add_action(&[source], dest)).unwrap();
        assert_eq!(stats.archives, 1, "{source}");
        assert_eq!(
            fx.read(&format!("{}/d/hello", &dest[1..])),
            "world",
            "{source}"
        );
    }
    fx.run(&add_action(&["fake.tar.gz"], "/fake/")).unwrap();
    assert_eq!(fx.read("fake/fake.tar.gz"), "not an archive at all");
}

#[test]
fn copy_and_add_without_unpack_copy_the_archive_file() {
    let fx = Fx::new();
    put(&fx, "a.tar", &tar(&[file("x", "X")]));
    fx.run(&copy_action(&["a.tar"], "/c/")).unwrap();
    assert!(fx.meta("c/a.tar").is_file());
    // A directory holding an archive is copied as is too.
    fx.dir("sub");
    put(&fx, "sub/b.tar", &tar(&[file("y", "Y")]));
    fx.run(&add_action(&["sub"], "/s/")).unwrap();
    assert!(fx.meta("s/b.tar").is_file());
}

#[test]
fn an_empty_archive_is_not_an_archive() {
    // Go's tar reader returns io.EOF on the end-of-archive blocks, so
    // BuildKit's isArchivePath says no and the file is copied.
    let fx = Fx::new();
    put(&fx, "empty.tar", &tar(&[]));
    fx.run(&add_action(&["empty.tar"], "/e/")).unwrap();
    assert!(fx.meta("e/empty.tar").is_file());
}

#[test]
fn the_destination_is_always_a_directory() {
    let fx = Fx::new();
    put(&fx, "a.tar", &tar(&[file("x", "X")]));
    fx.run(&add_action(&["a.tar"], "/no/slash")).unwrap();
    assert_eq!(fx.read("no/slash/x"), "X");
    assert_eq!(fx.mode("no/slash"), 0o755);
    fx.dest_file("blocker", "B");
    let err = fx.run(&add_action(&["a.tar"], "/blocker")).unwrap_err();
    assert_eq!(err.to_string(), "mkdir /blocker: not a directory");
}

#[test]
fn modes_times_and_links_come_from_the_archive() {
    let fx = Fx::new();
    let archive = tar(&[
        E {
            mode: 0o750,
            mtime: 1_500_000_000,
            ..dir("bin")
        },
        E {
            mode: 0o4755,
            mtime: 1_400_000_000,
            ..file("bin/tool", "#!/bin/sh\n")
        },
        symlink("bin/alias", "tool"),
        // A hard link's header applies to the shared inode, as in BuildKit;
        // real archives repeat the target's mode and times.
        E {
            mode: 0o4755,
            mtime: 1_400_000_000,
            ..hardlink("bin/again", "bin/tool")
        },
        E {
            mode: 0o640,
            ..file("implied/parents/f", "f")
        },
    ]);
    put(&fx, "a.tar", &archive);
    let stats = fx.run(&add_action(&["a.tar"], "/opt/")).unwrap();
    assert_eq!(fx.mode("opt/bin"), 0o750);
    assert_eq!(mtime(&fx.meta("opt/bin")), (1_500_000_000, 0), "set last");
    assert_eq!(fx.mode("opt/bin/tool"), 0o4755);
    assert_eq!(mtime(&fx.meta("opt/bin/tool")), (1_400_000_000, 0));
    assert_eq!(
        fs::read_link(fx.dest.join("opt/bin/alias"))
            .unwrap()
            .to_str(),
        Some("tool")
    );
    assert_eq!(
        fx.meta("opt/bin/again").ino(),
        fx.meta("opt/bin/tool").ino()
    );
    assert_eq!(fx.mode("opt/implied"), 0o755);
    assert_eq!(fx.mode("opt/implied/parents"), 0o755);
    assert_eq!(fx.mode("opt/implied/parents/f"), 0o640);
    assert_eq!(
        (stats.files, stats.dirs, stats.symlinks, stats.hardlinks),
        (2, 1, 1, 1)
    );
}

#[test]
fn existing_files_are_replaced_and_directories_merged() {
    let fx = Fx::new();
    fx.dest_file("opt/keep", "K");
    fx.dest_file("opt/f", "old");
    fx.dest_file("opt/was-dir/inside", "I");
    fx.dest_file("opt/was-file", "F");
    fx.dest_dir("opt/d");
    put(
        &fx,
        "a.tar",
        &tar(&[
            file("f", "new"),
            file("was-dir", "now a file"),
            dir("was-file"),
            file("d/x", "X"),
        ]),
    );
    fx.run(&add_action(&["a.tar"], "/opt")).unwrap();
    assert_eq!(fx.read("opt/keep"), "K");
    assert_eq!(fx.read("opt/f"), "new");
    assert_eq!(fx.read("opt/was-dir"), "now a file");
    assert!(fx.meta("opt/was-file").is_dir());
    assert_eq!(fx.read("opt/d/x"), "X");
}

#[test]
fn entries_stay_in_the_extraction_directory() {
    let fx = Fx::new();
    fx.dest_dir("opt");
    // `..` stops at the extraction directory, as docker 20.10 clamps it.
    for (name, archive) in [
        ("dotdot", tar(&[file("../evil", "E")])),
        ("deep", tar(&[file("a/../../evil", "E")])),
    ] {
        put(&fx, name, &archive);
        fx.run(&add_action(&[name], "/opt/")).unwrap();
        assert_eq!(fx.read("opt/evil"), "E", "{name}");
    }
    // A hard link climbing out points inside too, where there is nothing.
    put(
        &fx,
        "link",
        &tar(&[file("ok", "O"), hardlink("h", "../../etc/passwd")]),
    );
    assert!(fx.run(&add_action(&["link"], "/opt/")).is_err());
    assert!(!fx.exists("evil"));
    // Absolute names are relative to the extraction directory.
    put(&fx, "abs", &tar(&[file("/etc/motd", "hi")]));
    fx.run(&add_action(&["abs"], "/opt/")).unwrap();
    assert_eq!(fx.read("opt/etc/motd"), "hi");
    assert!(!fx.exists("etc"));
    fx.assert_outside_untouched();
}

#[test]
fn archive_symlinks_are_followed_inside_the_extraction_directory() {
    let fx = Fx::new();
    let outside: &'static str = Box::leak(fx.outside.display().to_string().into_boxed_str());
    let archive = tar(&[
        symlink("abs", outside),
        file("abs/planted", "P"),
        symlink("root", "/"),
        file("root/at-root", "R"),
    ]);
    put(&fx, "a.tar", &archive);
    fx.run(&add_action(&["a.tar"], "/opt/")).unwrap();
    let inside = format!("opt{outside}/planted");
    assert_eq!(fx.read(&inside), "P");
    assert_eq!(fx.read("opt/at-root"), "R");
    fx.assert_outside_untouched();
}

#[test]
fn existing_symlinks_in_the_destination_stay_inside_too() {
    let fx = Fx::new();
    fx.dest_link("opt/escape", &fx.outside);
    put(&fx, "a.tar", &tar(&[file("escape/x", "X")]));
    fx.run(&add_action(&["a.tar"], "/opt/")).unwrap();
    let inside = format!("opt{}/x", fx.outside.display());
    assert_eq!(fx.read(&inside), "X");
    fx.assert_outside_untouched();
}

#[test]
fn relative_symlink_escape_is_clamped() {
    // BuildKit fails here ("points outside extraction root"); kiln clamps
    // at the extraction directory as chroot-based extraction did. Nothing
    // lands outside either way.
    let fx = Fx::new();
    put(
        &fx,
        "a.tar",
        &tar(&[symlink("up", "../../../.."), file("up/x", "X")]),
    );
    fx.run(&add_action(&["a.tar"], "/opt/")).unwrap();
    assert_eq!(fx.read("opt/x"), "X");
    assert!(!fx.exists("x"));
    fx.assert_outside_untouched();
}

#[test]
fn pax_records_set_xattrs_and_times() {
    let fx = Fx::new();
    let archive = tar_with_pax(
        &[file("f", "F")],
        &[
            ("SCHILY.xattr.user.kiln", b"from-pax"),
            ("mtime", b"1700000000.5"),
        ],
    );
    put(&fx, "a.tar", &archive);
    fx.run(&add_action(&["a.tar"], "/opt/")).unwrap();
    let mut buf = [0u8; 32];
    let n = rustix::fs::getxattr(fx.dest.join("opt/f"), "user.kiln", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"from-pax");
    assert_eq!(mtime(&fx.meta("opt/f")), (1_700_000_000, 500_000_000));
}

#[test]
fn a_truncated_archive_fails() {
    let fx = Fx::new();
    let mut archive = tar(&[file("big", "0123456789abcdef")]);
    archive.truncate(512 + 4);
    put(&fx, "t.tar", &archive);
    let err = fx.run(&add_action(&["t.tar"], "/opt/")).unwrap_err();
    assert!(err.to_string().starts_with("unpack /t.tar:"), "{err}");
}

#[test]
fn owners_come_from_the_archive_unless_chown() {
    if !root_or_skip("owners_come_from_the_archive_unless_chown") {
        return;
    }
    let fx = Fx::new();
    put(
        &fx,
        "a.tar",
        &tar(&[
            E {
                ids: (1234, 5678),
                mode: 0o6755,
                ..file("implied/f", "F")
            },
            E {
                ids: (11, 12),
                ..dir("d")
            },
            E {
                ids: (13, 14),
                ..symlink("l", "f")
            },
        ]),
    );
    let ids = |fx: &Fx, rel: &str| {
        let meta = fx.meta(rel);
        (meta.uid(), meta.gid())
    };
    fx.run(&add_action(&["a.tar"], "/x/")).unwrap();
    assert_eq!(ids(&fx, "x/implied/f"), (1234, 5678));
    assert_eq!(
        fx.mode("x/implied/f"),
        0o6755,
        "set-ID bits survive the chown"
    );
    assert_eq!(ids(&fx, "x/d"), (11, 12));
    assert_eq!(ids(&fx, "x/l"), (13, 14));
    assert_eq!(ids(&fx, "x/implied"), (0, 0), "implied parents are root's");
    let action = with_chown(add_action(&["a.tar"], "/y/"), IdOrName::Id(99), None);
    fx.run(&action).unwrap();
    // Current BuildKit (testDockerfileAddChownArchive): --chown owns the
    // destination directory and every entry; implied parents stay root's.
    assert_eq!(ids(&fx, "y"), (99, 99));
    assert_eq!(ids(&fx, "y/implied/f"), (99, 99));
    assert_eq!(
        fx.mode("y/implied/f"),
        0o6755,
        "set-ID bits survive the chown"
    );
    assert_eq!(ids(&fx, "y/d"), (99, 99));
    assert_eq!(ids(&fx, "y/l"), (99, 99));
    assert_eq!(ids(&fx, "y/implied"), (0, 0));
}

#[test]
fn device_entries_are_created() {
    if !root_or_skip("device_entries_are_created") {
        return;
    }
    let fx = Fx::new();
    let null = E {
        kind: EntryType::Char,
        mode: 0o666,
        ..file("dev/null", "")
    };
    let mut h = header(&null, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&h, &[][..]).unwrap();
    let fifo = E {
        kind: EntryType::Fifo,
        mode: 0o600,
        ..file("dev/fifo", "")
    };
    builder.append(&header(&fifo, 0), &[][..]).unwrap();
    put(&fx, "dev.tar", &builder.into_inner().unwrap());
    fx.run(&add_action(&["dev.tar"], "/")).unwrap();
    let meta = fx.meta("dev/null");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &meta.file_type()
    ));
    assert_eq!(meta.rdev(), fs::metadata("/dev/null").unwrap().rdev());
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &fx.meta("dev/fifo").file_type()
    ));
}
