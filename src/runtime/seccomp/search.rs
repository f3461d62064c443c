//! Binary search in BPF: which of a few hundred ranges of 32-bit values
//! holds the accumulator, in ⌈log2 n⌉ comparisons.
//!
//! A filter is a function of the system call number, and of a few
//! arguments, that is constant over long runs of values: most numbers next
//! to an allowed call are allowed too, everything past the last call is
//! refused. [`Steps`] is that function, one entry per run; [`Steps::emit`]
//! lays it out as a balanced search tree, one `JGE` per inner node on the
//! first value of its upper half. The lower half follows the jump directly
//! and the upper half follows the lower, so every jump goes forward, and
//! the tree of n runs takes n − 1 jumps plus what the n leaves emit.
//!
//! A linear chain of `JEQ`s, one per call (what seccompiler and most
//! runtimes emit), costs a few hundred comparisons for the last calls; the
//! kernel walks it once per call number when it installs the filter (to
//! fill seccomp's constant-action cache, Linux 5.11) and again on every
//! call the cache cannot answer. The tree needs about seven.

use super::SeccompError;
use super::asm::Asm;
use super::bpf::JMP_JGE_K;
use std::collections::BTreeMap;

/// A step function of a 32-bit value: `(start, value)` pairs in increasing
/// order of start, the first at 0. Each value holds from its start up to
/// the next start, the last one up to `u32::MAX`; neighbours differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Steps<T>(Vec<(u32, T)>);

impl<T: Clone + PartialEq> Steps<T> {
    /// `points[v]` at each point `v`, `outside` everywhere else.
    pub fn new(outside: T, points: &BTreeMap<u32, T>) -> Self {
        let mut steps = Self(vec![(0, outside.clone())]);
        for (&point, value) in points {
            steps.push(point, value.clone());
            if let Some(after) = point.checked_add(1) {
                steps.push(after, outside.clone());
            }
        }
        steps
    }

    /// Starts `value` at `start`, at or after the last start so far.
    fn push(&mut self, start: u32, value: T) {
        // The previous point's trailing `outside`, or the initial one,
        // starts exactly here: this value replaces it.
        if self.0.last().is_some_and(|&(last, _)| last == start) {
            self.0.pop();
        }
        // A run that goes on is one step, not two.
        if self.0.last().is_some_and(|(_, last)| *last == value) {
            return;
        }
        self.0.push((start, value));
    }

    /// The search over the accumulator, each leaf written by `leaf`, which
    /// must end in a return or a jump.
    pub fn emit<F>(&self, asm: &mut Asm, leaf: &mut F) -> Result<(), SeccompError>
    where
        F: FnMut(&mut Asm, &T) -> Result<(), SeccompError>,
    {
        tree(asm, &self.0, leaf)
    }
}

/// One subtree: `steps` holds the runs the accumulator can still be in.
fn tree<T, F>(asm: &mut Asm, steps: &[(u32, T)], leaf: &mut F) -> Result<(), SeccompError>
where
    F: FnMut(&mut Asm, &T) -> Result<(), SeccompError>,
{
    match steps {
        [] => Ok(()),
        [(_, value)] => leaf(asm, value),
        _ => {
            let (lower, upper) = steps.split_at(steps.len() / 2);
            let (below, above) = (asm.label(), asm.label());
            asm.branch(JMP_JGE_K, upper[0].0, above, below);
            asm.place(below);
            tree(asm, lower, leaf)?;
            asm.place(above);
            tree(asm, upper, leaf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bpf::{LD_W_ABS, RET_K};
    use super::super::sim::{Data, trace, validate};
    use super::*;
    use seccompiler::sock_filter;

    fn steps(outside: u32, points: &[(u32, u32)]) -> Steps<u32> {
        Steps::new(outside, &points.iter().copied().collect())
    }

    #[test]
    fn runs_merge_and_cover_every_value() {
        assert_eq!(steps(9, &[]).0, [(0, 9)]);
        assert_eq!(
            steps(9, &[(0, 1), (1, 1), (2, 9), (5, 2), (u32::MAX, 3)]).0,
            [(0, 1), (2, 9), (5, 2), (6, 9), (u32::MAX, 3)]
        );
    }

    /// A program answering `points[nr]`, or 0, through the tree.
    fn program(points: &BTreeMap<u32, u32>) -> Vec<sock_filter> {
        let mut asm = Asm::default();
        asm.stmt(LD_W_ABS, 0);
        Steps::new(0, points)
            .emit(&mut asm, &mut |asm, &value| {
                asm.stmt(RET_K, value);
                Ok(())
            })
            .expect("emits");
        asm.finish().expect("lays out")
    }

    #[test]
    fn a_tree_too_big_for_short_jumps_still_answers_every_value() {
        // 1500 alternating runs: the upper halves of the top levels are
        // hundreds of instructions away and need trampolines.
        let points: BTreeMap<u32, u32> = (0..750).map(|i| (i * 3 + 1, 100 + i)).collect();
        let program = program(&points);
        validate(&program);
        assert!(program.len() > 3000, "{} instructions", program.len());
        let mut deepest = 0;
        for nr in 0..2400 {
            let outcome = trace(
                &program,
                &Data {
                    nr,
                    arch: 0,
                    args: [0; 6],
                },
            );
            let want = points.get(&(nr as u32)).copied().unwrap_or(0);
            assert_eq!(outcome.action, want, "nr {nr}");
            deepest = deepest.max(outcome.steps);
        }
        for nr in [u32::MAX, u32::MAX - 1, 1 << 31] {
            let outcome = trace(
                &program,
                &Data {
                    nr: i64::from(nr),
                    arch: 0,
                    args: [0; 6],
                },
            );
            assert_eq!(outcome.action, 0, "nr {nr:#x}");
        }
        // load + ⌈log2 1501⌉ = 11 comparisons + return, and a trampoline
        // on each of the few levels whose lower half is too long.
        assert!(deepest <= 1 + 11 + 1 + 4, "{deepest} steps");
    }
}
