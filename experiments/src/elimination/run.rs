//! The elimination experiment's runs: every init plain and wrapped as one batched burn
//! computation, its snapshots and summary, and the refinement and classification of the end
//! points.

use super::classify::{TRACE_EVERY, min_eigenvalue_at, second_order_class};
use super::{
    ClassifyRule, ConstructedSaddle, Elimination, EliminationConfig, EliminationResults,
    EliminationSnapshot, EndPoint, EndPointRun, HostObjective, Objective, PerturbRule, WrappedRun,
    classify, constructed_saddle, is_diverging, perturbed_descent, run_failure_mode, trend,
};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData, activation};
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::{EXPONENT_CAP, exp_neuron_output, exp_neuron_regularizer};
use sgdlab_engine::rng::SplitMix64;

/// The plain and the wrapped copies of every init, as (runs, ·, ·) tensors. Runs `0..inits` are
/// plain (their neuron is masked out), runs `inits..2·inits` are the same inits wrapped.
#[derive(Module, Debug)]
pub(super) struct BatchedNets {
    w1: Param<Tensor<3>>,
    b1: Param<Tensor<3>>,
    w2: Param<Tensor<3>>,
    b2: Param<Tensor<3>>,
    ew: Param<Tensor<3>>,
    eb: Param<Tensor<3>>,
    ea: Param<Tensor<3>>,
}

fn param3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Param<Tensor<3>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

impl BatchedNets {
    fn init(config: &EliminationConfig, device: &Device) -> Self {
        let (h, d) = (config.hidden, 2usize);
        let (mut w1, mut b1, mut w2, mut b2, mut ew) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Plain and wrapped runs share init i's weights; control run i has them too.
        let inits = (0..config.inits)
            .chain(0..config.inits)
            .chain(0..config.control_inits);
        for i in inits {
            let mut rng = SplitMix64::for_purpose(config.seed + i as u64, "weights");
            let mut u = |n: usize, fan_in: usize, out: &mut Vec<f32>| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                out.extend((0..n).map(|_| (2.0 * rng.next_f32() - 1.0) * bound));
            };
            u(d * h, d, &mut w1);
            u(h, d, &mut b1);
            u(h, h, &mut w2);
            u(1, h, &mut b2);
            let mut nrng = SplitMix64::for_purpose(config.seed + i as u64, "exp neuron");
            ew.extend((0..d).map(|_| (nrng.normal() * config.neuron_w_std) as f32));
        }
        let runs = config.runs();
        Self {
            w1: param3(w1, [runs, d, h], device),
            b1: param3(b1, [runs, 1, h], device),
            w2: param3(w2, [runs, h, 1], device),
            b2: param3(b2, [runs, 1, 1], device),
            ew: param3(ew, [runs, d, 1], device),
            eb: param3(vec![0.0; runs], [runs, 1, 1], device),
            ea: param3(vec![0.0; runs], [runs, 1, 1], device),
        }
    }

    /// (original network output f, wrapped output f + mask·a·exp(z), exponent z), each
    /// (runs, n, 1).
    fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let hidden = activation::relu(x.clone().matmul(self.w1.val()) + self.b1.val());
        let f = hidden.matmul(self.w2.val()) + self.b2.val();
        let z = x.matmul(self.ew.val()) + self.eb.val();
        let g = exp_neuron_output(z.clone(), self.ea.val() * mask);
        (f.clone(), f + g, z)
    }
}

