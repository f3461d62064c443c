//! Snapshots: unpacked once per chain ID, verified, never half-present,
//! pruned with their last image.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest, ImageConfig, Manifest, Platform, Reference, media_type};
use std::os::unix::fs::MetadataExt as _;

/// Unpacking sets owners and device nodes: root only (kiln-testkit's
/// rule: a loud skip, a failure under `CI=true`).
fn root_or_skip() -> bool {
    kiln_testkit::require_root("snapshot test", "sets owners and makes device nodes", &[])
}

fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).unwrap();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append(&header, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

/// Stores an image of `layers` whose config claims `diff_ids`; tags it.
fn image(store: &Store, name: &str, layers: &[Vec<u8>], diff_ids: Vec<Digest>) -> Descriptor {
    let mut descriptors = Vec::new();
    for bytes in layers {
        let (digest, size) = store.blobs().put(bytes, None).unwrap();
        descriptors.push(Descriptor::new(media_type::OCI_LAYER_TAR, digest, size));
    }
    let mut config = ImageConfig::new(&Platform::host());
    config.rootfs.diff_ids = diff_ids;
    let (config_digest, config_size) = store
        .blobs()
        .put(&config.to_canonical_json(), None)
        .unwrap();
    let manifest = Manifest::new(
        media_type::OCI_MANIFEST,
        Descriptor::new(media_type::OCI_CONFIG, config_digest, config_size),
        descriptors,
    );
    let (digest, size) = store
        .blobs()
        .put(&manifest.to_canonical_json(), None)
        .unwrap();
    let target = Descriptor::new(media_type::OCI_MANIFEST, digest, size);
    store
        .set_tag(&Reference::parse(name).unwrap(), &target)
        .unwrap();
    target
}

#[test]
fn layers_unpack_once_per_chain_and_are_pruned_with_their_image() {
    if !root_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let base = layer(&[("etc/motd", "base\n")]);
    let top = layer(&[("app/run", "top\n")]);
    let ids = vec![Digest::of(&base), Digest::of(&top)];
    let target = image(&store, "app:1", &[base.clone(), top], ids);
    let img = store.image(&target).unwrap();

    let paths = store.ensure_snapshots(&img).unwrap();
    assert_eq!(paths.len(), 2);
    assert_eq!(
        std::fs::read_to_string(paths[0].join("etc/motd")).unwrap(),
        "base\n"
    );
    assert_eq!(
        std::fs::read_to_string(paths[1].join("app/run")).unwrap(),
        "top\n"
    );
    assert!(
        !paths[1].join("etc").exists(),
        "a snapshot holds its own layer only"
    );
    let inode = std::fs::metadata(&paths[0]).unwrap().ino();

    // A second image sharing the base layer reuses its snapshot.
    let other = image(
        &store,
        "other:1",
        std::slice::from_ref(&base),
        vec![Digest::of(&base)],
    );
    let again = store
        .ensure_snapshots(&store.image(&other).unwrap())
        .unwrap();
    assert_eq!(again[0], paths[0]);
    assert_eq!(
        std::fs::metadata(&again[0]).unwrap().ino(),
        inode,
        "not unpacked twice"
    );

    // Removing app:1 and pruning drops the top snapshot, keeps the shared one.
    store
        .remove_tag(&Reference::parse("app:1").unwrap())
        .unwrap();
    let pruned = store.prune().unwrap();
    assert_eq!(pruned.snapshots.len(), 1);
    assert!(!paths[1].exists());
    assert!(paths[0].exists());
}

/// The snapshots directory records the overlay its snapshots are for; a
/// store of one kind opened for the other is refused, naming both.
#[test]
fn a_store_of_root_overlays_is_refused_for_userxattr_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.snapshots_dir().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("snapshots/.kind")).unwrap(),
        "overlay"
    );
    let mut rootless = Store::open(dir.path()).unwrap();
    rootless.use_user_xattrs();
    let err = rootless.snapshots_dir().unwrap_err().to_string();
    assert!(
        err.contains("made for overlay mounts") && err.contains("overlay-userxattr"),
        "{err}"
    );
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_leaves_no_snapshot() {
    if !root_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let real = layer(&[("a", "real\n")]);
    let claimed = Digest::of(&layer(&[("a", "fake\n")]));
    let target = image(&store, "bad:1", &[real], vec![claimed.clone()]);
    let err = store
        .ensure_snapshots(&store.image(&target).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains(claimed.as_str()), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        // Locks, and the record of the overlay kind (`.kind`).
        .filter(|n| !n.to_string_lossy().ends_with(".lock") && n != ".kind")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A snapshot is published with a marker naming this boot; one whose
/// marker names another boot (written, never synced, then a power cut) is
/// not trusted: it is removed and unpacked again from its blob. prune and
/// doctor know the marker as part of the snapshot.
#[test]
fn a_snapshot_left_unsynced_by_an_earlier_boot_is_unpacked_again() {
    if !root_or_skip() {
        return;
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let base = layer(&[("etc/motd", "base\n")]);
    let target = image(
        &store,
        "app:1",
        std::slice::from_ref(&base),
        vec![Digest::of(&base)],
    );
    let img = store.image(&target).unwrap();
    let chain = Digest::of(&base);

    let paths = store.ensure_snapshots(&img).unwrap();
    let marker = paths[0].with_extension("unsynced");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), boot.trim());
    assert!(store.snapshot_ready(&chain), "a snapshot of this boot");
    assert!(store.doctor(false).unwrap().problems.is_empty());
    assert!(store.prune().unwrap().snapshots.is_empty());
    assert!(marker.exists(), "prune kept the live snapshot's marker");

    // As a power cut would leave it: the file's data never reached the
    // disk, and the marker names the boot before.
    std::fs::write(paths[0].join("etc/motd"), "").unwrap();
    std::fs::write(&marker, "00000000-0000-0000-0000-000000000000").unwrap();
    // And what an earlier removal, itself interrupted, left behind.
    let leftover = paths[0].with_file_name(format!("unpacking-stale-{}", chain.encoded()));
    std::fs::create_dir_all(leftover.join("etc")).unwrap();
    assert!(!store.snapshot_ready(&chain), "a snapshot of another boot");
    assert!(!paths[0].exists() && !marker.exists() && !leftover.exists());
    let again = store.ensure_snapshots(&img).unwrap();
    assert_eq!(
        std::fs::read_to_string(again[0].join("etc/motd")).unwrap(),
        "base\n"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), boot.trim());

    // A marker of this boot older than a minute is settled (one syncfs;
    // prune does it, commands that use images start it in the
    // background): the snapshot counts as synced.
    let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&marker)
        .unwrap()
        .set_modified(two_minutes_ago)
        .unwrap();
    store.settle_snapshots();
    assert!(!marker.exists(), "the old marker was settled");
    assert!(store.snapshot_ready(&chain));
}
