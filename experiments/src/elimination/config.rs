//! The elimination experiment's configuration, presets, checks and data.

use crate::Preset;
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::error::Result;
use sgdlab_engine::optim::SgdConfig;
use sgdlab_engine::rng::SplitMix64;

/// The configuration of the elimination experiment.
#[derive(Config, Debug, PartialEq)]
pub struct EliminationConfig {
    /// Seed of the data and of init 0; init i uses `seed + i`.
    #[config(default = 0)]
    pub seed: u64,
    /// Random initializations; each is trained plain and wrapped.
    #[config(default = 400)]
    pub inits: usize,
    /// Points per XOR cluster (four clusters).
    #[config(default = 8)]
    pub points_per_cluster: usize,
    /// Standard deviation of the points around the cluster centres (±1, ±1). 0 by default: the
    /// theorem's local minima exist only where the network can fit every point exactly (at a
    /// local minimum with a = 0 every residual's loss derivative vanishes), and the 2-2-1 ReLU
    /// network fits the four noise-free clusters (|x₁ + x₂| − 1) but not noisy ones.
    #[config(default = 0.0)]
    pub noise_std: f64,
    /// Hidden ReLU units of the narrow network.
    #[config(default = 2)]
    pub hidden: usize,
    /// Regularization λ > 0 on the exponential neurons' output weights a.
    #[config(default = 0.01)]
    pub lambda: f64,
    /// Standard deviation of the exponential neurons' initial input weights w (a and b start
    /// at 0).
    #[config(default = 0.5)]
    pub neuron_w_std: f64,
    /// The optimizer (full-batch: every step sees all points), the same for both arms.
    #[config(default = "SgdConfig::new().with_lr(0.1)")]
    pub optim: SgdConfig,
    /// Gradient steps per run.
    #[config(default = 6000)]
    pub steps: usize,
    /// Record per-run diagnostics every this many steps.
    #[config(default = 200)]
    pub eval_every: usize,
    /// Gradient steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 100)]
    pub steps_per_call: usize,
    /// A run is suboptimal (bad) when its final loss exceeds the best loss found by more than
    /// this.
    #[config(default = 0.01)]
    pub tolerance: f64,
    /// A wrapped local minimum's original network is globally optimal when its loss
    /// ½·mean (f − y)² is at most this (the theorem: every residual's loss derivative vanishes,
    /// i.e. zero residuals on this task) …
    #[config(default = 1e-6)]
    pub loss_tolerance: f64,
    /// … and its largest residual |f(xᵢ) − yᵢ| at most this.
    #[config(default = 2e-3)]
    pub residual_tolerance: f64,
    /// Inits of the negative control: the same wrapped runs on the XOR clusters with noise
    /// `control_noise_std`, which a 2-h-1 ReLU network cannot fit exactly, so (by the theorem)
    /// the wrapped objective has no local minimum there and every one classified is a false
    /// positive of the classifier. 0 skips the control (the theorem's claim is then
    /// inconclusive).
    #[config(default = 200)]
    pub control_inits: usize,
    /// Noise of the negative control's clusters.
    #[config(default = 0.1)]
    pub control_noise_std: f64,
    /// False positives of the negative control (wrapped local minima found on the noisy task)
    /// that the theorem's claim tolerates.
    #[config(default = 1)]
    pub control_false_positives: usize,
    /// A stationary end point within this of a ReLU kink (the smallest |pre-activation| over
    /// the data) is flagged and classified by the perturbation test instead of its
    /// finite-difference Hessian, whose step straddles the kink.
    #[config(default = 1e-4)]
    pub kink_flag: f64,
    /// Perturbation test: random directions per radius (radii 1e-3 and 1e-2, relative to
    /// max(‖θ‖, 1)); each perturbed point descends `perturb_steps` gradient steps (backtracking),
    /// and the end point is a local minimum when none ends below its objective − `perturb_drop`.
    #[config(default = 32)]
    pub perturb_directions: usize,
    /// Gradient steps after each perturbation.
    #[config(default = 200)]
    pub perturb_steps: usize,
    /// Decrease that counts as having left the point.
    #[config(default = 1e-9)]
    pub perturb_drop: f64,
    /// A wrapped run still moving at the end of the refinement is diverging when, over this many
    /// last refinement iterations (sampled every 100), |a| fell and b rose at every sample, |a| by
    /// ≥ 1.25× in all, and the objective fell, while its original network stayed bad.
    #[config(default = 500)]
    pub diverge_window: usize,
    /// Over the second half of training, a drop of b by more than this, or a growth of ‖w‖ by
    /// more than this, counts as moving along a path to infinity (with a·exp(·) bounded).
    #[config(default = 0.5)]
    pub escape_drift: f64,
    /// End points: stationary when the gradient norm of the run's objective is below this. At a
    /// stationary wrapped point λa² ≤ ‖∇‖(1 + |a|), so this is λ·`a_tolerance`² (1e-10 for λ =
    /// 0.01, |a| ≤ 1e-4): the a ≈ 0 test is then a check of the classifier, and the substance
    /// of the claim is the original network's loss and residuals.
    #[config(default = 1e-10)]
    pub grad_tolerance: f64,
    /// A stationary end point is a local minimum when the smallest eigenvalue of the Hessian of
    /// the run's objective is ≥ −this, and a saddle otherwise.
    #[config(default = 1e-5)]
    pub eigen_tolerance: f64,
    /// Stationary also needs the saddle-free Newton step shorter than this (see `classify`).
    #[config(default = 1e-4)]
    pub step_tolerance: f64,
    /// An end point whose parameter norm ‖θ‖ exceeds this is escaping to infinity (far above any
    /// finite minimum of this task: inputs near (±1, ±1), targets ±1).
    #[config(default = 100.0)]
    pub escape_norm: f64,
    /// Budget of the refinement: saddle-free Newton iterations (f64) that continue each run from
    /// its end point after gradient descent, until it is classified (see `classify`).
    #[config(default = 2000)]
    pub refine_iters: usize,
    /// Floor μ on |λ_j| of the Hessian in the saddle-free Newton step, for the refinement's
    /// direction and the stationarity test's step length.
    #[config(default = 1e-8)]
    pub newton_eig_floor: f64,
    /// Trust cap on the length of each refinement step (before the line search).
    #[config(default = 1.0)]
    pub newton_max_step: f64,
    /// An unclassified end point with a data point within this of a ReLU unit's boundary is
    /// non-differentiable (no gradient or Hessian test applies there).
    #[config(default = 1e-9)]
    pub kink_tolerance: f64,
    /// "a ≈ 0" at a local minimum means |a| ≤ this.
    #[config(default = 1e-4)]
    pub a_tolerance: f64,
    /// Runs classified per `step()` call.
    #[config(default = 20)]
    pub classify_per_call: usize,
    /// Step size of the failure-mode run (gradient descent on the constant model plus one
    /// exponential neuron).
    #[config(default = 0.1)]
    pub failure_lr: f64,
    /// Gradient steps of the failure-mode run.
    #[config(default = 100_000)]
    pub failure_steps: usize,
}

