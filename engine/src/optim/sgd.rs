//! Stochastic gradient descent with momentum, weight decay and a learning-rate schedule, written
//! on burn tensors so that later experiments can compose gradient noise, clipping and gossip
//! mixing into the same step.
//!
//! The update follows PyTorch's `torch.optim.SGD` (dampening 0):
//! g ← ∇L(w) + λw;  v ← μv + g;  d ← g + μv (Nesterov) or v;  w ← w − η·d.

use super::LrSchedule;
use crate::error::{EngineError, Result};
use crate::snapshot::param_ids;
use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::{Gradients, Tensor};
use std::collections::BTreeMap;

/// Configuration of [`Sgd`].
#[derive(Config, Debug, PartialEq)]
pub struct SgdConfig {
    /// Base learning rate η.
    #[config(default = 0.01)]
    pub lr: f64,
    /// Momentum μ in [0, 1); 0 is plain SGD.
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Nesterov momentum (needs μ > 0).
    #[config(default = false)]
    pub nesterov: bool,
    /// L2 weight decay λ ≥ 0, added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Learning-rate schedule over optimizer steps.
    #[config(default = "LrSchedule::Constant")]
    pub schedule: LrSchedule,
}

impl SgdConfig {
    /// Checks every field; `field` is this config's path in the experiment config.
    pub fn validate(&self, field: &str) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 100.0) {
            return Err(EngineError::config(
                format!("{field}.lr"),
                format!("expected a learning rate in (0, 100], found {}", self.lr),
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(EngineError::config(
                format!("{field}.momentum"),
                format!("expected momentum in [0, 1), found {}", self.momentum),
            ));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(EngineError::config(
                format!("{field}.nesterov"),
                "Nesterov momentum needs momentum > 0",
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(EngineError::config(
                format!("{field}.weight_decay"),
                format!("expected weight decay >= 0, found {}", self.weight_decay),
            ));
        }
        self.schedule.validate(&format!("{field}.schedule"))
    }

    /// A fresh optimizer (no momentum buffers yet).
    pub fn init(&self) -> Sgd {
        Sgd {
            config: self.clone(),
            velocity: BTreeMap::new(),
            steps: 0,
        }
    }
}

/// A serializable snapshot of [`Sgd`]'s state: the config, the step count and the velocity
/// buffers in the parameter order of the module they belong to (ids differ between processes,
/// positions do not), so a run saved mid-way continues with identical results.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgdState {
    /// The configuration.
    pub config: SgdConfig,
    /// Steps taken.
    pub steps: u64,
    /// Per parameter in visit order, its flattened velocity buffer (`None` before its first
    /// momentum step).
    pub velocity: Vec<Option<Vec<f32>>>,
}

/// SGD's state: the config, one velocity buffer per parameter, and the step count.
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
    velocity: BTreeMap<ParamId, Tensor<1>>,
    steps: u64,
}

impl Sgd {
    /// Optimizer steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The config.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The learning rate the next step will use.
    pub fn current_lr(&self) -> f64 {
        self.config.schedule.lr_at(self.config.lr, self.steps)
    }

    /// A snapshot of the state of the optimizer of `module` (reads the velocity buffers back
    /// from the device).
    pub fn state<M: Module>(&self, module: &M) -> SgdState {
        let velocity = param_ids(module)
            .iter()
            .map(|id| {
                self.velocity.get(id).map(|v| {
                    v.to_data()
                        .try_to_vec::<f32>()
                        .expect("velocity buffers are f32 tensors created by this optimizer")
                })
            })
            .collect();
        SgdState {
            config: self.config.clone(),
            steps: self.steps,
            velocity,
        }
    }

    /// Restores a snapshot for `module` (of the same type as the one it was taken of) on
    /// `device`, the module's device without autodiff.
    pub fn from_state<M: Module>(
        state: &SgdState,
        module: &M,
        device: &burn::tensor::Device,
    ) -> Result<Self> {
        let ids = param_ids(module);
        if ids.len() != state.velocity.len() {
            return Err(EngineError::config(
                "<checkpoint>",
                format!(
                    "optimizer state for {} parameters, the model has {}",
                    state.velocity.len(),
                    ids.len()
                ),
            ));
        }
        let velocity = ids
            .into_iter()
            .zip(&state.velocity)
            .filter_map(|(id, v)| {
                let v = v.as_ref()?;
                let t =
                    Tensor::from_data(burn::tensor::TensorData::new(v.clone(), [v.len()]), device);
                Some((id, t))
            })
            .collect();
        Ok(Self {
            config: state.config.clone(),
            velocity,
            steps: state.steps,
        })
    }

    /// Changes hyperparameters mid-run (momentum buffers are kept).
    pub fn set_config(&mut self, config: SgdConfig) {
        self.config = config;
    }

    /// Applies one step to every parameter of `module` that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, module: M, grads: &mut Gradients) -> M {
        let lr = self.current_lr();
        let mut mapper = SgdMapper {
            sgd: self,
            grads,
            lr,
        };
        let module = module.map(&mut mapper);
        self.steps += 1;
        module
    }

    /// The update for one parameter tensor given its gradient (both without autodiff).
    fn update<const D: usize>(
        &mut self,
        id: ParamId,
        w: Tensor<D>,
        grad: Tensor<D>,
        lr: f64,
    ) -> Tensor<D> {
        let c = &self.config;
        let mut g = grad;
        if c.weight_decay > 0.0 {
            g = g + w.clone().mul_scalar(c.weight_decay);
        }
        if c.momentum > 0.0 {
            let shape = g.shape();
            let flat: Tensor<1> = g.clone().reshape([shape.num_elements()]);
            let v = match self.velocity.remove(&id) {
                Some(v) => v.mul_scalar(c.momentum) + flat,
                None => flat,
            };
            let v_shaped: Tensor<D> = v.clone().reshape(shape);
            g = if c.nesterov {
                g + v_shaped.mul_scalar(c.momentum)
            } else {
                v_shaped
            };
            self.velocity.insert(id, v);
        }
        w - g.mul_scalar(lr)
    }
}

