//! The RNN experiment's table, plots and report body.

use super::{Rnn, RnnRun, RnnSweep, ScalingSummary};
use sgdlab_engine::data::TargetKind;
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, SeriesStyle, fmt_f64,
};
use std::path::{Path, PathBuf};

impl Rnn {
    pub(super) fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "sweep",
            "target",
            "seed",
            "seq_len",
            "width",
            "samples",
            "epoch",
            "train_loss",
            "test_rel_error",
            "relative_movement",
        ]);
        for m in &self.metrics {
            let j = self.queue.jobs()[m.job];
            t.push_row(vec![
                format!("{:?}", j.sweep).to_lowercase(),
                j.target.as_str().to_string(),
                self.seed_of(j.seed_index).to_string(),
                j.seq_len.to_string(),
                j.width.to_string(),
                j.samples.to_string(),
                m.epoch.to_string(),
                fmt_f64(m.train_loss),
                fmt_f64(m.test_rel_error),
                fmt_f64(m.relative_movement),
            ]);
        }
        t
    }

    /// Seed-mean test error against samples, one series per L.
    fn error_plot(&self, target: TargetKind) -> LinePlot {
        let series: Vec<Series> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| {
                let points = self
                    .config
                    .sample_sizes
                    .iter()
                    .filter_map(|&n| {
                        let errs: Vec<f64> = self
                            .results
                            .runs
                            .iter()
                            .filter(|r| {
                                r.sweep == RnnSweep::Samples
                                    && r.target == target
                                    && r.seq_len == l
                                    && r.samples == n
                            })
                            .map(|r| r.test_rel_error)
                            .collect();
                        (!errs.is_empty())
                            .then(|| (n as f64, errs.iter().sum::<f64>() / errs.len() as f64))
                    })
                    .collect();
                Series::line_points(format!("L = {l}"), points)
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        LinePlot::single(
            format!(
                "{}: test error / Var(y*) against samples, mean over seeds (m = {}; threshold {})",
                target.as_str(),
                self.config.network.width,
                self.config.error_threshold
            ),
            Axis::log("training sequences (count)"),
            Axis::linear("relative test error (MSE ÷ Var(y*))").bounded(Bounds::NON_NEGATIVE),
            series,
        )
    }

    /// Samples needed against L, for the concept and the control, with the fitted power laws;
    /// lengths that most seeds never reached are drawn at the censoring bound as their own
    /// series (lower bounds, not values).
    fn samples_needed_plot(&self) -> LinePlot {
        let mut series = Vec::new();
        let summaries: Vec<&ScalingSummary> = std::iter::once(&self.results.scaling)
            .chain(self.results.control.as_ref())
            .collect();
        for s in summaries {
            // Lengths every seed reached: the geometric mean with its 95% interval; the others
            // are lower bounds (> n_max), drawn as censored.
            let values: Vec<(f64, Option<f64>)> = s
                .lengths
                .iter()
                .map(|l| (l.seq_len as f64, l.geo_mean.filter(|_| l.all_reached())))
                .collect();
            let max_samples = s.lengths.first().map_or(0, |l| l.max_samples) as f64;
            let mut measured = Series::with_censored(
                format!("{}: samples needed (geometric mean over seeds)", s.target),
                &values,
                max_samples,
                SeriesStyle::Points,
            );
            measured.intervals = s
                .lengths
                .iter()
                .filter(|l| l.all_reached())
                .filter_map(|l| l.ci95.map(|[lo, hi]| (l.seq_len as f64, lo, hi)))
                .collect();
            let reached: Vec<(f64, f64)> = measured.points.clone();
            series.push(measured);
            if let Some(e) = &s.exponent {
                // Through the geometric mean of the fitted points.
                let k = reached.len().max(1) as f64;
                let (mx, my) = reached.iter().fold((0.0, 0.0), |(a, b), &(l, n)| {
                    (a + l.ln() / k, b + n.ln() / k)
                });
                series.push(Series::line(
                    format!(
                        "{}: n ∝ L^{:.2} [{:.2}, {:.2}]",
                        s.target, e.estimate, e.lo, e.hi
                    ),
                    reached
                        .iter()
                        .map(|&(l, _)| (l, (my + e.estimate * (l.ln() - mx)).exp()))
                        .collect(),
                ));
            }
        }
        LinePlot::single(
            format!(
                "Samples to reach relative test error {} against L (log–log)",
                self.config.error_threshold
            ),
            Axis::log("sequence length L (tokens)"),
            Axis::log("training sequences needed (count)"),
            series,
        )
    }

    /// The width sweep: test error and movement of W, one panel each (two units).
    fn width_plot(&self) -> LinePlot {
        let width_runs: Vec<&RnnRun> = self
            .results
            .runs
            .iter()
            .filter(|r| r.sweep == RnnSweep::Width)
            .collect();
        LinePlot {
            title: format!(
                "Width sweep (L = {}, {} samples)",
                self.config.width_sweep_seq_len, self.config.width_sweep_samples
            ),
            x: Axis::log("width m (hidden units)"),
            panels: vec![
                Panel {
                    y: Axis::linear("relative test error (MSE ÷ Var(y*))")
                        .bounded(Bounds::NON_NEGATIVE),
                    series: vec![Series::line_points(
                        "relative test error",
                        width_runs
                            .iter()
                            .map(|r| (r.width as f64, r.test_rel_error))
                            .collect(),
                    )],
                },
                Panel {
                    y: Axis::linear("‖W − W₀‖_F ÷ ‖W₀‖_F (ratio)").bounded(Bounds::NON_NEGATIVE),
                    series: vec![Series::line_points(
                        "relative movement of W",
                        width_runs
                            .iter()
                            .map(|r| (r.width as f64, r.relative_movement))
                            .collect(),
                    )],
                },
            ],
        }
    }

    fn movement_plot(&self) -> LinePlot {
        let seed = self.config.seed;
        let series: Vec<Series> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| {
                Series::line_points(
                    format!("L = {l}"),
                    self.results
                        .runs
                        .iter()
                        .filter(|r| {
                            r.sweep == RnnSweep::Samples
                                && r.target == TargetKind::Concept
                                && r.seed == seed
                                && r.seq_len == l
                        })
                        .map(|r| (r.samples as f64, r.relative_movement))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        LinePlot::single(
            format!("Concept, seed {seed}: relative movement of W against samples"),
            Axis::log("training sequences (count)"),
            Axis::linear("‖W − W₀‖_F ÷ ‖W₀‖_F (ratio)").bounded(Bounds::NON_NEGATIVE),
            series,
        )
    }

    pub(super) fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        written.extend(
            self.error_plot(TargetKind::Concept)
                .render(dir, "test_error_vs_samples")?,
        );
        if self.config.control {
            written.extend(
                self.error_plot(TargetKind::Parity)
                    .render(dir, "control_error_vs_samples")?,
            );
        }
        written.extend(
            self.samples_needed_plot()
                .render(dir, "samples_needed_vs_length")?,
        );
        if !self.config.widths.is_empty() {
            written.extend(self.width_plot().render(dir, "width_sweep")?);
        }
        written.extend(self.movement_plot().render(dir, "movement_vs_samples")?);
        Ok(written)
    }

    pub(super) fn report_body(&self, md: &mut ReportMd) {
        let r = &self.results;
        let c = &self.config;
        md.paragraph(
            "Allen-Zhu, Li (NeurIPS 2019): SGD on an overparameterized Elman RNN (h_ℓ = \
             ReLU(W h_{ℓ−1} + A x_ℓ), y_ℓ = B h_ℓ, only W trained) learns targets whose every \
             token is a sum over all earlier tokens of smooth two-layer networks, with a sample \
             complexity polynomial (not exponential) in the sequence length L, while W stays \
             close to its random initialization.",
        );
        let linear: Vec<String> = r
            .linear_unexplained
            .iter()
            .map(|(l, s)| format!("L = {l}: {:.0}%", 100.0 * s))
            .collect();
        md.paragraph(&format!(
            "Status: **{}**. Trained: {}. Concept: d = {}, {} every earlier token (one network \
             Φ_{{i→ℓ}} with {} units φ(z) = sin z + cos z per (source, target) pair, inner \
             weight scale {}). A linear fit of all earlier inputs leaves this share of the \
             variance unexplained: {}. Seeds {:?}; sample sweep at width m = {}; {} epochs of \
             SGD (lr {} at m·L = 512, scaled by 512/(m·L); {} sequences per step); {} test \
             sequences drawn independently. Device: {}. Position 1 is not scored: its output \
             B·ReLU(A x₁) does not depend on W.",
            r.status,
            r.trainable,
            c.concept.inputs,
            c.concept
                .window
                .map_or("all of".to_string(), |w| format!("a window of {w} over")),
            c.concept.neurons,
            c.concept.weight_scale,
            linear.join(", "),
            r.seeds,
            c.network.width,
            c.epochs,
            c.optim.lr,
            c.batch_size,
            c.test_size,
            r.device
        ));
        md.paragraph(
            "Departures from the paper: mini-batches of a few sequences instead of one per step; \
             widths up to 1024 and lengths up to 32 so the sweep runs on a CPU; the degree bound \
             of the verdict is a stated number, not the paper's (unspecified) polynomial.",
        );
        for s in std::iter::once(&r.scaling).chain(r.control.as_ref()) {
            md.heading(2, &format!("Samples needed against L: {}", s.target));
            let rows: Vec<Vec<String>> = s
                .lengths
                .iter()
                .map(|l| {
                    vec![
                        l.seq_len.to_string(),
                        l.per_seed
                            .iter()
                            .map(|n| n.map_or(format!(">{}", l.max_samples), |n| format!("{n:.0}")))
                            .collect::<Vec<_>>()
                            .join(", "),
                        l.geo_mean.map_or("-".into(), |m| format!("{m:.0}")),
                        l.ci95
                            .map_or("-".into(), |[a, b]| format!("[{a:.0}, {b:.0}]")),
                    ]
                })
                .collect();
            md.table(
                &[
                    "L",
                    "per seed (> n: never reached)",
                    "geometric mean (reached)",
                    "95% CI",
                ],
                &rows,
            );
            let exponent = s.exponent.as_ref().map_or("no fit".to_string(), |e| {
                format!(
                    "{:.2} [{:.2}, {:.2}] ({} points)",
                    e.estimate, e.lo, e.hi, e.points
                )
            });
            md.paragraph(&format!(
                "Exponent α in n ∝ L^α: {exponent}. Censoring bound: {}. Verdict with degree \
                 bound {}: **{}**.",
                s.censored_exponent_bound
                    .map_or("-".to_string(), |b| format!("α > {b:.2}")),
                s.max_degree,
                s.verdict
            ));
        }
        md.heading(2, "Width sweep");
        let width_runs: Vec<&RnnRun> = r
            .runs
            .iter()
            .filter(|x| x.sweep == RnnSweep::Width)
            .collect();
        if let (Some(first), Some(last)) = (width_runs.first(), width_runs.last())
            && width_runs.len() >= 2
        {
            let reading = if last.train_rel_error > first.train_rel_error {
                "the training error rises with m as well, so the wider networks are \
                 under-trained at this budget, not over-fitted"
            } else if last.test_rel_error > first.test_rel_error {
                "the training error does not rise with m while the test error does: the wider \
                 networks generalize worse at this sample size"
            } else {
                "neither error rises with m"
            };
            md.paragraph(&format!(
                "The learning rate scales as 1/m (the paper's η ∝ 1/m) for a fixed number of \
                 epochs, so a wider network takes the same number of smaller steps in W. From \
                 m = {} to m = {}: training error {:.3} → {:.3}, test error {:.3} → {:.3}, \
                 relative movement {:.4} → {:.4}; {reading}. The paper's guarantee is for m large \
                 with the number of steps chosen for it.",
                first.width,
                last.width,
                first.train_rel_error,
                last.train_rel_error,
                first.test_rel_error,
                last.test_rel_error,
                first.relative_movement,
                last.relative_movement
            ));
        }
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    format!("{:?}", x.sweep).to_lowercase(),
                    x.target.as_str().to_string(),
                    x.seed.to_string(),
                    x.seq_len.to_string(),
                    x.width.to_string(),
                    x.samples.to_string(),
                    format!("{:.3}", x.init_test_rel_error),
                    format!("{:.3}", x.train_rel_error),
                    format!("{:.3}", x.test_rel_error),
                    format!("{:.4}", x.relative_movement),
                ]
            })
            .collect();
        md.table(
            &[
                "sweep",
                "target",
                "seed",
                "L",
                "m",
                "samples",
                "test err at init",
                "train err",
                "test err",
                "‖W − W₀‖/‖W₀‖",
            ],
            &rows,
        );
    }
}
