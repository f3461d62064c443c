//! The store check behind `kiln doctor`: is everything the store claims
//! actually there and intact?
//!
//! Problems (the store is damaged; a build could fail or, worse, use bad
//! data): a blob whose content does not hash to its name, an index entry
//! or image whose manifest, config or layer blob is missing or unreadable,
//! an image whose snapshot directory exists but is no directory, a cache
//! record that does not parse, a malformed `index.json`.
//!
//! Leftovers (harmless, what a killed process leaves; `kiln prune` removes
//! them): files in `tmp/`, half-unpacked snapshots, records whose layers
//! were pruned (they are misses, never hits).

use crate::error::StoreError;
use crate::image::Children;
use crate::layout::Store;
use kiln_oci::{Descriptor, Digest};
use std::collections::BTreeSet;

/// What the check found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Checkup {
    /// Damage, one sentence each, naming the digest or path.
    pub problems: Vec<String>,
    /// Harmless leftovers, one sentence each.
    pub leftovers: Vec<String>,
    /// Blobs checked.
    pub blobs: usize,
    /// Images checked.
    pub images: usize,
    /// Cache records checked.
    pub records: usize,
    /// Snapshots present.
    pub snapshots: usize,
}

impl Store {
    /// Checks the store. With `verify_blobs`, every blob is re-hashed
    /// (reads everything); without, only presence is checked.
    pub fn doctor(&self, verify_blobs: bool) -> Result<Checkup, StoreError> {
        let _lease = self.lease()?;
        let mut checkup = Checkup::default();
        self.check_blobs(verify_blobs, &mut checkup)?;
        self.check_images(&mut checkup);
        self.check_records(&mut checkup)?;
        self.check_leftovers(&mut checkup);
        Ok(checkup)
    }

    fn check_blobs(&self, verify: bool, checkup: &mut Checkup) -> Result<(), StoreError> {
        let dir = self.root().join("blobs/sha256");
        let entries = std::fs::read_dir(&dir).map_err(|source| StoreError::Io {
            action: "cannot list",
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(digest) = format!("sha256:{name}").parse::<Digest>() else {
                checkup
                    .problems
                    .push(format!("blobs/sha256/{name}: not a digest name"));
                continue;
            };
            checkup.blobs += 1;
            if verify && let Err(e) = self.blobs().verify(&digest) {
                checkup.problems.push(format!("blob {digest}: {e}"));
            }
        }
        Ok(())
    }

    fn check_images(&self, checkup: &mut Checkup) {
        let index = match self.index() {
            Ok(index) => index,
            Err(e) => {
                checkup.problems.push(format!("index.json: {e}"));
                return;
            }
        };
        let mut seen = BTreeSet::new();
        let mut pending: Vec<Descriptor> = index.manifests;
        while let Some(descriptor) = pending.pop() {
            if !seen.insert(descriptor.digest.clone()) {
                continue;
            }
            if !self.blobs().contains(&descriptor.digest) {
                checkup.problems.push(format!(
                    "{} {} is in the index but its blob is missing",
                    descriptor.media_type, descriptor.digest
                ));
                continue;
            }
            match self.children(&descriptor) {
                Ok(Children::Index(manifests)) => pending.extend(manifests),
                Ok(Children::Manifest(_)) => {
                    checkup.images += 1;
                    match self.image(&descriptor) {
                        Ok(image) => {
                            for layer in &image.manifest.layers {
                                // A remote layer is fetched when read.
                                if !self.available(&layer.digest) {
                                    checkup.problems.push(format!(
                                        "image {}: layer blob {} is missing",
                                        descriptor.digest, layer.digest
                                    ));
                                }
                            }
                        }
                        Err(e) => checkup
                            .problems
                            .push(format!("image {}: {e}", descriptor.digest)),
                    }
                }
                Ok(Children::None) => {}
                Err(e) => checkup.problems.push(format!("{}: {e}", descriptor.digest)),
            }
        }
    }

    fn check_records(&self, checkup: &mut Checkup) -> Result<(), StoreError> {
        for stored in self.records()? {
            checkup.records += 1;
            let shown = stored.path.display();
            let Some(record) = &stored.record else {
                checkup
                    .problems
                    .push(format!("cache record {shown}: unreadable"));
                continue;
            };
            if stored.key.is_none() {
                checkup
                    .problems
                    .push(format!("cache record {shown}: its name is not a digest"));
            }
            for layer in record.layers.iter().filter(|l| !l.empty) {
                if !self.available(&layer.descriptor.digest) {
                    checkup.leftovers.push(format!(
                        "cache record {shown}: layer {} is gone (a miss, not a hit)",
                        layer.chain_id
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_leftovers(&self, checkup: &mut Checkup) {
        if let Ok(entries) = std::fs::read_dir(self.root().join("tmp")) {
            for entry in entries.flatten() {
                checkup
                    .leftovers
                    .push(format!("tmp/{}", entry.file_name().to_string_lossy()));
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.root().join("snapshots")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("unpacking-") {
                    checkup.leftovers.push(format!("snapshots/{name}"));
                } else if name.ends_with(".lock") || name.ends_with(".unsynced") || name == ".kind"
                {
                    continue;
                } else if !entry.path().is_dir() {
                    checkup
                        .problems
                        .push(format!("snapshots/{name}: not a directory"));
                } else {
                    checkup.snapshots += 1;
                }
            }
        }
    }
}
