//! `kiln build --explain`: for every step that ran, why its cache missed,
//! by comparing what its key was made of with the same step of the last
//! build of the same name (tags and target): the instruction, an
//! environment variable, a build argument, the base image, a mount, the
//! files it read — or the result of the step it runs on.
//!
//! Steps are matched as [`crate::worker::previous`] matches them.

use crate::worker::previous::find;
use kiln_cache::{Trail, TrailStep};
use kiln_solver::{Graph, KeyPart, Op, VertexId};
use std::collections::{BTreeMap, BTreeSet};

/// The reason given for a changed selection of the build context, which
/// the list of changed files replaces when both builds listed them.
const CONTEXT_FILES: &str = "the files it reads from the build context changed";

/// What a vertex was, for the explanation.
pub(super) struct RanStep<'a> {
    /// The vertex id.
    pub id: usize,
    /// Its trail entry.
    pub step: &'a TrailStep,
    /// Whether it ran (a cache hit needs no explanation).
    pub ran: bool,
    /// Whether `--no-cache` or `--no-cache-filter` kept it from its cache:
    /// then that is the reason, whatever else changed (the steps it runs
    /// on ran again too, and made new layers).
    pub bypassed: bool,
}

/// One line per step that ran: `name: reason`; and per step whose result
/// came from a `--cache-from` cache (`imported`: vertex id → the cache),
/// `name: CACHED from the imported cache SOURCE`.
pub(super) fn explain(
    graph: &Graph,
    steps: &[RanStep<'_>],
    previous: Option<&Trail>,
    options: &str,
    imported: &BTreeMap<usize, String>,
) -> Vec<String> {
    let ran: BTreeSet<usize> = steps.iter().filter(|s| s.ran).map(|s| s.id).collect();
    let mut lines: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            let source = imported.get(&s.id)?;
            Some(format!(
                "{}: CACHED from the imported cache {source}",
                s.step.name
            ))
        })
        .collect();
    for current in steps.iter().filter(|s| s.ran) {
        let name = &current.step.name;
        let reason = match previous {
            _ if current.bypassed => format!("the cache was bypassed ({options})"),
            None => "no earlier build of this name to compare with".to_string(),
            Some(trail) => match find(trail, &current.step.name) {
                None => "a new step (not in the last build)".to_string(),
                Some(before) if before.key == current.step.key => {
                    // Same key, not bypassed, yet it ran: the record is lost.
                    "same key as last time, but its cached result is gone (pruned?)".to_string()
                }
                Some(before) => differences(graph, current, before, &ran, trail),
            },
        };
        lines.push(format!("{name}: {reason}"));
    }
    lines
}

/// What differs between two trail entries of the same step.
fn differences(
    graph: &Graph,
    current: &RanStep<'_>,
    before: &TrailStep,
    ran: &BTreeSet<usize>,
    previous: &Trail,
) -> String {
    let mut reasons = Vec::new();
    let now = &current.step;
    let labels: BTreeSet<&String> = now.parts.keys().chain(before.parts.keys()).collect();
    for label in labels {
        let (old, new) = (before.parts.get(label), now.parts.get(label));
        if old == new {
            continue;
        }
        reasons.push(describe_part(
            graph, current.id, label, old, new, ran, previous,
        ));
    }
    // Context selections list their files; name them instead of the
    // selection digests. A step without a list (cached with no trail to
    // take one from, or whose context changed while it was listed) leaves
    // the selection's own reason.
    let files = match before.files.is_empty() || now.files.is_empty() {
        true => String::new(),
        false => file_changes(&before.files, &now.files),
    };
    if !files.is_empty() {
        reasons.retain(|r| r != CONTEXT_FILES);
        reasons.push(files);
    }
    if reasons.is_empty() {
        return "its key changed, but no recorded part did".to_string();
    }
    reasons.join("; ")
}

fn describe_part(
    graph: &Graph,
    id: usize,
    label: &str,
    old: Option<&String>,
    new: Option<&String>,
    ran: &BTreeSet<usize>,
    previous: &Trail,
) -> String {
    let show = |v: Option<&String>| match v {
        Some(v) => format!("{:?}", shorten(v)),
        None => "(none)".to_string(),
    };
    let vertex = graph.vertex(VertexId(id));
    let input_name = |index: usize| {
        vertex
            .inputs
            .get(index)
            .map(|input| graph.vertex(*input).name.clone())
    };
    match KeyPart::parse(label) {
        Some(KeyPart::Input(index)) => {
            let what = input_name(index).unwrap_or_else(|| format!("input {index}"));
            let input_ran = vertex.inputs.get(index).is_some_and(|i| ran.contains(&i.0));
            // A base image: name the digests.
            if let Some(Op::Image(image)) = vertex.inputs.get(index).map(|i| &graph.vertex(*i).op) {
                let was = find(previous, &what)
                    .and_then(|step| step.parts.get(&KeyPart::ImageDigest.to_string()))
                    .map_or("(unknown)".to_string(), |d| d.clone());
                if was != image.digest.as_str() {
                    return format!(
                        "the base image {} changed from {was} to {}",
                        image.reference, image.digest
                    );
                }
            }
            match input_ran {
                true => format!("the file system it starts from changed: `{what}` ran again"),
                false => format!("the file system it starts from changed: `{what}` is different"),
            }
        }
        Some(KeyPart::Files { input, .. }) => match input_name(input) {
            Some(name) if name.starts_with("[internal]") => CONTEXT_FILES.to_string(),
            Some(name) => format!("the files it reads from `{name}` changed"),
            None => "the files it reads changed".to_string(),
        },
        Some(KeyPart::Env(name)) => format!("{name} changed from {} to {}", show(old), show(new)),
        _ => format!("{label} changed from {} to {}", show(old), show(new)),
    }
}

/// Added, removed and modified files, a few named.
fn file_changes(before: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> String {
    const SHOWN: usize = 5;
    let mut changes = Vec::new();
    for (path, digest) in now {
        match before.get(path) {
            None => changes.push(format!("{path} (added)")),
            Some(old) if old != digest => changes.push(format!("{path} (modified)")),
            _ => {}
        }
    }
    for path in before.keys().filter(|p| !now.contains_key(*p)) {
        changes.push(format!("{path} (removed)"));
    }
    match changes.len() {
        0 => String::new(),
        n if n <= SHOWN => format!("files changed: {}", changes.join(", ")),
        n => format!("{n} files changed: {}, …", changes[..SHOWN].join(", ")),
    }
}

/// Long values (a script) cut for one line.
fn shorten(value: &str) -> String {
    const MAX: usize = 80;
    match value.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_changes_name_added_modified_and_removed() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let before = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let now = map(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(
            file_changes(&before, &now),
            "files changed: b (modified), d (added), c (removed)"
        );
        assert_eq!(file_changes(&before, &before), "");
    }
}
