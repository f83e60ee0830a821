//! The RNN experiment's table, plots and report body.

use super::scaling::GrowthFit;
use super::{MetricRow, Rnn, RnnSweep, ScalingSummary};
use sgdlab_engine::data::TargetKind;
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, Bounds, CsvTable, LinePlot, ReportMd, Series, SeriesStyle, fmt_f64,
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
            "evaluation",
            "batch_rel_loss",
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
                m.samples.to_string(),
                m.epoch.to_string(),
                fmt_f64(m.train_loss),
                fmt_f64(m.test_rel_error),
                fmt_f64(m.relative_movement),
            ]);
        }
        t
    }

    /// The metric rows of one run.
    fn rows_of(&self, sweep: RnnSweep, target: TargetKind, l: usize) -> Vec<&MetricRow> {
        self.metrics
            .iter()
            .filter(|m| {
                let j = self.queue.jobs()[m.job];
                j.sweep == sweep && j.target == target && j.seed_index == 0 && j.seq_len == l
            })
            .collect()
    }

    /// The first seed's test error against sequences seen, one series per L.
    fn error_plot(&self, target: TargetKind, lens: &[usize]) -> LinePlot {
        let series: Vec<Series> = lens
            .iter()
            .map(|&l| {
                Series::line_points(
                    format!("L = {l}"),
                    self.rows_of(RnnSweep::Samples, target, l)
                        .iter()
                        .map(|m| (m.samples as f64, m.test_rel_error))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        LinePlot::single(
            format!(
                "{}, seed {}: relative test error against sequences seen (one pass, m = {}; \
                 learned at {} × the linear floor)",
                target.as_str(),
                self.config.seed,
                self.config.network.width,
                self.config.threshold_fraction
            ),
            Axis::log("sequences seen (count)"),
            Axis::linear("relative test error (MSE ÷ Var(y*))").bounded(Bounds::NON_NEGATIVE),
            series,
        )
    }

    /// Samples needed against L, for the concept and the control, with the fitted power law
    /// and exponential; lengths some seed never learned are drawn at the cap as censored.
    fn samples_needed_plot(&self) -> LinePlot {
        let mut series = Vec::new();
        let summaries: Vec<&ScalingSummary> = std::iter::once(&self.results.scaling)
            .chain(self.results.control.as_ref())
            .collect();
        for s in summaries {
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
            if let Some(f) = &s.fit {
                let k = reached.len().max(1) as f64;
                let (mx, ml, my) = reached.iter().fold((0.0, 0.0, 0.0), |(a, b, c), &(l, n)| {
                    (a + l.ln() / k, b + l / k, c + n.ln() / k)
                });
                series.push(Series::line(
                    format!("{}: power law n ∝ L^{:.2}", s.target, f.alpha),
                    reached
                        .iter()
                        .map(|&(l, _)| (l, (my + f.alpha * (l.ln() - mx)).exp()))
                        .collect(),
                ));
                series.push(Series::line(
                    format!("{}: exponential n ∝ e^({:.3}·L)", s.target, f.rate),
                    reached
                        .iter()
                        .map(|&(l, _)| (l, (my + f.rate * (l - ml)).exp()))
                        .collect(),
                ));
            }
        }
        LinePlot::single(
            format!(
                "Sequences seen until the relative test error reaches {} × the linear floor \
                 against L (log–log)",
                self.config.threshold_fraction
            ),
            Axis::log("sequence length L (tokens)"),
            Axis::log("sequences needed (count)"),
            series,
        )
    }

    /// The width check: the first seed's test error at its L, at m and at 2m.
    fn width_plot(&self) -> LinePlot {
        let l = self.config.width_check_len;
        let curve = |sweep| {
            self.rows_of(sweep, TargetKind::Concept, l)
                .iter()
                .map(|m| (m.samples as f64, m.test_rel_error))
                .collect::<Vec<_>>()
        };
        LinePlot::single(
            format!("Width check (concept, seed {}, L = {l})", self.config.seed),
            Axis::log("sequences seen (count)"),
            Axis::linear("relative test error (MSE ÷ Var(y*))").bounded(Bounds::NON_NEGATIVE),
            vec![
                Series::line_points(
                    format!("m = {}", self.config.network.width),
                    curve(RnnSweep::Samples),
                ),
                Series::line_points(
                    format!("m = {}", 2 * self.config.network.width),
                    curve(RnnSweep::Width),
                ),
            ],
        )
    }

    fn movement_plot(&self) -> LinePlot {
        let series: Vec<Series> = self
            .config
            .seq_lens
            .iter()
            .map(|&l| {
                Series::line_points(
                    format!("L = {l}"),
                    self.rows_of(RnnSweep::Samples, TargetKind::Concept, l)
                        .iter()
                        .map(|m| (m.samples as f64, m.relative_movement))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        LinePlot::single(
            format!(
                "Concept, seed {}: relative movement of W against sequences seen",
                self.config.seed
            ),
            Axis::log("sequences seen (count)"),
            Axis::linear("‖W − W₀‖_F ÷ ‖W₀‖_F (ratio)").bounded(Bounds::NON_NEGATIVE),
            series,
        )
    }

    pub(super) fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        written.extend(
            self.error_plot(TargetKind::Concept, &self.config.seq_lens)
                .render(dir, "test_error_vs_samples")?,
        );
        if self.config.control {
            written.extend(
                self.error_plot(TargetKind::Lookup, &self.config.control_lens)
                    .render(dir, "control_error_vs_samples")?,
            );
        }
        written.extend(
            self.samples_needed_plot()
                .render(dir, "samples_needed_vs_length")?,
        );
        if self.config.width_check_len > 0 {
            written.extend(self.width_plot().render(dir, "width_check")?);
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
             complexity polynomial (not exponential) in the sequence length L.",
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
             variance unexplained (first seed): {}; a run counts as learned at {} × its own \
             floor. Seeds {:?}; width m = {} (two cancelling halves of {}: output 0 at \
             initialization); one-pass SGD on fresh sequences, lr {} at m·L = 512 scaled by \
             512/(m·L), {} sequences per step, cap {} sequences; evaluations on {} fixed test \
             sequences at {} points per doubling from {}. Control: a random balanced ±1 table \
             of the signs of the L first coordinates, scored at the last position, L ∈ {:?}. \
             Device: {}. Position 1 is not scored for the concept: its output B·ReLU(A x₁) \
             does not depend on W.",
            r.status,
            r.trainable,
            c.concept.inputs,
            c.concept
                .window
                .map_or("all of".to_string(), |w| format!("a window of {w} over")),
            c.concept.neurons,
            c.concept.weight_scale,
            linear.join(", "),
            c.threshold_fraction,
            r.seeds,
            c.network.width,
            c.network.width / 2,
            c.optim.lr,
            c.batch_size,
            c.max_samples,
            c.test_size,
            c.evals_per_octave,
            c.first_eval,
            if c.control {
                c.control_lens.clone()
            } else {
                vec![]
            },
            r.device
        ));
        md.paragraph(
            "Departures from the paper: unit-norm tokens (the paper's are small-norm); a fixed \
             width for every L (the theorem lets m grow with L); mini-batches of a few \
             sequences instead of one per step; the cancelling-halves initialization instead of \
             subtracting the initial network's output; the verdict compares a power law with an \
             exponential at a fixed error, where the paper states L^O(log 1/ε).",
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
                    "per seed (> n: censored at the cap)",
                    "geometric mean (reached)",
                    "95% CI",
                ],
                &rows,
            );
            let fit = s
                .fit
                .as_ref()
                .map_or("no fit".to_string(), GrowthFit::describe);
            md.paragraph(&format!("Fits: {fit}. Verdict: **{}**.", s.verdict));
        }
        if let Some(w) = &r.width_check {
            md.heading(2, "Width check");
            md.paragraph(&w.describe());
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
                    format!("{:.3}", x.threshold),
                    x.samples_needed
                        .map_or(format!(">{}", x.samples), |n| format!("{n:.0}")),
                    format!("{:.3}", x.init_test_rel_error),
                    format!("{:.3}", x.test_rel_error),
                    format!("{:.4}", x.relative_movement),
                ]
            })
            .collect();
        md.table(
            &[
                "run",
                "target",
                "seed",
                "L",
                "m",
                "threshold",
                "samples needed",
                "test err at init",
                "test err at stop",
                "‖W − W₀‖/‖W₀‖",
            ],
            &rows,
        );
    }
}
