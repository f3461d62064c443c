//! Base images for lowering: from the local store, pulled from their
//! registry when the `--pull` policy says so.

use crate::cli::registry::pull_image;
use crate::registry::RegistryOptions;
use kiln_cache::{Store, StoreError};
use kiln_frontend::lower::{ImageResolver, ResolvedImage};
use kiln_oci::{Platform, Reference};

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
pub(crate) struct StoreResolver<'a> {
    pub store: &'a Store,
    pub pull: PullPolicy,
    pub registry: &'a RegistryOptions,
    pub quiet: bool,
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
                    Err(StoreError::ImageNotFound(_)) => None,
                    Err(other) => return Err(format!("cannot read image {normalized}: {other}")),
                }
            }
        };
        let image = match local {
            Some(image) => image,
            None if self.pull == PullPolicy::Never => {
                return Err(format!(
                    "image {normalized} is not in the local store and --pull=never forbids pulling it"
                ));
            }
            None => {
                let manifest = pull_image(self.store, &parsed, platform, self.registry, self.quiet)
                    .map_err(|e| format!("cannot pull {normalized}: {e}"))?;
                self.store
                    .image(&manifest)
                    .map_err(|e| format!("cannot read image {normalized}: {e}"))?
            }
        };
        let found = image.config.platform();
        if !found.os.is_empty() && !found.architecture.is_empty() && !platform.matches(&found) {
            return Err(format!("image {normalized} is for {found}, not {platform}"));
        }
        Ok(ResolvedImage {
            reference: normalized,
            digest: image.manifest_descriptor.digest.to_string(),
            config: image.config,
        })
    }
}
