//! Mixing matrices W for gossip averaging and their spectral gap.
//!
//! Chen, Yuan, Zhang, Pan, Xu, Yin, "Accelerating Gossip SGD with Periodic Global Averaging"
//! (ICML 2021), Assumption 3: W is symmetric and doubly stochastic, and
//! β = ‖W − 11ᵀ/n‖₂ ∈ [0, 1) measures how slowly gossip mixes (Gossip SGD's bounds grow with
//! 1/(1 − β)). β is computed here with a cyclic Jacobi eigen-solver in f64 on the CPU.

use super::eigen::symmetric_eigenvalues;
use super::topology::{Graph, TopologyConfig, reachability};
use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};

/// How edge weights are chosen from the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightScheme {
    /// Every edge weight 1/(d_max + 1), the rest on the diagonal (1/(d+1) on regular graphs,
    /// e.g. 1/3 on a ring).
    #[default]
    Uniform,
    /// Metropolis–Hastings: W_ij = 1/(1 + max(d_i, d_j)) on edges, the rest on the diagonal.
    MetropolisHastings,
}

/// Tolerance of the symmetry and row/column-sum checks on user matrices.
pub const STOCHASTIC_TOL: f64 = 1e-9;

/// The mixing matrices of one period (one for static topologies) with their spectra.
#[derive(Clone, Debug, PartialEq)]
pub struct MixingMatrix {
    /// Number of nodes.
    pub n: usize,
    /// Row-major n × n matrices, used in turn at steps 0, 1, 2, …
    pub rounds: Vec<Vec<f64>>,
    /// β = ‖W − 11ᵀ/n‖₂ of each round.
    pub beta_per_round: Vec<f64>,
    /// Messages each node sends in each round (its degree, averaged over nodes).
    pub messages_per_round: Vec<f64>,
}

impl MixingMatrix {
    /// Builds and checks the mixing matrices of `topology` for `n` nodes. `field` is the
    /// topology's config path, for errors.
    pub fn build(
        topology: &TopologyConfig,
        scheme: WeightScheme,
        n: usize,
        field: &str,
    ) -> Result<Self> {
        if n < 2 {
            return Err(EngineError::config(
                "nodes",
                format!("expected at least 2 nodes, found {n}"),
            ));
        }
        let rounds = match topology {
            TopologyConfig::Matrix { weights } => {
                if weights.len() != n || weights.iter().any(|r| r.len() != n) {
                    return Err(EngineError::config(
                        format!("{field}.weights"),
                        format!(
                            "expected a {n} x {n} matrix (one row per node), found {} rows of \
                             lengths {:?}",
                            weights.len(),
                            weights.iter().map(Vec::len).collect::<Vec<_>>()
                        ),
                    ));
                }
                let w: Vec<f64> = weights.iter().flatten().copied().collect();
                check_doubly_stochastic(&w, n, &format!("{field}.weights"))?;
                vec![w]
            }
            _ => {
                let graphs = topology.graphs(n, field)?;
                check_connected(&graphs, n, field)?;
                graphs.iter().map(|g| weights_of(g, scheme)).collect()
            }
        };
        if let TopologyConfig::Matrix { .. } = topology {
            let w = &rounds[0];
            if let Some(node) = reachability(n, |i| {
                (0..n)
                    .filter(|&j| j != i && w[i * n + j].abs() > 0.0)
                    .collect()
            }) {
                return Err(EngineError::config(
                    format!("{field}.weights"),
                    format!(
                        "the graph of the matrix is disconnected: node {node} cannot be reached from node 0"
                    ),
                ));
            }
        }
        let beta_per_round = rounds.iter().map(|w| beta(w, n)).collect();
        let messages_per_round = rounds
            .iter()
            .map(|w| {
                let links = (0..n)
                    .flat_map(|i| (0..n).map(move |j| (i, j)))
                    .filter(|&(i, j)| i != j && w[i * n + j].abs() > 0.0)
                    .count();
                links as f64 / n as f64
            })
            .collect();
        Ok(Self {
            n,
            rounds,
            beta_per_round,
            messages_per_round,
        })
    }

    /// β of a static topology; for a time-varying one, the per-round rate of the product over a
    /// period, ‖W_{τ−1}⋯W_0 − 11ᵀ/n‖₂^{1/τ} (0 for one-peer exponential: a period averages
    /// exactly).
    pub fn beta(&self) -> f64 {
        if self.rounds.len() == 1 {
            return self.beta_per_round[0];
        }
        let n = self.n;
        let mut p = identity(n);
        for w in &self.rounds {
            p = matmul(w, &p, n);
        }
        // The product of symmetric commuting matrices here is symmetric; symmetrize for safety.
        let sym: Vec<f64> = (0..n * n)
            .map(|k| 0.5 * (p[k] + p[(k % n) * n + k / n]))
            .collect();
        let b = beta(&sym, n);
        if b < 1e-12 {
            0.0
        } else {
            b.powf(1.0 / self.rounds.len() as f64)
        }
    }

