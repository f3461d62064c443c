//! Annotation keys kiln reads and writes (image-spec `annotations.md`, plus
//! containerd's and docker's own).
//!
//! In an OCI layout's `index.json`, containerd and BuildKit's `oci`
//! exporter put the full reference in [`CONTAINERD_IMAGE_NAME`]
//! (`docker.io/library/busybox:latest`) and only the tag in [`REF_NAME`]
//! (`latest`); skopeo and umoci read [`REF_NAME`].

/// The name of a manifest inside an OCI layout (image-spec
/// `image-layout.md`, "index.json file").
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// When the image was built, RFC 3339.
pub const CREATED: &str = "org.opencontainers.image.created";
/// The reference of the image this one was built on.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The manifest digest of the image this one was built on.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// containerd's full image name, in `index.json` entries it exports.
pub const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// BuildKit's marker on attestation manifests in an index.
pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// The manifest an attestation manifest describes.
pub const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
