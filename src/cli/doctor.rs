//! `kiln doctor`: checks the store (blobs against their digests, images
//! against their blobs, cache records, leftovers of killed processes) and
//! says whether it is clean. Exit code 1 when something is damaged;
//! leftovers are listed but are no damage (`kiln prune` removes them).
//! `--environment` instead checks what this machine allows kiln (user
//! namespaces, subordinate ids, overlayfs, cgroups, the network's tun
//! device, seccomp) and says how to provide what is missing; exit code 1
//! when something is.

use super::Outcome;
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Only check that blobs exist; do not re-hash their content.
    #[arg(long)]
    quick: bool,
    /// Check what this machine allows kiln instead (rootless use: user
    /// namespaces, subordinate ids, overlayfs, cgroup delegation, the tun
    /// device), with the fix for each missing piece.
    #[arg(long, conflicts_with = "quick")]
    environment: bool,
}

pub(crate) fn run(args: DoctorArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    if args.environment {
        return environment(&store.root().join("tmp"));
    }
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

/// `--environment`: one line per check, the fix under a missing one.
fn environment(scratch: &std::path::Path) -> anyhow::Result<Outcome> {
    use crate::rootless::environment::{State, checks};
    let checks = checks(crate::rootless::state(), scratch);
    let mut out = std::io::stdout().lock();
    for check in &checks {
        let state = match check.state {
            State::Ok => "ok",
            State::Missing => "missing",
            State::Info => "info",
        };
        writeln!(out, "{state:<8} {}: {}", check.what, check.found)?;
        if let Some(fix) = &check.fix {
            writeln!(out, "{:<8} fix: {fix}", "")?;
        }
    }
    Ok(match checks.iter().any(|c| c.state == State::Missing) {
        true => Outcome::Failed,
        false => Outcome::Success,
    })
}
