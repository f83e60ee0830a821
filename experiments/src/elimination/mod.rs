//! Elimination of bad local minima (Kawaguchi, Kaelbling, "Elimination of All Bad Local Minima in
//! Deep Learning", AISTATS 2020).
//!
//! A narrow ReLU network (2 inputs, `hidden` ReLU units, one output) is trained with full-batch
//! gradient descent on the squared loss of an XOR-like problem: four Gaussian clusters at
//! (±1, ±1), target +1 where the signs agree and −1 where they differ. Two hidden units can fit
//! it (|x₁ + x₂| − 1 does), yet plain training from random inits often stops at a suboptimal
//! loss (dead units, one unit fitting one diagonal). Every init is trained twice with the same
//! seed and the same optimizer: plain, and with one exponential neuron added per output
//! (f̃ = f + a·exp(wᵀx + b), loss + (λ/2)a², [`sgdlab_engine::model::ExpNeurons`]).
//!
//! All runs are one batched burn computation: parameters are (runs, ·, ·) tensors and the loss
//! is the sum of the per-run losses, so every run gets exactly its own gradient while the
//! per-operation overhead is paid once per step instead of once per run.
//!
//! The theorem is about local minima, so after gradient descent every run's end point is refined
//! and classified ([`classify`]: local minimum, saddle, still moving, escaping to infinity) and
//! the claims are decided on the classified local minima ([`claims`]). The paper's failure mode,
//! an objective with no local minimum in reach whose parameters run off to infinity, is its own
//! part ([`failure_mode`]). Also reported: the fraction of runs ending gradient descent above the
//! best loss plus a tolerance, max |a|, and the original network's loss with the neuron removed.

mod claims;
mod classify;
mod config;
mod controls;
mod failure_mode;
mod report;
mod run;

pub use claims::elimination_claims;
pub use classify::{
    Classified, ClassifyRule, EndPoint, HostObjective, Objective, classify, symmetric_eigen,
};
pub use config::EliminationConfig;
pub use controls::{
    PerturbRule, Trend, constructed_saddle, is_diverging, perturbed_descent, trend,
};
pub use failure_mode::{FailureMode, FailurePoint, failure_objective, run_failure_mode};

use super::{Claim, Experiment, Progress, Registered, RunRequest, to_json_value};
use crate::{F32, MemoryEstimate, product};
use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use sgdlab_engine::device::{ComputeDevice, DeviceInfo};
use sgdlab_engine::error::Result;
use sgdlab_engine::model::EXPONENT_CAP;
use sgdlab_engine::optim::Sgd;
use sgdlab_engine::report::{
    Axis, Bounds, CsvTable, Histogram, LinePlot, Panel, ReportMd, Series, fmt_f64,
};
use std::path::{Path, PathBuf};

/// The final state of one wrapped run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WrappedRun {
    /// The init index.
    pub init: usize,
    /// Final wrapped objective: ½·mean (f̃ − y)² + (λ/2)a².
    pub objective: f64,
    /// Final loss of the original network with the neuron removed, ½·mean (f − y)².
    pub original_loss: f64,
    /// Final a.
    pub a: f64,
    /// Final b.
    pub b: f64,
    /// Final ‖w‖.
    pub w_norm: f64,
    /// Largest |a·exp(wᵀx + b)| over the training points.
    pub neuron_output_max: f64,
    /// Largest exponent wᵀx + b over the training points (above the cap means it was clamped).
    pub max_exponent: f64,
    /// Whether the run moves along a path to infinity (see the module doc).
    pub escaping: bool,
}

