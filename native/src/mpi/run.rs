//! `mpirun -n N sgdlab mpi-gossip`: start-up agreement, one run per algorithm, failures.
//!
//! Start-up: every rank reads its arguments and config, builds the specs and fingerprints them;
//! one `MPI_Allgather` of (ok, fingerprint) tells every rank whether any rank failed to start
//! or holds a different config, and then every rank exits 2 (cleanly, after `MPI_Finalize`).
//! After start-up a failing rank ends the job with `MPI_Abort` ([`super::faults`]).

use super::comm::{MpiComm, max_f64, sum_f64};
use super::faults::{self, Fault};
use super::results::{self, MpiGossipResults, RunRecord, RunStats};
use super::{MpiGossipArgs, spec, spec_text};
use crate::Failure;
use crate::say::say_err;
use anyhow::anyhow;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use sgdlab_engine::device::{ComputeDevice, resolve_device};
use sgdlab_engine::optim::gossip::{NodeFailure, NodeRunSpec, NodeStats, run_node};

/// What a rank prepared before the agreement.
struct Prepared {
    specs: Vec<NodeRunSpec>,
    fingerprint: u64,
    fault: Option<Fault>,
    device: ComputeDevice,
}

fn prepare(args: &MpiGossipArgs, rank: usize, size: usize) -> Result<Prepared, Failure> {
    if let Some(n) = args.nodes
        && n != size
    {
        return Err(Failure::BadInput(anyhow!(
            "--nodes: {n} given but the job has {size} processes (one per node)"
        )));
    }
    let algorithms = spec::parse_algorithms(&args.algorithms)?;
    let specs = spec::specs(
        args.preset,
        args.config.as_deref(),
        &algorithms,
        size,
        args.steps,
        args.max_memory,
    )?;
    let fingerprint = spec::fingerprint(&spec_text(&specs)?);
    let fault = faults::injected()?;
    if rank == 0 {
        crate::run::check_out_dir(&args.out)?;
    }
    let device = resolve_device(args.backend)?;
    Ok(Prepared {
        specs,
        fingerprint,
        fault,
        device,
    })
}

/// The start-up agreement: every rank learns every rank's (ok, fingerprint).
fn agree(
    world: &SimpleCommunicator,
    rank: usize,
    local: Result<Prepared, Failure>,
) -> Result<Prepared, Failure> {
    let size = world.size() as usize;
    let mine: [u64; 2] = match &local {
        Ok(p) => [1, p.fingerprint],
        Err(_) => [0, 0],
    };
    let mut all = vec![0u64; 2 * size];
    world.all_gather_into(&mine[..], &mut all[..]);
    let failed: Vec<usize> = (0..size).filter(|&r| all[2 * r] == 0).collect();
    if !failed.is_empty() {
        return Err(match local {
            Err(Failure::BadInput(e)) => Failure::BadInput(anyhow!("rank {rank}: {e:#}")),
            Err(Failure::Other(e)) => Failure::Other(anyhow!("rank {rank}: {e:#}")),
            Err(e) => e,
            Ok(_) => Failure::BadInput(anyhow!(
                "rank {rank}: start-up failed on rank(s) {failed:?} (see their messages); no \
                 rank ran"
            )),
        });
    }
    let first = all[1];
    let differ: Vec<String> = (0..size)
        .filter(|&r| all[2 * r + 1] != first)
        .map(|r| format!("rank {r} has {:016x}", all[2 * r + 1]))
        .collect();
    if !differ.is_empty() {
        return Err(Failure::BadInput(anyhow!(
            "rank {rank}: the configuration differs across ranks (fingerprint of the specs: \
             rank 0 has {first:016x}, {}); give every rank the same --preset, --config, \
             --algorithms and --steps",
            differ.join(", ")
        )));
    }
    local
}

