//! The last build of the same name (tags and target), as its trail
//! recorded it: which of its steps corresponds to a step of this build.
//! `--explain` compares the two steps' keys; a file step that runs again
//! takes unchanged files from the earlier step's result.
//!
//! Steps are matched by name first (`[build 2/5] RUN make`), then by stage
//! and instruction text (a step moved by an inserted line), then by stage
//! and position (an edited instruction).

use super::copy::Earlier;
use super::layers::Output;
use super::vertex::Worker;
use kiln_cache::{Store, Trail, TrailStep};
use kiln_solver::Job;
use std::sync::OnceLock;

/// The last trail of a name, read when first asked for: a large context's
/// trail holds a digest per file, and an unchanged rebuild needs none.
#[derive(Debug, Default)]
pub(crate) struct PreviousTrail {
    name: Option<String>,
    loaded: OnceLock<Option<Trail>>,
}

impl PreviousTrail {
    /// The trail saved under `name` (none: there is no earlier build).
    pub(crate) fn of(name: Option<String>) -> PreviousTrail {
        PreviousTrail {
            name,
            loaded: OnceLock::new(),
        }
    }

    /// The trail, read from `store` the first time.
    pub(crate) fn get(&self, store: &Store) -> Option<&Trail> {
        self.loaded
            .get_or_init(|| store.trail(self.name.as_deref()?))
            .as_ref()
    }
}

impl Worker {
    /// The result of the step of the last build that corresponds to
    /// `job`, if its record is still complete: the snapshot it added and
    /// what the trail knows of its files.
    pub(super) fn earlier_result(&self, job: &Job<'_, Output>) -> Option<Earlier<'_>> {
        let trail = self.cache.previous.get(&self.store)?;
        let step = find(trail, &job.vertex.name)?;
        let record = self.store.peek_record(step.key.as_ref()?)?;
        let layer = record.layers.last().filter(|l| !l.empty)?;
        Some(Earlier {
            snapshot: self.store.snapshot_path(&layer.chain_id),
            contents: &step.written,
        })
    }
}

/// The step of `trail` that corresponds to `name`.
pub(crate) fn find<'t>(trail: &'t Trail, name: &str) -> Option<&'t TrailStep> {
    if let Some(step) = trail.steps.iter().find(|s| s.name == name) {
        return Some(step);
    }
    let (stage, position, text) = split(name)?;
    trail
        .steps
        .iter()
        .find(|s| split(&s.name).is_some_and(|(st, _, tx)| st == stage && tx == text))
        .or_else(|| {
            trail
                .steps
                .iter()
                .find(|s| split(&s.name).is_some_and(|(st, pos, _)| st == stage && pos == position))
        })
}

/// `[stage 2/5] TEXT` → (`stage`, `2`, `TEXT`).
fn split(name: &str) -> Option<(&str, &str, &str)> {
    let rest = name.strip_prefix('[')?;
    let (head, text) = rest.split_once("] ")?;
    let (stage, count) = match head.rsplit_once(' ') {
        Some((stage, count)) => (stage, count),
        None => ("", head),
    };
    let (position, _) = count.split_once('/')?;
    Some((stage, position, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_stage_position_and_text() {
        assert_eq!(
            split("[build 2/5] RUN make"),
            Some(("build", "2", "RUN make"))
        );
        assert_eq!(split("[3/4] COPY . /"), Some(("", "3", "COPY . /")));
        assert_eq!(split("[internal] load build context"), None);
    }

    #[test]
    fn steps_are_found_by_name_then_text_then_position() {
        let step = |name: &str| TrailStep {
            name: name.to_string(),
            ..TrailStep::default()
        };
        let trail = Trail {
            name: "t".into(),
            steps: vec![
                step("[1/3] FROM base"),
                step("[2/3] RUN a"),
                step("[3/3] RUN b"),
            ],
        };
        // An inserted line renumbers: found by text.
        assert_eq!(find(&trail, "[3/4] RUN a").unwrap().name, "[2/3] RUN a");
        // An edited instruction: found by position.
        assert_eq!(find(&trail, "[3/3] RUN c").unwrap().name, "[3/3] RUN b");
    }
}