/// The typed summary written to results.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EliminationResults {
    /// Always `elimination`.
    pub experiment: String,
    /// `complete`, `running`, or what stopped the run.
    pub status: String,
    /// Backend and adapter used.
    pub device: DeviceInfo,
    /// The problem, in words.
    pub problem: String,
    /// Inits (each trained plain and wrapped).
    pub inits: usize,
    /// Gradient steps taken per run.
    pub steps_done: usize,
    /// λ.
    pub lambda: f64,
    /// The tolerance above the best loss.
    pub tolerance: f64,
    /// The best final loss over all runs and arms (plain loss, wrapped objective, wrapped with
    /// the neurons removed).
    pub best_loss: f64,
    /// Final plain losses, per init.
    pub plain_final_loss: Vec<f64>,
    /// Fraction of plain runs above best + tolerance.
    pub plain_suboptimal_fraction: f64,
    /// Fraction of wrapped runs whose objective is above best + tolerance.
    pub wrapped_suboptimal_fraction: f64,
    /// Fraction of wrapped runs whose original network (neurons removed) is above best +
    /// tolerance.
    pub wrapped_removed_suboptimal_fraction: f64,
    /// Largest |a| over the wrapped runs at the end.
    pub max_abs_a: f64,
    /// Wrapped runs moving along a path to infinity.
    pub escaping_runs: usize,
    /// Wrapped runs whose exponent reached the cap.
    pub exponent_cap_hits: usize,
    /// Final state of every wrapped run.
    pub wrapped: Vec<WrappedRun>,
    /// The classification rule of the end points.
    pub classify_rule: Option<ClassifyRule>,
    /// "a ≈ 0" means |a| ≤ this.
    pub a_tolerance: f64,
    /// A wrapped local minimum's original network is globally optimal when its loss is at most
    /// this …
    pub loss_tolerance: f64,
    /// … and its largest residual at most this.
    pub residual_tolerance: f64,
    /// The perturbation test applied to every classified local minimum and every stationary
    /// point next to a ReLU kink.
    pub perturb_rule: Option<PerturbRule>,
    /// Stationary points within this of a ReLU kink are classified by the perturbation test.
    pub kink_flag: f64,
    /// Inits of the negative control (wrapped runs on noisy clusters, arm `control`).
    pub control_inits: usize,
    /// Noise of the negative control's clusters.
    pub control_noise_std: f64,
    /// False positives of the negative control the theorem's claim tolerates.
    pub control_false_positives: usize,
    /// The positive control: one constructed wrapped saddle per bad plain local minimum,
    /// classified without refinement.
    pub positive_control: Vec<ConstructedSaddle>,
    /// Every run's end point after refinement, plain runs first (empty until classified).
    pub end_points: Vec<EndPointRun>,
    /// The best loss of the original network found: the smallest over the plain runs'
    /// objective and the wrapped runs' loss with the neuron removed, at their refined end points.
    pub best_original_loss: f64,
    /// The failure-mode part (empty until run).
    pub failure_mode: FailureMode,
}

/// Where one run ended after refinement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndPointRun {
    /// `plain` or `wrapped`.
    pub arm: String,
    /// The init index.
    pub init: usize,
    /// The class of the end point.
    pub end: EndPoint,
    /// The run's objective there.
    pub objective: f64,
    /// The original network's loss there (the neuron removed; plain: the objective).
    pub original_loss: f64,
    /// The neuron's output weight a there (0 for plain runs).
    pub a: f64,
    /// ‖∇‖ there.
    pub grad_norm: f64,
    /// The smallest Hessian eigenvalue there.
    pub min_eigenvalue: f64,
    /// ‖θ‖ there.
    pub param_norm: f64,
    /// Newton iterations used.
    pub iters: usize,
    /// The largest residual |f(xᵢ) − yᵢ| of the original network there.
    pub max_residual: f64,
    /// The smallest |pre-activation| of a hidden unit over the data there.
    pub kink_distance: f64,
    /// Whether the class was decided by the perturbation test (every local minimum, and every
    /// stationary point within `kink_flag` of a kink).
    pub perturbation_tested: bool,
    /// The class before the perturbation test, when that test changed it.
    pub second_order_class: Option<EndPoint>,
    /// Wrapped runs still moving: how a and b moved over the last `diverge_window` refinement
    /// iterations.
    pub trend: Option<Trend>,
}

/// One point of the positive control: the wrapped stationary point built from a bad plain local
/// minimum ([`constructed_saddle`]), classified by the second-order test without refinement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstructedSaddle {
    /// The plain run's init.
    pub init: usize,
    /// Its plain loss.
    pub plain_loss: f64,
    /// ‖∇‖ of the wrapped objective at the constructed point.
    pub grad_norm: f64,
    /// The smallest Hessian eigenvalue there.
    pub min_eigenvalue: f64,
    /// The class the classifier gives it: `saddle` is right; `local-minimum` a missed
    /// counterexample; `still-moving` when not stationary within the gradient tolerance; absent
    /// when no such point could be built.
    pub end: Option<EndPoint>,
}

