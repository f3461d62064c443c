//! `kiln history IMAGE`: the steps behind an image's layers, newest first,
//! as `docker history` shows them: IMAGE (the image's ID on the newest
//! entry, `<missing>` below, as docker shows layers built elsewhere),
//! CREATED, CREATED BY (cut to 45 characters unless `--no-trunc`), SIZE
//! (the layer's unpacked size; `0B` for a step that made no layer) and
//! COMMENT.

use super::Outcome;
use super::images::{created_since, human_size, write_table};
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Show whole commands.
    #[arg(long)]
    no_trunc: bool,
    /// Print only the IMAGE column.
    #[arg(short, long)]
    quiet: bool,
    /// The image: a name, a digest or an ID (prefix).
    image: String,
}

/// docker's width for CREATED BY.
const CREATED_BY_WIDTH: usize = 45;

pub(crate) fn run(args: HistoryArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let image = store.find_image(&args.image)?;
    let mut sizes = store.layer_sizes(&image).into_iter();
    // Oldest first, each with the size of the layer it made.
    let mut rows: Vec<[String; 5]> = image
        .config
        .history
        .iter()
        .map(|entry| {
            let size = match entry.empty_layer {
                true => 0,
                false => sizes.next().unwrap_or(0),
            };
            let mut created_by = entry.created_by.replace(['\t', '\n'], " ");
            if !args.no_trunc && created_by.chars().count() > CREATED_BY_WIDTH {
                created_by = created_by.chars().take(CREATED_BY_WIDTH - 1).collect();
                created_by.push('…');
            }
            [
                "<missing>".to_string(),
                created_since(entry.created.as_deref()),
                created_by,
                human_size(size),
                entry.comment.clone(),
            ]
        })
        .collect();
    rows.reverse();
    let id = match args.no_trunc {
        true => image.id.to_string(),
        false => image.short_id().to_string(),
    };
    match rows.first_mut() {
        Some(newest) => newest[0] = id,
        None => rows.push([id, "N/A".into(), String::new(), "0B".into(), String::new()]),
    }
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for row in &rows {
            writeln!(out, "{}", row[0])?;
        }
        return Ok(Outcome::Success);
    }
    let header = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"].map(String::from);
    let table: Vec<Vec<String>> = std::iter::once(header).chain(rows).map(Vec::from).collect();
    write_table(&mut out, &table)?;
    Ok(Outcome::Success)
}
