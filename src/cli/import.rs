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
    /// The platform the files are for (`os/arch[/variant]`; default: this
    /// machine's), as `docker import --platform`.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
}

pub(crate) fn run(args: ImportArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let name = Reference::parse(&args.name)?;
    let platform = match &args.platform {
        Some(text) => kiln_oci::Platform::parse(text)
            .map_err(|e| anyhow::anyhow!("--platform {text:?}: {e}"))?
            .normalize(),
        None => kiln_oci::Platform::host(),
    };
    let id = if args.source == "-" {
        crate::archive::import(&store, std::io::stdin().lock(), "-", &name, &platform)?
    } else {
        let file = std::fs::File::open(&args.source)
            .with_context(|| format!("cannot open {}", args.source))?;
        crate::archive::import(
            &store,
            std::io::BufReader::new(file),
            &args.source,
            &name,
            &platform,
        )
        .with_context(|| format!("cannot import {}", args.source))?
    };
    writeln!(std::io::stdout().lock(), "{id}")?;
    Ok(Outcome::Success)
}
