//! Source vertices: a base image becomes its unpacked layers; the build
//! context becomes a filtered view of its directory.

use super::error::{GraphError, WorkerError};
use super::layers::{ContextDir, Output};
use super::vertex::Worker;
use kiln_dockerignore::Matcher;
use kiln_oci::{Descriptor, media_type};
use kiln_solver::{ImageSource, LocalSource};
use std::sync::Arc;

impl Worker {
    /// The layers of the image whose manifest is `image.digest` (the
    /// resolver pinned it when lowering), not unpacked yet.
    pub(crate) fn image(&self, image: &ImageSource) -> Result<Output, WorkerError> {
        let digest = image.digest.clone();
        let size = self.store.blobs().verify(&digest)?;
        let found = self
            .store
            .image(&Descriptor::new(media_type::OCI_MANIFEST, digest, size))?;
        // Unpacked (fetched, if the pull left them remote) only when a
        // step needs the files (`export::lowers`).
        let layers = crate::export::layers_of(&self.store, &found)?;
        Ok(Output::Layers(Arc::new(layers)))
    }

    /// The context directory with the `.dockerignore` patterns.
    pub(crate) fn local(&self, local: &LocalSource) -> Result<Output, WorkerError> {
        if local.name != "context" {
            return Err(GraphError::UnknownLocal(local.name.clone()).into());
        }
        let ignore = if local.exclude.is_empty() {
            None
        } else {
            Some(Matcher::new(&local.exclude).map_err(GraphError::Ignore)?)
        };
        Ok(Output::Context(Arc::new(ContextDir {
            root: self.context.clone(),
            ignore,
        })))
    }
}
