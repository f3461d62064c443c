//! `kiln push IMAGE [DEST]`: an image from the store to a registry;
//! prints the pushed manifest's digest.

use super::Outcome;
use super::registry::{RegistryArgs, push_image};
use super::store::StoreArgs;
use crate::registry::Format;
use anyhow::Context as _;
use kiln_oci::Reference;
use std::io::Write as _;

/// The manifest format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// OCI image manifest.
    Oci,
    /// docker image manifest v2, schema 2.
    #[value(alias = "v2s2")]
    Docker,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Format {
        match arg {
            FormatArg::Oci => Format::Oci,
            FormatArg::Docker => Format::Docker,
        }
    }
}

/// How layers kiln stores uncompressed are compressed for the registry.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum CompressionArg {
    /// gzip, level 6 (what every registry and client accepts).
    Gzip,
    /// zstd, level 3.
    Zstd,
    /// Plain tar.
    None,
}

impl From<CompressionArg> for kiln_layer::Compression {
    fn from(arg: CompressionArg) -> kiln_layer::Compression {
        match arg {
            CompressionArg::Gzip => kiln_layer::Compression::Gzip { level: 6 },
            CompressionArg::Zstd => kiln_layer::Compression::Zstd { level: 3 },
            CompressionArg::None => kiln_layer::Compression::None,
        }
    }
}

/// Options shared by `push` and `build --push`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PushFormatArgs {
    /// The manifest format.
    #[arg(long, value_enum, default_value = "oci")]
    pub format: FormatArg,
    /// How layers are compressed.
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// The compression level (gzip 0–9, default 6; zstd 1–19, default 3).
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
}

impl PushFormatArgs {
    /// Refuses what no client can pull: docker's manifest format has no
    /// zstd layer media type (BuildKit turns OCI media types on for zstd;
    /// kiln says so instead of changing the format asked for).
    pub fn check(&self) -> anyhow::Result<()> {
        if matches!(
            (self.format, self.compression),
            (FormatArg::Docker, CompressionArg::Zstd)
        ) {
            anyhow::bail!(
                "--compression zstd needs OCI media types: docker's manifest format (--format docker) has no zstd layer type, and docker's client cannot pull one; use --format oci (the default) or --compression gzip"
            );
        }
        Ok(())
    }

    /// The compression with its level; an out-of-range level is an error
    /// when the first layer is compressed.
    pub fn compression(&self) -> kiln_layer::Compression {
        match (self.compression, self.compression_level) {
            (CompressionArg::Gzip, Some(level)) => kiln_layer::Compression::Gzip {
                level: u32::try_from(level).unwrap_or(u32::MAX),
            },
            (CompressionArg::Zstd, Some(level)) => kiln_layer::Compression::Zstd { level },
            (arg, _) => arg.into(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    format: PushFormatArgs,
    /// Print nothing but the digest.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: a name, a digest or an ID (prefix).
    image: String,
    /// Where to push it (`registry/name[:tag]`); default: the image's name.
    destination: Option<String>,
}

pub(crate) fn run(args: PushArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let given = args.destination.as_deref().unwrap_or(&args.image);
    let destination = Reference::parse(given).with_context(|| {
        if args.destination.is_none() {
            format!("{given:?} is not an image name to push to: give a destination")
        } else {
            format!("invalid destination {given:?}")
        }
    })?;
    args.format.check()?;
    let store = store.open()?;
    let _lease = store.lease()?;
    let image = store.find_image(&args.image)?;
    let pushed = push_image(
        &store,
        &image,
        &destination,
        args.format.format.into(),
        args.format.compression(),
        &args.registry.options(),
        args.quiet,
    )?;
    writeln!(std::io::stdout().lock(), "{}", pushed.digest)?;
    Ok(Outcome::Success)
}
