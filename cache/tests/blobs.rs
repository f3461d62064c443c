//! The blob store: verified, atomic, shareable between writers.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_cache::{Store, StoreError};
use kiln_oci::Digest;
use std::io::Write as _;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn a_new_store_is_an_oci_layout() {
    let (dir, _store) = store();
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert!(index["manifests"].as_array().unwrap().is_empty());
    assert!(dir.path().join("blobs/sha256").is_dir());
    // Opening again changes nothing.
    std::fs::write(
        dir.path().join("index.json"),
        b"{\"schemaVersion\":2,\"manifests\":[]}",
    )
    .unwrap();
    Store::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("index.json")).unwrap(),
        b"{\"schemaVersion\":2,\"manifests\":[]}"
    );
}

#[test]
fn put_read_verify() {
    let (_dir, store) = store();
    let (digest, size) = store.blobs().put(b"hello", None).unwrap();
    assert_eq!(digest, Digest::of(b"hello"));
    assert_eq!(size, 5);
    assert!(store.blobs().contains(&digest));
    assert_eq!(store.blobs().read(&digest).unwrap(), b"hello");
    assert_eq!(store.blobs().verify(&digest).unwrap(), 5);
    // Storing the same content again is a no-op.
    assert_eq!(
        store.blobs().put(b"hello", Some(&digest)).unwrap().0,
        digest
    );
}

#[test]
fn a_digest_mismatch_leaves_nothing_behind() {
    let (dir, store) = store();
    let wrong = Digest::of(b"something else");
    let err = store.blobs().put(b"hello", Some(&wrong)).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(wrong.as_str()));
    assert!(!store.blobs().contains(&Digest::of(b"hello")));
    assert!(!store.blobs().contains(&wrong));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_size_mismatch_is_an_error() {
    let (_dir, store) = store();
    let mut writer = store.blobs().writer().unwrap();
    writer.write_all(b"abc").unwrap();
    let err = writer.commit(None, Some(4)).unwrap_err();
    assert!(matches!(
        err,
        StoreError::SizeMismatch {
            expected: 4,
            actual: 3,
            ..
        }
    ));
}

#[test]
fn corruption_on_disk_is_detected() {
    let (_dir, store) = store();
    let (digest, _) = store.blobs().put(b"payload", None).unwrap();
    std::fs::write(store.blobs().path(&digest), b"tampered").unwrap();
    assert!(matches!(
        store.blobs().read(&digest),
        Err(StoreError::DigestMismatch { .. })
    ));
    assert!(matches!(
        store.blobs().verify(&digest),
        Err(StoreError::DigestMismatch { .. })
    ));
}

#[test]
fn a_missing_blob_names_its_digest() {
    let (_dir, store) = store();
    let digest = Digest::of(b"absent");
    let err = store.blobs().read(&digest).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("blob {digest} not found in the store")
    );
}

#[test]
fn concurrent_writers_of_the_same_blob_both_succeed() {
    let (_dir, store) = store();
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                let mut w = store.blobs().writer().unwrap();
                for chunk in data.chunks(65_536) {
                    w.write_all(chunk).unwrap();
                }
                w.commit(None, Some(data.len() as u64)).unwrap().0
            })
        })
        .collect();
    let digests: Vec<Digest> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(digests.iter().all(|d| d == &digests[0]));
    assert_eq!(
        store.blobs().verify(&digests[0]).unwrap(),
        data.len() as u64
    );
}

#[test]
fn a_blob_hashed_by_its_producer_is_named_by_the_digest_it_gives() {
    let (_dir, store) = store();
    let mut w = store.blobs().writer_hashed_by_producer().unwrap();
    w.write_all(b"layer").unwrap();
    assert_eq!(w.len(), 5);
    let digest = Digest::of(b"layer");
    assert_eq!(
        w.commit(Some(&digest), Some(5)).unwrap(),
        (digest.clone(), 5)
    );
    assert_eq!(store.blobs().verify(&digest).unwrap(), 5);
    let w = store.blobs().writer_hashed_by_producer().unwrap();
    assert!(w.commit(None, None).is_err(), "no digest, no blob");
}