fn read(t: Tensor<3>) -> Vec<f64> {
    // Tensors built by this module are f32.
    t.into_data()
        .try_to_vec::<f32>()
        .expect("elimination tensors are f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

impl Elimination {
    /// Builds the data and the batched networks. Fails on an invalid config.
    pub fn new(config: EliminationConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let dev = device.device.clone().autodiff();
        let (x, y) = config.data();
        let n = y.len();
        let runs = config.runs();
        // The clean clusters for the plain and wrapped runs, the noisy ones for the control.
        let control_x = config.control_data().0;
        let mut xs = Vec::with_capacity(runs * n * 2);
        for r in 0..runs {
            xs.extend_from_slice(if r < 2 * config.inits { &x } else { &control_x });
        }
        let x = Tensor::<3>::from_data(TensorData::new(xs, [runs, n, 2]), &dev);
        let y = Tensor::<2>::from_data(TensorData::new(y, [n, 1]), &dev)
            .unsqueeze_dim::<3>(0)
            .expand([runs, n, 1]);
        let mask: Vec<f32> = (0..runs)
            .map(|r| if r < config.inits { 0.0 } else { 1.0 })
            .collect();
        let mask = Tensor::<3>::from_data(TensorData::new(mask, [runs, 1, 1]), &dev);
        let results = EliminationResults {
            experiment: "elimination".into(),
            status: "running".into(),
            device: device.info.clone(),
            problem: format!(
                "XOR-like: 4 clusters at (±1, ±1), {} points each, noise std {}, target ±1; \
                 network 2-{}-1 ReLU, squared loss, full-batch gradient descent",
                config.points_per_cluster, config.noise_std, config.hidden
            ),
            inits: config.inits,
            lambda: config.lambda,
            tolerance: config.tolerance,
            a_tolerance: config.a_tolerance,
            loss_tolerance: config.loss_tolerance,
            residual_tolerance: config.residual_tolerance,
            kink_flag: config.kink_flag,
            control_inits: config.control_inits,
            control_noise_std: config.control_noise_std,
            control_false_positives: config.control_false_positives,
            ..Default::default()
        };
        Ok(Self {
            nets: Some(BatchedNets::init(&config, &dev)),
            optim: config.optim.init(),
            config,
            x,
            y,
            mask,
            steps_done: 0,
            last_loss: f64::NAN,
            snapshots: Vec::new(),
            results,
            final_params: Vec::new(),
            classified: 0,
            plain_minima: Vec::new(),
        })
    }

    /// Diagnostics recorded so far, every `eval_every` steps.
    pub fn snapshots(&self) -> &[EliminationSnapshot] {
        &self.snapshots
    }

    /// The summary so far.
    pub fn results(&self) -> &EliminationResults {
        &self.results
    }

    pub(super) fn nets(&self) -> &BatchedNets {
        self.nets
            .as_ref()
            .expect("the networks are only taken out during a gradient step")
    }

    pub(super) fn gradient_step(&mut self) -> Result<()> {
        let nets = self
            .nets
            .take()
            .expect("the networks are only taken out during a gradient step");
        let (_, out, _) = nets.forward(self.x.clone(), self.mask.clone());
        let per_run = (out - self.y.clone()).square().mean_dim(1).mul_scalar(0.5);
        let reg = exp_neuron_regularizer(nets.ea.val() * self.mask.clone(), self.config.lambda);
        let total = per_run.sum() + reg;
        let mut grads = total.backward();
        self.nets = Some(self.optim.step(nets, &mut grads));
        self.steps_done += 1;
        Ok(())
    }

    /// Reads back every run's diagnostics (one synchronisation with the device).
    pub(super) fn snapshot(&mut self) -> Result<()> {
        let nets = self.nets().valid();
        let inner = |t: &Tensor<3>| t.clone().inner();
        let (x, y, mask) = (inner(&self.x), inner(&self.y), inner(&self.mask));
        let (f, out, z) = nets.forward(x, mask.clone());
        let original = read((f - y.clone()).square().mean_dim(1).mul_scalar(0.5));
        let fitted = read((out.clone() - y).square().mean_dim(1).mul_scalar(0.5));
        let a = read(nets.ea.val());
        let b = read(nets.eb.val());
        let w_norm = read(nets.ew.val().square().sum_dim(1).sqrt());
        let neuron_max = read(
            exp_neuron_output(z.clone(), nets.ea.val() * mask)
                .abs()
                .max_dim(1),
        );
        let max_exponent = read(z.max_dim(1));
        let lambda = self.config.lambda;
        let inits = self.config.inits;
        let loss: Vec<f64> = fitted
            .iter()
            .enumerate()
            .map(|(r, &l)| {
                if r < inits {
                    l
                } else {
                    l + 0.5 * lambda * a[r] * a[r]
                }
            })
            .collect();
        if let Some((r, &l)) = loss.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            let (arm, init) = self.config.arm_of(r);
            return Err(EngineError::Diverged {
                step: self.steps_done as u64,
                phase: format!("{arm} run of init {init}"),
                loss: l,
            });
        }
        self.last_loss = loss.iter().sum::<f64>() / loss.len().max(1) as f64;
        self.snapshots.push(EliminationSnapshot {
            step: self.steps_done,
            loss,
            original,
            a,
            b,
            w_norm,
            neuron_max,
            max_exponent,
        });
        Ok(())
    }

    pub(super) fn summarize(&mut self) {
        let Some(last) = self.snapshots.last() else {
            return;
        };
        let inits = self.config.inits;
        // The state halfway through training, for the drift of b and ‖w‖.
        let half_step = last.step / 2;
        let mid = self
            .snapshots
            .iter()
            .min_by_key(|s| s.step.abs_diff(half_step))
            .unwrap_or(last);
        let plain: Vec<f64> = last.loss[..inits].to_vec();
        let y_max = 1.0; // targets are ±1
        let wrapped: Vec<WrappedRun> = (0..inits)
            .map(|i| {
                let r = inits + i;
                let drift = self.config.escape_drift;
                let moving =
                    last.b[r] - mid.b[r] < -drift || last.w_norm[r] - mid.w_norm[r] > drift;
                WrappedRun {
                    init: i,
                    objective: last.loss[r],
                    original_loss: last.original[r],
                    a: last.a[r],
                    b: last.b[r],
                    w_norm: last.w_norm[r],
                    neuron_output_max: last.neuron_max[r],
                    max_exponent: last.max_exponent[r],
                    escaping: moving && last.neuron_max[r] < 10.0 * y_max,
                }
            })
            .collect();
        let best = plain
            .iter()
            .chain(wrapped.iter().map(|w| &w.objective))
            .chain(wrapped.iter().map(|w| &w.original_loss))
            .copied()
            .fold(f64::INFINITY, f64::min);
        let tol = self.config.tolerance;
        let frac = |xs: &mut dyn Iterator<Item = f64>| {
            let (mut above, mut n) = (0usize, 0usize);
            for x in xs {
                n += 1;
                above += usize::from(x > best + tol);
            }
            above as f64 / n.max(1) as f64
        };
        let r = &mut self.results;
        r.steps_done = self.steps_done;
        r.best_loss = best;
        r.plain_suboptimal_fraction = frac(&mut plain.iter().copied());
        r.wrapped_suboptimal_fraction = frac(&mut wrapped.iter().map(|w| w.objective));
        r.wrapped_removed_suboptimal_fraction = frac(&mut wrapped.iter().map(|w| w.original_loss));
        r.max_abs_a = wrapped.iter().map(|w| w.a.abs()).fold(0.0, f64::max);
        r.escaping_runs = wrapped.iter().filter(|w| w.escaping).count();
        r.exponent_cap_hits = wrapped
            .iter()
            .filter(|w| w.max_exponent > f64::from(EXPONENT_CAP))
            .count();
        r.plain_final_loss = plain;
        r.wrapped = wrapped;
    }
}

impl Elimination {
    /// The classification rule from the config.
    pub(super) fn rule(&self) -> ClassifyRule {
        ClassifyRule {
            grad_tol: self.config.grad_tolerance,
            eig_tol: self.config.eigen_tolerance,
            step_tol: self.config.step_tolerance,
            escape_norm: self.config.escape_norm,
            max_iters: self.config.refine_iters,
            eig_floor: self.config.newton_eig_floor,
            max_step: self.config.newton_max_step,
            kink_tol: self.config.kink_tolerance,
            trace_window: self.config.diverge_window,
        }
    }

    /// The perturbation test's settings from the config.
    pub(super) fn perturb_rule(&self) -> PerturbRule {
        PerturbRule {
            directions: self.config.perturb_directions,
            radii: [1e-3, 1e-2],
            steps: self.config.perturb_steps,
            drop: self.config.perturb_drop,
        }
    }

    /// The host objective of plain (`wrapped = false`) or wrapped runs.
    pub(super) fn host_objective(&self, wrapped: bool) -> HostObjective {
        self.objective_on(self.config.data(), wrapped)
    }

    /// The wrapped objective of the negative control (noisy clusters).
    pub(super) fn control_objective(&self) -> HostObjective {
        self.objective_on(self.config.control_data(), true)
    }

    fn objective_on(&self, (x, y): (Vec<f32>, Vec<f32>), wrapped: bool) -> HostObjective {
        HostObjective {
            x: x.into_iter().map(f64::from).collect(),
            y: y.into_iter().map(f64::from).collect(),
            hidden: self.config.hidden,
            wrapped,
            lambda: self.config.lambda,
        }
    }

    /// Every run's parameters after gradient descent, in [`HostObjective`] order (one readback).
    pub(super) fn read_final_params(&self) -> Vec<Vec<f64>> {
        let nets = self.nets();
        let (w1, b1, w2, b2) = (
            read(nets.w1.val()),
            read(nets.b1.val()),
            read(nets.w2.val()),
            read(nets.b2.val()),
        );
        let (ew, eb, ea) = (
            read(nets.ew.val()),
            read(nets.eb.val()),
            read(nets.ea.val()),
        );
        let (h, inits) = (self.config.hidden, self.config.inits);
        (0..self.config.runs())
            .map(|r| {
                let mut p = Vec::with_capacity(4 * h + 5);
                p.extend_from_slice(&w1[r * 2 * h..(r + 1) * 2 * h]);
                p.extend_from_slice(&b1[r * h..(r + 1) * h]);
                p.extend_from_slice(&w2[r * h..(r + 1) * h]);
                p.push(b2[r]);
                if r >= inits {
                    p.extend_from_slice(&[ew[2 * r], ew[2 * r + 1], eb[r], ea[r]]);
                }
                p
            })
            .collect()
    }

    /// Classifies the next `classify_per_call` end points; then runs the positive control and
    /// the failure-mode part.
    pub(super) fn classify_step(&mut self) {
        let runs = self.config.runs();
        if self.final_params.is_empty() {
            self.final_params = self.read_final_params();
            self.results.classify_rule = Some(self.rule());
            self.results.perturb_rule = Some(self.perturb_rule());
        }
        if self.classified < runs {
            let objectives = [
                self.host_objective(false),
                self.host_objective(true),
                self.control_objective(),
            ];
            let end = (self.classified + self.config.classify_per_call).min(runs);
            for r in self.classified..end {
                let (arm, init) = self.config.arm_of(r);
                let obj = &objectives[match arm {
                    "plain" => 0,
                    "wrapped" => 1,
                    _ => 2,
                }];
                let run = self.classify_run(obj, r, arm, init);
                self.results.end_points.push(run);
            }
            self.classified = end;
            self.results.best_original_loss = self
                .results
                .end_points
                .iter()
                .filter(|e| e.arm != "control")
                .map(|e| e.original_loss)
                .fold(f64::INFINITY, f64::min);
            return;
        }
        self.positive_control();
        self.results.failure_mode = run_failure_mode(
            self.config.lambda,
            self.config.failure_lr,
            self.config.failure_steps,
        );
    }

    /// Refines and classifies run `r`: the classifier, then the perturbation test for every
    /// local minimum and every stationary point next to a kink, then (wrapped runs still moving)
    /// the diverging test.
    fn classify_run(
        &mut self,
        obj: &HostObjective,
        r: usize,
        arm: &str,
        init: usize,
    ) -> EndPointRun {
        let rule = self.rule();
        let c = classify(obj, &self.final_params[r], &rule);
        let kink_distance = obj.kink_distance(&c.params);
        let stationary = matches!(c.end, EndPoint::LocalMinimum | EndPoint::Saddle);
        let tested = c.end == EndPoint::LocalMinimum
            || (stationary && kink_distance < self.config.kink_flag);
        let mut end = c.end;
        if tested {
            let lowest = perturbed_descent(
                obj,
                &c.params,
                c.objective,
                &self.perturb_rule(),
                self.config.seed.wrapping_add(r as u64),
            );
            end = if lowest < c.objective - self.config.perturb_drop {
                EndPoint::Saddle
            } else {
                EndPoint::LocalMinimum
            };
        }
        let original_loss = obj.original_loss(&c.params);
        let samples = self.config.diverge_window / TRACE_EVERY + 1;
        let moved = (end == EndPoint::StillMoving)
            .then(|| trend(obj, &c.trace, &c.params, samples))
            .flatten();
        if arm == "wrapped" && end == EndPoint::StillMoving {
            // All plain runs are classified before any wrapped run: the bar is the best plain
            // loss plus the tolerance.
            let best_plain = self
                .results
                .end_points
                .iter()
                .filter(|e| e.arm == "plain")
                .map(|e| e.original_loss)
                .fold(f64::INFINITY, f64::min);
            if is_diverging(
                obj,
                &c.trace,
                &c.params,
                samples,
                best_plain + self.config.tolerance,
            ) {
                end = EndPoint::Diverging;
            }
        }
        if arm == "plain" && end == EndPoint::LocalMinimum {
            self.plain_minima.push((init, c.params.clone()));
        }
        EndPointRun {
            arm: arm.into(),
            init,
            end,
            objective: c.objective,
            original_loss,
            a: if obj.wrapped {
                c.params.last().copied().unwrap_or(0.0)
            } else {
                0.0
            },
            grad_norm: c.grad_norm,
            min_eigenvalue: c.min_eigenvalue,
            param_norm: c.param_norm,
            iters: c.iters,
            max_residual: obj.max_residual(&c.params),
            kink_distance,
            perturbation_tested: tested,
            second_order_class: (end != c.end).then_some(c.end),
            trend: moved,
        }
    }

    /// The positive control: for each bad plain local minimum (loss above the best original
    /// loss plus the tolerance), the constructed wrapped stationary point, classified by the
    /// second-order test without refinement.
    fn positive_control(&mut self) {
        let wrapped = self.host_objective(true);
        let rule = self.rule();
        let bar = self.results.best_original_loss + self.config.tolerance;
        let plain_obj = self.host_objective(false);
        self.results.positive_control = self
            .plain_minima
            .iter()
            .map(|(init, theta)| (init, theta, plain_obj.value(theta)))
            .filter(|&(_, _, plain_loss)| plain_loss > bar)
            .map(
                |(init, theta, plain_loss)| match constructed_saddle(&wrapped, theta) {
                    Some(p) => {
                        let (min_eig, gn) = min_eigenvalue_at(&wrapped, &p);
                        let end = if gn < rule.grad_tol {
                            second_order_class(min_eig, &rule)
                        } else {
                            EndPoint::StillMoving
                        };
                        ConstructedSaddle {
                            init: *init,
                            plain_loss,
                            grad_norm: gn,
                            min_eigenvalue: min_eig,
                            end: Some(end),
                        }
                    }
                    None => ConstructedSaddle {
                        init: *init,
                        plain_loss,
                        grad_norm: f64::NAN,
                        min_eigenvalue: f64::NAN,
                        end: None,
                    },
                },
            )
            .collect();
    }
}
