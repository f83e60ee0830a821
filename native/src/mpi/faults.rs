//! Failures of a rank during an MPI run, and the **fault-injection hook** the tests use.
//!
//! A rank that fails after start-up (a bad shard, a non-finite local update, an engine error)
//! prints one line naming itself and the cause to stderr and calls `MPI_Abort`, which makes
//! `mpirun` end every rank of the job (no rank is left waiting for a message that will not
//! come). A rank that is killed is noticed by `mpirun`, which ends the others and names it.
//! Rank 0 rewrites `results.json` after every evaluation, so what was computed before a failure
//! stays on disk (its `status` stays `running`: the job ended before the run finished).
//!
//! Fault injection (for tests only): the environment variable `SGDLAB_FAULT_INJECT` makes one
//! rank fail on purpose:
//! - `nan@R:K`: rank R's local update at step K (1-based) becomes NaN;
//! - `kill@R:K`: rank R sends itself SIGKILL at step K;
//! - `bad-shard@R`: rank R's shard gets a NaN feature.
//!
//! It applies to every algorithm of the run. Unset, it does nothing.
//!
//! Lines go to stderr through `say_err!`, one `write` each, so that `mpirun`, which merges the
//! stderr of every rank, never interleaves one rank's line with another's.

use crate::Failure;
use crate::say::say_err;
use anyhow::anyhow;

/// The name of the fault-injection environment variable.
pub const FAULT_ENV: &str = "SGDLAB_FAULT_INJECT";

/// An injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The local update of `rank` at `step` becomes NaN.
    Nan { rank: usize, step: u64 },
    /// `rank` kills itself (SIGKILL) at `step`.
    Kill { rank: usize, step: u64 },
    /// `rank`'s shard gets a NaN feature.
    BadShard { rank: usize },
}

/// Reads [`FAULT_ENV`] (`None` when unset or empty).
pub fn injected() -> Result<Option<Fault>, Failure> {
    match std::env::var(FAULT_ENV) {
        Ok(v) if !v.trim().is_empty() => parse(v.trim()).map(Some),
        _ => Ok(None),
    }
}

fn parse(v: &str) -> Result<Fault, Failure> {
    let bad = || {
        Failure::BadInput(anyhow!(
            "{FAULT_ENV}={v}: expected nan@RANK:STEP, kill@RANK:STEP or bad-shard@RANK"
        ))
    };
    let (kind, at) = v.split_once('@').ok_or_else(bad)?;
    let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
    match kind {
        "bad-shard" => Ok(Fault::BadShard {
            rank: num(at)? as usize,
        }),
        "nan" | "kill" => {
            let (r, k) = at.split_once(':').ok_or_else(bad)?;
            let (rank, step) = (num(r)? as usize, num(k)?);
            Ok(if kind == "nan" {
                Fault::Nan { rank, step }
            } else {
                Fault::Kill { rank, step }
            })
        }
        _ => Err(bad()),
    }
}

/// Applies an injected fault to rank `rank`'s local update at `step`.
pub fn before_send(fault: Option<Fault>, rank: usize, step: u64, y: &mut [f32]) {
    match fault {
        Some(Fault::Nan { rank: r, step: k }) if r == rank && k == step => {
            if let Some(v) = y.first_mut() {
                *v = f32::NAN;
            }
        }
        Some(Fault::Kill { rank: r, step: k }) if r == rank && k == step => {
            say_err!("sgdlab mpi-gossip: rank {rank}: {FAULT_ENV} kills this rank at step {step}");
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            // `kill` is missing or failed: end the process abruptly all the same.
            std::process::abort();
        }
        _ => {}
    }
}

/// Whether the injected fault poisons rank `rank`'s shard.
pub fn poisons_shard(fault: Option<Fault>, rank: usize) -> bool {
    matches!(fault, Some(Fault::BadShard { rank: r }) if r == rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_hook() {
        assert_eq!(parse("nan@1:5").ok(), Some(Fault::Nan { rank: 1, step: 5 }));
        assert_eq!(
            parse("kill@0:2").ok(),
            Some(Fault::Kill { rank: 0, step: 2 })
        );
        assert_eq!(parse("bad-shard@3").ok(), Some(Fault::BadShard { rank: 3 }));
        assert!(parse("nan@1").is_err());
        assert!(parse("boom@1:1").is_err());
    }
}