struct SgdMapper<'a> {
    sgd: &'a mut Sgd,
    grads: &'a mut Gradients,
    lr: f64,
}

impl ModuleMapper for SgdMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = tensor.grad_remove(self.grads) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let updated = self.sgd.update(id, tensor.inner(), grad, self.lr);
        let mut updated = Tensor::from_inner(updated);
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// One scalar parameter with loss L(w) = 0.5 * a * w², so ∇L = a·w.
    #[derive(Module, Debug)]
    struct Scalar {
        w: Param<Tensor<1>>,
    }

    fn run(config: SgdConfig, steps: usize) -> Vec<f32> {
        let device = Device::flex().autodiff();
        let mut m = Scalar {
            w: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -2.0], [2]),
                &device,
            )),
        };
        let a = Tensor::<1>::from_data(TensorData::new(vec![3.0f32, 0.5], [2]), &device);
        let mut opt = config.init();
        for _ in 0..steps {
            let w = m.w.val();
            let loss = (w.clone() * w * a.clone()).sum().mul_scalar(0.5);
            let mut grads = loss.backward();
            m = opt.step(m, &mut grads);
        }
        m.w.val().into_data().try_to_vec::<f32>().unwrap()
    }

    /// The same recursion in f64 on plain numbers, worked out independently of burn.
    fn reference(lr: f64, mu: f64, wd: f64, nesterov: bool, steps: usize) -> Vec<f64> {
        let a = [3.0, 0.5];
        let mut w = [1.0, -2.0];
        let mut v = [0.0, 0.0];
        for t in 0..steps {
            for i in 0..2 {
                let g = a[i] * w[i] + wd * w[i];
                v[i] = if t == 0 { g } else { mu * v[i] + g };
                let d = if mu == 0.0 {
                    g
                } else if nesterov {
                    g + mu * v[i]
                } else {
                    v[i]
                };
                w[i] -= lr * d;
            }
        }
        w.to_vec()
    }

    #[test]
    fn plain_sgd_matches_hand_computation() {
        // Two steps by hand: w0 = 1, a = 3, lr = 0.1 -> w1 = 1 - 0.3 = 0.7 -> w2 = 0.7 - 0.21 = 0.49.
        let w = run(SgdConfig::new().with_lr(0.1), 2);
        assert!((w[0] - 0.49).abs() < 1e-6, "{w:?}");
        assert!((w[1] - (-2.0 * 0.95 * 0.95)).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn momentum_weight_decay_nesterov_match_reference() {
        for (mu, wd, nest) in [(0.9, 0.0, false), (0.9, 0.01, false), (0.5, 0.1, true)] {
            let cfg = SgdConfig::new()
                .with_lr(0.05)
                .with_momentum(mu)
                .with_weight_decay(wd)
                .with_nesterov(nest);
            let got = run(cfg, 10);
            let want = reference(0.05, mu, wd, nest, 10);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() < 1e-5,
                    "mu {mu} wd {wd}: {got:?} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn save_load_step_is_identical() {
        let device = Device::flex().autodiff();
        let make = || Scalar {
            w: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -2.0], [2]),
                &device,
            )),
        };
        let a = Tensor::<1>::from_data(TensorData::new(vec![3.0f32, 0.5], [2]), &device);
        let step = |m: Scalar, opt: &mut Sgd| {
            let w = m.w.val();
            let loss = (w.clone() * w * a.clone()).sum().mul_scalar(0.5);
            let mut grads = loss.backward();
            opt.step(m, &mut grads)
        };
        let cfg = SgdConfig::new()
            .with_lr(0.05)
            .with_momentum(0.9)
            .with_weight_decay(0.01);
        let mut opt = cfg.init();
        let mut m = make();
        for _ in 0..5 {
            m = step(m, &mut opt);
        }
        // A fresh module (new parameter ids, as in another process) takes the saved values.
        let mut bytes = Vec::new();
        ciborium::into_writer(&opt.state(&m), &mut bytes).unwrap();
        let state: SgdState = ciborium::from_reader(bytes.as_slice()).unwrap();
        let m2 = crate::snapshot::load_params(make(), &crate::train::flatten_params(&m)).unwrap();
        assert_ne!(m2.w.id, m.w.id);
        let mut restored = Sgd::from_state(&state, &m2, &device.clone().inner()).unwrap();
        assert_eq!(restored.steps(), 5);
        let m = step(m, &mut opt);
        let m2 = step(m2, &mut restored);
        assert_eq!(
            m.w.val().into_data().try_to_vec::<f32>().unwrap(),
            m2.w.val().into_data().try_to_vec::<f32>().unwrap()
        );
    }

    #[test]
    fn validation_names_the_field() {
        let e = SgdConfig::new()
            .with_lr(-0.1)
            .validate("optim")
            .unwrap_err();
        assert!(e.to_string().contains("optim.lr"), "{e}");
        let e = SgdConfig::new()
            .with_momentum(1.0)
            .validate("optim")
            .unwrap_err();
        assert!(e.to_string().contains("optim.momentum"), "{e}");
    }
}
