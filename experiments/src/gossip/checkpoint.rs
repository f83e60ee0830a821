//! What a gossip checkpoint keeps: the runs finished and everything they produced, and the run
//! in progress (the stacked node parameters, the mixer's place in its schedule and its
//! communication counts, the sample streams and the curves so far), so a resumed run continues
//! it where it was.

use super::{Active, Gossip, LogisticRun, MnistRun, Row, RunKey};
use crate::{decode, encode};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::optim::gossip::MixerState;
use sgdlab_engine::rng::SplitMix64;
use std::collections::BTreeMap;

/// The encoded state (the maps as lists of pairs).
#[derive(Serialize, Deserialize)]
struct GossipState {
    finished: usize,
    active: Option<ActiveState>,
    curves: Vec<(RunKey, Vec<f64>)>,
    half_curves: Vec<(RunKey, [Vec<f64>; 2])>,
    consensus_curves: Vec<(RunKey, Vec<f64>)>,
    rows: Vec<Row>,
    results: super::GossipResults,
    iterations_done: u64,
}

/// A run in progress; what [`Gossip::start`] does not rebuild.
#[derive(Serialize, Deserialize)]
enum ActiveState {
    Logistic {
        x: Vec<f32>,
        mixer: MixerState,
        rngs: Vec<SplitMix64>,
        errors: Vec<f64>,
        consensus: Vec<f64>,
        last_loss: f64,
        last_grad_norm: f64,
    },
    Mnist {
        params: Vec<Vec<f32>>,
        mixer: MixerState,
        rng: SplitMix64,
        consensus_sum: f64,
        last_loss: f64,
        last_grad_norm: f64,
        last_acc: f64,
    },
}

/// A tensor's values, read back.
fn values(t: &Tensor<2>) -> Result<Vec<f32>> {
    t.to_data()
        .try_to_vec::<f32>()
        .map_err(|e| EngineError::Device(format!("reading a run's parameters back: {e:?}")))
}

/// `saved` in the shape of `like`, on its device; fails when the sizes differ.
fn tensor_like(like: &Tensor<2>, saved: Vec<f32>) -> Result<Tensor<2>> {
    let dims = like.dims();
    if saved.len() != dims[0] * dims[1] {
        return Err(EngineError::config(
            "<checkpoint>",
            "the run in progress does not fit this config",
        ));
    }
    Ok(Tensor::from_data(
        TensorData::new(saved, dims),
        &like.device(),
    ))
}

fn active_state(active: &Active) -> Result<ActiveState> {
    Ok(match active {
        Active::Logistic(r) => ActiveState::Logistic {
            x: values(&r.x)?,
            mixer: r.mixer.state(),
            rngs: r.rngs.clone(),
            errors: r.errors.clone(),
            consensus: r.consensus.clone(),
            last_loss: r.last_loss,
            last_grad_norm: r.last_grad_norm,
        },
        Active::Mnist(r) => ActiveState::Mnist {
            params: r.model.params.iter().map(values).collect::<Result<_>>()?,
            mixer: r.mixer.state(),
            rng: r.rng.clone(),
            consensus_sum: r.consensus_sum,
            last_loss: r.last_loss,
            last_grad_norm: r.last_grad_norm,
            last_acc: r.last_acc,
        },
    })
}

/// Moves a freshly started run to `saved`.
fn resume(active: &mut Active, saved: ActiveState) -> Result<()> {
    let mismatch = || EngineError::config("<checkpoint>", "the run in progress is of another kind");
    match (active, saved) {
        (
            Active::Logistic(r),
            ActiveState::Logistic {
                x,
                mixer,
                rngs,
                errors,
                consensus,
                last_loss,
                last_grad_norm,
            },
        ) => {
            let r: &mut LogisticRun = r;
            if rngs.len() != r.rngs.len() {
                return Err(mismatch());
            }
            r.x = tensor_like(&r.x, x)?;
            r.mixer.set_state(mixer);
            r.rngs = rngs;
            r.errors = errors;
            r.consensus = consensus;
            r.last_loss = last_loss;
            r.last_grad_norm = last_grad_norm;
        }
        (
            Active::Mnist(r),
            ActiveState::Mnist {
                params,
                mixer,
                rng,
                consensus_sum,
                last_loss,
                last_grad_norm,
                last_acc,
            },
        ) => {
            let r: &mut MnistRun = r;
            if params.len() != r.model.params.len() {
                return Err(mismatch());
            }
            for (p, saved) in r.model.params.iter_mut().zip(params) {
                *p = tensor_like(p, saved)?;
            }
            r.mixer.set_state(mixer);
            r.rng = rng;
            r.consensus_sum = consensus_sum;
            r.last_loss = last_loss;
            r.last_grad_norm = last_grad_norm;
            r.last_acc = last_acc;
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

impl Gossip {
    /// The checkpoint now: the finished runs, what they produced, and the run in progress.
    pub(super) fn saved_state(&self) -> Result<Option<(usize, Vec<u8>)>> {
        let finished = self.queue.finished();
        let active = match self.queue.active() {
            Some((_, _, a)) => Some(active_state(a)?),
            None => None,
        };
        if finished == 0 && active.is_none() {
            return Ok(None);
        }
        let pairs = |m: &BTreeMap<RunKey, Vec<f64>>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        let state = GossipState {
            finished,
            active,
            curves: pairs(&self.curves),
            half_curves: self
                .half_curves
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            consensus_curves: pairs(&self.consensus_curves),
            rows: self.rows.clone(),
            results: self.results.clone(),
            iterations_done: self.iterations_done,
        };
        Ok(Some((finished, encode(&state)?)))
    }

    /// Restores a state written by [`Gossip::saved_state`].
    pub(super) fn restore_state(&mut self, bytes: &[u8]) -> Result<()> {
        let s: GossipState = decode(bytes, "gossip checkpoint")?;
        self.queue.resume_at(s.finished)?;
        self.curves = s.curves.into_iter().collect();
        self.half_curves = s.half_curves.into_iter().collect();
        self.consensus_curves = s.consensus_curves.into_iter().collect();
        self.rows = s.rows;
        self.results = s.results;
        self.iterations_done = s.iterations_done;
        if let Some(saved) = s.active {
            let Some(key) = self.queue.jobs().get(s.finished).cloned() else {
                return Err(EngineError::config(
                    "<checkpoint>",
                    "a run in progress after the last one",
                ));
            };
            let mut active = self.start(key)?;
            resume(&mut active, saved)?;
            self.queue.resume_active(s.finished, active)?;
        }
        Ok(())
    }
}
