//! The gossip experiment's typed summary (results.json): one entry per run, β per topology and
//! node count, the transients and the fitted exponents.

use super::{ExponentFit, ProblemClass};
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::DeviceInfo;
use std::collections::BTreeMap;

/// Summary of one simulated run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipRunSummary {
    /// `logistic` (strongly convex), `logistic-nonconvex` or `mnist`.
    pub problem: String,
    /// Algorithm name.
    pub algorithm: String,
    /// Nodes.
    pub nodes: usize,
    /// Averaging period H (as configured; Gossip-AGA adapts from it).
    pub period: usize,
    /// The topology the run used.
    pub topology: String,
    /// `null`: the configured topology; i: `topology_sweep[i]`.
    pub topology_index: Option<usize>,
    /// Steps run.
    pub steps: u64,
    /// Loss at x̄ at the end.
    pub final_loss: f64,
    /// ‖∇f(x̄)‖ at the end.
    pub final_grad_norm: f64,
    /// The error whose transient is measured, at the end (seed mean; logistic only):
    /// ‖x̄ − x*‖² (strongly convex) or ‖∇f(x̄)‖² (non-convex).
    pub final_error: f64,
    /// Mean consensus distance over the run.
    pub mean_consensus: f64,
    /// Test accuracy of x̄ at the end (MNIST only).
    pub test_accuracy: f64,
    /// Messages sent per node per step.
    pub messages_per_node_step: f64,
    /// Bytes sent per node per step.
    pub bytes_per_node_step: f64,
    /// Exact global averages done.
    pub global_averages: u64,
    /// Transient stage in steps (logistic; `null` when parallel SGD was not matched in time),
    /// measured on the seed-mean error curves.
    pub transient: Option<u64>,
    /// The transient measured on the even-numbered and on the odd-numbered seeds alone (empty
    /// with one seed): how far apart they are shows how much seed noise is left in `transient`.
    pub transient_halves: Vec<Option<u64>>,
    /// Smoothed seed-mean error over parallel SGD's at the last step (logistic; 1 = matched).
    pub final_ratio_to_parallel: f64,
}

/// β of a topology for one node count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BetaEntry {
    /// Topology name.
    pub topology: String,
    /// Nodes.
    pub nodes: usize,
    /// β = ‖W − 11ᵀ/n‖₂ (per-round rate for time-varying graphs).
    pub beta: f64,
    /// Messages per node per gossip round.
    pub messages_per_round: f64,
}

/// How convex one logistic problem is where the runs go: the smallest eigenvalue of ∇²f on the
/// segment from the start (x = 0) to the problem's solution x̂, and at x̂. A negative value shows
/// the problem is not convex there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvatureEntry {
    /// `logistic` or `logistic-nonconvex`.
    pub problem: String,
    /// Nodes (each node count has its own data).
    pub nodes: usize,
    /// min over t ∈ {0, 1/8, …, 1} of λ_min(∇²f(t·x̂)).
    pub min_eigenvalue_on_path: f64,
    /// λ_min(∇²f(x̂)).
    pub min_eigenvalue_at_solution: f64,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GossipResults {
    /// Always `gossip`.
    pub experiment: String,
    /// `complete`, `running` or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// The configured topology.
    pub topology: String,
    /// β of the configured topology and weights at every node count used.
    pub beta: Vec<BetaEntry>,
    /// β of every built-in topology (uniform weights) for n in the node sweep.
    pub beta_table: Vec<BetaEntry>,
    /// Every run, in the order run.
    pub runs: Vec<GossipRunSummary>,
    /// Transient stage vs n at period H: algorithm (strongly convex) or `algorithm (non-convex)`
    /// → [(n, steps or null)].
    pub transient_vs_nodes: BTreeMap<String, Vec<(usize, Option<u64>)>>,
    /// Transient stage vs H at `nodes` nodes, keyed as `transient_vs_nodes`.
    pub transient_vs_period: BTreeMap<String, Vec<(usize, Option<u64>)>>,
    /// The classes of problem whose transients are fitted (each fixes the theory's orders).
    pub problem_classes: Vec<ProblemClass>,
    /// The curvature of every logistic problem run (one per class and node count).
    pub curvature: Vec<CurvatureEntry>,
    /// Growth exponents of the transient stage with their seed halves, next to the theory's:
    /// Gossip SGD against n and against 1/(1 − β) (topology sweep), Gossip-PGA against n,
    /// Local SGD and Gossip-PGA against H.
    pub fits: Vec<ExponentFit>,
}
