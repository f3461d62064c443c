//! The `rootfs` and `history` parts of an image config (image-spec
//! `config.md`): the layers' DiffIDs, and one history entry per build step,
//! with `empty_layer` marking steps that made no layer.

use crate::chain_id::chain_ids;
use crate::digest::Digest;
use serde::{Deserialize, Serialize};

/// The layers of an image, by DiffID (digest of the uncompressed tar).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// DiffIDs, base layer first. Always written, `[]` when empty (the spec
    /// requires an array; some BuildKit versions wrote `null`, read as empty).
    #[serde(default, deserialize_with = "crate::json::null_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
        }
    }
}

impl RootFs {
    /// The chain ID of every layer prefix (see [`crate::chain_ids`]).
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.diff_ids)
    }
}

/// One build step. Every field is omitted when empty, as Go does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran, RFC 3339 as Go writes it (kept as text so a
    /// loaded image re-serializes to the same bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `RUN /bin/sh -c make # buildkit`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// The author (`MAINTAINER`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// A free-form comment, e.g. `buildkit.dockerfile.v0`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// True when the step produced no layer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
