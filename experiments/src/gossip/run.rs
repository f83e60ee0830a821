//! The gossip experiment's run: the job list, one logistic run advanced step by step on R seeds
//! at once, what a finished run records, and the [`Experiment`] state machine. The summary types
//! are in `results.rs`, the transients and sweeps in `sweeps.rs`.

use super::transient::{replica_mean, smooth};
use super::{
    Active, BetaEntry, CurvatureEntry, Gossip, GossipConfig, GossipResults, GossipRunSummary,
    LogisticRun, MnistRun, ProblemClass, Row, RunKey, topology_label,
};
use crate::{Claim, Experiment, JobQueue, Progress, Registered, RunRequest, to_json_value};
use crate::{F32, MemoryEstimate, product};
use burn::tensor::Tensor;
use sgdlab_engine::device::ComputeDevice;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::optim::gossip::{
    Algorithm, BatchedMlp, LogisticProblem, Mixer, MixingMatrix, TopologyConfig, WeightScheme,
    consensus_distance,
};
use sgdlab_engine::report::ReportMd;
use sgdlab_engine::rng::{SplitMix64, derive_seed};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(super) fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// The smallest Hessian eigenvalue of `p` on the segment from 0 to its solution `xs` (1 × d).
fn curvature_entry(
    p: &LogisticProblem,
    class: ProblemClass,
    nodes: usize,
    xs: Tensor<2>,
) -> Result<CurvatureEntry> {
    let xs: Vec<f64> = xs
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| EngineError::Device(format!("reading the solution back: {e:?}")))?
        .into_iter()
        .map(f64::from)
        .collect();
    let mut on_path = f64::INFINITY;
    let mut at_solution = f64::NAN;
    for i in 0..=8 {
        let t = f64::from(i) / 8.0;
        let x: Vec<f64> = xs.iter().map(|v| t * v).collect();
        let lambda = p.hessian_min_eigenvalue(&x)?;
        on_path = on_path.min(lambda);
        if i == 8 {
            at_solution = lambda;
        }
    }
    Ok(CurvatureEntry {
        problem: class.problem().into(),
        nodes,
        min_eigenvalue_on_path: on_path,
        min_eigenvalue_at_solution: at_solution,
    })
}

