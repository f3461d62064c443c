//! The same tree gives the same bytes: across copies (other inodes, other
//! creation order), across runs, and across mtimes under a
//! SOURCE_DATE_EPOCH clamp.

use std::path::Path;

use kiln_layer::{Compression, SourceKind};

use crate::common::*;
use crate::roundtrip::{build_tree, set_times};

const ALL: [Compression; 4] = [
    Compression::None,
    Compression::Gzip { level: 6 },
    Compression::Gzip { level: 1 },
    Compression::Zstd { level: 3 },
];

/// A copy of `build_tree`'s tree, made in another order with other inode
/// numbers (and junk created and removed in between).
fn build_tree_differently(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    for i in 0..50 {
        std::fs::write(root.join(format!("junk{i}")), b"x").unwrap();
    }
    build_tree(root);
    for i in 0..50 {
        std::fs::remove_file(root.join(format!("junk{i}"))).unwrap();
    }
    set_times(root);
}

#[test]
fn same_tree_same_digests() {
    if !root_or_skip("same_tree_same_digests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    build_tree(&one);
    build_tree_differently(&two);
    for compression in ALL {
        let (a, blob_a) = write(&one, compression, SourceKind::Directory, None);
        let (b, blob_b) = write(&two, compression, SourceKind::Directory, None);
        let (c, _) = write(&one, compression, SourceKind::Directory, None);
        assert_eq!(a, b, "{compression:?}");
        assert_eq!(a, c, "{compression:?}");
        assert!(blob_a == blob_b);
    }
}

#[test]
fn source_date_epoch_clamps_newer_mtimes_only() {
    if !root_or_skip("source_date_epoch_clamps_newer_mtimes_only") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    build_tree(&one);
    build_tree(&two);
    set_all_mtimes(&one, 1_700_000_000);
    set_all_mtimes(&two, 1_750_000_000);
    set_mtime(&one.join("empty"), 100);
    set_mtime(&two.join("empty"), 100);
    let epoch = Some(1_650_000_000);
    for compression in ALL {
        let (a, blob_a) = write(&one, compression, SourceKind::Directory, epoch);
        let (b, blob_b) = write(&two, compression, SourceKind::Directory, epoch);
        assert_eq!(a, b, "{compression:?}");
        assert!(blob_a == blob_b);
        let (unclamped, _) = write(&one, compression, SourceKind::Directory, None);
        assert_ne!(unclamped.diff_id, a.diff_id);
    }

    // Clamped to the epoch, except the one mtime that was older.
    let (_, tar) = write(&one, Compression::None, SourceKind::Directory, epoch);
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let mtime = entry.header().mtime().unwrap();
        if &*entry.path_bytes() == b"empty" {
            assert_eq!(mtime, 100);
        } else {
            assert_eq!(mtime, 1_650_000_000, "{:?}", entry.path_bytes());
        }
    }
}
