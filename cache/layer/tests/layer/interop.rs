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
