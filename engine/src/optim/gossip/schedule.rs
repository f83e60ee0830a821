//! The averaging schedule every gossip algorithm follows, written once: which combine a step
//! ends with (an exact global average, a gossip round, or nothing), and Gossip-AGA's adaptive
//! period H_ℓ = ⌈H · √(F(x̄₀)/F(x̄_ℓ))⌉, capped. The batched simulator ([`super::Mixer`]) and
//! the one-process-per-node engine (`run_node`) both step a [`NodeSchedule`], so the two cannot
//! drift apart.

use super::Algorithm;
use serde::{Deserialize, Serialize};

/// How a step ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Exact average over all nodes (all-reduce).
    Global,
    /// One gossip round with the mixing matrix of this round index.
    Gossip {
        /// Index into [`MixingMatrix::rounds`].
        round: usize,
    },
    /// Nothing: the node keeps its own update.
    Local,
}

/// The averaging schedule of [`super::Mixer`], for one node: which [`Combine`] each step ends
/// with, including Gossip-AGA's adaptive period (a heuristic, see [`super::Mixer`]).
#[derive(Clone, Debug)]
pub struct NodeSchedule {
    algorithm: Algorithm,
    period: usize,
    aga_max_period: usize,
    rounds: usize,
    step: u64,
    next_global: u64,
    current_period: usize,
    initial_loss: Option<f64>,
    last_loss: Option<f64>,
}

impl NodeSchedule {
    /// The schedule of `algorithm` with period `period` over `rounds` mixing rounds.
    pub fn new(algorithm: Algorithm, period: usize, aga_max_period: usize, rounds: usize) -> Self {
        let period = period.max(1);
        Self {
            algorithm,
            period,
            aga_max_period: aga_max_period.max(period),
            rounds: rounds.max(1),
            step: 0,
            next_global: period as u64,
            current_period: period,
            initial_loss: None,
            last_loss: None,
        }
    }

    /// The averaging period in force now.
    pub fn current_period(&self) -> usize {
        self.current_period
    }

    /// How the step about to be taken ends.
    pub fn next(&self) -> Combine {
        let global = match self.algorithm {
            Algorithm::ParallelSgd => true,
            Algorithm::GossipSgd => false,
            _ => self.step + 1 == self.next_global,
        };
        if global {
            Combine::Global
        } else if matches!(
            self.algorithm,
            Algorithm::GossipSgd | Algorithm::GossipPga | Algorithm::GossipAga
        ) {
            Combine::Gossip {
                round: (self.step % self.rounds as u64) as usize,
            }
        } else {
            Combine::Local
        }
    }

    /// Moves past the step [`Self::next`] described.
    pub fn advance(&mut self) {
        let global = self.next() == Combine::Global;
        self.step += 1;
        if global && self.algorithm != Algorithm::ParallelSgd {
            if self.algorithm == Algorithm::GossipAga
                && let (Some(f0), Some(f)) = (self.initial_loss, self.last_loss)
            {
                let h = (self.period as f64 * (f0 / f).sqrt()).ceil();
                self.current_period = (h as usize).clamp(1, self.aga_max_period);
            }
            self.next_global = self.step + self.current_period as u64;
        }
    }

    /// Tells Gossip-AGA the latest f(x̄) (ignored by the others).
    pub fn observe_loss(&mut self, loss: f64) {
        if loss.is_finite() && loss > 0.0 {
            self.initial_loss.get_or_insert(loss);
            self.last_loss = Some(loss);
        }
    }
}

/// The part of a [`NodeSchedule`] that changes as it runs (a checkpoint keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// Steps taken.
    pub step: u64,
    /// The step after which the next global average comes.
    pub next_global: u64,
    /// The averaging period in force.
    pub current_period: usize,
    /// Gossip-AGA's first loss.
    pub initial_loss: Option<f64>,
    /// Gossip-AGA's latest loss.
    pub last_loss: Option<f64>,
}

impl NodeSchedule {
    /// Where it is, for a checkpoint.
    pub fn state(&self) -> ScheduleState {
        ScheduleState {
            step: self.step,
            next_global: self.next_global,
            current_period: self.current_period,
            initial_loss: self.initial_loss,
            last_loss: self.last_loss,
        }
    }

    /// Continues from `state`, taken of a schedule built the same way.
    pub fn set_state(&mut self, state: ScheduleState) {
        self.step = state.step;
        self.next_global = state.next_global;
        self.current_period = state.current_period;
        self.initial_loss = state.initial_loss;
        self.last_loss = state.last_loss;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }
}
