//! `kiln prune`: frees space. Without flags it deletes what nothing
//! references (blobs and snapshots of no image and no cache record,
//! unusable records, leftovers of killed processes) and keeps the build
//! cache; `--filter until=24h`, `--keep-storage 5GB` and `--all` let
//! cache records go too, least recently used first (as
//! `docker builder prune` does). Waits for running builds (they hold a
//! lease), so it never collects what they are using.

use super::Outcome;
use super::store::StoreArgs;
use anyhow::Context as _;
use std::io::Write as _;
use std::time::{Duration, SystemTime};

#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {
    /// Remove the whole build cache (records, cache mounts, memos).
    #[arg(short = 'a', long)]
    all: bool,
    /// Keep at most this much build cache (`512MB`, `5GB`, bytes).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    keep_storage: Option<u64>,
    /// `until=DURATION`: remove cache records not used for that long
    /// (`24h`, `90m`, `1h30m`).
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
}

pub(crate) fn run(args: PruneArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let mut options = kiln_cache::PruneOptions {
        all: args.all,
        keep_storage: args.keep_storage,
        until: None,
    };
    for filter in &args.filter {
        let Some(("until", value)) = filter.split_once('=') else {
            anyhow::bail!("invalid filter {filter:?}: the only filter is until=DURATION");
        };
        let age = parse_duration(value).with_context(|| format!("invalid filter {filter:?}"))?;
        options.until = Some(SystemTime::now() - age);
    }
    let store = store.open()?;
    let pruned = store.prune_with(&options)?;
    let mut out = std::io::stdout().lock();
    for digest in &pruned.blobs {
        writeln!(out, "deleted: {digest}")?;
    }
    for chain in &pruned.snapshots {
        writeln!(out, "deleted snapshot: sha256:{chain}")?;
    }
    writeln!(
        out,
        "Total reclaimed space: {} ({} blobs, {} cache records)",
        super::images::human_size(pruned.bytes),
        pruned.blobs.len(),
        pruned.records
    )?;
    Ok(Outcome::Success)
}

/// A size as docker's `--keep-storage` takes it: a number with an
/// optional decimal unit (`kB`, `MB`, `GB`, `TB`; `k`/`m`/`g`/`t` too),
/// or bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number and a unit like 5GB"))?;
    let scale: f64 = match unit.trim().trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        other => return Err(format!("invalid size {text:?}: unknown unit {other:?}")),
    };
    Ok((number * scale) as u64)
}

/// A Go-style duration: `300ms`, `90s`, `45m`, `24h`, `1h30m`; also
/// days (`7d`), which docker's filters accept.
pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        anyhow::bail!("empty duration");
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(|| format!("duration {text:?} lacks a unit (h, m, s)"))?;
        let (number, after) = rest.split_at(digits);
        let value: f64 = number
            .parse()
            .with_context(|| format!("bad number in duration {text:?}"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let seconds = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            other => anyhow::bail!("unknown unit {other:?} in duration {text:?}"),
        };
        total += Duration::from_secs_f64(value * seconds);
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
        assert_eq!(parse_size("1.5g").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("20kB").unwrap(), 20_000);
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("GB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("").is_err());
    }
}
