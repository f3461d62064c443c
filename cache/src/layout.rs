//! The store root: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/`; image-spec image-layout.md) that skopeo, umoci and oras
//! can read, plus kiln's own files beside the blobs: `tmp/` for in-flight
//! writes (same file system, so renames are atomic), `snapshots/`, and the
//! `index.lock` and `leases.lock` lock files.

use crate::blobs::BlobStore;
use crate::error::{IoContext as _, StoreError};
use crate::fsutil::create_atomic_once;
use std::path::{Path, PathBuf};

/// An opened store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    blobs: BlobStore,
    /// How snapshots mark opaque directories: `trusted.overlay.opaque`
    /// for root's overlays, `user.overlay.opaque` for overlays mounted
    /// with `userxattr` in a user namespace (rootless kiln).
    opaque: kiln_layer::OpaqueXattr,
}

impl Store {
    /// Opens the store at `root`, laying it out first if it is new. Safe to
    /// run from several processes at once: every file it creates appears
    /// atomically, and an existing file is never rewritten.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in ["blobs/sha256", "tmp"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).at("cannot create", &path)?;
        }
        let tmp = root.join("tmp");
        // image-layout.md: the `oci-layout` marker and an (empty) index.
        let layout = kiln_oci::layout::OciLayout::default().to_json();
        let index =
            kiln_oci::Index::new(kiln_oci::media_type::OCI_INDEX, Vec::new()).to_canonical_json();
        for (name, contents) in [
            (kiln_oci::layout::OCI_LAYOUT_FILE, layout),
            (kiln_oci::layout::INDEX_FILE, index),
        ] {
            let path = root.join(name);
            create_atomic_once(&tmp, &path, &contents).at("cannot create", &path)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            blobs: BlobStore::new(root),
            opaque: kiln_layer::OpaqueXattr::Trusted,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes snapshots for overlays mounted with `userxattr` (rootless
    /// kiln, in a user namespace): opaque directories get
    /// `user.overlay.opaque`, which an unprivileged process may set, and
    /// device nodes become placeholders (`kiln_layer::DEVICE_XATTR`),
    /// which the layer writer archives as the devices.
    pub fn use_user_xattrs(&mut self) {
        self.opaque = kiln_layer::OpaqueXattr::User;
    }

    /// How this store's snapshots mark opaque directories.
    pub fn opaque_xattr(&self) -> kiln_layer::OpaqueXattr {
        self.opaque
    }

    /// Installs what fetches remote blobs when they are read
    /// (`crate::remote`).
    pub fn set_fetcher(&mut self, fetcher: std::sync::Arc<dyn crate::Fetch>) {
        self.blobs.set_fetcher(fetcher);
    }

    /// The blobs.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Where the sandboxes of running builds and containers live (each in a
    /// directory of its own, removed when it ends).
    pub fn sandboxes_dir(&self) -> PathBuf {
        self.root.join("sandboxes")
    }
}
