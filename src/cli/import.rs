//! `kiln import ROOTFS.tar|- NAME`: make a one-layer image from a root
//! file system tarball (plain, gzip or zstd), like `docker import`. Prints
//! the image ID.

use super::Outcome;
use super::store::StoreArgs;
use anyhow::Context as _;
use kiln_oci::Reference;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The tarball, or `-` for standard input.
    source: String,
    /// The name to give the image.
    name: String,
}

pub(crate) fn run(args: ImportArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let name = Reference::parse(&args.name)?;
    let id = if args.source == "-" {
        crate::archive::import(&store, std::io::stdin().lock(), "-", &name)?
    } else {
        let file = std::fs::File::open(&args.source)
            .with_context(|| format!("cannot open {}", args.source))?;
        crate::archive::import(&store, std::io::BufReader::new(file), &args.source, &name)
            .with_context(|| format!("cannot import {}", args.source))?
    };
    writeln!(std::io::stdout().lock(), "{id}")?;
    Ok(Outcome::Success)
}
