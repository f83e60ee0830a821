//! `mpirun -n N sgdlab bench gossip --engine mpi`: node-steps per second, bytes sent per node
//! per step and the share of time in communication for Gossip SGD, Gossip-PGA and parallel SGD
//! on a ring, one process per node (the simulator bench's problem: logistic regression with
//! d parameters, 16 samples and a batch of 4 per node, H = 16).

use super::comm::{MpiComm, max_f64, sum_f64};
use super::results::RunStats;
use crate::Failure;
use crate::say::say;
use anyhow::anyhow;
use mpi::traits::*;
use serde::Serialize;
use sgdlab_engine::device::{BackendChoice, resolve_device};
use sgdlab_engine::optim::gossip::{
    Algorithm, NodeRunSpec, NodeStats, TopologyConfig, WeightScheme, run_node,
};

/// One algorithm's measurement.
#[derive(Debug, Serialize)]
struct Entry {
    algorithm: &'static str,
    #[serde(flatten)]
    stats: RunStats,
}

/// The printed JSON.
#[derive(Debug, Serialize)]
struct MpiBench {
    engine: &'static str,
    nodes: usize,
    dim: usize,
    steps: usize,
    warmup: usize,
    topology: &'static str,
    period: usize,
    processor: String,
    device: String,
    results: Vec<Entry>,
}

fn spec(algorithm: Algorithm, nodes: usize, dim: usize, steps: usize) -> NodeRunSpec {
    NodeRunSpec {
        algorithm,
        nodes,
        seed: 0,
        topology: TopologyConfig::Ring,
        weights: WeightScheme::Uniform,
        period: 16,
        aga_max_period: 16,
        samples_per_node: 16,
        dim,
        heterogeneity: 1.0,
        reg: 1e-3,
        batch: 4,
        lr: 0.1,
        // Effectively constant (the simulator bench's γ = 0.1).
        lr_decay_steps: 1e15,
        steps,
        eval_every: 0,
    }
}

/// Runs the bench on this rank; rank 0 prints.
pub fn bench(
    backend: BackendChoice,
    dim: usize,
    steps: usize,
    warmup: usize,
    json: bool,
) -> Result<(), Failure> {
    if !(1..=10_000_000).contains(&dim) || steps == 0 {
        return Err(Failure::BadInput(anyhow!(
            "--dim and --steps: expected 1 to 10000000 parameters and at least 1 step, found {dim} \
             and {steps}"
        )));
    }
    let universe =
        mpi::initialize().ok_or_else(|| Failure::Other(anyhow!("MPI could not be initialized")))?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if size < 2 {
        return Err(Failure::BadInput(anyhow!(
            "--engine mpi: run under `mpirun -n N` with N >= 2 (found {size} process)"
        )));
    }
    let device = resolve_device(backend)?;
    let mut out = MpiBench {
        engine: "mpi",
        nodes: size,
        dim,
        steps,
        warmup,
        topology: "ring",
        period: 16,
        processor: mpi::environment::processor_name().unwrap_or_default(),
        device: device.info.to_string(),
        results: Vec::new(),
    };
    for a in [
        Algorithm::GossipSgd,
        Algorithm::GossipPga,
        Algorithm::ParallelSgd,
    ] {
        let s = spec(a, size, dim, steps);
        let shard = s.shard(rank, &device.device);
        let mut comm = MpiComm { world: &world };
        let run = |steps: usize, comm: &mut MpiComm<'_>| {
            run_node(
                &NodeRunSpec { steps, ..s.clone() },
                &shard,
                comm,
                &mut |_, _| {},
                &mut |_| {},
            )
            .map_err(|e| Failure::Other(anyhow!("rank {rank}: {e}")))
        };
        if warmup > 0 {
            run(warmup, &mut comm)?;
        }
        world.barrier();
        let st = run(steps, &mut comm)?.stats;
        let sums = sum_f64(
            &world,
            &[
                st.compute_seconds,
                st.comm_seconds,
                st.bytes_sent,
                st.messages,
            ],
        );
        let slowest = max_f64(&world, st.compute_seconds + st.comm_seconds);
        let sum = NodeStats {
            compute_seconds: sums[0],
            comm_seconds: sums[1],
            bytes_sent: sums[2],
            messages: sums[3],
            ..Default::default()
        };
        out.results.push(Entry {
            algorithm: a.name(),
            stats: RunStats::from_sums(&sum, slowest, size, st.steps, st.global_averages),
        });
    }
    if rank == 0 {
        if json {
            say!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| Failure::Other(e.into()))?
            )?;
        } else {
            for e in &out.results {
                say!(
                    "{:<13} n = {size}, d = {dim}, {steps} steps over MPI: {:.0} node-steps/s, {:.0} B/node/step, comm {:.0}%",
                    e.algorithm,
                    e.stats.node_steps_per_sec,
                    e.stats.bytes_per_node_step,
                    100.0 * e.stats.comm_fraction
                )?;
            }
        }
    }
    Ok(())
}
