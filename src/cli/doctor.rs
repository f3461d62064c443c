//! `kiln doctor`: checks the store (blobs against their digests, images
//! against their blobs, cache records, leftovers of killed processes) and
//! says whether it is clean. Exit code 1 when something is damaged;
//! leftovers are listed but are no damage (`kiln prune` removes them).

use super::Outcome;
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Only check that blobs exist; do not re-hash their content.
    #[arg(long)]
    quick: bool,
}

pub(crate) fn run(args: DoctorArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let checkup = store.doctor(!args.quick)?;
    let mut out = std::io::stdout().lock();
    for problem in &checkup.problems {
        writeln!(out, "problem: {problem}")?;
    }
    for leftover in &checkup.leftovers {
        writeln!(out, "leftover: {leftover}")?;
    }
    let verdict = match checkup.problems.is_empty() {
        true => "clean".to_string(),
        false => format!("{} problems", checkup.problems.len()),
    };
    writeln!(
        out,
        "{verdict}: {} blobs, {} images, {} snapshots, {} cache records checked in {}",
        checkup.blobs,
        checkup.images,
        checkup.snapshots,
        checkup.records,
        store.root().display()
    )?;
    Ok(match checkup.problems.is_empty() {
        true => Outcome::Success,
        false => Outcome::Failed,
    })
}
