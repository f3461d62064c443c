//! `kiln pull REF`: an image from a registry into the store; prints the
//! manifest digest.

use super::Outcome;
use super::registry::{RegistryArgs, pull_image};
use super::store::StoreArgs;
use anyhow::Context as _;
use kiln_oci::{Platform, Reference};
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct PullArgs {
    /// The platform to pull from a multi-platform image (`os/arch[/variant]`;
    /// default: this machine's).
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// Print nothing but the digest.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: `[registry/]name[:tag|@digest]` (docker.io by default).
    reference: String,
}

pub(crate) fn run(args: PullArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    super::needs_root(
        "kiln pull",
        super::Needs::Owners,
        "it unpacks image layers with their files' owners",
    )?;
    let reference = Reference::parse(&args.reference)
        .with_context(|| format!("invalid image reference {:?}", args.reference))?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("invalid platform {p:?}"))?,
        None => Platform::host(),
    };
    let store = store.open()?;
    let manifest = pull_image(
        &store,
        &reference,
        &platform,
        &args.registry.options(),
        false,
        args.quiet,
    )?;
    writeln!(std::io::stdout().lock(), "{}", manifest.digest)?;
    Ok(Outcome::Success)
}
