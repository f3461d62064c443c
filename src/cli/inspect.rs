//! `kiln inspect IMAGE...`: the images' details as JSON on stdout, in the
//! shape of `docker image inspect`: its keys (`RootFS` as `{Type, Layers}`,
//! `Size` the unpacked size, empty strings where docker has nothing to
//! say), then what an OCI store adds (`Digest`, `MediaType`, `Layers`,
//! `History`, the `Platforms` of a multi-platform image and the `Target`
//! its name points at: the index, or the manifest).

use super::Outcome;
use super::store::StoreArgs;
use kiln_oci::Reference;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Images: names, digests or IDs.
    #[arg(required = true)]
    images: Vec<String>,
}

pub(crate) fn run(args: InspectArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    // Held until the command ends: prune cannot collect what this command
    // has looked up and is about to tag or read.
    let _lease = store.lease()?;
    let mut list = Vec::new();
    for query in &args.images {
        let image = store.find_image(query)?;
        let config: serde_json::Value = serde_json::from_slice(&image.config.to_canonical_json())?;
        let tags: Vec<String> = image
            .tags
            .iter()
            .filter_map(|t| Reference::parse(t).ok().map(|r| r.familiar()))
            .collect();
        let size = store.unpacked_size(&image);
        let comment = image
            .config
            .history
            .last()
            .map(|h| h.comment.clone())
            .unwrap_or_default();
        list.push(serde_json::json!({
            "Id": image.id.as_str(),
            "RepoTags": tags,
            "RepoDigests": [],
            "Parent": "",
            "Comment": comment,
            "Created": config.get("created"),
            "Container": "",
            "DockerVersion": "",
            "Author": config.get("author").cloned().unwrap_or_else(|| "".into()),
            "Config": config.get("config"),
            "Architecture": config.get("architecture"),
            "Variant": config.get("variant"),
            "Os": config.get("os"),
            "Size": size,
            "VirtualSize": size,
            "RootFS": {
                "Type": "layers",
                "Layers": image.config.rootfs.diff_ids.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            },
            "Digest": image.manifest_descriptor.digest.as_str(),
            "MediaType": image.manifest_descriptor.media_type,
            "History": config.get("history"),
            "Platforms": store.platforms_of(&image).iter().map(ToString::to_string).collect::<Vec<_>>(),
            "Target": {
                "Digest": image.target.digest.as_str(),
                "MediaType": image.target.media_type,
            },
            "Layers": image.manifest.layers.iter().map(|l| serde_json::json!({
                "Digest": l.digest.as_str(),
                "MediaType": l.media_type,
                "Size": l.size,
            })).collect::<Vec<_>>(),
        }));
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &list)?;
    writeln!(out)?;
    Ok(Outcome::Success)
}