impl EliminationConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_inits(100)
                .with_steps(1500)
                .with_eval_every(100)
                .with_refine_iters(300)
                .with_control_inits(50)
                .with_diverge_window(200),
        }
    }

    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<()> {
        check::count("inits", self.inits, 1, 100_000)?;
        check::count("control_inits", self.control_inits, 0, 100_000)?;
        check::seed_range(
            "seed",
            self.seed,
            self.inits.max(self.control_inits) as u64 - 1,
            "max(`inits`, `control_inits`) − 1",
        )?;
        check::count("points_per_cluster", self.points_per_cluster, 1, 10_000)?;
        // The end points are classified with the full Hessian of 4h + 5 parameters (O(h³) per
        // Newton iteration), which stays affordable up to this width.
        check::count("hidden", self.hidden, 1, 64)?;
        check::count("steps", self.steps, 1, 10_000_000)?;
        check::count("eval_every", self.eval_every, 1, 10_000_000)?;
        check::count("steps_per_call", self.steps_per_call, 1, 1_000_000)?;
        check::positive("lambda", self.lambda)?;
        check::non_negative("noise_std", self.noise_std)?;
        check::non_negative("neuron_w_std", self.neuron_w_std)?;
        check::positive("tolerance", self.tolerance)?;
        check::non_negative("escape_drift", self.escape_drift)?;
        check::positive("grad_tolerance", self.grad_tolerance)?;
        check::positive("eigen_tolerance", self.eigen_tolerance)?;
        check::positive("step_tolerance", self.step_tolerance)?;
        check::positive("escape_norm", self.escape_norm)?;
        check::count("refine_iters", self.refine_iters, 1, 1_000_000)?;
        check::positive("newton_eig_floor", self.newton_eig_floor)?;
        check::positive("newton_max_step", self.newton_max_step)?;
        check::positive("kink_tolerance", self.kink_tolerance)?;
        check::positive("a_tolerance", self.a_tolerance)?;
        check::positive("loss_tolerance", self.loss_tolerance)?;
        check::positive("residual_tolerance", self.residual_tolerance)?;
        check::non_negative("control_noise_std", self.control_noise_std)?;
        check::count(
            "control_false_positives",
            self.control_false_positives,
            0,
            100_000,
        )?;
        check::positive("kink_flag", self.kink_flag)?;
        check::count("perturb_directions", self.perturb_directions, 1, 10_000)?;
        check::count("perturb_steps", self.perturb_steps, 1, 1_000_000)?;
        check::positive("perturb_drop", self.perturb_drop)?;
        check::count("diverge_window", self.diverge_window, 100, 1_000_000)?;
        check::count("classify_per_call", self.classify_per_call, 1, 1_000_000)?;
        check::range_open_low("failure_lr", self.failure_lr, 0.0, 1.0)?;
        check::count("failure_steps", self.failure_steps, 10, 100_000_000)?;
        self.optim.validate("optim")
    }

    /// Runs in the batch: `inits` plain, the same `inits` wrapped, then `control_inits` wrapped
    /// runs on the noisy clusters (the negative control).
    pub fn runs(&self) -> usize {
        2 * self.inits + self.control_inits
    }

    /// The arm of batch run `r`: `plain`, `wrapped` or `control`, and its init.
    pub fn arm_of(&self, r: usize) -> (&'static str, usize) {
        if r < self.inits {
            ("plain", r)
        } else if r < 2 * self.inits {
            ("wrapped", r - self.inits)
        } else {
            ("control", r - 2 * self.inits)
        }
    }

    /// The XOR-like training set: points (n, 2) and targets (n).
    pub fn data(&self) -> (Vec<f32>, Vec<f32>) {
        self.data_with_noise(self.noise_std)
    }

    /// The negative control's training set: the same clusters with `control_noise_std`.
    pub fn control_data(&self) -> (Vec<f32>, Vec<f32>) {
        self.data_with_noise(self.control_noise_std)
    }

    fn data_with_noise(&self, noise_std: f64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = SplitMix64::for_purpose(self.seed, "xor clusters");
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..self.points_per_cluster {
            for (cx, cy) in [(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)] {
                x.push((cx + rng.normal() * noise_std) as f32);
                x.push((cy + rng.normal() * noise_std) as f32);
                y.push(if cx * cy > 0.0 { 1.0 } else { -1.0 });
            }
        }
        (x, y)
    }
}
