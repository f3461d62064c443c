//! The `manifest.json` of a docker-archive tarball, the format of
//! `docker save` and `docker load` (moby `image/tarexport`): a JSON list
//! with one entry per image, naming its config file, tags and layer files
//! inside the tar.

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{FormatError, parse};
use crate::json::{JsonStyle, to_go_json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of the file at the root of the archive.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One image in a docker-archive `manifest.json` (moby's `manifestItem`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    /// Path of the config blob inside the tar (`blobs/sha256/<hex>` since
    /// docker 25, `<hex>.json` before).
    #[serde(rename = "Config")]
    pub config: String,
    /// Familiar references (`busybox:latest`). Written as `null` when
    /// empty, as docker does for an untagged image.
    #[serde(
        rename = "RepoTags",
        default,
        serialize_with = "crate::json::empty_as_null",
        deserialize_with = "crate::json::null_default"
    )]
    pub repo_tags: Vec<String>,
    /// Paths of the layer tars inside the archive, base first.
    #[serde(
        rename = "Layers",
        default,
        deserialize_with = "crate::json::null_default"
    )]
    pub layers: Vec<String>,
    /// Parent image ID (images committed from a container).
    #[serde(rename = "Parent", default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// For foreign layers left out of the tar: where to fetch them, keyed by
    /// DiffID.
    #[serde(
        rename = "LayerSources",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::json::null_default"
    )]
    pub layer_sources: BTreeMap<Digest, Descriptor>,
}

impl ArchiveEntry {
    /// Reads a whole `manifest.json`.
    pub fn list_from_json(bytes: &[u8]) -> Result<Vec<ArchiveEntry>, FormatError> {
        parse("docker-archive manifest", bytes)
    }

    /// Writes a whole `manifest.json` as docker does (`json.Encoder`:
    /// compact, with a trailing newline).
    pub fn list_to_json(entries: &[ArchiveEntry]) -> Vec<u8> {
        let mut out = to_go_json(entries, JsonStyle::Compact);
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "sha256:9c7a54a9a43cca047013b82af109fe963fde787f63f9e016fdc3384500c2823d";
    const LAYER: &str = "sha256:65014c70e84b6817fac42bb201ec5c1ea460a8da246cac0e481f5c9a9491eac0";

    #[test]
    fn docker_save_shapes() {
        let saved = format!(
            r#"[{{"Config":"blobs/sha256/{c}","RepoTags":["busybox:latest"],"Layers":["blobs/sha256/{l}"],
            "LayerSources":{{"{LAYER}":{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","size":9,"digest":"{LAYER}","urls":["https://example.invalid/x"]}}}}}},
            {{"Config":"{c}.json","RepoTags":null,"Layers":["abc/layer.tar"]}}]"#,
            c = &CONFIG[7..],
            l = &LAYER[7..]
        );
        let entries = ArchiveEntry::list_from_json(saved.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].repo_tags, ["busybox:latest"]);
        assert_eq!(entries[0].layers, [format!("blobs/sha256/{}", &LAYER[7..])]);
        let layer: Digest = LAYER.parse().unwrap();
        assert_eq!(
            entries[0].layer_sources[&layer].urls,
            ["https://example.invalid/x"]
        );
        assert!(entries[1].repo_tags.is_empty());

        let out = String::from_utf8(ArchiveEntry::list_to_json(&entries[1..])).unwrap();
        assert_eq!(
            out,
            format!(
                "[{{\"Config\":\"{}.json\",\"RepoTags\":null,\"Layers\":[\"abc/layer.tar\"]}}]\n",
                &CONFIG[7..]
            )
        );
        let back = ArchiveEntry::list_from_json(&ArchiveEntry::list_to_json(&entries)).unwrap();
        assert_eq!(back, entries);
    }
}
