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

/// Removes what `query` names; returns `Untagged: …` lines.
fn remove(store: &kiln_cache::Store, query: &str) -> anyhow::Result<Vec<String>> {
    let image = store.find_image(query)?;
    let by_name = Reference::parse(query)
        .ok()
        .filter(|r| r.digest().is_none())
        .map(|r| r.to_string())
        .filter(|name| image.tags.contains(name));
    let names: Vec<String> = match by_name {
        Some(name) => vec![name],
        None => image.tags.clone(),
    };
    let mut lines = Vec::new();
    for name in names {
        store.remove_tag(&Reference::parse(&name)?)?;
        lines.push(format!("Untagged: {}", Reference::parse(&name)?.familiar()));
    }
    if lines.is_empty() {
        anyhow::bail!("image {query} has no tags to remove; `kiln prune` removes untagged images");
    }
    Ok(lines)
}
