//! `kiln save -o FILE [--format docker|oci] IMAGE...`: write images to an
//! archive that `docker load` (docker format) or OCI tools (both formats)
//! read. A new or regular file appears only when complete; a device, FIFO
//! or symlink is written through (`super::outfile`).

use super::Outcome;
use super::store::StoreArgs;
use crate::archive::{Format, SaveRequest, save};
use anyhow::bail;
use kiln_oci::Reference;
use std::io::IsTerminal as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct SaveArgs {
    /// Where to write the archive; standard output when absent or `-`.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// `docker` (loadable by `docker load`; also an OCI layout) or `oci`.
    #[arg(long, value_enum, default_value_t = SaveFormat::Docker)]
    format: SaveFormat,
    /// Images: names, digests or IDs.
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SaveFormat {
    Docker,
    Oci,
}

pub(crate) fn run(args: SaveArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    // Held until the command ends: prune cannot collect what this command
    // has looked up and is about to tag or read.
    let _lease = store.lease()?;
    let mut requests = Vec::new();
    for query in &args.images {
        let image = store.find_image(query)?;
        // Saved under the name asked for; an image asked for by ID or
        // digest is saved without names, as `docker save` does.
        let names: Vec<Reference> = match Reference::parse(query) {
            Ok(r) if r.digest().is_none() && image.tags.contains(&r.to_string()) => vec![r],
            _ => Vec::new(),
        };
        requests.push(SaveRequest { image, names });
    }
    let format = match args.format {
        SaveFormat::Docker => Format::Docker,
        SaveFormat::Oci => Format::Oci,
    };
    match args.output.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            super::outfile::write_file(path, |out| save(&store, &requests, format, out))?;
        }
        _ => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("refusing to write an archive to a terminal; use -o FILE or redirect");
            }
            save(
                &store,
                &requests,
                format,
                std::io::BufWriter::new(stdout.lock()),
            )?;
        }
    }
    Ok(Outcome::Success)
}
