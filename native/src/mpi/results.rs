//! What `sgdlab mpi-gossip` writes: `results.json` with one record per algorithm (its spec, the
//! evaluations at x̄, the final x̄, and time and traffic over the ranks), rewritten by rank 0
//! after every evaluation so a job that ends early leaves what it computed.

use crate::Failure;
use anyhow::anyhow;
use serde::Serialize;
use sgdlab_engine::optim::gossip::{NodeEval, NodeRunSpec, NodeStats};
use std::path::{Path, PathBuf};

/// Time and traffic of one run, over all ranks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunStats {
    /// Training steps.
    pub steps: u64,
    /// Node-steps per second: n · steps / the slowest rank's seconds in training steps.
    pub node_steps_per_sec: f64,
    /// Bytes a node sent per step, mean over ranks (gossip counted; all-reduce modelled as a
    /// ring, 2(n−1)/n · 4d per average).
    pub bytes_per_node_step: f64,
    /// Messages a node sent per step, mean over ranks (same convention).
    pub messages_per_node_step: f64,
    /// Share of the training steps' time spent communicating (sum over ranks).
    pub comm_fraction: f64,
    /// Local-update seconds per step, mean over ranks.
    pub compute_seconds_per_step: f64,
    /// Communication seconds per step, mean over ranks.
    pub comm_seconds_per_step: f64,
    /// Seconds per step of the slowest rank (compute + communication).
    pub step_seconds: f64,
    /// Exact averages done.
    pub global_averages: u64,
}

impl RunStats {
    /// From the per-rank sums `sum` (compute, comm, bytes, messages seconds) and the slowest
    /// rank's compute + comm seconds, over `n` ranks and `steps` steps.
    pub fn from_sums(sum: &NodeStats, slowest: f64, n: usize, steps: u64, averages: u64) -> Self {
        let (nf, sf) = (n as f64, steps.max(1) as f64);
        let busy = sum.compute_seconds + sum.comm_seconds;
        Self {
            steps,
            node_steps_per_sec: if slowest > 0.0 {
                nf * sf / slowest
            } else {
                0.0
            },
            bytes_per_node_step: sum.bytes_sent / nf / sf,
            messages_per_node_step: sum.messages / nf / sf,
            comm_fraction: if busy > 0.0 {
                sum.comm_seconds / busy
            } else {
                0.0
            },
            compute_seconds_per_step: sum.compute_seconds / nf / sf,
            comm_seconds_per_step: sum.comm_seconds / nf / sf,
            step_seconds: slowest / sf,
            global_averages: averages,
        }
    }
}

/// One algorithm's run.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    /// What was run.
    pub spec: NodeRunSpec,
    /// `running` until the run finishes, then `done`.
    pub status: String,
    /// Evaluations at the average model x̄.
    pub evals: Vec<NodeEval>,
    /// The final x̄ (empty until the last step).
    pub mean_model: Vec<f32>,
    /// Time and traffic.
    pub stats: RunStats,
}

/// The whole file.
#[derive(Clone, Debug, Serialize)]
pub struct MpiGossipResults {
    /// `mpi-gossip`.
    pub experiment: String,
    /// `running` while the job runs (left so when the job ended early), then `done`.
    pub status: String,
    /// `mpi` (one process per node) or `sim` (the one-process batched simulator).
    pub engine: String,
    /// Nodes (processes under MPI).
    pub nodes: usize,
    /// The compute device of rank 0.
    pub device: String,
    /// FNV-1a of the specs, the same on every rank (checked at start-up).
    pub config_fingerprint: String,
    /// One record per algorithm, in run order.
    pub runs: Vec<RunRecord>,
}

/// Writes `results` to `dir/results.json` (through a temporary file, so a reader never sees
/// half a file).
pub fn write(dir: &Path, results: &MpiGossipResults) -> Result<PathBuf, Failure> {
    let path = dir.join("results.json");
    let tmp = dir.join(".results.json.tmp");
    let text = serde_json::to_string_pretty(results).map_err(|e| Failure::Other(e.into()))?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Failure::Other(anyhow!("writing {}: {e}", path.display())))?;
    Ok(path)
}
