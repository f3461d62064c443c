//! Image manifests (image-spec `manifest.md`; docker's v2 schema 2 has the
//! same shape): one platform's config and layers.
//!
//! Fields and `omitempty` rules follow image-spec's Go `Manifest`, and
//! [`Manifest::to_canonical_json`] indents as BuildKit's exporter does
//! (`json.MarshalIndent(m, "", "  ")`), so the digest of a manifest kiln
//! writes can match BuildKit's for the same content.

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{FormatError, check_document, media_type_or, parse};
use crate::json::{JsonStyle, to_go_json};
use crate::media_type;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most layers an image may have: docker's limit. More cannot be
/// stacked as one overlay (its mount options outgrow a page), and a store
/// would unpack them all before finding out.
pub const MAX_LAYERS: usize = 127;

/// An image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2 for the formats kiln reads and writes.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`media_type::OCI_MANIFEST`] or [`media_type::DOCKER_MANIFEST`]; may
    /// be absent in old OCI manifests.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// For artifacts: the artifact's type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
    /// The image config blob.
    pub config: Descriptor,
    /// Layers, base first. Always written, `[]` when there are none.
    #[serde(default, deserialize_with = "crate::json::null_default")]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form metadata.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::json::null_default"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// A schema-2 manifest of `media_type` for `config` and `layers`.
    pub fn new(media_type: &str, config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: media_type.to_string(),
            artifact_type: String::new(),
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Reads a manifest, refusing other schema versions and documents whose
    /// own `mediaType` says they are something else (an index served as a
    /// manifest must not be mistaken for one).
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, FormatError> {
        const KIND: &str = "image manifest";
        let manifest: Manifest = parse(KIND, bytes)?;
        check_document(
            KIND,
            manifest.schema_version,
            &manifest.media_type,
            media_type::is_manifest,
        )?;
        Ok(manifest)
    }

    /// The bytes kiln stores and pushes: Go-escaped, two-space indented.
    /// The same manifest always gives the same bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        to_go_json(self, JsonStyle::Indented)
    }

    /// The digest of [`Manifest::to_canonical_json`].
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_canonical_json())
    }

    /// A descriptor for the canonical bytes, typed by the manifest's own
    /// media type (OCI when it has none).
    pub fn descriptor(&self) -> Descriptor {
        let media_type = media_type_or(&self.media_type, media_type::OCI_MANIFEST);
        Descriptor::for_bytes(media_type, &self.to_canonical_json())
    }
}

impl Manifest {
    /// Whether `config` can be this manifest's image config: one diff ID
    /// per layer, at most [`MAX_LAYERS`] layers. What does not fit, said
    /// for the user.
    pub fn check_image(&self, config: &crate::ImageConfig) -> Result<(), String> {
        let (layers, diff_ids) = (self.layers.len(), config.rootfs.diff_ids.len());
        if layers > MAX_LAYERS {
            return Err(format!(
                "the image has {layers} layers, more than the {MAX_LAYERS} an image may have"
            ));
        }
        if layers != diff_ids {
            return Err(format!(
                "the manifest lists {layers} layers but the image config {diff_ids} diff IDs"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_image_wants_one_diff_id_per_layer_and_at_most_127() {
        let layer = Descriptor::new(media_type::OCI_LAYER_TAR, Digest::of(b"l"), 1);
        let config_for = |n: usize| {
            let mut c = crate::ImageConfig::new(&crate::Platform::new("linux", "amd64"));
            c.rootfs.diff_ids = vec![Digest::of(b"l"); n];
            c
        };
        let manifest = |n: usize| {
            super::Manifest::new(
                media_type::OCI_MANIFEST,
                Descriptor::new(media_type::OCI_CONFIG, Digest::of(b"c"), 1),
                vec![layer.clone(); n],
            )
        };
        assert!(manifest(3).check_image(&config_for(3)).is_ok());
        assert!(
            manifest(3)
                .check_image(&config_for(2))
                .unwrap_err()
                .contains("3 layers")
        );
        assert!(manifest(127).check_image(&config_for(127)).is_ok());
        assert!(
            manifest(128)
                .check_image(&config_for(128))
                .unwrap_err()
                .contains("127")
        );
    }

    use super::*;

    const CONFIG: &str = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741";
    const LAYER0: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
    const LAYER1: &str = "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736";

    /// Shaped like what `docker push` sends for a two-layer image.
    fn docker_v2s2() -> String {
        format!(
            r#"{{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {{
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1457,
      "digest": "{CONFIG}"
   }},
   "layers": [
      {{
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 2811478,
         "digest": "{LAYER0}"
      }},
      {{
         "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
         "size": 32,
         "digest": "{LAYER1}",
         "urls": ["https://example.invalid/layer"]
      }}
   ]
}}"#
        )
    }