impl Gossip {
    /// Prepares the runs (data are generated or loaded lazily). Fails on an invalid config.
    pub fn new(config: GossipConfig, device: ComputeDevice) -> Result<Self> {
        config.validate()?;
        let h = config.period;
        let mut jobs = Vec::new();
        let main_n = config.nodes;
        for &class in &config.problem_classes {
            let key = |nodes, period, algorithm| RunKey::logistic(class, nodes, period, algorithm);
            for &n in &config.node_sweep {
                for a in Algorithm::ALL {
                    jobs.push(key(n, h, a));
                }
            }
            for a in [Algorithm::ParallelSgd, Algorithm::GossipSgd] {
                jobs.push(key(main_n, h, a));
            }
            for &p in config.period_sweep.iter().chain(std::iter::once(&h)) {
                for a in [
                    Algorithm::LocalSgd,
                    Algorithm::GossipPga,
                    Algorithm::GossipAga,
                ] {
                    jobs.push(key(main_n, p, a));
                }
            }
            if !config.topology_sweep.is_empty() {
                jobs.push(key(config.gap_nodes, h, Algorithm::ParallelSgd));
                for i in 0..config.topology_sweep.len() {
                    jobs.push(RunKey {
                        topology: Some(i),
                        ..key(config.gap_nodes, h, Algorithm::GossipSgd)
                    });
                }
            }
        }
        if let Some(m) = &config.mnist {
            for a in Algorithm::ALL {
                jobs.push(RunKey {
                    mnist: true,
                    class: ProblemClass::default(),
                    nodes: m.nodes,
                    period: h,
                    algorithm: a,
                    topology: None,
                });
            }
        }
        // Dedupe while keeping order (parallel SGD first at each n, so transients can be taken).
        let mut seen = std::collections::BTreeSet::new();
        jobs.retain(|k| seen.insert(k.clone()));
        let mut counts: Vec<usize> = config.node_sweep.clone();
        counts.push(main_n);
        if let Some(m) = &config.mnist {
            counts.push(m.nodes);
        }
        counts.sort_unstable();
        counts.dedup();
        let mut beta = Vec::new();
        for &n in &counts {
            let m = MixingMatrix::build(&config.topology, config.weights, n, "topology")?;
            beta.push(BetaEntry {
                topology: topology_label(&config.topology),
                nodes: n,
                beta: m.beta(),
                messages_per_round: m.mean_messages(),
            });
        }
        for (i, t) in config.topology_sweep.iter().enumerate() {
            let m = MixingMatrix::build(
                t,
                config.weights,
                config.gap_nodes,
                &format!("topology_sweep[{i}]"),
            )?;
            beta.push(BetaEntry {
                topology: topology_label(t),
                nodes: config.gap_nodes,
                beta: m.beta(),
                messages_per_round: m.mean_messages(),
            });
        }
        let mut beta_table = Vec::new();
        for t in [
            TopologyConfig::Ring,
            TopologyConfig::Torus,
            TopologyConfig::Exponential,
            TopologyConfig::OnePeerExponential,
            TopologyConfig::Star,
            TopologyConfig::Complete,
        ] {
            for &n in &counts {
                if let Ok(m) = MixingMatrix::build(&t, WeightScheme::Uniform, n, "topology") {
                    beta_table.push(BetaEntry {
                        topology: t.name().into(),
                        nodes: n,
                        beta: m.beta(),
                        messages_per_round: m.mean_messages(),
                    });
                }
            }
        }
        let results = GossipResults {
            experiment: "gossip".into(),
            status: "running".into(),
            device: device.info.clone(),
            topology: format!("{} ({:?} weights)", config.topology.name(), config.weights),
            beta,
            beta_table,
            problem_classes: config.problem_classes.clone(),
            ..Default::default()
        };
        Ok(Self {
            config,
            device,
            queue: JobQueue::new(jobs),
            problems: BTreeMap::new(),
            mnist: None,
            curves: BTreeMap::new(),
            half_curves: BTreeMap::new(),
            consensus_curves: BTreeMap::new(),
            rows: Vec::new(),
            results,
            iterations_done: 0,
        })
    }

    /// The typed summary so far.
    pub fn results(&self) -> &GossipResults {
        &self.results
    }

    pub(super) fn job_len(&self, k: &RunKey) -> u64 {
        match (&self.config.mnist, k.mnist) {
            (Some(m), true) => m.steps as u64,
            _ => self.config.logistic.steps as u64,
        }
    }

    /// The topology a run uses.
    pub(super) fn topology_of(&self, k: &RunKey) -> &TopologyConfig {
        k.topology
            .and_then(|i| self.config.topology_sweep.get(i))
            .unwrap_or(&self.config.topology)
    }

    /// β of the topology a run uses at its node count (from the table built at the start).
    pub(super) fn beta_of(&self, k: &RunKey) -> f64 {
        let label = topology_label(self.topology_of(k));
        self.results
            .beta
            .iter()
            .find(|b| b.topology == label && b.nodes == k.nodes)
            .map_or(f64::NAN, |b| b.beta)
    }

    pub(super) fn mixer(&self, k: &RunKey, params: usize) -> Result<Mixer> {
        let mix = MixingMatrix::build(
            self.topology_of(k),
            self.config.weights,
            k.nodes,
            "topology",
        )?;
        Mixer::new(
            k.algorithm,
            &mix,
            k.period,
            self.config.aga_max_period.max(k.period),
            params,
            &self.device.device,
        )
    }

