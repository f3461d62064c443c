//! The registry side of remote blobs (`kiln_cache`'s `remote` module): a
//! blob the store marked remote is fetched, when something reads it, from
//! a repository it is known to be in — those its mark names (a lazy pull,
//! an imported `--cache-from` cache), then those the memo of repositories
//! that pushes and pulls write names. Installed on every store the CLI
//! opens.

use super::unpack::{Snapshot, fetch_and_unpack};
use super::{Registry, RegistryError, RegistryOptions, fetch_blob};
use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest};
use std::path::Path;
use std::sync::Arc;

/// Fetches remote blobs with `options` (TLS settings) into a store whose
/// snapshots are for `userxattr` overlays when `user_xattrs` (rootless).
struct RegistryFetch {
    options: RegistryOptions,
    user_xattrs: bool,
}

impl RegistryFetch {
    /// Runs `fetch` against each repository known to hold `descriptor`,
    /// the latest first (the likeliest to still have it), until one
    /// succeeds; why none did.
    fn try_known(
        &self,
        root: &Path,
        descriptor: &Descriptor,
        fetch: &dyn Fn(&Registry, &Store, &str) -> Result<bool, RegistryError>,
    ) -> Result<(), String> {
        let mut store = Store::open(root).map_err(|e| e.to_string())?;
        if self.user_xattrs {
            store.use_user_xattrs();
        }
        let mut failure = "no registry is known to hold it".to_string();
        // The blob's own mark first, then the repositories pushes and
        // pulls remembered; the latest of each first.
        let mut sources: Vec<(String, String)> = store
            .remote_sources(&descriptor.digest)
            .iter()
            .rev()
            .filter_map(|s| s.split_once('/'))
            .map(|(d, r)| (d.to_string(), r.to_string()))
            .collect();
        for known in super::push::known_repositories(&store, &descriptor.digest)
            .into_iter()
            .rev()
        {
            if !sources.contains(&known) {
                sources.push(known);
            }
        }
        for (domain, repository) in sources {
            tracing::info!(digest = %descriptor.digest, %domain, %repository, "fetching a remote blob");
            let fetched = Registry::connect(&domain, &self.options)
                .and_then(|registry| fetch(&registry, &store, &repository));
            match fetched {
                Ok(_) => return Ok(()),
                Err(e) => failure = format!("{domain}/{repository}: {e}"),
            }
        }
        Err(failure)
    }
}

impl kiln_cache::Fetch for RegistryFetch {
    fn fetch(&self, root: &Path, descriptor: &Descriptor) -> Result<(), String> {
        self.try_known(root, descriptor, &|registry, store, repository| {
            fetch_blob(registry, store, repository, descriptor, &|_| {})
        })
    }

    fn fetch_unpacking(
        &self,
        root: &Path,
        descriptor: &Descriptor,
        chain_id: &Digest,
        diff_id: &Digest,
    ) -> Result<(), String> {
        let snapshot = Snapshot { chain_id, diff_id };
        self.try_known(root, descriptor, &|registry, store, repository| {
            fetch_and_unpack(registry, store, repository, descriptor, &snapshot)
        })
    }
}

/// Lets `store` fetch its remote blobs from registries, with `options`.
pub(crate) fn install(store: &mut Store, options: &RegistryOptions) {
    let user_xattrs = store.opaque_xattr() == kiln_layer::OpaqueXattr::User;
    store.set_fetcher(Arc::new(RegistryFetch {
        options: options.clone(),
        user_xattrs,
    }));
}

/// Marks `descriptor`, which `repository` of `registry` holds, as a blob
/// `store` may fetch from there when it is read, instead of now.
pub(crate) fn mark_remote(
    store: &Store,
    registry: &Registry,
    repository: &str,
    descriptor: &Descriptor,
) -> Result<(), kiln_cache::StoreError> {
    super::push::remember_repository(store, registry, repository, &descriptor.digest);
    store.mark_remote(descriptor, &format!("{}/{repository}", registry.domain))
}
