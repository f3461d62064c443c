//! The fixed parts of an OCI image layout (image-spec `image-layout.md`):
//! the `oci-layout` marker file and the names of its files. The layout's
//! `index.json` is an [`Index`](crate::Index).

use crate::error::{FormatError, parse};
use crate::json::{JsonStyle, to_go_json};
use serde::{Deserialize, Serialize};

/// Name of the marker file at the layout's root.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";
/// Name of the layout's entry-point index.
pub const INDEX_FILE: &str = "index.json";
/// Directory holding the blobs, `blobs/<algorithm>/<encoded>`.
pub const BLOBS_DIR: &str = "blobs";
/// The layout version this crate writes and the only one the spec defines.
pub const LAYOUT_VERSION: &str = "1.0.0";

/// The content of the `oci-layout` file: `{"imageLayoutVersion":"1.0.0"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciLayout {
    /// The layout version.
    #[serde(rename = "imageLayoutVersion")]
    pub image_layout_version: String,
}

impl Default for OciLayout {
    fn default() -> OciLayout {
        OciLayout {
            image_layout_version: LAYOUT_VERSION.to_string(),
        }
    }
}

impl OciLayout {
    /// Reads an `oci-layout` file. The version is not checked here: the
    /// caller decides what to do with one it does not know.
    pub fn from_json(bytes: &[u8]) -> Result<OciLayout, FormatError> {
        parse("oci-layout", bytes)
    }

    /// Compact bytes, as containerd and BuildKit write the file.
    pub fn to_json(&self) -> Vec<u8> {
        to_go_json(self, JsonStyle::Compact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_file() {
        let bytes = OciLayout::default().to_json();
        assert_eq!(bytes, br#"{"imageLayoutVersion":"1.0.0"}"#);
        assert_eq!(OciLayout::from_json(&bytes).unwrap(), OciLayout::default());
        let err = OciLayout::from_json(b"{}").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid oci-layout json: missing field `imageLayoutVersion`"),
            "{err}"
        );
    }
}
