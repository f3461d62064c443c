//! What a solve runs, decided before anything runs: the vertices reachable
//! from the targets, folded by digest, with the edges between the ones that
//! run.

use crate::graph::{Graph, VertexId};
use kiln_oci::Digest;
use std::collections::HashMap;

/// The vertices to run and their dependencies. Vectors are indexed by
/// vertex id; entries of vertices that do not run are empty.
#[derive(Debug)]
pub(super) struct Plan {
    /// Whether a target needs the vertex.
    pub reachable: Vec<bool>,
    /// The vertex whose job produces this vertex's output: the first
    /// reachable vertex with its digest (itself, for those that run).
    /// Meaningless for unreachable vertices.
    pub solver: Vec<VertexId>,
    /// For each vertex that runs: how many of its input edges are unsolved.
    pub pending: Vec<usize>,
    /// For each vertex that runs: the vertices that run and read its
    /// output, once per input edge (so `pending` counts down to zero even
    /// when a vertex reads the same input twice).
    pub users: Vec<Vec<VertexId>>,
    /// For each vertex that runs: the other reachable vertices with its
    /// digest, which reuse its output.
    pub duplicates: Vec<Vec<VertexId>>,
    /// The vertices that run and have no inputs, ascending.
    pub roots: Vec<VertexId>,
}

impl Plan {
    /// Plans `targets` of `graph`, whose vertex digests are `digests`.
    /// Panics if a target is not in the graph (a bug in the caller, like
    /// [`Graph::add`]'s unknown inputs).
    pub fn new(graph: &Graph, digests: &[Digest], targets: &[VertexId]) -> Plan {
        let n = graph.len();
        let mut reachable = vec![false; n];
        for target in targets {
            assert!(target.0 < n, "target {} is not in the graph", target.0);
            reachable[target.0] = true;
        }
        // Inputs come before their users, so one pass from the end marks
        // every vertex a target needs.
        for id in (0..n).rev().map(VertexId) {
            if reachable[id.0] {
                for input in &graph.vertex(id).inputs {
                    reachable[input.0] = true;
                }
            }
        }

        let mut plan = Plan {
            reachable,
            solver: (0..n).map(VertexId).collect(),
            pending: vec![0; n],
            users: vec![Vec::new(); n],
            duplicates: vec![Vec::new(); n],
            roots: Vec::new(),
        };
        // Ascending, so the first vertex with a digest runs and later ones
        // reuse it. Equal digests mean equal input digests, so a duplicate's
        // inputs are folded onto the same vertices as the original's.
        let mut first: HashMap<&Digest, VertexId> = HashMap::new();
        for (id, vertex) in graph.iter() {
            if !plan.reachable[id.0] {
                continue;
            }
            let original = *first.entry(&digests[id.0]).or_insert(id);
            plan.solver[id.0] = original;
            if original != id {
                plan.duplicates[original.0].push(id);
                continue;
            }
            for input in &vertex.inputs {
                let input = plan.solver[input.0];
                plan.users[input.0].push(id);
                plan.pending[id.0] += 1;
            }
            if vertex.inputs.is_empty() {
                plan.roots.push(id);
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::Plan;
    use crate::graph::{Graph, Vertex, VertexId};
    use crate::op::{Exec, NetworkMode, Op};

    fn exec(arg: &str) -> Op {
        Op::Exec(Exec {
            args: vec![arg.to_string()],
            env: vec![],
            cwd: "/".into(),
            user: String::new(),
            network: NetworkMode::Default,
            insecure: false,
            mounts: vec![],
            proxy_env: vec![],
            devices: vec![],
            platform: "linux/amd64".into(),
        })
    }

    fn add(graph: &mut Graph, arg: &str, inputs: &[usize]) -> VertexId {
        graph.add(Vertex {
            op: exec(arg),
            inputs: inputs.iter().map(|&i| VertexId(i)).collect(),
            name: arg.to_string(),
            line: None,
        })
    }

    #[test]
    fn folds_duplicates_and_skips_unreachable() {
        let mut g = Graph::new();
        let a = add(&mut g, "a", &[]); // 0
        let a2 = add(&mut g, "a", &[]); // 1: same as 0
        let b = add(&mut g, "b", &[a2.0, a.0]); // 2: reads a twice
        let unused = add(&mut g, "unused", &[b.0]); // 3
        let c = add(&mut g, "c", &[]); // 4
        let plan = Plan::new(&g, &g.digests(), &[b, c]);

        assert_eq!(plan.reachable, [true, true, true, false, true]);
        assert_eq!(plan.solver[a2.0], a);
        assert_eq!(plan.duplicates[a.0], [a2]);
        assert_eq!(plan.users[a.0], [b, b]);
        assert_eq!(plan.pending[b.0], 2);
        assert!(plan.users[b.0].is_empty(), "{unused:?} is not reachable");
        assert_eq!(plan.roots, [a, c]);
    }

    #[test]
    #[should_panic(expected = "not in the graph")]
    fn unknown_target_is_a_bug() {
        Plan::new(&Graph::new(), &[], &[VertexId(0)]);
    }
}
