//! Heavy-tailed noise in network training (Wang, Oh, Rhee 2021, the experiments of section 5):
//! an MLP or CNN trained on MNIST-10k with a fraction of its training labels corrupted, by
//! three rules at the same learning rate and the same samples per step:
//!
//! - `sgd`: `w ← w − η·ḡ`, with `ḡ = (g₁ + g₂)/2` the gradient of a mini-batch made of two
//!   halves with gradients `g₁`, `g₂`;
//! - `heavy-tailed`: `w ← w − η·(ḡ + Z·(g₁ − g₂))`, `Z` symmetric Lomax with tail index α (the
//!   difference of two mini-batch gradients gives the noise SGD's own geometry, the Lomax
//!   multiple makes it heavy-tailed);
//! - `truncated`: the same step truncated to norm at most b, `w ← w + φ_b(−η·(ḡ + Z·(g₁ − g₂)))`.
//!
//! After training, each run is measured: test accuracy on clean labels, how much of the
//! corrupted labels it memorized, and its sharpness two ways: the top Hessian eigenvalue of the
//! training loss (power iteration on finite-difference Hessian-vector products) and the
//! expected loss increase under Gaussian weight perturbations. The paper's claim: truncated
//! heavy-tailed noise ends in flatter minima that generalize better than SGD's.

mod config;
mod report;

pub use config::*;

use super::{JobQueue, NetworkPart};
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sgdlab_engine::data::Dataset;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::model::InputStats;
use sgdlab_engine::probe::{
    Batch, FlatNet, norm, perturbation_sharpness, symmetric_lomax, top_hessian_eigenvalue, truncate,
};
use sgdlab_engine::report::{CsvTable, ReportMd, mean_ci95};
use sgdlab_engine::rng::{SplitMix64, derive_seed};
use sgdlab_engine::train::evaluate;
use std::path::{Path, PathBuf};

/// The training rules compared, in report order.
pub const NET_ARMS: [&str; 3] = ["sgd", "heavy-tailed", "truncated"];

/// Test accuracy and training loss after one epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetEpoch {
    /// Epochs done.
    pub epoch: usize,
    /// Mean training loss (on the corrupted labels) over the epoch's mini-batches.
    pub train_loss: f64,
    /// Accuracy on the clean test set.
    pub test_acc: f64,
}

/// One training run: a rule and a seed, with its end-of-training measures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetRun {
    /// `sgd`, `heavy-tailed` or `truncated`.
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// The step at which the loss or the weights stopped being finite, if they did.
    pub diverged_at: Option<u64>,
    /// Accuracy on the clean test set.
    pub test_acc: f64,
    /// Accuracy on the training set against its (partly corrupted) training labels.
    pub train_acc: f64,
    /// Fraction of the corrupted examples predicted as their corrupted label (memorization).
    pub corrupted_fit: f64,
    /// Top Hessian eigenvalue of the training loss on the probe set.
    pub lambda_max: f64,
    /// `E L(w + σξ) − L(w)` on the probe set.
    pub perturb_increase: f64,
    /// Standard error of `perturb_increase` over the perturbations.
    pub perturb_se: f64,
    /// Fraction of steps the truncation shortened (0 for the other rules).
    pub clipped_fraction: f64,
    /// Mean norm of the step before truncation.
    pub mean_step_norm: f64,
    /// Largest norm of a step before truncation.
    pub max_step_norm: f64,
    /// ‖w‖ at the end.
    pub weight_norm: f64,
    /// Per-epoch curve.
    pub curve: Vec<NetEpoch>,
}

/// Means and 95% confidence half-widths of one rule's runs (diverged runs excluded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetArmSummary {
    /// The rule.
    pub arm: String,
    /// Runs finished.
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Test accuracy: mean and 95% CI half-width over seeds.
    pub test_acc: (f64, f64),
    /// Memorized fraction of corrupted labels.
    pub corrupted_fit: (f64, f64),
    /// Top Hessian eigenvalue.
    pub lambda_max: (f64, f64),
    /// Expected loss increase under weight perturbations.
    pub perturb_increase: (f64, f64),
}

/// The network part of the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeavyTailNetResults {
    /// The data set.
    pub dataset: String,
    /// The network, e.g. `mlp 784-256-10`.
    pub network: String,
    /// Training examples.
    pub train_size: usize,
    /// Clean test examples.
    pub test_size: usize,
    /// Training labels corrupted.
    pub corrupted: usize,
    /// Parameters of the network.
    pub params: usize,
    /// Every run, by seed then rule.
    pub runs: Vec<NetRun>,
    /// Per rule, once all its runs are done.
    pub arms: Vec<NetArmSummary>,
}