    pub(super) fn start(&mut self, k: RunKey) -> Result<Active> {
        let dev = self.device.device.clone();
        let seed = self.config.seed;
        if k.mnist {
            self.load_mnist()?;
            let m = self.config.mnist.as_ref().ok_or_else(|| {
                EngineError::config("mnist", "internal: MNIST job without MNIST config")
            })?;
            let model = BatchedMlp::init(k.nodes, 784, m.hidden, 10, seed, &dev);
            let mixer = self.mixer(&k, model.params_per_node())?;
            return Ok(Active::Mnist(Box::new(MnistRun {
                model,
                mixer,
                rng: SplitMix64::for_purpose(seed, "gossip mnist batches"),
                key: k,
                consensus_sum: 0.0,
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                last_acc: f64::NAN,
            })));
        }
        let l = &self.config.logistic;
        let slot_key = (k.class, k.nodes);
        if let std::collections::btree_map::Entry::Vacant(slot) = self.problems.entry(slot_key) {
            // The same data for both classes: only the penalty differs.
            let reg = match k.class {
                ProblemClass::StronglyConvex => l.reg,
                ProblemClass::NonConvex => l.nonconvex_reg,
            };
            let p = LogisticProblem::generate(
                k.nodes,
                l.samples_per_node,
                l.dim,
                l.heterogeneity,
                reg,
                derive_seed(seed, &format!("logistic n={}", k.nodes)),
                &dev,
            )
            .with_regularizer(k.class.regularizer(), l.nonconvex_scale);
            let xs = p.solve(20_000, 1e-6);
            // Once per problem: a resumed run regenerates problems it already described.
            let problem = k.class.problem();
            if !self
                .results
                .curvature
                .iter()
                .any(|c| c.problem == problem && c.nodes == k.nodes)
            {
                let entry = curvature_entry(&p, k.class, k.nodes, xs.clone())?;
                self.results.curvature.push(entry);
            }
            slot.insert((p, xs));
        }
        let mixer = self.mixer(&k, l.dim)?;
        // The same sample streams for every algorithm at a given n (common random numbers), so
        // the ratio of two algorithms' errors is not swamped by sampling noise. Replica 0 keeps
        // the single-stream name, so `seeds = 1` reproduces a one-seed run.
        let rngs = (0..self.config.seeds)
            .map(|r| {
                let purpose = if r == 0 {
                    format!("gossip batches n={}", k.nodes)
                } else {
                    format!("gossip batches n={} replica {r}", k.nodes)
                };
                SplitMix64::for_purpose(seed, &purpose)
            })
            .collect();
        Ok(Active::Logistic(Box::new(LogisticRun {
            x: Tensor::zeros([k.nodes, self.config.seeds * l.dim], &dev),
            mixer,
            rngs,
            key: k,
            errors: Vec::new(),
            consensus: Vec::new(),
            last_loss: f64::NAN,
            last_grad_norm: f64::NAN,
        })))
    }