/// Every run's diagnostics at one step. Runs `0..inits` are the plain networks, runs
/// `inits..2·inits` the same inits wrapped with the exponential neuron.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EliminationSnapshot {
    /// Gradient steps taken.
    pub step: usize,
    /// The objective each run minimizes (plain: ½·mean (f − y)²; wrapped: with f̃ and + (λ/2)a²).
    pub loss: Vec<f64>,
    /// ½·mean (f − y)² of the original network (the neuron removed).
    pub original: Vec<f64>,
    /// The neuron's output weight a (0 for plain runs).
    pub a: Vec<f64>,
    /// The neuron's bias b.
    pub b: Vec<f64>,
    /// ‖w‖ of the neuron's input weights.
    pub w_norm: Vec<f64>,
    /// Largest |a·exp(wᵀx + b)| over the training points.
    pub neuron_max: Vec<f64>,
    /// Largest exponent wᵀx + b over the training points.
    pub max_exponent: Vec<f64>,
}

/// The experiment's state machine.
pub struct Elimination {
    config: EliminationConfig,
    nets: Option<run::BatchedNets>,
    optim: Sgd,
    x: Tensor<3>,
    y: Tensor<3>,
    mask: Tensor<3>,
    steps_done: usize,
    last_loss: f64,
    snapshots: Vec<EliminationSnapshot>,
    results: EliminationResults,
    /// Each run's parameters after gradient descent, in the order of [`HostObjective`].
    final_params: Vec<Vec<f64>>,
    /// Runs classified so far.
    classified: usize,
    /// The refined parameters of the plain runs classified as local minima (init, θ), for the
    /// positive control.
    plain_minima: Vec<(usize, Vec<f64>)>,
}

/// What an elimination checkpoint keeps: during gradient descent and until the final parameters
/// are read, the networks' parameters and the optimizer's state with the diagnostics so far;
/// after that, everything the classification needs (the networks are no longer needed).
#[derive(Serialize, Deserialize)]
struct EliminationState {
    gd: Option<GdState>,
    last_loss: f64,
    snapshots: Vec<EliminationSnapshot>,
    results: EliminationResults,
    final_params: Vec<Vec<f64>>,
    classified: usize,
    plain_minima: Vec<(usize, Vec<f64>)>,
}

/// Gradient descent in progress.
#[derive(Serialize, Deserialize)]
struct GdState {
    steps_done: usize,
    params: Vec<f32>,
    optim: sgdlab_engine::optim::SgdState,
}