struct Active {
    net: FlatNet,
    /// Everything else about the run, as a checkpoint keeps it.
    s: NetActiveState,
}

/// A network run in progress, as a checkpoint keeps it: the parameters, both generators, the
/// batch position and the run's measures so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetActiveState {
    job: (usize, usize),
    w: Vec<f32>,
    order_rng: SplitMix64,
    noise_rng: SplitMix64,
    order: Vec<usize>,
    cursor: usize,
    run: NetRun,
    loss_sum: f64,
    loss_batches: usize,
    step_norm_sum: f64,
    clipped: u64,
}

/// The network experiment's state machine (driven by [`super::SharpMinima`]).
pub struct HeavyTailNet {
    config: HeavyTailNetConfig,
    device: Device,
    train: Dataset,
    test: Dataset,
    labels: Vec<u32>,
    /// The corrupted training examples, labelled with their corrupted labels.
    corrupted: Dataset,
    stats: InputStats,
    probe: Batch,
    /// (seed index, rule index) per run.
    queue: JobQueue<(usize, usize), Active>,
    /// The results so far.
    pub results: HeavyTailNetResults,
}

impl HeavyTailNet {
    /// Loads and corrupts the data and prepares the runs; `field` names the config in errors.
    pub fn new(config: HeavyTailNetConfig, device: &Device, field: &str) -> Result<Self> {
        config.validate(field)?;
        let (train, test) = config.data.load(&config.network, field)?;
        let k = train.num_classes as u64;
        let mut rng = SplitMix64::for_purpose(config.data.split_seed, "label corruption");
        let perm = rng.permutation(train.len());
        let n_bad = (train.len() as f64 * config.label_noise).round() as usize;
        let mut labels = train.labels.clone();
        for &i in &perm[..n_bad] {
            let shift = 1 + rng.below(k as usize - 1) as u32;
            labels[i] = (labels[i] + shift) % k as u32;
        }
        // The corrupted examples with their corrupted labels, for the memorization measure.
        let mut corrupted = train.subset(&perm[..n_bad]);
        corrupted.labels = perm[..n_bad].iter().map(|&i| labels[i]).collect();
        let probe_idx: Vec<usize> = (0..config.probe_size.min(train.len())).collect();
        let probe = Batch::new(&train, &probe_idx, &labels, device);
        let stats = InputStats::of(&train.features);
        let jobs = (0..config.seeds)
            .flat_map(|s| (0..NET_ARMS.len()).map(move |a| (s, a)))
            .collect();
        let params = config
            .network
            .init(train.shape, train.num_classes, stats, 0, device)
            .num_params();
        let results = HeavyTailNetResults {
            dataset: config.data.dataset.to_string(),
            network: config.network.describe(train.dim(), train.num_classes),
            train_size: train.len(),
            test_size: test.len(),
            corrupted: n_bad,
            params,
            runs: Vec::new(),
            arms: Vec::new(),
        };
        Ok(Self {
            config,
            device: device.clone(),
            train,
            test,
            labels,
            corrupted,
            stats,
            probe,
            queue: JobQueue::new(jobs),
            results,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HeavyTailNetConfig {
        &self.config
    }

    fn steps_per_run(&self) -> u64 {
        (self.config.epochs * self.train.len().div_ceil(self.config.batch_size)) as u64
    }

    fn start(&self, job: (usize, usize)) -> Active {
        let seed = self.config.seed + job.0 as u64;
        let model = self.config.network.init(
            self.train.shape,
            self.train.num_classes,
            self.stats,
            seed,
            &self.device.clone().autodiff(),
        );
        let net = FlatNet::new(model);
        let w = net.params();
        Active {
            net,
            s: NetActiveState {
                job,
                w,
                // The same batch order for every rule of a seed; the noise differs by rule.
                order_rng: SplitMix64::for_purpose(seed, "heavy-tailed net batch order"),
                noise_rng: SplitMix64::new(derive_seed(
                    seed,
                    &format!("heavy-tailed net noise {}", NET_ARMS[job.1]),
                )),
                order: Vec::new(),
                cursor: 0,
                run: NetRun {
                    arm: NET_ARMS[job.1].into(),
                    seed,
                    ..NetRun::default()
                },
                loss_sum: 0.0,
                loss_batches: 0,
                step_norm_sum: 0.0,
                clipped: 0,
            },
        }
    }

    fn train_step(&mut self, a: &mut Active) -> Result<()> {
        let c = &self.config;
        if a.s.cursor == 0 {
            a.s.order = a.s.order_rng.permutation(self.train.len());
        }
        let end = (a.s.cursor + c.batch_size).min(a.s.order.len());
        let idx = &a.s.order[a.s.cursor..end];
        let half = idx.len().div_ceil(2);
        let (i1, i2) = idx.split_at(half);
        let b1 = Batch::new(&self.train, i1, &self.labels, &self.device);
        let (l1, g1) = a.net.loss_grad(&b1);
        let (l2, g2) = if i2.is_empty() {
            (l1, g1.clone())
        } else {
            a.net
                .loss_grad(&Batch::new(&self.train, i2, &self.labels, &self.device))
        };
        let n1 = i1.len() as f32;
        let n2 = i2.len() as f32;
        let loss = (l1 * f64::from(n1) + l2 * f64::from(n2)) / f64::from(n1 + n2);
        a.s.run.steps += 1;
        if !loss.is_finite() {
            a.s.run.diverged_at = Some(a.s.run.steps);
            return Ok(());
        }
        let lr = c.lr as f32;
        let z = if a.s.job.1 == 0 {
            0.0
        } else {
            symmetric_lomax(&mut a.s.noise_rng, c.alpha, c.noise_scale) as f32
        };
        let mut step: Vec<f32> = g1
            .iter()
            .zip(&g2)
            .map(|(&x, &y)| -lr * ((x * n1 + y * n2) / (n1 + n2) + z * (x - y)))
            .collect();
        let sn = norm(&step);
        a.s.step_norm_sum += sn;
        a.s.run.max_step_norm = a.s.run.max_step_norm.max(sn);
        if a.s.job.1 == 2 && truncate(&mut step, c.truncation) {
            a.s.clipped += 1;
        }
        a.s.w.iter_mut().zip(&step).for_each(|(w, s)| *w += s);
        if !a.s.w.iter().all(|x| x.is_finite()) {
            a.s.run.diverged_at = Some(a.s.run.steps);
            return Ok(());
        }
        a.net.set(&a.s.w)?;
        a.s.loss_sum += loss;
        a.s.loss_batches += 1;
        a.s.cursor = end;
        if a.s.cursor >= a.s.order.len() {
            a.s.cursor = 0;
            let test = evaluate(a.net.model(), &self.test, None, &self.device);
            a.s.run.curve.push(NetEpoch {
                epoch: a.s.run.curve.len() + 1,
                train_loss: a.s.loss_sum / a.s.loss_batches.max(1) as f64,
                test_acc: test.accuracy,
            });
            a.s.loss_sum = 0.0;
            a.s.loss_batches = 0;
        }
        Ok(())
    }

    fn measure(&mut self, mut a: Active) -> Result<()> {
        let c = &self.config;
        let mut run = std::mem::take(&mut a.s.run);
        run.clipped_fraction = a.s.clipped as f64 / run.steps.max(1) as f64;
        run.mean_step_norm = a.s.step_norm_sum / run.steps.max(1) as f64;
        run.weight_norm = norm(&a.s.w);
        if run.diverged_at.is_none() {
            let model = a.net.model();
            run.test_acc = evaluate(model, &self.test, None, &self.device).accuracy;
            run.train_acc = evaluate(model, &self.train, Some(&self.labels), &self.device).accuracy;
            run.corrupted_fit = if self.corrupted.is_empty() {
                f64::NAN
            } else {
                evaluate(model, &self.corrupted, None, &self.device).accuracy
            };
            let seed = derive_seed(run.seed, "sharpness probes");
            run.lambda_max = top_hessian_eigenvalue(
                &mut a.net,
                &a.s.w,
                &self.probe,
                c.power_iters,
                c.fd_eps,
                seed,
            )?;
            let (inc, se) = perturbation_sharpness(
                &mut a.net,
                &a.s.w,
                &self.probe,
                c.perturb_sigma,
                c.perturb_samples,
                seed,
            )?;
            run.perturb_increase = inc;
            run.perturb_se = se;
        } else {
            for v in [
                &mut run.test_acc,
                &mut run.train_acc,
                &mut run.corrupted_fit,
                &mut run.lambda_max,
                &mut run.perturb_increase,
                &mut run.perturb_se,
            ] {
                *v = f64::NAN;
            }
        }
        self.results.runs.push(run);
        Ok(())
    }

    fn summarize(&mut self) {
        self.results.arms = NET_ARMS
            .iter()
            .map(|arm| {
                let runs: Vec<&NetRun> =
                    self.results.runs.iter().filter(|r| r.arm == *arm).collect();
                let ok: Vec<&NetRun> = runs
                    .iter()
                    .copied()
                    .filter(|r| r.diverged_at.is_none())
                    .collect();
                let stat = |f: fn(&NetRun) -> f64| {
                    let v: Vec<f64> = ok.iter().map(|r| f(r)).collect();
                    mean_ci95(&v)
                };
                NetArmSummary {
                    arm: arm.to_string(),
                    runs: runs.len(),
                    diverged: runs.len() - ok.len(),
                    test_acc: stat(|r| r.test_acc),
                    corrupted_fit: stat(|r| r.corrupted_fit),
                    lambda_max: stat(|r| r.lambda_max),
                    perturb_increase: stat(|r| r.perturb_increase),
                }
            })
            .collect();
    }
}

impl HeavyTailNet {
    /// The runs finished so far (the state a checkpoint keeps).
    pub fn finished_runs(&self) -> usize {
        self.queue.finished()
    }

    /// The run in progress, exactly (for a checkpoint).
    pub fn active_state(&self) -> Option<NetActiveState> {
        self.queue.active().map(|(_, _, a)| a.s.clone())
    }

    /// Continues after the finished runs `runs` of a checkpoint, and with the run that was in
    /// progress then (`active`) where it was.
    pub fn restore(&mut self, runs: Vec<NetRun>, active: Option<NetActiveState>) -> Result<()> {
        let finished = runs.len();
        self.queue.resume_at(finished)?;
        self.results.runs = runs;
        if let Some(s) = active {
            let expected = self.queue.jobs().get(finished).copied();
            if expected != Some(s.job)
                || s.cursor > s.order.len()
                || s.order.iter().any(|&i| i >= self.train.len())
            {
                return Err(EngineError::config(
                    "<checkpoint>",
                    "the network run in progress does not fit this config",
                ));
            }
            let mut a = self.start(s.job);
            a.net.set(&s.w)?;
            a.s = s;
            self.queue.resume_active(finished, a)?;
        }
        if self.is_done() {
            self.summarize();
        }
        Ok(())
    }
}

impl NetworkPart for HeavyTailNet {
    const CSV: &'static str = "network_runs.csv";

    /// Optimizer steps of all runs (the unit of progress).
    fn total_units(&self) -> u64 {
        self.queue.total_units(|_| self.steps_per_run())
    }

    /// Optimizer steps done.
    fn units_done(&self) -> u64 {
        let per = self.steps_per_run();
        self.queue.units_done(|_| per, |a| a.s.run.steps)
    }

    /// Whether every run is done.
    fn is_done(&self) -> bool {
        self.queue.is_done()
    }

    /// What is running, for progress lines.
    fn phase(&self) -> String {
        match self.queue.active() {
            Some((_, _, a)) => format!(
                "network · seed {}/{} · {} · epoch {}/{}",
                a.s.job.0 + 1,
                self.config.seeds,
                NET_ARMS[a.s.job.1],
                a.s.run.curve.len(),
                self.config.epochs
            ),
            None if self.is_done() => "network · done".into(),
            None => "network · starting".into(),
        }
    }

    /// The latest training loss and test accuracy, for progress lines.
    fn latest(&self) -> (f64, f64) {
        self.queue
            .active()
            .and_then(|(_, _, a)| a.s.run.curve.last())
            .map_or((f64::NAN, f64::NAN), |e| (e.train_loss, e.test_acc))
    }

    /// Runs up to `steps_per_call` optimizer steps (and, at the end of a run, its measures).
    fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        let Some((j, job, a)) = self.queue.take() else {
            return Ok(());
        };
        let mut a = a.unwrap_or_else(|| self.start(job));
        let total = self.steps_per_run();
        let mut k = 0;
        while k < self.config.steps_per_call
            && a.s.run.steps < total
            && a.s.run.diverged_at.is_none()
        {
            self.train_step(&mut a)?;
            k += 1;
        }
        if a.s.run.steps >= total || a.s.run.diverged_at.is_some() {
            self.measure(a)?;
            if self.is_done() {
                self.summarize();
            }
        } else {
            self.queue.park(j, a);
        }
        Ok(())
    }

    fn metrics_table(&self) -> CsvTable {
        self.runs_table()
    }

    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.write_charts(dir)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_section(md);
    }
}