    #[test]
    fn reads_docker_v2s2() {
        let m = Manifest::from_json(docker_v2s2().as_bytes()).unwrap();
        assert_eq!(m.schema_version, 2);
        assert_eq!(m.media_type, media_type::DOCKER_MANIFEST);
        assert_eq!(m.config.media_type, media_type::DOCKER_CONFIG);
        assert_eq!((m.config.digest.as_str(), m.config.size), (CONFIG, 1457));
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0].size, 2_811_478);
        assert_eq!(m.layers[1].urls, ["https://example.invalid/layer"]);
        assert!(media_type::is_non_distributable(&m.layers[1].media_type));
        assert!(m.subject.is_none() && m.annotations.is_empty());
    }

    #[test]
    fn writes_buildkit_layout_deterministically() {
        let m = Manifest::from_json(docker_v2s2().as_bytes()).unwrap();
        let bytes = m.to_canonical_json();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n  \"config\": {\n    \"mediaType\""
        ));
        // Go field order: mediaType, digest, size.
        assert!(text.contains(&format!("\"digest\": \"{CONFIG}\",\n    \"size\": 1457\n")));
        let again = Manifest::from_json(&bytes).unwrap();
        assert_eq!(again, m);
        assert_eq!(again.to_canonical_json(), bytes);
        assert_eq!(m.digest(), Digest::of(&bytes));
        let d = m.descriptor();
        assert_eq!(
            (d.media_type.as_str(), d.size),
            (media_type::DOCKER_MANIFEST, bytes.len() as u64)
        );
    }

    #[test]
    fn oci_manifest_with_subject_and_annotations_in_any_order() {
        let config: Digest = CONFIG.parse().unwrap();
        let layer: Digest = LAYER0.parse().unwrap();
        let build = |keys: &[(&str, &str)]| {
            let mut m = Manifest::new(
                media_type::OCI_MANIFEST,
                Descriptor::new(media_type::OCI_CONFIG, config.clone(), 10),
                vec![Descriptor::new(
                    media_type::OCI_LAYER_TAR_ZSTD,
                    layer.clone(),
                    20,
                )],
            );
            m.subject = Some(Descriptor::new(media_type::OCI_MANIFEST, layer.clone(), 30));
            for (k, v) in keys {
                m.annotations.insert(k.to_string(), v.to_string());
            }
            m
        };
        let a = build(&[
            ("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
            ("a", "<&>"),
        ]);
        let b = build(&[
            ("a", "<&>"),
            ("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
        ]);
        assert_eq!(a.to_canonical_json(), b.to_canonical_json());
        let text = String::from_utf8(a.to_canonical_json()).unwrap();
        assert!(text.contains("\"a\": \"\\u003c\\u0026\\u003e\""));
        let order: Vec<usize> = [
            "schemaVersion",
            "mediaType",
            "config",
            "layers",
            "subject",
            "annotations",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(Manifest::from_json(&a.to_canonical_json()).unwrap(), a);
    }

    #[test]
    fn rejects_other_documents() {
        let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        let err = Manifest::from_json(schema1).unwrap_err().to_string();
        // schema 1 has no config: the shape check fires first.
        assert!(
            err.starts_with("invalid image manifest json: missing field `config`"),
            "{err}"
        );

        let v1 = docker_v2s2().replace("\"schemaVersion\": 2", "\"schemaVersion\": 1");
        let err = Manifest::from_json(v1.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err,
            "unsupported image manifest schemaVersion 1: expected 2"
        );

        let index = docker_v2s2().replace(media_type::DOCKER_MANIFEST, media_type::OCI_INDEX);
        let err = Manifest::from_json(index.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "image manifest declares media type \"application/vnd.oci.image.index.v1+json\""
        );
        assert!(Manifest::from_json(b"not json").is_err());
    }
}