    /// Runs up to `budget` steps of a logistic run; returns whether it finished.
    pub(super) fn advance_logistic(
        &mut self,
        run: &mut LogisticRun,
        budget: usize,
    ) -> Result<bool> {
        let l = &self.config.logistic;
        let total = l.steps as u64;
        let Some((p, xs)) = self.problems.get(&(run.key.class, run.key.nodes)) else {
            return Err(EngineError::config("nodes", "internal: problem missing"));
        };
        let n = run.key.nodes;
        let replicas = run.rngs.len();
        for _ in 0..budget {
            let k = run.mixer.steps();
            if k >= total {
                return Ok(true);
            }
            let lr = l.lr * l.lr_decay_steps / (l.lr_decay_steps + k as f64);
            let g = p.stochastic_grad_replicas(run.x.clone(), l.batch, &mut run.rngs);
            let y = run.x.clone() - g.mul_scalar(lr);
            run.x = run.mixer.mix(vec![y]).remove(0);
            let errs = match run.key.class {
                ProblemClass::StronglyConvex => {
                    p.errors_replicas(run.x.clone(), xs.clone(), replicas)
                }
                ProblemClass::NonConvex => p.grad_norms_replicas(run.x.clone(), replicas),
            };
            // Summed over the replicas' columns; divided by R below.
            let cons = consensus_distance(run.x.clone());
            let all: Vec<f32> = Tensor::cat(vec![errs, cons], 0)
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EngineError::Device(format!("reading metrics back: {e:?}")))?;
            let cons = f64::from(all[replicas]) / replicas as f64;
            let err = all[..replicas].iter().map(|&e| f64::from(e)).sum::<f64>() / replicas as f64;
            let step = k + 1;
            if !err.is_finite() {
                return Err(EngineError::Diverged {
                    step,
                    phase: format!("logistic {} n={}", run.key.algorithm.name(), n),
                    loss: err,
                });
            }
            run.errors
                .extend(all[..replicas].iter().map(|&e| f64::from(e)));
            run.consensus.push(cons);
            let evaluate = step.is_multiple_of(l.eval_every as u64) || step == total;
            if evaluate {
                let (loss, gn) = p.at_average_replicas(run.x.clone(), replicas);
                run.last_loss = scalar(loss);
                run.last_grad_norm = scalar(gn).sqrt();
                run.mixer.observe_loss(run.last_loss);
                let steps = step as f64;
                self.rows.push(Row {
                    key: run.key.clone(),
                    step,
                    lr,
                    loss: run.last_loss,
                    grad_norm: run.last_grad_norm,
                    consensus: cons,
                    error: err,
                    test_accuracy: f64::NAN,
                    messages: run.mixer.messages / steps,
                    bytes: run.mixer.bytes / steps,
                });
            }
            self.iterations_done += 1;
        }
        Ok(run.mixer.steps() >= total)
    }

    pub(super) fn finish(&mut self, active: Active) {
        match active {
            Active::Logistic(run) => {
                let steps = run.mixer.steps().max(1) as f64;
                let replicas = run.rngs.len();
                let mean = replica_mean(&run.errors, replicas, |_| true);
                let final_error = mean.last().copied().unwrap_or(f64::NAN);
                let w = self.config.smoothing_window;
                self.curves.insert(run.key.clone(), smooth(&mean, w));
                if replicas >= 2 {
                    let halves = [0, 1].map(|parity| {
                        smooth(&replica_mean(&run.errors, replicas, |r| r % 2 == parity), w)
                    });
                    self.half_curves.insert(run.key.clone(), halves);
                }
                let keep = (10 * run.key.period).min(run.consensus.len());
                self.consensus_curves
                    .insert(run.key.clone(), run.consensus[..keep].to_vec());
                let mean_cons =
                    run.consensus.iter().sum::<f64>() / run.consensus.len().max(1) as f64;
                self.results.runs.push(GossipRunSummary {
                    problem: run.key.class.problem().into(),
                    algorithm: run.key.algorithm.name().into(),
                    nodes: run.key.nodes,
                    period: run.key.period,
                    topology: topology_label(self.topology_of(&run.key)),
                    topology_index: run.key.topology,
                    steps: run.mixer.steps(),
                    final_loss: run.last_loss,
                    final_grad_norm: run.last_grad_norm,
                    final_error,
                    mean_consensus: mean_cons,
                    test_accuracy: f64::NAN,
                    messages_per_node_step: run.mixer.messages / steps,
                    bytes_per_node_step: run.mixer.bytes / steps,
                    global_averages: run.mixer.global_averages,
                    transient: None,
                    transient_halves: Vec::new(),
                    final_ratio_to_parallel: f64::NAN,
                });
                self.update_transients();
                // Free a problem once no pending job needs it.
                let (class, n) = (run.key.class, run.key.nodes);
                let pending = self
                    .queue
                    .pending()
                    .iter()
                    .any(|k| !k.mnist && k.class == class && k.nodes == n);
                if !pending {
                    self.problems.remove(&(class, n));
                }
            }
            Active::Mnist(run) => {
                let steps = run.mixer.steps().max(1) as f64;
                self.results.runs.push(GossipRunSummary {
                    problem: "mnist".into(),
                    algorithm: run.key.algorithm.name().into(),
                    nodes: run.key.nodes,
                    period: run.key.period,
                    topology: topology_label(&self.config.topology),
                    topology_index: None,
                    steps: run.mixer.steps(),
                    final_loss: run.last_loss,
                    final_grad_norm: run.last_grad_norm,
                    final_error: f64::NAN,
                    mean_consensus: run.consensus_sum / steps,
                    test_accuracy: run.last_acc,
                    messages_per_node_step: run.mixer.messages / steps,
                    bytes_per_node_step: run.mixer.bytes / steps,
                    global_averages: run.mixer.global_averages,
                    transient: None,
                    transient_halves: Vec::new(),
                    final_ratio_to_parallel: f64::NAN,
                });
            }
        }
    }

    pub(super) fn total_units(&self) -> u64 {
        self.queue.total_units(|k| self.job_len(k))
    }
}