    /// The matrix used at step `t`.
    pub fn at(&self, t: u64) -> &[f64] {
        &self.rounds[(t % self.rounds.len() as u64) as usize]
    }

    /// Mean messages a node sends per gossip round over a period.
    pub fn mean_messages(&self) -> f64 {
        self.messages_per_round.iter().sum::<f64>() / self.messages_per_round.len() as f64
    }
}

fn check_connected(graphs: &[Graph], n: usize, field: &str) -> Result<()> {
    let node = reachability(n, |i| {
        let mut v: Vec<usize> = graphs
            .iter()
            .flat_map(|g| g.neighbours[i].iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    });
    match node {
        Some(node) => Err(EngineError::config(
            field,
            format!("the topology is disconnected: node {node} cannot be reached from node 0"),
        )),
        None => Ok(()),
    }
}

/// The weights of `g` under `scheme` (symmetric and doubly stochastic by construction).
pub fn weights_of(g: &Graph, scheme: WeightScheme) -> Vec<f64> {
    let n = g.len();
    let dmax = g.max_degree() as f64;
    let mut w = vec![0.0; n * n];
    for i in 0..n {
        for &j in &g.neighbours[i] {
            w[i * n + j] = match scheme {
                WeightScheme::Uniform => 1.0 / (dmax + 1.0),
                WeightScheme::MetropolisHastings => {
                    1.0 / (1.0 + g.neighbours[i].len().max(g.neighbours[j].len()) as f64)
                }
            };
        }
        let off: f64 = g.neighbours[i].iter().map(|&j| w[i * n + j]).sum();
        w[i * n + i] = 1.0 - off;
    }
    w
}

/// Checks that `w` (n × n, row-major) is non-negative, symmetric and doubly stochastic.
pub fn check_doubly_stochastic(w: &[f64], n: usize, field: &str) -> Result<()> {
    for i in 0..n {
        for j in 0..n {
            let v = w[i * n + j];
            if !(v.is_finite() && v >= 0.0) {
                return Err(EngineError::config(
                    field,
                    format!("expected non-negative finite weights, found {v} at [{i}][{j}]"),
                ));
            }
            if (v - w[j * n + i]).abs() > STOCHASTIC_TOL {
                return Err(EngineError::config(
                    field,
                    format!(
                        "expected a symmetric matrix, found [{i}][{j}] = {v} but [{j}][{i}] = {}",
                        w[j * n + i]
                    ),
                ));
            }
        }
        let row: f64 = w[i * n..(i + 1) * n].iter().sum();
        if (row - 1.0).abs() > STOCHASTIC_TOL {
            return Err(EngineError::config(
                field,
                format!("the matrix is not doubly stochastic: row {i} sums to {row}, expected 1"),
            ));
        }
        let col: f64 = (0..n).map(|k| w[k * n + i]).sum();
        if (col - 1.0).abs() > STOCHASTIC_TOL {
            return Err(EngineError::config(
                field,
                format!(
                    "the matrix is not doubly stochastic: column {i} sums to {col}, expected 1"
                ),
            ));
        }
    }
    Ok(())
}

/// β = ‖W − 11ᵀ/n‖₂ for a symmetric W: the largest |eigenvalue| of W − 11ᵀ/n.
pub fn beta(w: &[f64], n: usize) -> f64 {
    let inv = 1.0 / n as f64;
    let centred: Vec<f64> = w.iter().map(|v| v - inv).collect();
    symmetric_eigenvalues(&centred, n)
        .into_iter()
        .fold(0.0, |m, l| m.max(l.abs()))
}

fn identity(n: usize) -> Vec<f64> {
    (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect()
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik != 0.0 {
                for j in 0..n {
                    c[i * n + j] += aik * b[k * n + j];
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn mix(t: TopologyConfig, s: WeightScheme, n: usize) -> MixingMatrix {
        MixingMatrix::build(&t, s, n, "topology").unwrap()
    }

    #[test]
    fn ring_beta_matches_closed_form() {
        for n in [3, 4, 5, 8, 16, 33, 64, 128] {
            let m = mix(TopologyConfig::Ring, WeightScheme::Uniform, n);
            // Eigenvalues (1 + 2cos(2πk/n))/3; the largest in modulus besides k = 0 is k = 1,
            // or k = n/2 (value −1/3) when that is larger.
            let expected = ((1.0 + 2.0 * (2.0 * PI / n as f64).cos()) / 3.0)
                .abs()
                .max(if n.is_multiple_of(2) { 1.0 / 3.0 } else { 0.0 });
            let expected = if n == 3 { 0.0 } else { expected };
            assert!(
                (m.beta() - expected).abs() < 1e-9,
                "n = {n}: β = {} vs {expected}",
                m.beta()
            );
        }
    }

    #[test]
    fn complete_star_torus_and_one_peer_closed_forms() {
        let n = 16;
        assert!(mix(TopologyConfig::Complete, WeightScheme::Uniform, n).beta() < 1e-9);
        // Star with uniform weights 1/n: eigenvalues of W − J are 1 − 1/n·(…); the leaves'
        // eigenvalue is 1 − 1/n.
        let star = mix(TopologyConfig::Star, WeightScheme::Uniform, n).beta();
        assert!((star - (1.0 - 1.0 / n as f64)).abs() < 1e-9, "{star}");
        // 4 × 4 torus, weights 1/5: eigenvalues (1 + 2cos(2πa/4) + 2cos(2πb/4))/5; max modulus
        // besides (0, 0) is at (0, 1): 3/5 (and (2, 2) gives |−3/5|).
        let torus = mix(TopologyConfig::Torus, WeightScheme::Uniform, n).beta();
        assert!((torus - 0.6).abs() < 1e-9, "{torus}");
        let one_peer = mix(TopologyConfig::OnePeerExponential, WeightScheme::Uniform, n);
        assert!(
            one_peer
                .beta_per_round
                .iter()
                .all(|b| (b - 1.0).abs() < 1e-9)
        );
        assert!(
            one_peer.beta() < 1e-9,
            "a period of one-peer rounds averages exactly"
        );
    }

    #[test]
    fn every_built_matrix_is_symmetric_and_doubly_stochastic() {
        let tops = [
            TopologyConfig::Ring,
            TopologyConfig::Torus,
            TopologyConfig::Exponential,
            TopologyConfig::OnePeerExponential,
            TopologyConfig::Star,
            TopologyConfig::Complete,
            TopologyConfig::RandomGeometric {
                radius: 0.6,
                seed: 3,
            },
        ];
        for t in tops {
            for s in [WeightScheme::Uniform, WeightScheme::MetropolisHastings] {
                for n in [8, 16, 32] {
                    let m = mix(t.clone(), s, n);
                    for w in &m.rounds {
                        check_doubly_stochastic(w, n, "w").unwrap();
                    }
                    let b = m.beta();
                    assert!((0.0..1.0).contains(&b), "{t:?} {s:?} n={n}: β = {b}");
                }
            }
        }
    }

    #[test]
    fn metropolis_hastings_on_star_has_closed_form() {
        // Hub–leaf weight 1/n, leaves keep 1 − 1/n, the hub keeps 1/n: W equals uniform here.
        let n = 10;
        let m = mix(TopologyConfig::Star, WeightScheme::MetropolisHastings, n);
        assert!((m.rounds[0][1] - 0.1).abs() < 1e-12);
        assert!((m.rounds[0][0] - 0.1).abs() < 1e-12);
        assert!((m.rounds[0][n + 1] - 0.9).abs() < 1e-12);
    }

    #[test]
    fn bad_user_matrices_are_rejected_with_reasons() {
        let t = TopologyConfig::Matrix {
            weights: vec![
                vec![0.5, 0.5, 0.0],
                vec![0.5, 0.25, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
        };
        let e = MixingMatrix::build(&t, WeightScheme::Uniform, 3, "topology").unwrap_err();
        assert!(e.to_string().contains("not doubly stochastic"), "{e}");
        let t = TopologyConfig::Matrix {
            weights: vec![
                vec![0.5, 0.5, 0.0],
                vec![0.5, 0.5, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
        };
        let e = MixingMatrix::build(&t, WeightScheme::Uniform, 3, "topology").unwrap_err();
        assert!(e.to_string().contains("node 2 cannot be reached"), "{e}");
        let t = TopologyConfig::Edges {
            edges: vec![[0, 1], [2, 3]],
        };
        let e = MixingMatrix::build(&t, WeightScheme::Uniform, 4, "topology").unwrap_err();
        assert!(e.to_string().contains("node 2 cannot be reached"), "{e}");
    }
}
