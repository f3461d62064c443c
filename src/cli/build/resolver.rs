//! Base images for lowering, from the local store (pulling from a
//! registry arrives with registry support).

use kiln_cache::Store;
use kiln_frontend::lower::{ImageResolver, ResolvedImage};
use kiln_oci::{Platform, Reference};

/// Finds `FROM` and `COPY --from` images in the store.
pub(crate) struct StoreResolver<'a> {
    pub store: &'a Store,
}

impl ImageResolver for StoreResolver<'_> {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let normalized = Reference::parse(reference)
            .map(|r| r.to_string())
            .map_err(|e| format!("invalid image reference {reference:?}: {e}"))?;
        let image = self.store.find_image(reference).map_err(|e| match e {
            kiln_cache::StoreError::ImageNotFound(_) => format!(
                "image {normalized} is not in the local store (kiln cannot pull yet: load it with `kiln load` or `kiln import`)"
            ),
            other => format!("cannot read image {normalized}: {other}"),
        })?;
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
