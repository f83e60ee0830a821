//! Communication topologies for decentralized SGD: which nodes exchange parameters.
//!
//! The graphs follow Chen, Yuan, Zhang, Pan, Xu, Yin, "Accelerating Gossip SGD with Periodic
//! Global Averaging" (ICML 2021), §2 and §6 (ring, grid, exponential graphs), and Ying et al.,
//! "Exponential Graph is Provably Efficient for Decentralized Deep Training" (NeurIPS 2021) for the
//! one-peer exponential graph. Every graph here is undirected, so the mixing matrices built on it
//! are symmetric.

use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Which graph connects the nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TopologyConfig {
    /// Each node talks to its two ring neighbours.
    #[default]
    Ring,
    /// A 2-D torus: the most nearly square `rows × cols = n` grid with wrap-around.
    Torus,
    /// The static exponential graph: node i talks to i ± 2^k (mod n) for every 2^k < n.
    Exponential,
    /// The one-peer exponential graph (time-varying): at step t node i talks to one peer,
    /// i XOR 2^(t mod log₂ n); n must be a power of two. log₂ n rounds average exactly.
    OnePeerExponential,
    /// Node 0 is the hub, every other node talks only to it.
    Star,
    /// Everyone talks to everyone.
    Complete,
    /// Seeded random geometric graph: n points uniform in the unit square, an edge between two
    /// points closer than `radius`.
    RandomGeometric {
        /// Connection radius in the unit square.
        radius: f64,
        /// Seed of the point positions.
        seed: u64,
    },
    /// A user-given undirected edge list over nodes `0..n`.
    Edges {
        /// Pairs `[i, j]`; each is an undirected edge.
        edges: Vec<[usize; 2]>,
    },
    /// A user-given n × n mixing matrix (checked: symmetric, doubly stochastic, connected).
    Matrix {
        /// Row-major rows.
        weights: Vec<Vec<f64>>,
    },
}

impl TopologyConfig {
    /// A short name for reports (`ring`, `torus`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Torus => "torus",
            Self::Exponential => "exponential",
            Self::OnePeerExponential => "one-peer-exponential",
            Self::Star => "star",
            Self::Complete => "complete",
            Self::RandomGeometric { .. } => "random-geometric",
            Self::Edges { .. } => "edges",
            Self::Matrix { .. } => "matrix",
        }
    }

    /// The graphs of one period (one graph for static topologies, log₂ n for one-peer).
    /// `field` is this config's path, for errors. Matrix topologies have no graph here.
    pub fn graphs(&self, n: usize, field: &str) -> Result<Vec<Graph>> {
        if n < 2 {
            return Err(EngineError::config(
                field,
                format!("a topology needs at least 2 nodes, found {n}"),
            ));
        }
        let g = match self {
            Self::Ring => Graph::from_edges(n, (0..n).map(|i| (i, (i + 1) % n))),
            Self::Torus => {
                let rows = (1..=n)
                    .filter(|r| n.is_multiple_of(*r) && r * r <= n)
                    .max()
                    .unwrap_or(1);
                let cols = n / rows;
                let id = |r: usize, c: usize| (r % rows) * cols + (c % cols);
                let mut e = Vec::new();
                for r in 0..rows {
                    for c in 0..cols {
                        e.push((id(r, c), id(r, c + 1)));
                        e.push((id(r, c), id(r + 1, c)));
                    }
                }
                Graph::from_edges(n, e)
            }
            Self::Exponential => {
                let mut e = Vec::new();
                let mut hop = 1;
                while hop < n {
                    for i in 0..n {
                        e.push((i, (i + hop) % n));
                    }
                    hop *= 2;
                }
                Graph::from_edges(n, e)
            }
            Self::OnePeerExponential => {
                if !n.is_power_of_two() {
                    return Err(EngineError::config(
                        field,
                        format!("one-peer-exponential needs a power-of-two node count, found {n}"),
                    ));
                }
                let rounds = n.trailing_zeros() as usize;
                return Ok((0..rounds)
                    .map(|k| Graph::from_edges(n, (0..n).map(|i| (i, i ^ (1 << k)))))
                    .collect());
            }
            Self::Star => Graph::from_edges(n, (1..n).map(|i| (0, i))),
            Self::Complete => {
                Graph::from_edges(n, (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))))
            }
            Self::RandomGeometric { radius, seed } => {
                if !(radius.is_finite() && *radius > 0.0 && *radius <= 1.5) {
                    return Err(EngineError::config(
                        format!("{field}.radius"),
                        format!("expected a radius in (0, 1.5], found {radius}"),
                    ));
                }
                let mut rng = SplitMix64::for_purpose(*seed, "random geometric graph");
                let pts: Vec<(f64, f64)> =
                    (0..n).map(|_| (rng.next_f64(), rng.next_f64())).collect();
                let mut e = Vec::new();
                for i in 0..n {
                    for j in i + 1..n {
                        let (dx, dy) = (pts[i].0 - pts[j].0, pts[i].1 - pts[j].1);
                        if dx * dx + dy * dy < radius * radius {
                            e.push((i, j));
                        }
                    }
                }
                Graph::from_edges(n, e)
            }
            Self::Edges { edges } => {
                for (k, &[a, b]) in edges.iter().enumerate() {
                    if a >= n || b >= n {
                        return Err(EngineError::config(
                            format!("{field}.edges[{k}]"),
                            format!("expected node ids below {n}, found [{a}, {b}]"),
                        ));
                    }
                    if a == b {
                        return Err(EngineError::config(
                            format!("{field}.edges[{k}]"),
                            format!("a self-loop [{a}, {a}] is not an edge"),
                        ));
                    }
                }
                Graph::from_edges(n, edges.iter().map(|&[a, b]| (a, b)))
            }
            Self::Matrix { .. } => {
                return Err(EngineError::config(
                    field,
                    "a matrix topology has no separate graph (internal: use MixingMatrix::build)",
                ));
            }
        };
        Ok(vec![g])
    }
}

