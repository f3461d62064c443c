//! `kiln rmi IMAGE...`: remove tags. Given a name, that tag goes; given an
//! ID or digest, every tag of that image goes. Blobs stay until
//! `kiln prune`, so a running build never loses data it still reads.

use super::Outcome;
use super::store::StoreArgs;
use kiln_oci::Reference;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct RmiArgs {
    /// Images to remove: names, digests or IDs.
    #[arg(required = true)]
    images: Vec<String>,
}

pub(crate) fn run(args: RmiArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let mut failed = false;
    for query in &args.images {
        match remove(&store, query) {
            Ok(removed) => {
                let mut out = std::io::stdout().lock();
                for line in removed {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                super::report::error(&e);
                failed = true;
            }
        }
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// Removes what `query` names; returns `Untagged: …`/`Deleted: …` lines.
/// A name removes that tag; an ID or digest removes the whole image, every
/// tag and any untagged entry of it, in one change of the index.
fn remove(store: &kiln_cache::Store, query: &str) -> anyhow::Result<Vec<String>> {
    let _lease = store.lease()?;
    // A tag is removed without reading the image, so even a tag whose
    // image is unreadable can be removed.
    if let Ok(name) = Reference::parse(query)
        && name.digest().is_none()
        && store.remove_tag(&name)?.is_some()
    {
        return Ok(vec![format!("Untagged: {}", name.familiar())]);
    }
    let image = store.find_image(query)?;
    let names = store.remove_image(&image.target.digest)?;
    let mut lines: Vec<String> = names
        .iter()
        .map(|n| Reference::parse(n).map_or_else(|_| n.clone(), |r| r.familiar()))
        .map(|n| format!("Untagged: {n}"))
        .collect();
    lines.push(format!("Deleted: {}", image.id));
    Ok(lines)
}
