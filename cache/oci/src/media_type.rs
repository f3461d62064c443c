//! Media types of OCI (image-spec `media-types.md`) and docker's image
//! manifest v2 schema 2 (distribution `docs/spec/manifest-v2-2.md`), and
//! what a layer media type says about its compression.
//!
//! kiln writes the OCI and docker types for manifests, indexes, configs and
//! `tar`/`tar+gzip`/`tar+zstd` layers; the non-distributable ("foreign")
//! layer types are recognised so images that use them can still be read.

/// An OCI content descriptor.
pub const OCI_DESCRIPTOR: &str = "application/vnd.oci.descriptor.v1+json";
/// The `oci-layout` file of an image layout.
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// An OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The empty `{}` blob (image-spec `manifest.md`, "Guidance for an Empty Descriptor").
pub const OCI_EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";
/// An uncompressed OCI layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip-compressed OCI layer.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// A zstd-compressed OCI layer.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// An uncompressed non-distributable OCI layer (deprecated; read only).
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// A gzip non-distributable OCI layer (deprecated; read only).
pub const OCI_LAYER_NONDIST_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// A zstd non-distributable OCI layer (deprecated; read only).
pub const OCI_LAYER_NONDIST_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/// A docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A docker manifest list (docker's index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// A docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// An uncompressed docker layer (containerd's name; not in the v2s2 spec).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// A gzip-compressed docker layer: the v2s2 layer type.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// A zstd-compressed docker layer (BuildKit/containerd extension).
pub const DOCKER_LAYER_TAR_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
/// An uncompressed foreign docker layer (read only).
pub const DOCKER_FOREIGN_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";
/// A gzip foreign docker layer, e.g. Windows base layers (read only).
pub const DOCKER_FOREIGN_LAYER_TAR_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// A plain tar.
    Uncompressed,
    /// gzip (RFC 1952).
    Gzip,
    /// zstd (RFC 8878).
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::Uncompressed => OCI_LAYER_TAR,
            Compression::Gzip => OCI_LAYER_TAR_GZIP,
            Compression::Zstd => OCI_LAYER_TAR_ZSTD,
        }
    }

    /// The docker layer media type for this compression.
    pub fn docker_layer_media_type(self) -> &'static str {
        match self {
            Compression::Uncompressed => DOCKER_LAYER_TAR,
            Compression::Gzip => DOCKER_LAYER_TAR_GZIP,
            Compression::Zstd => DOCKER_LAYER_TAR_ZSTD,
        }
    }
}

/// The compression of a layer media type, or `None` when `media_type` is
/// not a layer type kiln can unpack (including encrypted layers).
///
/// Only the registered types are recognised, not any `+gzip` suffix: a blob
/// of unknown type is not a filesystem layer, whatever its encoding.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR | DOCKER_FOREIGN_LAYER_TAR => {
            Some(Compression::Uncompressed)
        }
        OCI_LAYER_TAR_GZIP
        | OCI_LAYER_NONDIST_TAR_GZIP
        | DOCKER_LAYER_TAR_GZIP
        | DOCKER_FOREIGN_LAYER_TAR_GZIP => Some(Compression::Gzip),
        OCI_LAYER_TAR_ZSTD | OCI_LAYER_NONDIST_TAR_ZSTD | DOCKER_LAYER_TAR_ZSTD => {
            Some(Compression::Zstd)
        }
        _ => None,
    }
}

/// True for every layer type [`layer_compression`] knows.
pub fn is_layer(media_type: &str) -> bool {
    layer_compression(media_type).is_some()
}

/// True for layers that registries may not serve and that are fetched from
/// their descriptor's `urls` instead.
pub fn is_non_distributable(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_NONDIST_TAR
            | OCI_LAYER_NONDIST_TAR_GZIP
            | OCI_LAYER_NONDIST_TAR_ZSTD
            | DOCKER_FOREIGN_LAYER_TAR
            | DOCKER_FOREIGN_LAYER_TAR_GZIP
    )
}

/// True for single-platform image manifests (OCI or docker v2s2).
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// True for multi-platform indexes (OCI index or docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// True for image configs (OCI or docker).
pub fn is_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

/// True for docker's media types, which go with docker manifests.
pub fn is_docker(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.docker.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_of_layer_types() {
        let table = [
            (OCI_LAYER_TAR, Some(Compression::Uncompressed)),
            (OCI_LAYER_TAR_GZIP, Some(Compression::Gzip)),
            (OCI_LAYER_TAR_ZSTD, Some(Compression::Zstd)),
            (OCI_LAYER_NONDIST_TAR_GZIP, Some(Compression::Gzip)),
            (OCI_LAYER_NONDIST_TAR_ZSTD, Some(Compression::Zstd)),
            (DOCKER_LAYER_TAR_GZIP, Some(Compression::Gzip)),
            (DOCKER_LAYER_TAR, Some(Compression::Uncompressed)),
            (DOCKER_FOREIGN_LAYER_TAR_GZIP, Some(Compression::Gzip)),
            (DOCKER_LAYER_TAR_ZSTD, Some(Compression::Zstd)),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                None,
            ),
            (OCI_CONFIG, None),
            (DOCKER_MANIFEST, None),
        ];
        for (media_type, want) in table {
            assert_eq!(layer_compression(media_type), want, "{media_type}");
        }
        for c in [
            Compression::Uncompressed,
            Compression::Gzip,
            Compression::Zstd,
        ] {
            assert_eq!(layer_compression(c.oci_layer_media_type()), Some(c));
            assert_eq!(layer_compression(c.docker_layer_media_type()), Some(c));
        }
    }

    #[test]
    fn kinds() {
        assert!(is_manifest(DOCKER_MANIFEST) && is_manifest(OCI_MANIFEST));
        assert!(is_index(DOCKER_MANIFEST_LIST) && is_index(OCI_INDEX));
        assert!(is_config(DOCKER_CONFIG) && is_config(OCI_CONFIG));
        assert!(!is_manifest(OCI_INDEX) && !is_index(OCI_MANIFEST));
        assert!(is_non_distributable(DOCKER_FOREIGN_LAYER_TAR_GZIP));
        assert!(!is_non_distributable(DOCKER_LAYER_TAR_GZIP));
        assert!(is_docker(DOCKER_CONFIG) && !is_docker(OCI_CONFIG));
    }
}
