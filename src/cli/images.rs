//! `kiln images`: list the images in the store, one row per tag (and one
//! for each untagged image), as `docker images` does.

use super::Outcome;
use super::store::StoreArgs;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub(crate) struct ImagesArgs {
    /// Output format, as `docker images --format` takes it: `table` (the
    /// default), `json` (one object a line), or a template such as
    /// `{{.Repository}}:{{.Tag}}` (`table ` in front adds a header row;
    /// kiln adds the field `{{.Platforms}}`).
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    format: String,
    /// Print only the image IDs (short, one per row, as `docker images
    /// -q` prints them).
    #[arg(short, long, conflicts_with = "format")]
    quiet: bool,
}

/// One row: an image under one name (or `<none>`), with the fields
/// docker's formats name.
struct Row {
    repository: String,
    tag: String,
    id: String,
    digest: String,
    created_at: String,
    created_since: String,
    size: String,
    /// kiln's own field: the platforms, comma-separated.
    platforms: String,
}

impl Row {
    /// The field a template names (`Repository`, `Tag`, …).
    fn field(&self, name: &str) -> Option<&str> {
        Some(match name {
            "Repository" => &self.repository,
            "Tag" => &self.tag,
            "ID" => &self.id,
            "Digest" => &self.digest,
            "CreatedAt" => &self.created_at,
            "CreatedSince" => &self.created_since,
            "Size" | "VirtualSize" => &self.size,
            "Platforms" => &self.platforms,
            "Containers" | "SharedSize" | "UniqueSize" => "N/A",
            _ => return None,
        })
    }

    /// docker's `{{json .}}` of a row.
    fn json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for name in FIELDS {
            let value = self.field(name).unwrap_or_default();
            object.insert(name.to_string(), value.into());
        }
        serde_json::Value::Object(object)
    }
}

/// Every field, in the order docker's JSON lists them.
const FIELDS: [&str; 11] = [
    "Containers",
    "CreatedAt",
    "CreatedSince",
    "Digest",
    "ID",
    "Repository",
    "SharedSize",
    "Size",
    "Tag",
    "UniqueSize",
    "VirtualSize",
];

pub(crate) fn run(args: ImagesArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let store = store.open()?;
    let found = store.images()?;
    // One unreadable entry must not hide the others: say what it is and
    // list the rest.
    for (name, error) in &found.broken {
        super::report::warning(&format!("cannot read image {name}: {error}"));
    }
    let mut rows = Vec::new();
    for image in &found.list {
        let created = image
            .config
            .created
            .as_deref()
            .and_then(kiln_oci::parse_rfc3339);
        let platforms = store
            .platforms_of(image)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let row = |repository: String, tag: String| Row {
            platforms: platforms.clone(),
            repository,
            tag,
            id: image.short_id().to_string(),
            digest: image.manifest_descriptor.digest.to_string(),
            created_at: created.map_or_else(|| "N/A".into(), created_at),
            created_since: since(created),
            size: human_size(store.unpacked_size(image)),
        };
        if image.tags.is_empty() {
            rows.push(row("<none>".into(), "<none>".into()));
        }
        for name in &image.tags {
            let (repository, tag) = match kiln_oci::Reference::parse(name) {
                Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
                // A name another tool wrote that docker's rules reject.
                Err(_) => (name.clone(), "<none>".to_string()),
            };
            rows.push(row(repository, tag));
        }
    }
    rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for row in &rows {
            writeln!(out, "{}", row.id)?;
        }
        return Ok(Outcome::Success);
    }
    match args.format.as_str() {
        "table" => {
            let template = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
            write_template(&mut out, template, &rows)?;
        }
        "json" => {
            for row in &rows {
                writeln!(out, "{}", row.json())?;
            }
        }
        template => write_template(&mut out, template, &rows)?,
    }
    Ok(Outcome::Success)
}

/// One piece of a template: text, a field, or the whole row as JSON.
enum Piece<'t> {
    Text(String),
    Field(&'t str),
    Json,
}

/// Parses the subset of Go templates `docker images --format` is used
/// with: `{{.Field}}`, `{{json .}}`, `\t` and `\n` escapes, and a `table `
/// prefix (returned as the flag).
fn parse_template(template: &str) -> anyhow::Result<(bool, Vec<Piece<'_>>)> {
    let (table, body) = match template.strip_prefix("table") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            (true, rest.trim_start())
        }
        _ => (false, template),
    };
    let unescape = |text: &str| text.replace("\\t", "\t").replace("\\n", "\n");
    let mut pieces = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        pieces.push(Piece::Text(unescape(&rest[..open])));
        let close = rest[open..]
            .find("}}")
            .map(|i| open + i)
            .ok_or_else(|| anyhow::anyhow!("template {template:?}: unclosed action"))?;
        let action = rest[open + 2..close].trim();
        match action {
            "json ." => pieces.push(Piece::Json),
            _ => match action.strip_prefix('.') {
                Some(name) if FIELDS.contains(&name) || name == "Platforms" => {
                    pieces.push(Piece::Field(name))
                }
                _ => anyhow::bail!(
                    "template {template:?}: cannot show {{{{{action}}}}}: the fields are {}, .Platforms, or {{{{json .}}}}",
                    FIELDS.map(|f| format!(".{f}")).join(", ")
                ),
            },
        }
        rest = &rest[close + 2..];
    }
    pieces.push(Piece::Text(unescape(rest)));
    Ok((table, pieces))
}

