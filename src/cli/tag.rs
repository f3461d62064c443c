//! `kiln tag SOURCE TARGET`: give an image another name.

use super::Outcome;
use super::store::StoreArgs;
use kiln_oci::Reference;

#[derive(Debug, clap::Args)]
pub(crate) struct TagArgs {
    /// The image: a name, a digest or an ID (prefix).
    source: String,
    /// The new name (`repo[:tag]`; `:latest` when no tag is given).
    target: String,
}

pub(crate) fn run(args: TagArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    // Held until the command ends: prune cannot collect what this command
    // has looked up and is about to tag or read.
    let _lease = store.lease()?;
    let image = store.find_image(&args.source)?;
    let target = Reference::parse(&args.target)?;
    if target.digest().is_some() {
        anyhow::bail!("cannot tag with a digest reference: {}", args.target);
    }
    store.set_tag(&target, &image.target)?;
    Ok(Outcome::Success)
}