impl Gossip {
    pub(super) fn progress_with(&self) -> Progress {
        let (phase, loss) = match self.queue.active().map(|(_, _, a)| a) {
            Some(Active::Logistic(r)) => (
                format!(
                    "{} · {} · n={} · H={}",
                    r.key.class.problem(),
                    r.key.algorithm.name(),
                    r.key.nodes,
                    r.key.period
                ),
                r.last_loss,
            ),
            Some(Active::Mnist(r)) => (
                format!("mnist · {} · n={}", r.key.algorithm.name(), r.key.nodes),
                r.last_loss,
            ),
            None if self.is_done() => ("done".into(), f64::NAN),
            None => ("starting".into(), f64::NAN),
        };
        Progress {
            phase,
            done: self.iterations_done.min(self.total_units()),
            total: self.total_units(),
            unit: "steps".into(),
            epoch: self.queue.started(),
            loss,
            accuracy: f64::NAN,
        }
    }
}

impl Registered for Gossip {
    type Config = GossipConfig;
    fn preset_config(request: &RunRequest) -> GossipConfig {
        GossipConfig::preset(request.preset)
    }
    fn validate_config(config: &GossipConfig) -> Result<()> {
        config.validate()
    }
    fn memory(c: &GossipConfig) -> MemoryEstimate {
        let nodes = c
            .node_sweep
            .iter()
            .copied()
            .chain([c.nodes, c.gap_nodes])
            .max()
            .unwrap_or(2) as u64;
        let l = &c.logistic;
        let replicas = product(&[c.seeds as u64, l.dim as u64]);
        let evals = (l.steps / l.eval_every.max(1)) as u64 + 1;
        let runs = (c.node_sweep.len() + c.period_sweep.len() + c.topology_sweep.len() + 1) as u64
            * 5
            * c.problem_classes.len() as u64;
        let mut e = MemoryEstimate::new()
            // Iterates, gradients, mixing output, averages and the optimum, per replica.
            .add("seeds", product(&[nodes, replicas, F32, 8]))
            .add(
                "logistic.samples_per_node",
                product(&[nodes, l.samples_per_node as u64, l.dim as u64 + 1, F32, 2]),
            )
            .add("nodes", product(&[nodes, nodes, F32, 4]))
            .add("logistic.eval_every", product(&[evals, runs, 96 + 3 * F32]));
        if let Some(m) = &c.mnist {
            let params = 785 * m.hidden as u64 + (m.hidden as u64 + 1) * 10;
            e = e
                .add("mnist.hidden", product(&[m.nodes as u64, params, F32, 6]))
                .add(
                    "mnist.batch",
                    product(&[
                        m.nodes as u64,
                        m.batch as u64,
                        794 + m.hidden as u64,
                        F32,
                        3,
                    ]),
                )
                .add(
                    "mnist.train_size",
                    product(&[m.train_size as u64 + 10_000, 785, F32]),
                );
        }
        e
    }
    fn build(config: GossipConfig, device: ComputeDevice) -> Result<Self> {
        Self::new(config, device)
    }
}

impl Experiment for Gossip {
    fn step(&mut self) -> Result<Progress> {
        if self.is_done() {
            return Ok(self.progress());
        }
        let Some((j, key, active)) = self.queue.take() else {
            return Ok(self.progress());
        };
        let active = match active {
            Some(a) => a,
            None => self.start(key)?,
        };
        let budget = self.config.iterations_per_step;
        let (active, outcome) = match active {
            Active::Logistic(mut r) => {
                let o = self.advance_logistic(&mut r, budget);
                (Active::Logistic(r), o)
            }
            Active::Mnist(mut r) => {
                let o = self.advance_mnist(&mut r, budget);
                (Active::Mnist(r), o)
            }
        };
        match outcome {
            Ok(true) => {
                self.finish(active);
                if self.is_done() {
                    self.results.status = "complete".into();
                }
            }
            Ok(false) => self.queue.park(j, active),
            Err(e) => {
                self.results.status = format!("stopped: {e:#}");
                self.queue.park(j, active);
                return Err(e);
            }
        }
        Ok(self.progress())
    }

    fn is_done(&self) -> bool {
        self.queue.is_done()
    }

    fn progress(&self) -> Progress {
        self.progress_with()
    }

