//! Overlay upper dirs from real overlay mounts become layers with OCI
//! whiteouts, and unpacked layers work as overlay lowerdirs.

use std::path::Path;

use kiln_layer::{Compression, OpaqueXattr, SourceKind, UnpackOptions, WriteError};

use crate::common::*;

/// A lower tree: files, a directory with contents, a nested directory.
fn build_lower(lower: &Path) {
    std::fs::create_dir_all(lower.join("dir/sub")).unwrap();
    std::fs::create_dir_all(lower.join("keep")).unwrap();
    std::fs::write(lower.join("gone"), b"deleted in the upper layer").unwrap();
    std::fs::write(lower.join("stays"), b"lower file").unwrap();
    std::fs::write(lower.join("dir/old"), b"hidden by the opaque dir").unwrap();
    std::fs::write(lower.join("dir/sub/older"), b"also hidden").unwrap();
    std::fs::write(lower.join("keep/a"), b"merged").unwrap();
}

/// Runs a "RUN step" through an overlay over `lower` and returns the
/// upper dir. `extra` are additional mount options.
fn run_step(tmp: &Path, lower: &Path, extra: &str, step: impl FnOnce(&Path)) -> std::path::PathBuf {
    let upper = tmp.join("upper");
    let work = tmp.join("work");
    let merged = tmp.join("merged");
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).unwrap();
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}{extra}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let mount = Mount::overlay(&options, &merged);
    step(&merged);
    drop(mount);
    upper
}

fn delete_and_replace(merged: &Path) {
    std::fs::remove_file(merged.join("gone")).unwrap();
    std::fs::remove_dir_all(merged.join("dir")).unwrap();
    std::fs::create_dir(merged.join("dir")).unwrap();
    std::fs::write(merged.join("dir/new"), b"new in the upper layer").unwrap();
    std::fs::write(merged.join("keep/b"), b"added").unwrap();
    std::fs::write(merged.join("added"), b"top level").unwrap();
}

/// (name, size) of every entry of a plain tar, in order.
fn entries(tar: &[u8]) -> Vec<(String, u64)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.size(),
            )
        })
        .collect()
}

fn check_merged_view(merged: &Path) {
    assert!(
        !merged.join("gone").exists(),
        "the whiteout hides the lower file"
    );
    assert_eq!(std::fs::read(merged.join("stays")).unwrap(), b"lower file");
    let mut dir: Vec<_> = std::fs::read_dir(merged.join("dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dir.sort();
    assert_eq!(dir, vec!["new"], "the opaque dir hides the lower contents");
    let mut keep: Vec<_> = std::fs::read_dir(merged.join("keep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    keep.sort();
    assert_eq!(keep, vec!["a", "b"], "a plain dir merges");
    assert_eq!(std::fs::read(merged.join("added")).unwrap(), b"top level");
}

#[test]
fn upper_dir_becomes_an_oci_layer_and_stacks_again() {
    if !root_or_skip("upper_dir_becomes_an_oci_layer_and_stacks_again") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("lower");
    build_lower(&lower);
    let upper = run_step(tmp.path(), &lower, "", delete_and_replace);

    let (layer, tar) = write(&upper, Compression::None, SourceKind::OverlayUpper, None);
    let list = entries(&tar);
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            ".wh.gone",
            "added",
            "dir/",
            "dir/.wh..wh..opq",
            "dir/new",
            "keep/",
            "keep/b"
        ]
    );
    assert!(
        list.iter()
            .filter(|(n, _)| n.contains(".wh."))
            .all(|(_, size)| *size == 0)
    );
    assert!(!tar.windows(15).any(|w| w == b"trusted.overlay"));

    // The same upper dir as a plain directory keeps the device.
    let (_, plain) = write(&upper, Compression::None, SourceKind::Directory, None);
    assert!(entries(&plain).iter().any(|(n, _)| n == "gone"));

    // Stack: the lower tree as a layer, then the new layer, both unpacked
    // into snapshots and mounted as lowerdirs.
    let (_, lower_blob) = write(
        &lower,
        Compression::Gzip { level: 6 },
        SourceKind::Directory,
        None,
    );
    let snap_lower = tmp.path().join("snap-lower");
    let snap_upper = tmp.path().join("snap-upper");
    unpack(&lower_blob, &snap_lower);
    let (_, zstd_blob) = write(
        &upper,
        Compression::Zstd { level: 3 },
        SourceKind::OverlayUpper,
        None,
    );
    let unpacked = unpack(&zstd_blob, &snap_upper);
    assert_eq!(unpacked.diff_id, layer.diff_id);
    assert_eq!(
        xattrs(&snap_upper.join("dir")),
        vec![(b"trusted.overlay.opaque".to_vec(), b"y".to_vec())]
    );

    let view = tmp.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let mount = Mount::overlay(
        &format!("lowerdir={}:{}", snap_upper.display(), snap_lower.display()),
        &view,
    );
    check_merged_view(&view);
    drop(mount);
}

#[test]
fn userxattr_overlays_round_trip_too() {
    if !root_or_skip("userxattr_overlays_round_trip_too") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("lower");
    build_lower(&lower);
    let upper = run_step(tmp.path(), &lower, ",userxattr", delete_and_replace);
    assert_eq!(
        xattrs(&upper.join("dir")),
        vec![(b"user.overlay.opaque".to_vec(), b"y".to_vec())]
    );

    let (_, blob) = write(
        &upper,
        Compression::Gzip { level: 1 },
        SourceKind::OverlayUpper,
        None,
    );
    let (_, lower_blob) = write(&lower, Compression::None, SourceKind::Directory, None);
    let snap_lower = tmp.path().join("snap-lower");
    let snap_upper = tmp.path().join("snap-upper");
    let options = UnpackOptions {
        opaque_xattr: OpaqueXattr::User,
        ..UnpackOptions::default()
    };
    std::fs::create_dir_all(&snap_lower).unwrap();
    std::fs::create_dir_all(&snap_upper).unwrap();
    kiln_layer::unpack_layer(&lower_blob[..], &snap_lower, &options).unwrap();
    kiln_layer::unpack_layer(&blob[..], &snap_upper, &options).unwrap();
    assert_eq!(
        xattrs(&snap_upper.join("dir")),
        vec![(b"user.overlay.opaque".to_vec(), b"y".to_vec())]
    );

    let view = tmp.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let mount = Mount::overlay(
        &format!(
            "userxattr,lowerdir={}:{}",
            snap_upper.display(),
            snap_lower.display()
        ),
        &view,
    );
    check_merged_view(&view);
    drop(mount);
}

#[test]
fn redirected_directories_are_refused() {
    if !root_or_skip("redirected_directories_are_refused") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lower = tmp.path().join("lower");
    build_lower(&lower);
    let upper = run_step(tmp.path(), &lower, ",redirect_dir=on", |merged| {
        std::fs::rename(merged.join("keep"), merged.join("moved")).unwrap();
    });
    let options = kiln_layer::WriteOptions {
        compression: Compression::None,
        source: SourceKind::OverlayUpper,
        source_date_epoch: None,
        device_placeholders: false,
    };
    let err = kiln_layer::write_layer(&upper, &options, std::io::sink()).unwrap_err();
    assert!(matches!(err, WriteError::OverlayFeature { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("\"moved\"") && message.contains("redirect"),
        "{message}"
    );
}
