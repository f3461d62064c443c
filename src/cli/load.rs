//! `kiln load -i FILE`: read a docker-archive or OCI archive into the store.

use super::Outcome;
use super::store::StoreArgs;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// The archive (`docker save` or OCI layout tar); standard input when
    /// absent or `-`.
    #[arg(short = 'i', long = "input")]
    input: Option<PathBuf>,
}

pub(crate) fn run(args: LoadArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let loaded = match args.input.as_deref() {
        None => crate::archive::load(&store, std::io::stdin().lock())?,
        Some(p) if p.as_os_str() == "-" => crate::archive::load(&store, std::io::stdin().lock())?,
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            crate::archive::load(&store, std::io::BufReader::new(file))
                .with_context(|| format!("cannot load {}", path.display()))?
        }
    };
    let mut out = std::io::stdout().lock();
    for image in loaded {
        if image.names.is_empty() {
            writeln!(out, "Loaded image ID: {}", image.target.digest)?;
        }
        for name in image.names {
            writeln!(out, "Loaded image: {}", name.familiar())?;
        }
    }
    Ok(Outcome::Success)
}
