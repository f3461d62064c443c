//! Base images for lowering: from the local store, pulled from their
//! registry when the `--pull` policy says so. How a pull is made and shown
//! is the caller's ([`Puller`]).

use kiln_cache::fits;
use kiln_cache::{Store, StoreError};
use kiln_frontend::lower::{ImageResolver, ResolvedImage};
use kiln_oci::{Descriptor, Platform, Reference};

/// Pulls an image into the store for the build; the CLI's shows progress.
pub(crate) trait Puller {
    /// Pulls `reference` for `platform` into `store`; returns the manifest
    /// (the platform's, when the registry has an index).
    fn pull(
        &self,
        store: &Store,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Descriptor, String>;
}

/// When `FROM` and `COPY --from` images are pulled (`--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PullPolicy {
    /// Pull only images not in the store.
    Missing,
    /// Always ask the registry for the current image.
    Always,
    /// Never pull; an image not in the store is an error.
    Never,
}

/// Finds `FROM` and `COPY --from` images in the store, pulling per policy.
pub(super) struct StoreResolver<'a> {
    pub store: &'a Store,
    pub pull: PullPolicy,
    pub puller: &'a dyn Puller,
}

impl ImageResolver for StoreResolver<'_> {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let parsed = Reference::parse(reference)
            .map_err(|e| format!("invalid image reference {reference:?}: {e}"))?;
        let normalized = parsed.to_string();
        // `always` asks the registry whatever the store holds.
        let local = match self.pull {
            PullPolicy::Always => None,
            PullPolicy::Missing | PullPolicy::Never => {
                match self.store.find_image_for(reference, platform) {
                    Ok(image) => Some(image),
                    // Not stored, or a stored index without this
                    // platform: pull (or, under `never`, say so below).
                    Err(StoreError::ImageNotFound(_) | StoreError::NoPlatform { .. }) => None,
                    Err(other) => return Err(format!("cannot read image {normalized}: {other}")),
                }
            }
        };
        // A stored image for another platform than the one asked for: the
        // registry may have the right one (under --pull=missing too, as
        // BuildKit resolves by platform); if it cannot be pulled, the
        // stored one is used and the lowering warns
        // (InvalidBaseImagePlatform), as BuildKit uses what it got.
        let local = match local {
            Some(image) if self.pull != PullPolicy::Never && !fits(&image, platform) => {
                match self.puller.pull(self.store, &parsed, platform) {
                    Ok(manifest) => Some(
                        self.store
                            .image(&manifest)
                            .map_err(|e| format!("cannot read image {normalized}: {e}"))?,
                    ),
                    Err(e) => {
                        tracing::info!(image = %normalized, error = %e, "no image for the platform; the stored one is used");
                        Some(image)
                    }
                }
            }
            other => other,
        };
        let image = match local {
            Some(image) => image,
            None if self.pull == PullPolicy::Never => {
                return Err(format!(
                    "image {normalized} is not in the local store and --pull=never forbids pulling it"
                ));
            }
            None => {
                let manifest = self
                    .puller
                    .pull(self.store, &parsed, platform)
                    .map_err(|e| format!("cannot pull {normalized}: {e}"))?;
                self.store
                    .image(&manifest)
                    .map_err(|e| format!("cannot read image {normalized}: {e}"))?
            }
        };
        // An image for another platform is used, as BuildKit uses it: the
        // lowering warns (InvalidBaseImagePlatform).
        Ok(ResolvedImage {
            reference: normalized,
            digest: image.manifest_descriptor.digest,
            config: image.config,
        })
    }
}
