//! Image configs (image-spec `config.md`) with docker's extensions: the
//! blob a manifest's `config` descriptor points at.
//!
//! Two promises shape this module. Same value, same bytes: maps are sorted,
//! and [`ImageConfig::to_canonical_json`] writes the top-level keys in byte
//! order, as BuildKit does (its exporter re-marshals the config through a Go
//! map), with the nested `config` object in BuildKit's struct order. And
//! nothing is lost: fields this crate does not model, at the top level and
//! inside `config`, are kept and written back, so loading and re-saving a
//! docker image keeps its data.

mod container;
mod history;

pub use container::{ContainerConfig, Healthcheck};
pub use history::{History, RootFs};

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{FormatError, parse};
use crate::json::{JsonStyle, SortedValue, null_default, to_go_json};
use crate::platform::Platform;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// An image config.
///
/// Empty strings and lists mean "unset" and are omitted on write, following
/// the Go `omitempty` tags of image-spec's `Image` and moby's `V1Image`;
/// `architecture`, `os`, `config` and `rootfs` are always written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339 as Go writes it (see
    /// [`crate::format_rfc3339_nano`]). Kept as text so a loaded config
    /// re-serializes unchanged.
    #[serde(default)]
    pub created: Option<String>,
    /// Who made the image.
    #[serde(default)]
    pub author: String,
    /// CPU architecture (`amd64`, …).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`, …).
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(rename = "os.version", default)]
    pub os_version: String,
    /// Required OS features (Windows).
    #[serde(rename = "os.features", default, deserialize_with = "null_default")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`, `v8`, …).
    #[serde(default)]
    pub variant: String,
    /// How to run containers of this image.
    #[serde(default, deserialize_with = "null_default")]
    pub config: ContainerConfig,
    /// The layers' DiffIDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// One entry per build step, layers or not.
    #[serde(default, deserialize_with = "null_default")]
    pub history: Vec<History>,
    /// docker: the ID of the container committed into this image.
    #[serde(default)]
    pub container: String,
    /// docker: that container's config. Read and kept; kiln never writes
    /// one for images it builds.
    #[serde(default)]
    pub container_config: Option<ContainerConfig>,
    /// docker: the daemon version that made the image.
    #[serde(default)]
    pub docker_version: String,
    /// Top-level fields this type does not model (docker's `id`, `parent`,
    /// `comment`, `size`, BuildKit's `moby.buildkit.buildinfo.v1`, …).
    /// Entries named like a modelled field are ignored on write.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The top-level keys this type models; `extra` entries with these names
/// would duplicate a key, so they are skipped on write.
const KNOWN_KEYS: &[&str] = &[
    "architecture",
    "author",
    "config",
    "container",
    "container_config",
    "created",
    "docker_version",
    "history",
    "os",
    "os.features",
    "os.version",
    "rootfs",
    "variant",
];

impl ImageConfig {
    /// An empty config for `platform`, with `rootfs.type` set to `layers`.
    pub fn new(platform: &Platform) -> ImageConfig {
        let mut config = ImageConfig::default();
        config.set_platform(platform);
        config
    }

    /// Reads a config blob (OCI or docker).
    pub fn from_json(bytes: &[u8]) -> Result<ImageConfig, FormatError> {
        parse("image config", bytes)
    }

    /// The bytes kiln stores and pushes: compact, Go-escaped, keys ordered
    /// as BuildKit writes them. The same config always gives the same bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        to_go_json(self, JsonStyle::Compact)
    }

    /// The digest of [`ImageConfig::to_canonical_json`]: the image ID.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_canonical_json())
    }

    /// A descriptor for the canonical bytes as a blob of `media_type`
    /// ([`crate::media_type::OCI_CONFIG`] or
    /// [`crate::media_type::DOCKER_CONFIG`], to match the manifest).
    pub fn descriptor(&self, media_type: &str) -> Descriptor {
        Descriptor::for_bytes(media_type, &self.to_canonical_json())
    }

    /// The platform the image is for.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            variant: self.variant.clone(),
        }
    }

    /// Sets the platform fields from `platform`.
    pub fn set_platform(&mut self, platform: &Platform) {
        self.architecture = platform.architecture.clone();
        self.os = platform.os.clone();
        self.os_version = platform.os_version.clone();
        self.os_features = platform.os_features.clone();
        self.variant = platform.variant.clone();
    }
}

/// One top-level value, borrowed, so modelled fields and `extra` can be
/// merged into one sorted sequence of entries.
enum Entry<'a> {
    Text(&'a str),
    Texts(&'a [String]),
    Config(&'a ContainerConfig),
    RootFs(&'a RootFs),
    History(&'a [History]),
    Other(&'a Value),
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Entry::Text(v) => v.serialize(s),
            Entry::Texts(v) => v.serialize(s),
            Entry::Config(v) => v.serialize(s),
            Entry::RootFs(v) => v.serialize(s),
            Entry::History(v) => v.serialize(s),
            Entry::Other(v) => SortedValue(v).serialize(s),
        }
    }
}

impl Serialize for ImageConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&str, Entry<'_>)> = vec![
            ("architecture", Entry::Text(&self.architecture)),
            ("os", Entry::Text(&self.os)),
            ("config", Entry::Config(&self.config)),
            ("rootfs", Entry::RootFs(&self.rootfs)),
        ];
        let optional_texts = [
            ("author", &self.author),
            ("container", &self.container),
            ("docker_version", &self.docker_version),
            ("os.version", &self.os_version),
            ("variant", &self.variant),
        ];
        for (key, value) in optional_texts {
            if !value.is_empty() {
                entries.push((key, Entry::Text(value)));
            }
        }
        if let Some(created) = &self.created {
            entries.push(("created", Entry::Text(created)));
        }
        if !self.os_features.is_empty() {
            entries.push(("os.features", Entry::Texts(&self.os_features)));
        }
        if !self.history.is_empty() {
            entries.push(("history", Entry::History(&self.history)));
        }
        if let Some(container_config) = &self.container_config {
            entries.push(("container_config", Entry::Config(container_config)));
        }
        for (key, value) in &self.extra {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                entries.push((key, Entry::Other(value)));
            }
        }
        // Byte order of keys, as Go's encoder sorts map keys.
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (key, value) in &entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests;
