//! Tags: entries of the store's `index.json`, each a manifest (or index)
//! descriptor annotated with its full normalized name under
//! `org.opencontainers.image.ref.name` (image-spec annotations.md) and, for
//! containerd-based tools, `io.containerd.image.name`. An entry without a
//! name is an untagged ("dangling") image: kept until `rmi` or `prune`.
//!
//! Every change is one locked read-modify-write: an exclusive lock on
//! `index.lock` (std `File::lock`, so several kiln processes can share a
//! store), then the new `index.json` written to `tmp/`, fsynced and renamed
//! over the old one. Readers take no lock: a rename is atomic, so they see
//! the old index or the new one, never a mix. A failed or killed update
//! leaves the previous index, with every existing tag, in place.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::annotations::{CONTAINERD_IMAGE_NAME, REF_NAME};
use kiln_oci::{Descriptor, Digest, Index, Reference};

/// A tag and what it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The full normalized name, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// The manifest (or index) it names.
    pub target: Descriptor,
}

/// Annotates `descriptor` with `name` as both OCI ref name and containerd
/// image name.
pub fn annotate_name(descriptor: &mut Descriptor, ref_name: &str, full_name: &str) {
    descriptor
        .annotations
        .insert(REF_NAME.to_string(), ref_name.to_string());
    descriptor
        .annotations
        .insert(CONTAINERD_IMAGE_NAME.to_string(), full_name.to_string());
}

impl Store {
    /// Reads `index.json`.
    pub fn index(&self) -> Result<Index, StoreError> {
        let path = self.root().join(kiln_oci::layout::INDEX_FILE);
        let bytes = std::fs::read(&path).at("cannot read", &path)?;
        Index::from_json(&bytes).map_err(|e| StoreError::Format {
            what: "index.json",
            path,
            message: e.to_string(),
        })
    }

    /// Every tag, sorted by name.
    pub fn tags(&self) -> Result<Vec<Tag>, StoreError> {
        let mut tags: Vec<Tag> = self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| {
                let name = d.annotation(REF_NAME)?.to_string();
                Some(Tag { name, target: d })
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    /// What `name` points at, if it is tagged (annotations removed).
    pub fn resolve_tag(&self, name: &Reference) -> Result<Option<Descriptor>, StoreError> {
        let name = name.to_string();
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .find(|d| d.annotation(REF_NAME) == Some(name.as_str()))
            .map(strip_names))
    }

    /// Points `name` at `target`; returns what it pointed at before.
    pub fn set_tag(
        &self,
        name: &Reference,
        target: &Descriptor,
    ) -> Result<Option<Descriptor>, StoreError> {
        let mut previous = self.set_tags(&[(name.clone(), target.clone())])?;
        Ok(previous.pop().flatten())
    }

    /// Points each name at its target in one atomic change of the index;
    /// returns what each pointed at before. Names must carry no digest, and
    /// every target must be in the store.
    pub fn set_tags(
        &self,
        tags: &[(Reference, Descriptor)],
    ) -> Result<Vec<Option<Descriptor>>, StoreError> {
        for (name, target) in tags {
            if name.digest().is_some() {
                return Err(StoreError::DigestTag(name.to_string()));
            }
            if !self.blobs().contains(&target.digest) {
                return Err(StoreError::BlobNotFound(target.digest.clone()));
            }
        }
        self.update_index(|index| {
            tags.iter()
                .map(|(name, target)| {
                    let name = name.to_string();
                    let previous = untag(index, &name);
                    // The image is tagged now: drop its untagged entry.
                    index
                        .manifests
                        .retain(|d| d.digest != target.digest || d.annotation(REF_NAME).is_some());
                    let mut entry = strip_names(target.clone());
                    annotate_name(&mut entry, &name, &name);
                    index.manifests.push(entry);
                    previous
                })
                .collect()
        })
    }

    /// Adds `target` as an untagged image unless the index holds it already.
    pub fn add_untagged(&self, target: &Descriptor) -> Result<(), StoreError> {
        if !self.blobs().contains(&target.digest) {
            return Err(StoreError::BlobNotFound(target.digest.clone()));
        }
        self.update_index(|index| {
            if !index.manifests.iter().any(|d| d.digest == target.digest) {
                index.manifests.push(strip_names(target.clone()));
            }
        })
    }

    /// Removes tag `name`; returns what it pointed at. An image that loses
    /// its last tag this way disappears from the index (its blobs stay
    /// until `prune`), as `docker rmi` removes it.
    pub fn remove_tag(&self, name: &Reference) -> Result<Option<Descriptor>, StoreError> {
        let name = name.to_string();
        self.update_index(|index| {
            let previous = untag(index, &name)?;
            index
                .manifests
                .retain(|d| d.digest != previous.digest || d.annotation(REF_NAME).is_some());
            Some(previous)
        })
    }

    /// Removes every entry (tagged or not) for the image `digest`; returns
    /// the names removed.
    pub fn remove_image(&self, digest: &Digest) -> Result<Vec<String>, StoreError> {
        self.update_index(|index| {
            let names = index
                .manifests
                .iter()
                .filter(|d| &d.digest == digest)
                .filter_map(|d| d.annotation(REF_NAME).map(str::to_string))
                .collect();
            index.manifests.retain(|d| &d.digest != digest);
            names
        })
    }

    /// Runs `change` on the index and writes the result atomically, holding
    /// a lease (the new index is staged in `tmp/`, which prune empties).
    pub fn update_index<T>(&self, change: impl FnOnce(&mut Index) -> T) -> Result<T, StoreError> {
        let _lease = self.lease()?;
        self.rewrite_index(change)
    }

    /// The read-modify-write itself, under the index lock; for callers
    /// that already hold a lease (prune holds the exclusive one).
    pub(crate) fn rewrite_index<T>(
        &self,
        change: impl FnOnce(&mut Index) -> T,
    ) -> Result<T, StoreError> {
        let lock_path = self.root().join("index.lock");
        let lock = crate::fsutil::open_lock_file(&lock_path).at("cannot open", &lock_path)?;
        lock.lock().at("cannot lock", &lock_path)?;
        let mut index = self.index()?;
        let result = change(&mut index);
        // Entries in name order, untagged ones last by digest: the same set
        // of tags always gives the same index.json.
        index.manifests.sort_by(|a, b| {
            let key = |d: &Descriptor| {
                (
                    d.annotation(REF_NAME).is_none(),
                    d.annotation(REF_NAME).map(str::to_string),
                    d.digest.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let path = self.root().join(kiln_oci::layout::INDEX_FILE);
        let bytes = index.to_canonical_json();
        // Unchanged (a rebuild re-tagging the same image): no write, no
        // fsync.
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            write_atomic(&self.root().join("tmp"), &path, &bytes).at("cannot write", &path)?;
        }
        // The lock goes with the file handle.
        Ok(result)
    }
}

/// Removes the entry tagged `name`, returning its descriptor.
fn untag(index: &mut Index, name: &str) -> Option<Descriptor> {
    let at = index
        .manifests
        .iter()
        .position(|d| d.annotation(REF_NAME) == Some(name))?;
    Some(strip_names(index.manifests.remove(at)))
}

/// A descriptor without the name annotations.
fn strip_names(mut descriptor: Descriptor) -> Descriptor {
    descriptor.annotations.remove(REF_NAME);
    descriptor.annotations.remove(CONTAINERD_IMAGE_NAME);
    descriptor
}
