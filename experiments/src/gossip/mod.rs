//! Gossip SGD with periodic global averaging (Chen, Yuan, Zhang, Pan, Xu, Yin, "Accelerating
//! Gossip SGD with Periodic Global Averaging", ICML 2021).
//!
//! Gossip SGD's error carries a term that grows with 1/(1 − β), β = ‖W − 11ᵀ/n‖₂; Gossip-PGA adds
//! an exact average every H steps, which caps that term by H. The paper's transient stage (steps
//! before the method matches parallel SGD) is Ω(β⁴n³/(1−β)⁴) for Gossip SGD, Ω(β⁴n³H⁴) for
//! Gossip-PGA and Ω(n³H⁴) for Local SGD (Table 1, non-convex); for strongly convex problems the
//! orders are n/(1−β)², nH² and nH² ([`claims`]). This experiment runs all five algorithms of
//! [`sgdlab_engine::optim::gossip`] on a heterogeneous, strongly convex logistic-regression problem
//! (§7.1), measures the transient stage as n, the topology (1/(1 − β)) and H change, fits its
//! growth exponents ([`transient`]) and compares them with the theory's, and trains an MLP on
//! MNIST-10k split across nodes by label.
//!
//! The transient is measured on expected errors: each logistic run carries `seeds` independent
//! mini-batch streams as column blocks of one (n × seeds·d) tensor (the same streams for every
//! algorithm), and the seed-mean ‖x̄ − x*‖², smoothed over a trailing fraction of k, is compared
//! with parallel SGD's (`transient::transient_stage`). With the 1/k step size every method's extra error
//! decays faster than parallel SGD's, so the ratio tends to 1 and the threshold is well posed.
//! Gossip-AGA's period rule is a heuristic (not checked against the paper) and is in no claim.

mod checkpoint;
mod claims;
mod config;
mod mnist;
mod report;
mod results;
mod run;
mod sweeps;
mod transient;

pub use claims::{
    EXPONENT_MARGIN, EXPONENT_MIN_BAND, NOT_SLOWER_MARGIN, ProblemClass, exponent_band,
};
pub use config::*;
pub use results::*;
pub use transient::{Censored, ExponentFit, TransientPoint};

use crate::JobQueue;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::optim::gossip::{Algorithm, BatchedMlp, LogisticProblem, Mixer, TopologyConfig};
use sgdlab_engine::rng::SplitMix64;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct RunKey {
    mnist: bool,
    /// The logistic problem's class (the default for MNIST runs, where it is unused).
    class: ProblemClass,
    nodes: usize,
    period: usize,
    algorithm: Algorithm,
    /// `None`: the configured topology; `Some(i)`: `topology_sweep[i]`.
    topology: Option<usize>,
}

impl RunKey {
    /// A logistic run of `class` on the configured topology.
    fn logistic(class: ProblemClass, nodes: usize, period: usize, algorithm: Algorithm) -> Self {
        Self {
            mnist: false,
            class,
            nodes,
            period,
            algorithm,
            topology: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    key: RunKey,
    step: u64,
    lr: f64,
    loss: f64,
    grad_norm: f64,
    consensus: f64,
    error: f64,
    test_accuracy: f64,
    messages: f64,
    bytes: f64,
}

struct LogisticRun {
    key: RunKey,
    /// Nodes × (replicas · d): replica r in columns r·d..(r+1)·d.
    x: Tensor<2>,
    mixer: Mixer,
    rngs: Vec<SplitMix64>,
    /// ‖x̄_r − x*‖² per step, replica by replica (step-major: R values per step).
    errors: Vec<f64>,
    /// Consensus distance per step, mean over replicas.
    consensus: Vec<f64>,
    last_loss: f64,
    last_grad_norm: f64,
}

struct MnistData {
    train_x: Tensor<2>,
    train_y: Vec<u32>,
    node_indices: Vec<Vec<usize>>,
    eval_x: Tensor<3>,
    eval_t: Tensor<3>,
    test_x: Tensor<3>,
    test_y: Vec<u32>,
}

struct MnistRun {
    key: RunKey,
    model: BatchedMlp,
    mixer: Mixer,
    rng: SplitMix64,
    consensus_sum: f64,
    last_loss: f64,
    last_grad_norm: f64,
    last_acc: f64,
}

enum Active {
    Logistic(Box<LogisticRun>),
    Mnist(Box<MnistRun>),
}

/// The experiment's state machine.
pub struct Gossip {
    config: GossipConfig,
    device: ComputeDevice,
    queue: JobQueue<RunKey, Active>,
    /// The logistic problem of each class and node count, with its solution x̂ (1 × d): the
    /// minimizer of the strongly convex problem, a stationary point of the non-convex one.
    problems: BTreeMap<(ProblemClass, usize), (LogisticProblem, Tensor<2>)>,
    mnist: Option<MnistData>,
    /// Seed-mean error curves (‖x̄ − x*‖² or ‖∇f(x̄)‖², by class), smoothed.
    curves: BTreeMap<RunKey, Vec<f64>>,
    /// The same from the even and from the odd replicas, for the transient's spread.
    half_curves: BTreeMap<RunKey, [Vec<f64>; 2]>,
    consensus_curves: BTreeMap<RunKey, Vec<f64>>,
    rows: Vec<Row>,
    results: GossipResults,
    iterations_done: u64,
}

/// An algorithm's name for legends and tables: Gossip-AGA carries "(heuristic)", because its
/// period rule is not checked against the paper.
pub fn display_name(a: Algorithm) -> String {
    match a {
        Algorithm::GossipAga => format!("{} (heuristic)", a.name()),
        _ => a.name().into(),
    }
}

/// The circulant graph on n nodes: node i linked to i ± o (mod n) for every offset o.
pub fn circulant_edges(n: usize, offsets: &[usize]) -> Vec<[usize; 2]> {
    let mut edges: Vec<[usize; 2]> = (0..n)
        .flat_map(|i| offsets.iter().map(move |&o| [i, (i + o) % n]))
        .filter(|[a, b]| a != b)
        .map(|[a, b]| [a.min(b), a.max(b)])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// The default sweep against 1/(1 − β) at 16 nodes (see [`GossipConfig::topology_sweep`]).
pub fn default_topology_sweep() -> Vec<TopologyConfig> {
    vec![
        TopologyConfig::Ring,
        TopologyConfig::Edges {
            edges: circulant_edges(16, &[1, 2]),
        },
        TopologyConfig::Edges {
            edges: circulant_edges(16, &[1, 3]),
        },
    ]
}

/// A topology's name for tables and labels, with the parameters that tell instances apart.
pub fn topology_label(t: &TopologyConfig) -> String {
    match t {
        TopologyConfig::RandomGeometric { radius, seed } => {
            format!("{} (r = {radius}, seed {seed})", t.name())
        }
        TopologyConfig::Edges { edges } => {
            // Two edge lists tell apart by their edges: name them by a short digest.
            let digest = edges.iter().fold(0u64, |h, [a, b]| {
                h.wrapping_mul(1_000_003)
                    .wrapping_add((a * 7919 + b) as u64)
            });
            format!("edges ({} edges, #{:04x})", edges.len(), digest % 0x10000)
        }
        _ => t.name().into(),
    }
}