impl Elimination {
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "step",
            "arm",
            "init",
            "loss",
            "original_loss",
            "a",
            "b",
            "w_norm",
            "neuron_output_max",
            "max_exponent",
        ]);
        let inits = self.config.inits;
        for s in &self.snapshots {
            for r in 0..self.config.runs() {
                let wrapped = r >= inits;
                let opt = |v: f64| if wrapped { fmt_f64(v) } else { String::new() };
                t.push_row(vec![
                    s.step.to_string(),
                    self.config.arm_of(r).0.to_string(),
                    self.config.arm_of(r).1.to_string(),
                    fmt_f64(s.loss[r]),
                    fmt_f64(s.original[r]),
                    opt(s.a[r]),
                    opt(s.b[r]),
                    opt(s.w_norm[r]),
                    opt(s.neuron_max[r]),
                    opt(s.max_exponent[r]),
                ]);
            }
        }
        t
    }

    fn histogram(&self) -> Histogram {
        let r = &self.results;
        // Losses below the floor (exact zeros included) are binned at it, on a log axis.
        let floor = 1e-8;
        let floored = |v: f64| v.max(floor);
        Histogram {
            title: format!(
                "Final loss over {} inits (best {:.2e}, tolerance {})",
                r.inits, r.best_loss, r.tolerance
            ),
            x: Axis::log("final loss (floored at 1e-8)"),
            counted: "inits".into(),
            series: vec![
                (
                    "plain".into(),
                    r.plain_final_loss.iter().map(|&v| floored(v)).collect(),
                ),
                (
                    "wrapped (objective)".into(),
                    r.wrapped.iter().map(|w| floored(w.objective)).collect(),
                ),
                (
                    "wrapped, neurons removed".into(),
                    r.wrapped.iter().map(|w| floored(w.original_loss)).collect(),
                ),
            ],
            bins: 40,
        }
    }

    fn curves(&self) -> LinePlot {
        let inits = self.config.inits;
        let mean = |s: &EliminationSnapshot,
                    range: std::ops::Range<usize>,
                    f: fn(&EliminationSnapshot, usize) -> f64| {
            let n = range.len().max(1) as f64;
            range.map(|r| f(s, r)).sum::<f64>() / n
        };
        let series = |name: &str,
                      range: std::ops::Range<usize>,
                      f: fn(&EliminationSnapshot, usize) -> f64| {
            Series::line(
                name,
                self.snapshots
                    .iter()
                    .map(|s| (s.step as f64, mean(s, range.clone(), f)))
                    .collect(),
            )
        };
        // Loss, b and ‖w‖ have different units: one panel each, sharing the step axis.
        LinePlot {
            title: "Mean loss over inits, and the added neurons' b and ‖w‖".into(),
            x: Axis::linear("gradient step (iterations)"),
            panels: vec![
                Panel {
                    y: Axis::linear("loss (mean over inits)").bounded(Bounds::NON_NEGATIVE),
                    series: vec![
                        series("plain loss", 0..inits, |s, r| s.loss[r]),
                        series("wrapped objective", inits..2 * inits, |s, r| s.loss[r]),
                        series("wrapped, neurons removed", inits..2 * inits, |s, r| {
                            s.original[r]
                        }),
                    ],
                },
                Panel {
                    y: Axis::linear("b (exponential neuron bias)"),
                    series: vec![series("mean b (wrapped)", inits..2 * inits, |s, r| s.b[r])],
                },
                Panel {
                    y: Axis::linear("‖w‖ (exponential neuron weight norm)")
                        .bounded(Bounds::NON_NEGATIVE),
                    series: vec![series(
                        "mean ‖w‖ (wrapped)",
                        inits..2 * inits,
                        |s, r| s.w_norm[r],
                    )],
                },
            ],
        }
    }

    fn report_body(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.paragraph(
            "Kawaguchi, Kaelbling (AISTATS 2020): adding one exponential neuron per output, \
             f̃(x) = f(x) + a·exp(wᵀx + b), and (λ/2)a² to a loss convex in the output makes every \
             local minimum of the new loss a global minimum of the original (with a = 0). Where \
             no such point is reachable, the loss can only decrease along a path to infinity.",
        );
        md.paragraph(&format!(
            "Status: **{}** after {} gradient steps. Problem: {}. λ = {}, device: {}.",
            r.status, r.steps_done, r.problem, r.lambda, r.device
        ));
        md.heading(
            2,
            "At the end of gradient descent (before the end points are refined)",
        );
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        md.table(
            &["quantity", "value"],
            &[
                vec!["inits (each plain and wrapped)".into(), r.inits.to_string()],
                vec![
                    "best final loss found".into(),
                    format!("{:.3e}", r.best_loss),
                ],
                vec!["tolerance above best".into(), r.tolerance.to_string()],
                vec![
                    "plain runs above best + tolerance".into(),
                    pct(r.plain_suboptimal_fraction),
                ],
                vec![
                    "wrapped runs above best + tolerance (wrapped objective)".into(),
                    pct(r.wrapped_suboptimal_fraction),
                ],
                vec![
                    "wrapped runs above best + tolerance (neurons removed)".into(),
                    pct(r.wrapped_removed_suboptimal_fraction),
                ],
                vec![
                    "max |a| at the end (wrapped)".into(),
                    format!("{:.3e}", r.max_abs_a),
                ],
                vec![
                    "wrapped runs on a path to infinity".into(),
                    format!("{} of {}", r.escaping_runs, r.inits),
                ],
                vec![
                    format!("wrapped runs whose exponent reached the cap {EXPONENT_CAP}"),
                    r.exponent_cap_hits.to_string(),
                ],
            ],
        );
        md.paragraph(&format!(
            "A wrapped run counts as on a path to infinity when, over the second half of \
             training, b fell by more than {d} or ‖w‖ grew by more than {d} while \
             max |a·exp(wᵀx + b)| over the data stayed below 10 (the targets are ±1). That is the \
             failure mode the paper characterizes: the loss still decreases, but no finite local \
             minimum is approached, so the guarantee says nothing about where training stops.",
            d = self.config.escape_drift
        ));
        let mut rows: Vec<Vec<String>> = r
            .wrapped
            .iter()
            .filter(|w| w.escaping || w.objective > r.best_loss + r.tolerance)
            .take(20)
            .map(|w| {
                vec![
                    w.init.to_string(),
                    format!(
                        "{:.3e}",
                        r.plain_final_loss.get(w.init).copied().unwrap_or(f64::NAN)
                    ),
                    format!("{:.3e}", w.objective),
                    format!("{:.3e}", w.original_loss),
                    format!("{:.3e}", w.a),
                    format!("{:.2}", w.b),
                    format!("{:.2}", w.w_norm),
                    format!("{:.3e}", w.neuron_output_max),
                    if w.escaping { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            md.heading(2, "Wrapped runs that are suboptimal or escaping (first 20)");
            md.table(
                &[
                    "init",
                    "plain loss",
                    "wrapped objective",
                    "neurons removed",
                    "a",
                    "b",
                    "‖w‖",
                    "max |a·exp|",
                    "path to ∞",
                ],
                &std::mem::take(&mut rows),
            );
        }
        report::end_points_section(md, r);
        report::failure_section(md, r);
    }
}

impl Registered for Elimination {
    type Config = EliminationConfig;
    fn preset_config(request: &RunRequest) -> EliminationConfig {
        EliminationConfig::preset(request.preset)
    }
    fn validate_config(config: &EliminationConfig) -> Result<()> {
        config.validate()
    }
    fn memory(c: &EliminationConfig) -> MemoryEstimate {
        // All inits train as one batch of 4h + 5 parameters each (two networks: plain and
        // wrapped), with snapshots; each end point's Hessian is (4h + 5)² in f64.
        let params = 4 * c.hidden as u64 + 5;
        let evals = (c.steps / c.eval_every.max(1)) as u64 + 2;
        MemoryEstimate::new()
            .add("inits", product(&[c.runs() as u64, params, F32, 6]))
            .add(
                "eval_every",
                product(&[c.runs() as u64, params, F32, evals]),
            )
            .add(
                "points_per_cluster",
                product(&[c.points_per_cluster as u64, 4, 3, F32, 4]),
            )
            .add("hidden", product(&[params, params, 8, 4]))
    }
    fn build(config: EliminationConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Elimination {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        if self.steps_done >= self.config.steps {
            self.classify_step();
            if self.is_done() {
                self.results.status = "complete".into();
            }
            return Ok(self.progress());
        }
        if self.snapshots.is_empty() {
            self.snapshot()?;
        }
        let end = (self.steps_done + self.config.steps_per_call).min(self.config.steps);
        while self.steps_done < end {
            self.gradient_step()?;
            let eval_now = self.steps_done.is_multiple_of(self.config.eval_every)
                || self.steps_done == self.config.steps;
            if eval_now && let Err(e) = self.snapshot() {
                self.results.status = format!("stopped: {e:#}");
                self.summarize();
                return Err(e);
            }
        }
        self.summarize();
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.steps_done >= self.config.steps
            && self.classified >= self.config.runs()
            && !self.results.failure_mode.points.is_empty()
    }

    fn progress(&self) -> Progress {
        let runs = self.config.runs();
        let phase = if self.steps_done < self.config.steps {
            format!(
                "{} inits · plain and wrapped · step {}/{}",
                self.config.inits, self.steps_done, self.config.steps
            )
        } else if self.classified < runs {
            format!("classifying end points {}/{runs}", self.classified)
        } else {
            "failure mode".to_string()
        };
        Progress {
            phase,
            done: (self.steps_done + self.classified) as u64
                + u64::from(!self.results.failure_mode.points.is_empty()),
            total: (self.config.steps + runs + 1) as u64,
            unit: "steps and runs classified".into(),
            epoch: self.steps_done,
            loss: self.last_loss,
            accuracy: f64::NAN,
        }
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.config)
    }

    fn results_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.results)
    }

    fn claims(&self) -> Vec<Claim> {
        elimination_claims(&self.results)
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let p = dir.join("metrics.csv");
        self.metrics_table().write(&p)?;
        let mut written = vec![p];
        if !self.results.end_points.is_empty() {
            let p = dir.join("end_points.csv");
            report::end_points_table(&self.results).write(&p)?;
            written.push(p);
        }
        if !self.results.end_points.is_empty() {
            written.extend(report::end_points_plot(&self.results).render(dir, "end_points")?);
        }
        if !self.results.failure_mode.points.is_empty() {
            let p = dir.join("failure_mode.csv");
            report::failure_table(&self.results).write(&p)?;
            written.push(p);
            written.extend(report::failure_plot(&self.results).render(dir, "failure_mode")?);
        }
        if !self.results.wrapped.is_empty() {
            written.extend(self.histogram().render(dir, "final_loss_distribution")?);
        }
        if !self.snapshots.is_empty() {
            written.extend(self.curves().render(dir, "training_curves")?);
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_body(md);
    }

    /// Jobs: gradient descent, then each classified end point.
    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        if self.steps_done == 0 {
            return Ok(None);
        }
        let gd_done = self.steps_done >= self.config.steps;
        // The networks are kept until the first classification step reads their final
        // parameters: a checkpoint between the last gradient step and that read keeps them too.
        let gd = self.final_params.is_empty().then(|| GdState {
            steps_done: self.steps_done,
            params: sgdlab_engine::train::flatten_params(self.nets()),
            optim: self.optim.state(self.nets()),
        });
        let state = EliminationState {
            gd,
            last_loss: self.last_loss,
            snapshots: self.snapshots.clone(),
            results: self.results.clone(),
            final_params: self.final_params.clone(),
            classified: self.classified,
            plain_minima: self.plain_minima.clone(),
        };
        let finished = if gd_done { 1 + self.classified } else { 0 };
        Ok(Some((finished, super::encode(&state)?)))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let s: EliminationState = super::decode(state, "elimination checkpoint")?;
        match s.gd {
            Some(gd) if gd.steps_done <= self.config.steps => {
                let nets = self
                    .nets
                    .take()
                    .expect("the networks are only taken out during a gradient step");
                if gd.params.len() != nets.num_params() {
                    self.nets = Some(nets);
                    return Err(super::EngineError::config(
                        "<checkpoint>",
                        "the saved networks do not fit this config",
                    ));
                }
                let nets = sgdlab_engine::snapshot::load_params(nets, &gd.params)?;
                self.optim = Sgd::from_state(&gd.optim, &nets, &self.x.device().inner())?;
                self.nets = Some(nets);
                self.steps_done = gd.steps_done;
            }
            Some(_) => {
                return Err(super::EngineError::config(
                    "<checkpoint>",
                    "gradient descent in progress past its last step",
                ));
            }
            None if s.final_params.is_empty() => {
                return Err(super::EngineError::config(
                    "<checkpoint>",
                    "gradient descent finished but neither the networks nor their final \
                     parameters were saved",
                ));
            }
            None => self.steps_done = self.config.steps,
        }
        self.last_loss = s.last_loss;
        self.snapshots = s.snapshots;
        self.results = s.results;
        self.final_params = s.final_params;
        self.classified = s.classified;
        self.plain_minima = s.plain_minima;
        Ok(())
    }
}