/// Ends the whole job: one line naming this rank and the cause, then `MPI_Abort`.
fn fail(world: &SimpleCommunicator, rank: usize, what: &str, cause: &str, code: i32) -> ! {
    say_err!(
        "sgdlab mpi-gossip: rank {rank} of {} failed in {what}: {cause}; ending the job on every \
         rank (MPI_Abort, exit code {code})",
        world.size()
    );
    world.abort(code)
}

/// Runs the job on this rank.
pub fn run(args: &MpiGossipArgs) -> Result<(), Failure> {
    let universe = mpi::initialize().ok_or_else(|| {
        Failure::Other(anyhow!(
            "MPI could not be initialized (already initialized)"
        ))
    })?;
    let world = universe.world();
    let rank = world.rank() as usize;
    let size = world.size() as usize;
    let local = prepare(args, rank, size);
    let p = agree(&world, rank, local)?;
    if rank == 0 {
        say_err!(
            "sgdlab mpi-gossip: {size} ranks agree on config {:016x}; {} on {}",
            p.fingerprint,
            p.specs
                .iter()
                .map(|s| s.algorithm.name())
                .collect::<Vec<_>>()
                .join(", "),
            p.device.info
        );
    }
    let mut results = MpiGossipResults {
        experiment: "mpi-gossip".into(),
        status: "running".into(),
        engine: "mpi".into(),
        nodes: size,
        device: p.device.info.to_string(),
        config_fingerprint: format!("{:016x}", p.fingerprint),
        runs: Vec::new(),
    };
    for s in &p.specs {
        let what = format!("{} (n = {size})", s.algorithm.name());
        let mut shard = s.shard(rank, &p.device.device);
        if faults::poisons_shard(p.fault, rank) {
            shard.inject_nan_feature();
        }
        if let Err(e) = shard.check() {
            fail(&world, rank, &what, &e, 2);
        }
        if rank == 0 {
            results.runs.push(RunRecord {
                spec: s.clone(),
                status: "running".into(),
                evals: Vec::new(),
                mean_model: Vec::new(),
                stats: RunStats::default(),
            });
        }
        let mut comm = MpiComm { world: &world };
        let fault = p.fault;
        let out = &args.out;
        let outcome = run_node(
            s,
            &shard,
            &mut comm,
            &mut |step, y| faults::before_send(fault, rank, step, y),
            &mut |e| {
                if let Some(r) = results.runs.last_mut() {
                    r.evals.push(e.clone());
                    if let Err(err) = results::write(out, &results) {
                        say_err!("sgdlab mpi-gossip: rank 0: {err:?}");
                    }
                }
            },
        );
        let o = match outcome {
            Ok(o) => o,
            Err(f) => {
                let code = match &f {
                    NodeFailure::Engine(_, true) | NodeFailure::BadShard(_) => 2,
                    NodeFailure::Engine(_, false) => 1,
                    NodeFailure::NonFinite { .. } => 3,
                };
                fail(&world, rank, &what, &f.to_string(), code)
            }
        };
        let st = &o.stats;
        let sums = sum_f64(
            &world,
            &[
                st.compute_seconds,
                st.comm_seconds,
                st.eval_seconds,
                st.bytes_sent,
                st.messages,
            ],
        );
        let slowest = max_f64(&world, st.compute_seconds + st.comm_seconds);
        let sum = NodeStats {
            steps: st.steps,
            compute_seconds: sums[0],
            comm_seconds: sums[1],
            eval_seconds: sums[2],
            bytes_sent: sums[3],
            messages: sums[4],
            global_averages: st.global_averages,
        };
        if let Some(r) = results.runs.last_mut() {
            r.status = "done".into();
            r.mean_model = o.mean_model;
            r.stats = RunStats::from_sums(&sum, slowest, size, st.steps, st.global_averages);
            results::write(&args.out, &results)?;
        }
    }
    if rank == 0 {
        results.status = "done".into();
        super::finish(args, &results)?;
    }
    Ok(())
}
