//! Image indexes (image-spec `image-index.md`) and docker manifest lists,
//! which share a shape: a list of manifests, usually one per platform. An
//! OCI layout's `index.json` is an index too.
//!
//! Fields and `omitempty` rules follow image-spec's Go `Index`; the
//! canonical bytes are indented as BuildKit writes them.

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{FormatError, check_document, media_type_or, parse};
use crate::json::{JsonStyle, to_go_json};
use crate::media_type;
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An image index or docker manifest list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`media_type::OCI_INDEX`] or [`media_type::DOCKER_MANIFEST_LIST`];
    /// may be absent (older `index.json` files).
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
    /// The manifests (or nested indexes). Always written.
    #[serde(default, deserialize_with = "crate::json::null_default")]
    pub manifests: Vec<Descriptor>,
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

impl Index {
    /// A schema-2 index of `media_type` over `manifests`.
    pub fn new(media_type: &str, manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: media_type.to_string(),
            artifact_type: String::new(),
            manifests,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Reads an index, refusing other schema versions and documents whose
    /// own `mediaType` says they are not an index.
    pub fn from_json(bytes: &[u8]) -> Result<Index, FormatError> {
        const KIND: &str = "image index";
        let index: Index = parse(KIND, bytes)?;
        check_document(
            KIND,
            index.schema_version,
            &index.media_type,
            media_type::is_index,
        )?;
        Ok(index)
    }

    /// Go-escaped, two-space indented bytes; deterministic.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        to_go_json(self, JsonStyle::Indented)
    }

    /// The digest of [`Index::to_canonical_json`].
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_canonical_json())
    }

    /// A descriptor for the canonical bytes, typed by the index's own media
    /// type (OCI when it has none).
    pub fn descriptor(&self) -> Descriptor {
        let media_type = media_type_or(&self.media_type, media_type::OCI_INDEX);
        Descriptor::for_bytes(media_type, &self.to_canonical_json())
    }

    /// The manifests whose platform runs on `platform`, in index order
    /// (entries without a platform, such as attestations, never match).
    pub fn manifests_for<'a>(
        &'a self,
        platform: &'a Platform,
    ) -> impl Iterator<Item = &'a Descriptor> + 'a {
        self.manifests
            .iter()
            .filter(move |d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMD64: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const ARM64: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const ARMV7: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    const ATTEST: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

    /// Shaped like a BuildKit multi-platform push with an attestation.
    fn oci_index() -> String {
        format!(
            r#"{{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{AMD64}", "size": 1056,
      "platform": {{"architecture": "amd64", "os": "linux"}}}},
    {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{ARM64}", "size": 1056,
      "platform": {{"architecture": "arm64", "os": "linux", "variant": "v8"}}}},
    {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{ARMV7}", "size": 1056,
      "platform": {{"architecture": "arm", "os": "linux", "variant": "v7"}}}},
    {{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{ATTEST}", "size": 839,
      "annotations": {{"vnd.docker.reference.type": "attestation-manifest",
                       "vnd.docker.reference.digest": "{AMD64}"}},
      "platform": {{"architecture": "unknown", "os": "unknown"}}}}
  ],
  "annotations": {{"org.opencontainers.image.created": "2024-05-01T10:00:00Z"}}
}}"#
        )
    }

    #[test]
    fn reads_platforms() {
        let index = Index::from_json(oci_index().as_bytes()).unwrap();
        assert_eq!(index.media_type, media_type::OCI_INDEX);
        assert_eq!(index.manifests.len(), 4);
        let arm64 = index.manifests[1].platform.as_ref().unwrap();
        assert_eq!(
            (
                arm64.os.as_str(),
                arm64.architecture.as_str(),
                arm64.variant.as_str()
            ),
            ("linux", "arm64", "v8")
        );
        assert_eq!(
            index.manifests[3].annotation("vnd.docker.reference.type"),
            Some("attestation-manifest")
        );

        let want = |spec: &str| {
            let p = Platform::parse(spec).unwrap();
            index
                .manifests_for(&p)
                .map(|d| d.digest.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(want("linux/amd64"), [AMD64]);
        assert_eq!(want("linux/aarch64"), [ARM64]);
        assert_eq!(want("linux/arm64/v8"), [ARM64]);
        assert_eq!(want("linux/arm"), [ARMV7]);
        assert!(want("linux/arm/v6").is_empty());
        assert!(want("windows/amd64").is_empty());
    }

    #[test]
    fn round_trip_is_byte_stable() {
        let index = Index::from_json(oci_index().as_bytes()).unwrap();
        let bytes = index.to_canonical_json();
        let again = Index::from_json(&bytes).unwrap();
        assert_eq!(again, index);
        assert_eq!(again.to_canonical_json(), bytes);
        assert_eq!(index.digest(), Digest::of(&bytes));
        assert_eq!(index.descriptor().media_type, media_type::OCI_INDEX);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"platform\": {\n        \"architecture\": \"arm64\",\n        \"os\": \"linux\",\n        \"variant\": \"v8\"\n      }"), "{text}");
    }

    #[test]
    fn docker_manifest_list_and_layout_index() {
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"{AMD64}",
            "platform":{{"architecture":"amd64","os":"linux","features":["sse4"]}}}}]}}"#
        );
        let index = Index::from_json(list.as_bytes()).unwrap();
        assert_eq!(index.media_type, media_type::DOCKER_MANIFEST_LIST);
        assert_eq!(
            index.manifests[0].platform.as_ref().unwrap().architecture,
            "amd64"
        );

        // An OCI layout index.json as skopeo writes it: no mediaType.
        let layout = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{AMD64}","size":7,
            "annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#
        );
        let index = Index::from_json(layout.as_bytes()).unwrap();
        assert_eq!(
            index.manifests[0].annotation(crate::annotations::REF_NAME),
            Some("latest")
        );
        assert_eq!(index.descriptor().media_type, media_type::OCI_INDEX);

        let err = Index::from_json(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "image index declares media type \"application/vnd.oci.image.manifest.v1+json\""
        );
        let empty = Index::new(media_type::OCI_INDEX, Vec::new());
        assert!(
            String::from_utf8(empty.to_canonical_json())
                .unwrap()
                .contains("\"manifests\": []")
        );
    }
}
