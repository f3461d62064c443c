//! `kiln df`: what the store holds, as `docker system df` shows it —
//! images, the build cache (layers only cache records hold), cache mounts,
//! and what nothing references (freed by a plain `kiln prune`).

use super::Outcome;
use super::images::human_size;
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct DfArgs {}

pub(crate) fn run(_args: DfArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let usage = store.usage()?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16}{:>8}{:>12}{:>14}",
        "TYPE", "TOTAL", "SIZE", "RECLAIMABLE"
    )?;
    let rows = [
        ("Images", usage.images.to_string(), usage.image_bytes, 0),
        (
            "Build cache",
            usage.records.to_string(),
            usage.cache_bytes,
            usage.cache_bytes,
        ),
        (
            "Cache mounts",
            usage.cache_mounts.to_string(),
            usage.cache_mount_bytes,
            usage.cache_mount_bytes,
        ),
        (
            "Unreferenced",
            "-".to_string(),
            usage.unreferenced_bytes,
            usage.unreferenced_bytes,
        ),
    ];
    for (kind, total, size, reclaimable) in rows {
        writeln!(
            out,
            "{kind:<16}{total:>8}{:>12}{:>14}",
            human_size(size),
            human_size(reclaimable)
        )?;
    }
    Ok(Outcome::Success)
}
