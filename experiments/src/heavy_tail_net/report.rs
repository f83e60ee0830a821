//! The network part's report: one row per run (`network_runs.csv`), its charts (test accuracy
//! per epoch, and the end measures per rule with intervals and per-seed points) and its section
//! of `report.md`.

use super::{HeavyTailNet, NetArmSummary, NetRun};
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, ReportMd, SEED_POINTS_MAX, Series,
    fmt_f64,
};
use std::path::{Path, PathBuf};

impl HeavyTailNet {
    /// Rows for metrics.csv: one per run.
    pub(super) fn runs_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "arm",
            "seed",
            "steps",
            "diverged_at",
            "test_acc",
            "train_acc",
            "corrupted_fit",
            "lambda_max",
            "perturb_increase",
            "perturb_se",
            "clipped_fraction",
            "mean_step_norm",
            "max_step_norm",
            "weight_norm",
        ]);
        for r in &self.results.runs {
            t.push_row(vec![
                r.arm.clone(),
                r.seed.to_string(),
                r.steps.to_string(),
                r.diverged_at.map_or(String::new(), |s| s.to_string()),
                fmt_f64(r.test_acc),
                fmt_f64(r.train_acc),
                fmt_f64(r.corrupted_fit),
                fmt_f64(r.lambda_max),
                fmt_f64(r.perturb_increase),
                fmt_f64(r.perturb_se),
                fmt_f64(r.clipped_fraction),
                fmt_f64(r.mean_step_norm),
                fmt_f64(r.max_step_norm),
                fmt_f64(r.weight_norm),
            ]);
        }
        t
    }

    /// Plots: test accuracy per epoch (every run) and the end measures per rule.
    pub(super) fn write_charts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if self.results.runs.is_empty() {
            return Ok(written);
        }
        let series = self
            .results
            .runs
            .iter()
            .map(|r| {
                Series::line(
                    format!("{}, seed {}", r.arm, r.seed),
                    r.curve
                        .iter()
                        .map(|e| (e.epoch as f64, e.test_acc))
                        .collect(),
                )
            })
            .collect();
        written.extend(
            LinePlot::single(
                format!(
                    "Test accuracy, {} with {:.0}% of training labels corrupted",
                    self.results.dataset,
                    self.config.label_noise * 100.0
                ),
                Axis::linear("epoch"),
                Axis::linear("clean test accuracy (fraction)").bounded(Bounds::UNIT),
                series,
            )
            .render(dir, "network_test_accuracy")?,
        );
        if !self.results.arms.is_empty() {
            let arms = &self.results.arms;
            // Intervals as (lo, hi) from the summaries' mean ± half-width, and each
            // non-diverged seed's value beside the bar when there are few.
            let bars =
                |name: &str, f: fn(&NetArmSummary) -> (f64, f64), per_run: fn(&NetRun) -> f64| {
                    let mut b = BarSeries::with_intervals(
                        name,
                        arms.iter().map(|a| f(a).0).collect(),
                        arms.iter()
                            .map(|a| {
                                let (m, h) = f(a);
                                (m - h, m + h)
                            })
                            .collect(),
                    );
                    b.seeds = arms
                        .iter()
                        .map(|a| {
                            let v: Vec<f64> = self
                                .results
                                .runs
                                .iter()
                                .filter(|r| r.arm == a.arm && r.diverged_at.is_none())
                                .map(per_run)
                                .collect();
                            if v.len() <= SEED_POINTS_MAX {
                                v
                            } else {
                                Vec::new()
                            }
                        })
                        .collect();
                    b
                };
            let groups: Vec<String> = arms.iter().map(|a| a.arm.clone()).collect();
            for (stem, title, y, series) in [
                (
                    "network_test_acc",
                    "Clean test accuracy (mean, 95% CI over seeds)",
                    Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
                    bars("test accuracy", |a| a.test_acc, |r| r.test_acc),
                ),
                (
                    "network_lambda_max",
                    "Top Hessian eigenvalue of the training loss",
                    Axis::linear("λ_max (loss / parameter²)").bounded(Bounds::NON_NEGATIVE),
                    bars("λ_max", |a| a.lambda_max, |r| r.lambda_max),
                ),
                (
                    "network_perturbation",
                    "Expected loss increase under Gaussian weight perturbation",
                    Axis::linear("E L(w + σξ) − L(w) (loss)"),
                    bars(
                        "loss increase",
                        |a| a.perturb_increase,
                        |r| r.perturb_increase,
                    ),
                ),
            ] {
                written.extend(
                    BarPlot {
                        title: title.into(),
                        x_title: "update rule".into(),
                        y,
                        groups: groups.clone(),
                        bars: vec![series],
                    }
                    .render(dir, stem)?,
                );
            }
        }
        Ok(written)
    }

    /// The report section.
    pub(super) fn report_section(&self, md: &mut ReportMd) {
        let c = &self.config;
        let r = &self.results;
        md.heading(2, "Heavy-tailed noise in network training");
        md.paragraph(&format!(
            "{} ({} parameters) on {} training examples of {} with {} labels ({:.0}%) replaced \
             by another class, tested on {} clean examples. η = {}, mini-batches of {} (two \
             halves give g₁ and g₂), {} epochs, seeds {}..{}. Heavy-tailed rules add \
             Z·(g₁ − g₂) with Z symmetric Lomax (α = {}, scale {}); `truncated` clips the whole \
             step to norm b = {}. Sharpness on {} training examples: λ_max by {} power \
             iterations on finite-difference Hessian-vector products (ε = {}), and the mean \
             loss increase over {} Gaussian weight perturbations of σ = {}.",
            r.network,
            r.params,
            r.train_size,
            r.dataset,
            r.corrupted,
            c.label_noise * 100.0,
            r.test_size,
            c.lr,
            c.batch_size,
            c.epochs,
            c.seed,
            c.seed + c.seeds as u64 - 1,
            c.alpha,
            c.noise_scale,
            c.truncation,
            self.probe.len(),
            c.power_iters,
            c.fd_eps,
            c.perturb_samples,
            c.perturb_sigma,
        ));
        let pm = |v: (f64, f64), d: usize| {
            if v.1.is_finite() {
                format!("{:.d$} ± {:.d$}", v.0, v.1)
            } else {
                format!("{:.d$}", v.0)
            }
        };
        md.table(
            &[
                "rule",
                "runs (diverged)",
                "test accuracy",
                "corrupted labels memorized",
                "λ_max",
                "loss increase under perturbation",
            ],
            &r.arms
                .iter()
                .map(|a| {
                    vec![
                        a.arm.clone(),
                        format!("{} ({})", a.runs, a.diverged),
                        pm(a.test_acc, 4),
                        pm(a.corrupted_fit, 3),
                        pm(a.lambda_max, 2),
                        pm(a.perturb_increase, 4),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        md.paragraph("± is the 95% confidence half-width over seeds (t distribution).");
        md.table(
            &[
                "rule",
                "seed",
                "test acc",
                "train acc",
                "λ_max",
                "perturbation",
                "steps truncated",
                "mean ‖step‖",
                "max ‖step‖",
                "diverged at",
            ],
            &r.runs
                .iter()
                .map(|x| {
                    vec![
                        x.arm.clone(),
                        x.seed.to_string(),
                        format!("{:.4}", x.test_acc),
                        format!("{:.4}", x.train_acc),
                        format!("{:.2}", x.lambda_max),
                        format!("{:.4}", x.perturb_increase),
                        format!("{:.3}", x.clipped_fraction),
                        format!("{:.4}", x.mean_step_norm),
                        format!("{:.3}", x.max_step_norm),
                        x.diverged_at.map_or("-".into(), |s| s.to_string()),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}
