//! Content descriptors (image-spec `descriptor.md`): what a manifest or
//! index says about a blob it points at.
//!
//! Field order and `omitempty` rules follow image-spec's Go `Descriptor`
//! (`specs-go/v1/descriptor.go`), which is what BuildKit marshals, so a
//! manifest kiln writes has the bytes BuildKit would write. docker v2s2
//! descriptors have the same shape; unknown fields are ignored on read.

use crate::digest::Digest;
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A typed pointer to a blob: its media type, digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of the blob. Required by the spec; Go omits it when
    /// empty and so does kiln.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// Where else the blob may be fetched from (foreign layers).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::json::null_default"
    )]
    pub urls: Vec<String>,
    /// Free-form metadata.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::json::null_default"
    )]
    pub annotations: BTreeMap<String, String>,
    /// The blob itself, base64-encoded, for small embedded content. Kept as
    /// the encoded text: nothing in kiln needs it decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The platform of the image a manifest descriptor points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For artifacts: the artifact's type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
}

impl Descriptor {
    /// A descriptor with just media type, digest and size.
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            platform: None,
            artifact_type: String::new(),
        }
    }

    /// The descriptor of `bytes` as a blob of `media_type`.
    pub fn for_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::of(bytes), bytes.len() as u64)
    }

    /// The value of one annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_and_omission_follow_go() {
        let mut d = Descriptor::for_bytes(crate::media_type::OCI_MANIFEST, b"{}");
        d.platform = Some(Platform::new("linux", "amd64"));
        d.annotations.insert("z".into(), "1".into());
        d.annotations.insert("a".into(), "2".into());
        let json =
            String::from_utf8(crate::json::to_go_json(&d, crate::JsonStyle::Compact)).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":2,"annotations":{{"a":"2","z":"1"}},"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
                Digest::of(b"{}")
            )
        );
    }

    #[test]
    fn reads_unknown_fields_and_nulls() {
        let json = format!(
            r#"{{"digest":"{}","size":5,"urls":null,"annotations":null,"x-extra":true}}"#,
            Digest::of(b"hello")
        );
        let d: Descriptor = serde_json::from_str(&json).unwrap();
        assert_eq!((d.media_type.as_str(), d.size), ("", 5));
        assert!(d.urls.is_empty() && d.annotations.is_empty());
        assert!(serde_json::from_str::<Descriptor>(r#"{"digest":"sha256:00","size":1}"#).is_err());
        assert!(
            serde_json::from_str::<Descriptor>(&json.replace(r#""size":5"#, r#""size":-5"#))
                .is_err()
        );
    }
}
