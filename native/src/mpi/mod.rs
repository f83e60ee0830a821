//! `sgdlab mpi-gossip`: the gossip experiment's algorithms with one process per node.
//!
//! Under `mpirun -n N sgdlab mpi-gossip` (the `mpi` cargo feature), every rank is one node: it
//! generates only its own shard of the heterogeneous logistic-regression data, keeps its own
//! parameters on its own burn device, and runs [`run_node`] with an MPI transport
//! (`comm.rs`): non-blocking sends and receives with its neighbours in the row of the mixing
//! matrix of the step (the simulator's matrices, the time-varying one-peer exponential graph
//! included) for a gossip round, `MPI_Allreduce` for an exact average. `--engine sim` runs the
//! same specs on the one-process batched simulator ([`simulate_nodes`]) and writes the same
//! `results.json`, which is what the MPI run is checked against.
//!
//! A dedicated subcommand rather than `sgdlab run gossip --engine mpi`: `run gossip` is the
//! whole experiment (sweeps over n, H and topologies, the MNIST part, the claims), while a job
//! has a fixed number of processes, so what runs on MPI is one run per algorithm at n = the
//! number of ranks.
//!
//! Gossip-AGA is supported, with the simulator's rule, and labelled a heuristic as there.

mod results;
mod spec;

#[cfg(feature = "mpi")]
mod bench;
#[cfg(feature = "mpi")]
mod comm;
#[cfg(feature = "mpi")]
mod faults;
#[cfg(feature = "mpi")]
mod run;

use crate::Failure;
use crate::say::say;
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use results::{MpiGossipResults, RunRecord, RunStats};
use sgdlab_engine::device::{BackendChoice, resolve_device};
use sgdlab_engine::optim::gossip::simulate_nodes;
use sgdlab_experiments::Preset;
use std::path::PathBuf;

/// Where the nodes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NodeEngine {
    /// One MPI process per node (start with `mpirun -n N`).
    Mpi,
    /// The one-process batched simulator (the reference), at `--nodes N`.
    Sim,
}

/// Arguments of `sgdlab mpi-gossip`.
#[derive(Args, Debug, Clone)]
pub struct MpiGossipArgs {
    /// mpi: one process per node (run under `mpirun -n N`); sim: the batched simulator at
    /// --nodes N, the reference the MPI run is checked against.
    #[arg(long, value_enum, default_value = "mpi")]
    pub engine: NodeEngine,
    /// The gossip experiment's preset the config starts from.
    #[arg(long, default_value = "quick", value_parser = clap::value_parser!(Preset))]
    pub preset: Preset,
    /// A gossip config (JSON, may be partial; as for `sgdlab run gossip --config`). Its `seed`,
    /// `topology`, `weights`, `period`, `aga_max_period` and `logistic` are used; `nodes` is the
    /// number of processes.
    #[arg(long, value_name = "FILE.json")]
    pub config: Option<PathBuf>,
    /// `all`, or a comma-separated list of parallel-sgd, gossip-sgd, local-sgd, gossip-pga,
    /// gossip-aga (the last a heuristic).
    #[arg(long, default_value = "all")]
    pub algorithms: String,
    /// Steps per algorithm (overrides `logistic.steps`).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Nodes of the simulator (--engine sim); with --engine mpi, if given, it must equal the
    /// number of processes.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Compute backend of every node.
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(BackendChoice))]
    pub backend: BackendChoice,
    /// Output directory (rank 0 writes results.json there).
    #[arg(long, default_value = "mpi-gossip-out")]
    pub out: PathBuf,
    /// Print results.json to stdout when done.
    #[arg(long)]
    pub json: bool,
    /// Memory budget of the whole job (for example 8G or 512M): a config whose estimated peak
    /// memory exceeds it is refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = sgdlab_experiments::parse_bytes)]
    pub max_memory: Option<u64>,
}

/// Runs `sgdlab mpi-gossip`.
pub fn mpi_gossip(args: MpiGossipArgs) -> Result<(), Failure> {
    match args.engine {
        NodeEngine::Sim => simulate(&args),
        NodeEngine::Mpi => mpi_engine(&args),
    }
}

#[cfg(feature = "mpi")]
fn mpi_engine(args: &MpiGossipArgs) -> Result<(), Failure> {
    run::run(args)
}