/// Writes `rows` through `template`; a table's columns are aligned as
/// docker's tabwriter aligns them ([`write_table`]) under a header.
fn write_template(out: &mut impl Write, template: &str, rows: &[Row]) -> anyhow::Result<()> {
    let (table, pieces) = parse_template(template)?;
    let render = |row: Option<&Row>| -> String {
        pieces
            .iter()
            .map(|piece| match (piece, row) {
                (Piece::Text(text), _) => text.clone(),
                (Piece::Field(name), Some(row)) => row.field(name).unwrap_or_default().to_string(),
                (Piece::Field(name), None) => header(name).to_string(),
                (Piece::Json, Some(row)) => row.json().to_string(),
                (Piece::Json, None) => String::new(),
            })
            .collect()
    };
    let mut lines: Vec<String> = Vec::new();
    if table {
        lines.push(render(None));
    }
    lines.extend(rows.iter().map(|row| render(Some(row))));
    if !table {
        for line in lines {
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    Ok(write_table(out, &cells)?)
}

/// Writes `rows` (a header first) as a table aligned as docker's
/// tabwriter aligns them (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`):
/// each column but the last padded three blanks past its widest cell, to
/// at least ten characters; no blanks at the end of a line.
pub(crate) fn write_table<S: AsRef<str>>(
    out: &mut impl Write,
    rows: &[Vec<S>],
) -> std::io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.as_ref().chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell = cell.as_ref();
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = (widths[c] + 3).max(10) - cell.chars().count();
                line.push_str(&" ".repeat(pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A column's header, as docker names it.
fn header(field: &str) -> &'static str {
    match field {
        "Repository" => "REPOSITORY",
        "Tag" => "TAG",
        "ID" => "IMAGE ID",
        "Digest" => "DIGEST",
        "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Size" => "SIZE",
        "VirtualSize" => "VIRTUAL SIZE",
        "SharedSize" => "SHARED SIZE",
        "UniqueSize" => "UNIQUE SIZE",
        "Containers" => "CONTAINERS",
        "Platforms" => "PLATFORMS",
        _ => "",
    }
}

/// How long ago an RFC 3339 time was, as docker says it; `N/A` without
/// one.
pub(crate) fn created_since(created: Option<&str>) -> String {
    since(created.and_then(kiln_oci::parse_rfc3339))
}

/// How long ago a time (seconds since the epoch) was, as docker says it;
/// `N/A` without one.
fn since(created: Option<i64>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    created.map_or_else(|| "N/A".into(), |c| ago(now - c))
}

/// A creation time as docker's `CreatedAt` shows it (Go's `time.Time`
/// printed in UTC).
fn created_at(unix: i64) -> String {
    let text = kiln_oci::format_rfc3339_nano(unix, 0).unwrap_or_default();
    // `2026-12-07T14:06:54Z` → `2026-12-07 14:06:54 +0000 UTC`
    format!(
        "{} +0000 UTC",
        text.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// How long ago, as docker says it (go-units `HumanDuration` + " ago").
fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    let (minutes, hours) = (s / 60, (s + 1800) / 3600);
    let text = match s {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        2..=59 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".to_string(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    };
    format!("{text} ago")
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
    use super::*;

    #[test]
    fn durations_like_docker() {
        let cases = [
            (0, "Less than a second ago"),
            (1, "1 second ago"),
            (59, "59 seconds ago"),
            (60, "About a minute ago"),
            (119, "About a minute ago"),
            (120, "2 minutes ago"),
            (3599, "59 minutes ago"),
            (3600, "About an hour ago"),
            (5400, "2 hours ago"),
            (47 * 3600, "47 hours ago"),
            (48 * 3600, "2 days ago"),
            (14 * 86400, "2 weeks ago"),
            (60 * 86400, "2 months ago"),
            (2 * 365 * 86400, "2 years ago"),
        ];
        for (seconds, want) in cases {
            assert_eq!(ago(seconds), want, "{seconds}");
        }
    }

    #[test]
    fn templates_take_fields_json_and_tables() {
        let row = Row {
            repository: "busybox".into(),
            tag: "local".into(),
            id: "6d196706b02b".into(),
            digest: "sha256:ab".into(),
            created_at: created_at(1_700_000_000),
            created_since: "5 minutes ago".into(),
            size: "2.13MB".into(),
            platforms: "linux/amd64,linux/arm64".into(),
        };
        let show = |template: &str| {
            let mut out = Vec::new();
            write_template(&mut out, template, std::slice::from_ref(&row))
                .map(|()| String::from_utf8(out).unwrap())
        };
        assert_eq!(show("{{.Repository}}:{{.Tag}}").unwrap(), "busybox:local\n");
        assert_eq!(
            show("table {{.Platforms}}").unwrap(),
            "PLATFORMS\nlinux/amd64,linux/arm64\n"
        );
        assert_eq!(
            show("table {{.ID}}\\t{{ .Size }}").unwrap(),
            "IMAGE ID       SIZE\n6d196706b02b   2.13MB\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(show("{{json .}}").unwrap().trim()).unwrap();
        assert_eq!(json["Repository"], "busybox");
        assert_eq!(json["CreatedAt"], "2023-11-14 22:13:20 +0000 UTC");
        let err = show("{{.Nope}}").unwrap_err().to_string();
        assert!(
            err.contains("{{.Nope}}") && err.contains(".Repository"),
            "{err}"
        );
    }

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