#[cfg(test)]
mod diagnose;

#[cfg(test)]
mod tests {
    use super::*;
    use sgdlab_engine::device::cpu_device;

    #[test]
    fn bad_lambda_names_the_field() {
        for lambda in [0.0, -1.0, f64::NAN] {
            let e = EliminationConfig::new()
                .with_lambda(lambda)
                .validate()
                .unwrap_err();
            assert!(e.to_string().contains("`lambda`"), "{e}");
        }
        let e = EliminationConfig::new()
            .with_hidden(0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("`hidden`"), "{e}");
    }

    #[test]
    fn plain_runs_keep_a_at_zero_and_wrapped_runs_use_it() {
        let config = EliminationConfig::new()
            .with_inits(6)
            .with_control_inits(2)
            .with_steps(200)
            .with_eval_every(100);
        let mut e = Elimination::new(config, cpu_device()).unwrap();
        while !e.is_done() {
            e.step().unwrap();
        }
        let s = e.snapshots.last().unwrap();
        assert!(s.a[..6].iter().all(|&a| a == 0.0), "{:?}", s.a);
        assert!(s.a[6..].iter().any(|&a| a.abs() > 1e-4), "{:?}", s.a);
        // The plain copy of an init is the original network: its loss equals its f-only loss.
        for r in 0..6 {
            assert!((s.loss[r] - s.original[r]).abs() < 1e-9);
        }
        let r = e.results();
        assert_eq!(r.plain_final_loss.len(), 6);
        assert!(r.best_loss.is_finite() && r.best_loss >= 0.0);
    }
}