#[cfg(not(feature = "mpi"))]
fn mpi_engine(_: &MpiGossipArgs) -> Result<(), Failure> {
    Err(not_built("--engine mpi"))
}

/// The error of an MPI request to a binary built without the `mpi` feature.
#[cfg(not(feature = "mpi"))]
pub fn not_built(flag: &str) -> Failure {
    Failure::BadInput(anyhow!(
        "{flag}: this sgdlab was built without MPI; rebuild with `cargo build --release -p \
         sgdlab --features mpi` (needs openmpi-bin, libopenmpi-dev and libclang-dev)"
    ))
}

/// `sgdlab bench gossip --engine mpi`.
#[cfg(feature = "mpi")]
pub fn bench_gossip(
    backend: BackendChoice,
    dim: usize,
    steps: usize,
    warmup: usize,
    json: bool,
) -> Result<(), Failure> {
    bench::bench(backend, dim, steps, warmup, json)
}

/// `sgdlab bench gossip --engine mpi` in a build without MPI: exit 2.
#[cfg(not(feature = "mpi"))]
pub fn bench_gossip(
    _: BackendChoice,
    _: usize,
    _: usize,
    _: usize,
    _: bool,
) -> Result<(), Failure> {
    Err(not_built("--engine mpi"))
}

/// `--engine sim`: the same specs on the batched simulator.
fn simulate(args: &MpiGossipArgs) -> Result<(), Failure> {
    let nodes = args.nodes.ok_or_else(|| {
        Failure::BadInput(anyhow!(
            "--nodes: required with --engine sim (the node count)"
        ))
    })?;
    let algorithms = spec::parse_algorithms(&args.algorithms)?;
    let specs = spec::specs(
        args.preset,
        args.config.as_deref(),
        &algorithms,
        nodes,
        args.steps,
        args.max_memory,
    )?;
    crate::run::check_out_dir(&args.out)?;
    let device = resolve_device(args.backend)?;
    let mut results = MpiGossipResults {
        experiment: "mpi-gossip".into(),
        status: "running".into(),
        engine: "sim".into(),
        nodes,
        device: device.info.to_string(),
        config_fingerprint: format!("{:016x}", spec::fingerprint(&spec_text(&specs)?)),
        runs: Vec::new(),
    };
    for s in &specs {
        let o = simulate_nodes(s, &device.device)?;
        let st = &o.stats;
        let mut stats =
            RunStats::from_sums(st, st.compute_seconds, 1, st.steps, st.global_averages);
        // One process did the work of n nodes: per node, not per process.
        stats.node_steps_per_sec *= nodes as f64;
        stats.bytes_per_node_step = st.bytes_sent / st.steps.max(1) as f64;
        stats.messages_per_node_step = st.messages / st.steps.max(1) as f64;
        results.runs.push(RunRecord {
            spec: s.clone(),
            status: "done".into(),
            evals: o.evals,
            mean_model: o.mean_model,
            stats,
        });
        results::write(&args.out, &results)?;
    }
    results.status = "done".into();
    finish(args, &results)
}

/// The specs as the text every rank fingerprints.
fn spec_text(specs: &[sgdlab_engine::optim::gossip::NodeRunSpec]) -> Result<String, Failure> {
    serde_json::to_string(specs).map_err(|e| Failure::Other(e.into()))
}

/// Writes the final results.json and prints them (--json) or a summary.
fn finish(args: &MpiGossipArgs, results: &MpiGossipResults) -> Result<(), Failure> {
    let path = results::write(&args.out, results)?;
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(results).map_err(|e| Failure::Other(e.into()))?
        )?;
    } else {
        for r in &results.runs {
            let last = r.evals.last();
            say!(
                "{:<13} n = {}: f(x̄) = {:.6}, ‖∇f(x̄)‖ = {:.3e}, {:.0} node-steps/s, {:.0} B/node/step, comm {:.0}%{}",
                r.spec.algorithm.name(),
                results.nodes,
                last.map_or(f64::NAN, |e| e.loss),
                last.map_or(f64::NAN, |e| e.grad_norm),
                r.stats.node_steps_per_sec,
                r.stats.bytes_per_node_step,
                100.0 * r.stats.comm_fraction,
                if r.spec.algorithm == sgdlab_engine::optim::gossip::Algorithm::GossipAga {
                    " (heuristic period rule)"
                } else {
                    ""
                }
            )?;
        }
        say!("wrote {}", path.display())?;
    }
    Ok(())
}
