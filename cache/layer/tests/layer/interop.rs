//! Interop with GNU tar, an independent implementation: it extracts our
//! layers to the same tree, and we unpack what it writes.

use std::path::Path;
use std::process::{Command, Stdio};

use kiln_layer::{Compression, SourceKind, UnpackOptions};

use crate::common::*;
use crate::roundtrip::{build_tree, expected};

fn gnu_tar_available() -> bool {
    Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn gnu_tar_extracts_our_layer_identically() {
    if !root_or_skip("gnu_tar_extracts_our_layer_identically") || !gnu_tar_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let (_, blob) = write(&src, Compression::None, SourceKind::Directory, None);
    let layer = tmp.path().join("layer.tar");
    std::fs::write(&layer, &blob).unwrap();
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let status = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf"])
        .arg(&layer)
        .arg("-C")
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(describe(&dest), expected(&src));
}

fn unpack_gnu_tar(src: &Path, dest: &Path, format: &str) {
    let mut command = Command::new("tar");
    if format == "posix" {
        // GNU tar stores xattrs in pax archives only.
        command.args(["--xattrs", "--xattrs-include=*"]);
    }
    let child = command
        .arg("--numeric-owner")
        .arg(format!("--format={format}"))
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(src)
        .arg(".")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    std::fs::create_dir(dest).unwrap();
    kiln_layer::unpack_layer(&output.stdout[..], dest, &UnpackOptions::default()).unwrap();
}

#[test]
fn we_unpack_gnu_tar_archives() {
    if !root_or_skip("we_unpack_gnu_tar_archives") || !gnu_tar_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let want = expected(&src);
    for format in ["posix", "gnu"] {
        let dest = tmp.path().join(format);
        unpack_gnu_tar(&src, &dest, format);
        let mut got = describe(&dest);
        if format == "gnu" {
            // GNU format has no xattrs; everything else must match.
            for node in got.values_mut() {
                node.xattrs.clear();
            }
            let mut want = want.clone();
            for node in want.values_mut() {
                node.xattrs.clear();
            }
            assert_eq!(got, want, "{format}");
        } else {
            assert_eq!(got, want, "{format}");
        }
    }
}

/// GNU tar's sparse archives, in every encoding Go's reader knows (old
/// GNU `S` entries, pax 0.0, 0.1 and 1.0), read back as the file they
/// hold: the holes as zeros, the data where the map puts it.
#[test]
fn sparse_files_from_gnu_tar_read_back_whole() {
    // GNU tar is part of every Debian system: no skip.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sparse");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&file).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(&[7u8; 5000]).unwrap();
        f.seek(SeekFrom::Start(3 << 20)).unwrap();
        f.write_all(b"tail").unwrap();
        f.set_len(4 << 20).unwrap();
    }
    let want = std::fs::read(&file).unwrap();
    for (format, version) in [
        ("gnu", None),
        ("posix", Some("0.0")),
        ("posix", Some("0.1")),
        ("posix", Some("1.0")),
    ] {
        let mut command = Command::new("tar");
        command.arg("--sparse").arg(format!("--format={format}"));
        if let Some(version) = version {
            command.arg(format!("--sparse-version={version}"));
        }
        let out = command
            .args(["-cf", "-", "-C"])
            .arg(tmp.path())
            .arg("sparse")
            .output()
            .unwrap();
        assert!(out.status.success(), "{format} {version:?}");
        assert!(
            out.stdout.len() < 1 << 20,
            "{format} {version:?}: GNU tar stored the holes ({} bytes)",
            out.stdout.len()
        );
        let mut reader = kiln_layer::read::TarReader::new(&out.stdout[..]);
        let member = reader.next_member().unwrap().unwrap();
        assert_eq!(member.entry.path, b"sparse", "{format} {version:?}");
        assert_eq!(member.unsupported, None);
        assert_eq!(
            member.entry.kind,
            kiln_layer::read::Kind::Regular { size: 4 << 20 }
        );
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut reader.data(), &mut got).unwrap();
        assert!(got == want, "{format} {version:?}: content differs");
        assert!(reader.next_member().unwrap().is_none());
    }
}