/// An undirected simple graph on nodes `0..n` as sorted adjacency lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// Neighbours of each node, sorted, without the node itself.
    pub neighbours: Vec<Vec<usize>>,
}

impl Graph {
    /// The graph with these undirected edges (duplicates and self-loops dropped).
    pub fn from_edges(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut sets = vec![BTreeSet::new(); n];
        for (a, b) in edges {
            if a != b && a < n && b < n {
                sets[a].insert(b);
                sets[b].insert(a);
            }
        }
        Self {
            neighbours: sets.into_iter().map(|s| s.into_iter().collect()).collect(),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.neighbours.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }

    /// The largest degree.
    pub fn max_degree(&self) -> usize {
        self.neighbours.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The first node (lowest id) that node 0 cannot reach, if any.
    pub fn unreachable_from_0(&self) -> Option<usize> {
        reachability(self.len(), |i| self.neighbours[i].clone())
    }
}

/// Breadth-first search from node 0; the lowest unreachable node, if any.
pub(crate) fn reachability(n: usize, neighbours: impl Fn(usize) -> Vec<usize>) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let mut seen = vec![false; n];
    let mut queue = std::collections::VecDeque::from([0]);
    seen[0] = true;
    while let Some(i) = queue.pop_front() {
        for j in neighbours(i) {
            if !seen[j] {
                seen[j] = true;
                queue.push_back(j);
            }
        }
    }
    seen.iter().position(|&s| !s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_of_the_standard_graphs() {
        let n = 16;
        let deg = |t: TopologyConfig| t.graphs(n, "t").unwrap()[0].max_degree();
        assert_eq!(deg(TopologyConfig::Ring), 2);
        assert_eq!(deg(TopologyConfig::Torus), 4); // 4x4
        assert_eq!(deg(TopologyConfig::Exponential), 7); // ±1, ±2, ±4, 8
        assert_eq!(deg(TopologyConfig::Star), 15);
        assert_eq!(deg(TopologyConfig::Complete), 15);
        let rounds = TopologyConfig::OnePeerExponential.graphs(n, "t").unwrap();
        assert_eq!(rounds.len(), 4);
        assert!(
            rounds
                .iter()
                .all(|g| g.neighbours.iter().all(|v| v.len() == 1))
        );
    }

    #[test]
    fn disconnected_edges_name_an_unreachable_node() {
        let t = TopologyConfig::Edges {
            edges: vec![[0, 1], [1, 2], [3, 4]],
        };
        let g = &t.graphs(5, "t").unwrap()[0];
        assert_eq!(g.unreachable_from_0(), Some(3));
        assert_eq!(
            Graph::from_edges(3, [(0, 1), (1, 2)]).unreachable_from_0(),
            None
        );
    }

    #[test]
    fn one_peer_needs_power_of_two() {
        let e = TopologyConfig::OnePeerExponential
            .graphs(12, "topology")
            .unwrap_err();
        assert!(e.to_string().contains("power-of-two"), "{e}");
    }
}
