//! The build graph: vertices (an op plus its inputs) in an arena, each
//! input an earlier vertex, so the graph is acyclic by construction.

use crate::op::Op;

/// A vertex's index in its [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VertexId(pub usize);

/// One step: what it does, on what, and how to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vertex {
    /// The work.
    pub op: Op,
    /// The vertices whose outputs it reads, all earlier in the graph.
    pub inputs: Vec<VertexId>,
    /// How progress names it (`[2/5] RUN make`). Not part of its digest.
    pub name: String,
    /// The 1-based source line it came from, for errors (not part of its
    /// digest).
    pub line: Option<usize>,
}

/// Vertices in an arena, inputs before users.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    vertices: Vec<Vertex>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a vertex. Panics if an input is not already in the graph: the
    /// only way to build a cycle, and a bug in the caller, not bad input.
    pub fn add(&mut self, vertex: Vertex) -> VertexId {
        let id = VertexId(self.vertices.len());
        assert!(
            vertex.inputs.iter().all(|input| input.0 < id.0),
            "a vertex's inputs must be added before it"
        );
        self.vertices.push(vertex);
        id
    }

    /// Adds `other`'s vertices after this graph's, their inputs shifted,
    /// and returns the shift: `other`'s `VertexId(i)` is `VertexId(shift +
    /// i)` here. Vertices equal to ones already here stay separate; the
    /// scheduler folds equal digests (a multi-platform build appends each
    /// platform's graph, and what the platforms share is solved once).
    pub fn append(&mut self, other: Graph) -> usize {
        let shift = self.vertices.len();
        self.vertices
            .extend(other.vertices.into_iter().map(|mut vertex| {
                for input in &mut vertex.inputs {
                    input.0 += shift;
                }
                vertex
            }));
        shift
    }

    /// The vertex `id`.
    pub fn vertex(&self, id: VertexId) -> &Vertex {
        &self.vertices[id.0]
    }

    /// All vertices with their ids, inputs first.
    pub fn iter(&self) -> impl Iterator<Item = (VertexId, &Vertex)> {
        self.vertices
            .iter()
            .enumerate()
            .map(|(i, v)| (VertexId(i), v))
    }

    /// Puts the vertices from the `first`-th that have a source line on
    /// line `line`: steps made from text that is not in the Dockerfile (an
    /// ONBUILD trigger of the base) are reported at the line that brought
    /// them in. Vertices without a line (the build context) keep none.
    pub fn attribute_to_line(&mut self, first: usize, line: usize) {
        for vertex in self.vertices.iter_mut().skip(first) {
            if vertex.line.is_some() {
                vertex.line = Some(line);
            }
        }
    }

    /// How many vertices there are.
    pub fn len(&self) -> usize {
        self.vertices.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }
}