    fn config_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.config)
    }

    fn results_json(&self) -> Result<serde_json::Value> {
        to_json_value(&self.results)
    }

    fn claims(&self) -> Vec<Claim> {
        self.claims_so_far()
    }

    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        self.saved_state()
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        self.restore_state(state)
    }

    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        let has = |mnist: bool| {
            self.rows.iter().any(|r| {
                r.key.mnist == mnist
                    && r.key.nodes == self.main_key(Algorithm::ParallelSgd, mnist).nodes
            })
        };
        if has(false) {
            written.extend(
                self.curve_plot(false, "loss")
                    .render(dir, "logistic_loss")?,
            );
            written.extend(
                self.curve_plot(false, "error")
                    .render(dir, "logistic_error")?,
            );
        }
        if let Some(p) = self.consensus_plot() {
            written.extend(p.render(dir, "consensus")?);
        }
        if !self.results.transient_vs_nodes.is_empty() {
            written.extend(
                self.transient_plot(true)
                    .render(dir, "transient_vs_nodes")?,
            );
        }
        if !self.results.transient_vs_period.is_empty() {
            written.extend(
                self.transient_plot(false)
                    .render(dir, "transient_vs_period")?,
            );
        }
        let main = self.main_class().problem();
        if self.results.runs.iter().any(|r| r.problem == main) {
            for (plot, stem) in self.comm_plots() {
                written.extend(plot.render(dir, stem)?);
            }
        }
        if has(true) {
            written.extend(self.curve_plot(true, "loss").render(dir, "mnist_loss")?);
            written.extend(
                self.curve_plot(true, "accuracy")
                    .render(dir, "mnist_accuracy")?,
            );
        }
        Ok(written)
    }

    fn report(&self, md: &mut ReportMd) {
        self.report_body(md);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sgdlab_engine::device::cpu_device;

    /// A complete small run (no MNIST, 4 seeds, 400 steps): every fit and claim is reported, and
    /// a claim whose fit needs a censored transient is `inconclusive`, never `holds`.
    #[test]
    fn a_small_run_reports_every_fit_and_claim() {
        let config = GossipConfig::new()
            .with_seeds(4)
            .with_nodes(8)
            .with_period(4)
            .with_node_sweep(vec![4, 8])
            .with_period_sweep(vec![2, 4])
            .with_gap_nodes(8)
            .with_topology_sweep(vec![TopologyConfig::Ring, TopologyConfig::Complete])
            .with_mnist(None)
            .with_logistic(
                crate::GossipLogisticConfig::new()
                    .with_steps(400)
                    .with_samples_per_node(64),
            )
            .with_iterations_per_step(100);
        let mut g = Gossip::new(config, cpu_device()).unwrap();
        while !g.is_done() {
            g.step().unwrap();
        }
        let r = g.results();
        assert_eq!(r.status, "complete");
        // Five fits and seven claims for each of the two classes.
        assert_eq!(r.fits.len(), 10);
        let claims = g.claims();
        assert_eq!(claims.len(), 14);
        assert!(claims[7..].iter().all(|c| c.id.ends_with("-nonconvex")));
        assert!(
            r.fits[5..]
                .iter()
                .all(|f| f.problem_class == ProblemClass::NonConvex)
        );
        // The strongly convex problem's Hessian is at least reg·I; the other one is not convex
        // on the way from the start to its solution (but is at the solution, a local minimum).
        assert_eq!(r.curvature.len(), 4, "{:?}", r.curvature);
        for c in &r.curvature {
            if c.problem == "logistic" {
                assert!(c.min_eigenvalue_on_path >= 0.05 - 1e-4, "{c:?}");
            } else {
                assert!(c.min_eigenvalue_on_path < -1e-3, "{c:?}");
                assert!(c.min_eigenvalue_at_solution > 0.0, "{c:?}");
            }
        }
        // The first five claims of each class are its fits' claims, in the same order.
        let exponent_claims = claims[..5].iter().chain(&claims[7..12]);
        for (c, f) in exponent_claims.zip(&r.fits) {
            if f.exponent.is_none() {
                assert_eq!(c.verdict, crate::Verdict::Inconclusive, "{c:?}");
            }
        }
        // The complete graph (β = 0) predicts no transient: left out of the fit against the gap.
        let gap = r.fits.iter().find(|f| f.against == "1/(1−β)").unwrap();
        assert_eq!(gap.points.len(), 2);
        assert!(gap.points.iter().any(|p| p.theory == 0.0));
    }
}
