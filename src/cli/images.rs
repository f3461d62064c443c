//! `kiln images`: list the images in the store, one row per tag (and one
//! for each untagged image), as `docker images` does.

use super::Outcome;
use super::store::StoreArgs;
use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub(crate) struct ImagesArgs {
    /// Output format: a table for people, or JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print only the image IDs (short, one per row, as `docker images
    /// -q` prints them).
    #[arg(short, long, conflicts_with = "format")]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

/// One row: repository and tag of a name, or `<none>`.
struct Row {
    repository: String,
    tag: String,
    image: usize,
}

pub(crate) fn run(args: ImagesArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let found = store.images()?;
    // One unreadable entry must not hide the others: say what it is and
    // list the rest.
    for (name, error) in &found.broken {
        super::report::warning(&format!("cannot read image {name}: {error}"));
    }
    let images = found.list;
    let mut rows = Vec::new();
    for (i, image) in images.iter().enumerate() {
        if image.tags.is_empty() {
            rows.push(Row {
                repository: "<none>".into(),
                tag: "<none>".into(),
                image: i,
            });
        }
        for name in &image.tags {
            let (repository, tag) = match kiln_oci::Reference::parse(name) {
                Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
                // A name another tool wrote that docker's rules reject.
                Err(_) => (name.clone(), "<none>".to_string()),
            };
            rows.push(Row {
                repository,
                tag,
                image: i,
            });
        }
    }
    rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for row in &rows {
            writeln!(out, "{}", images[row.image].short_id())?;
        }
        return Ok(Outcome::Success);
    }
    match args.format {
        Format::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let image = &images[row.image];
                    serde_json::json!({
                        "repository": row.repository,
                        "tag": row.tag,
                        "id": image.id.as_str(),
                        "digest": image.manifest_descriptor.digest.as_str(),
                        "created": image.config.created,
                        "size": image.size(),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        Format::Table => {
            let width = rows
                .iter()
                .map(|r| r.repository.len())
                .max()
                .unwrap_or(0)
                .max(10);
            let tag_width = rows.iter().map(|r| r.tag.len()).max().unwrap_or(0).max(3);
            writeln!(
                out,
                "{:width$}   {:tag_width$}   IMAGE ID       CREATED                          SIZE",
                "REPOSITORY", "TAG"
            )?;
            for row in &rows {
                let image = &images[row.image];
                writeln!(
                    out,
                    "{:width$}   {:tag_width$}   {}   {:31}  {}",
                    row.repository,
                    row.tag,
                    image.short_id(),
                    image.config.created.as_deref().unwrap_or("-"),
                    human_size(image.size()),
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// Sizes as docker prints them (go-units `HumanSize`): decimal units and
/// three significant digits, `%.3g` style (`4.26MB`, `12.3MB`, `123MB`).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(12_345_678), "12.3MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(2_131_000), "2.13MB");
        assert_eq!(human_size(1_000_000), "1MB");
    }
}
