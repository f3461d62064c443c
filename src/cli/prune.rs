//! `kiln prune`: delete blobs no image references and stale temporary
//! files; prints what it freed.

use super::Outcome;
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {}

pub(crate) fn run(_args: PruneArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let pruned = store.prune()?;
    let mut out = std::io::stdout().lock();
    for digest in &pruned.blobs {
        writeln!(out, "deleted: {digest}")?;
    }
    for chain in &pruned.snapshots {
        writeln!(out, "deleted snapshot: sha256:{chain}")?;
    }
    writeln!(
        out,
        "Total reclaimed space: {} ({} blobs)",
        super::images::human_size(pruned.bytes),
        pruned.blobs.len()
    )?;
    Ok(Outcome::Success)
}
