//! The random-labels tables, plots and report body.

use super::claims::{best_single_regularizer, gap_interval, gap_interval_all_seeds, reduced_line};
use super::{REGULARIZERS, RandomLabels, RunRecord};
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, Heatmap, HeatmapGrid, LinePlot, ReportMd, Series,
    fmt_f64, mean_ci95,
};
use std::path::{Path, PathBuf};

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "-".into()
    }
}

impl RandomLabels {
    fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "seed",
            "arm",
            "run",
            "epoch",
            "step",
            "lr",
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
        ]);
        for m in &self.metrics {
            t.push_row(vec![
                m.seed.to_string(),
                m.arm.clone(),
                m.run.to_string(),
                m.epoch.to_string(),
                m.step.to_string(),
                fmt_f64(m.lr),
                fmt_f64(m.train_loss),
                fmt_f64(m.train_acc),
                fmt_f64(m.test_loss),
                fmt_f64(m.test_acc),
            ]);
        }
        t
    }

    /// Test accuracy while training on the true labels (first seed), per arm and run.
    fn curves_plot(&self) -> LinePlot {
        let first = self.config.seed;
        let mut series = Vec::new();
        for arm in &self.arm_names {
            for (run, what) in [
                ("baseline", "from scratch"),
                ("pretrained", "after random labels"),
            ] {
                let points: Vec<(f64, f64)> = self
                    .metrics
                    .iter()
                    .filter(|m| m.seed == first && &m.arm == arm && m.run == run)
                    .map(|m| (m.epoch as f64, m.test_acc))
                    .collect();
                if !points.is_empty() {
                    series.push(Series::line(format!("{arm}, {what}"), points));
                }
            }
        }
        LinePlot::single(
            format!("Test accuracy while training on true labels (seed {first})"),
            Axis::linear("epoch (passes over the training set)"),
            Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
            series,
        )
    }

    fn bars_plot(&self) -> BarPlot {
        let arm = |a: &String| self.results.arms.get(a).cloned().unwrap_or_default();
        let base: Vec<Vec<f64>> = self
            .arm_names
            .iter()
            .map(|a| arm(a).baseline_test_acc)
            .collect();
        let pre: Vec<Vec<f64>> = self
            .arm_names
            .iter()
            .map(|a| arm(a).pretrained_test_acc)
            .collect();
        BarPlot {
            title: "Test accuracy, mean over seeds with 95% interval (dots: seeds)".into(),
            x_title: "arm".into(),
            y: Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
            groups: self.arm_names.clone(),
            bars: vec![
                BarSeries::mean_ci95("from scratch", &base),
                BarSeries::mean_ci95("after random labels", &pre),
            ],
        }
    }

    /// The gap (baseline minus pretrained test accuracy, in points) per arm over the seeds that
    /// reached the target: the mean with its 95% interval, and each seed's gap as a dot.
    fn gap_plot(&self) -> BarPlot {
        let gaps: Vec<Vec<f64>> = self
            .arm_names
            .iter()
            .map(|arm| {
                self.results
                    .arms
                    .get(arm)
                    .map(|a| a.gap_per_seed.iter().map(|g| g * 100.0).collect())
                    .unwrap_or_default()
            })
            .collect();
        BarPlot {
            title: "Gap: test accuracy from scratch minus after random labels (seeds that \
                    reached the target)"
                .into(),
            x_title: "arm".into(),
            y: Axis::linear("gap (accuracy points)").bounded(Bounds {
                lo: -100.0,
                hi: 100.0,
            }),
            groups: self.arm_names.clone(),
            bars: vec![BarSeries::mean_ci95("mean gap (95% CI)", &gaps)],
        }
    }

    fn boundaries_plot(&self) -> HeatmapGrid {
        let (x0, x1, y0, y1) = self.boundary_box;
        let n = self.config.boundary_grid;
        let panels = self
            .boundaries
            .iter()
            .map(|(t, v, labels)| {
                let points = self
                    .train
                    .features
                    .chunks_exact(2)
                    .zip(labels)
                    .map(|(p, &l)| (f64::from(p[0]), f64::from(p[1]), l))
                    .collect();
                Heatmap {
                    title: t.clone(),
                    x_title: "x₁ (feature)".into(),
                    y_title: "x₂ (feature)".into(),
                    x_range: (x0, x1),
                    y_range: (y0, y1),
                    nx: n,
                    ny: n,
                    values: v.clone(),
                    value_label: "P(class 1)".into(),
                    points,
                }
            })
            .collect();
        HeatmapGrid {
            title: format!(
                "Decision boundaries, seed {} (points: the labels each model was fit on)",
                self.config.seed
            ),
            columns: 3,
            panels,
        }
    }

    pub(super) fn write_tables_and_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        if !self.metrics.is_empty() {
            written.extend(self.curves_plot().render(dir, "accuracy_curves")?);
        }
        if self
            .results
            .arms
            .values()
            .any(|a| !a.baseline_test_acc.is_empty())
        {
            written.extend(self.gap_plot().render(dir, "gap")?);
            written.extend(self.bars_plot().render(dir, "test_accuracy")?);
        }
        if !self.boundaries.is_empty() {
            written.extend(self.boundaries_plot().render(dir, "decision_boundaries")?);
        }
        Ok(written)
    }

    pub(super) fn report_body(&self, md: &mut ReportMd) {
        self.protocol_section(md);
        self.gap_section(md);
        self.runs_section(md);
    }

    /// The paper's claim, the protocol and its gates.
    fn protocol_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        let c = &self.config;
        md.paragraph(
            "Liu, Papailiopoulos, Achlioptas (NeurIPS 2020): SGD started from a model that has \
             memorized random labels reaches a global minimum of the true-label training loss \
             that generalizes worse (a positive gap, baseline minus pretrained test accuracy) \
             unless training uses explicit regularization (momentum, weight decay, augmentation).",
        );
        md.paragraph(&format!(
            "Status: **{}**. Dataset {} ({}), {} training and {} test examples, network {}, \
             device: {}.",
            r.status, r.dataset, r.split, r.train_size, r.test_size, r.network, r.device
        ));
        md.paragraph(&format!(
            "Protocol (the authors' code, chao1224/BadGlobalMinima): phase A on {} with plain SGD, \
             stopping at {} training accuracy or after {} epochs; phase B and the baselines for a \
             fixed {} epochs, no early stop. Every phase and arm: base learning rate {}, ×{} at \
             {} of the phase's budget, batch {}. Regularizers: momentum {}, weight decay {}, \
             augmentation = random shifts up to {} pixels (crop with padding){}. Accuracies are \
             evaluated every {} epochs and at the end of each run (phase A's stop is checked \
             there). Gates: a seed counts when its phase A reached its target and, in arms \
             without augmentation, both runs end at ≥ {} clean training accuracy (a global \
             minimum); in arms with augmentation, both runs' clean training loss changed by less \
             than {:.0}% over their last {} epochs (no interpolation gate). \
             `regularized-gap-removed` is an equivalence test with margin δ = {} pts. \
             Departures: an MLP on MNIST-10k instead of ResNet-18 on CIFAR-10, and shorter \
             budgets than the authors' 350 epochs; the schedule's milestones are the authors' \
             fractions of the budget.",
            c.confusion
                .as_ref()
                .map_or("the training set with random labels".to_string(), |k| {
                    format!(
                        "the confusion set ({} copies per example, {:.0}% of the inputs zeroed per \
                     copy, a random label per copy)",
                        k.copies,
                        100.0 * k.zero_fraction
                    )
                }),
            c.random_phase
                .stop_at_train_acc
                .map_or("-".to_string(), pct),
            c.random_phase.epochs,
            c.true_phase.epochs,
            c.lr,
            c.lr_decay,
            c.lr_milestones
                .iter()
                .map(|f| format!("{:.0}%", 100.0 * f))
                .collect::<Vec<_>>()
                .join(" and "),
            c.batch_size,
            c.momentum,
            c.weight_decay,
            c.augment.max_shift,
            if c.augment.hflip {
                " and horizontal flips"
            } else {
                ""
            },
            c.eval_every,
            pct(c.fit_target),
            100.0 * c.plateau_tolerance,
            c.plateau_epochs,
            c.equivalence_margin
        ));
    }

    /// The gap per arm with its gate and interval.
    fn gap_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.heading(2, "Gap per arm");
        let mut rows = Vec::new();
        for arm in &self.arm_names {
            let a = r.arms.get(arm).cloned().unwrap_or_default();
            let (b, _) = mean_ci95(&a.baseline_test_acc);
            let (p, _) = mean_ci95(&a.pretrained_test_acc);
            let (g, n, u) = gap_interval(&a);
            let (all, n_all) = gap_interval_all_seeds(&a);
            rows.push(vec![
                arm.clone(),
                a.gate.clone(),
                format!("{n} ({u} did not pass)"),
                pct(b),
                pct(p),
                if n > 0 {
                    format!("{:+.2} pts", g.estimate)
                } else {
                    "-".into()
                },
                if g.is_finite() {
                    format!("[{:+.2}, {:+.2}]", g.lo, g.hi)
                } else {
                    "-".into()
                },
                match (n_all, all.is_finite()) {
                    (0, _) => "-".into(),
                    (_, true) => format!(
                        "{:+.2} [{:+.2}, {:+.2}] ({n_all})",
                        all.estimate, all.lo, all.hi
                    ),
                    (_, false) => format!("{:+.2} ({n_all})", all.estimate),
                },
            ]);
        }
        md.table(
            &[
                "arm",
                "gate",
                "seeds in the gap",
                "baseline test acc (all seeds)",
                "pretrained test acc (all seeds)",
                "gap (mean)",
                "gap 95% CI",
                "gap over all seeds, 95% CI (seeds; descriptive, not the claims' test)",
            ],
            &rows,
        );
        if let (Some(v), Some(f)) = (
            r.arms.values().find(|a| a.regularizers.is_empty()),
            r.arms
                .values()
                .find(|a| a.regularizers.len() == REGULARIZERS.len()),
        ) {
            md.paragraph(&format!(
                "All three against vanilla (descriptive, not a claim): {}.",
                reduced_line(&gap_interval(f).0, &gap_interval(v).0)
            ));
        }
        md.paragraph(&match best_single_regularizer(r) {
            Some((reg, gap)) => format!(
                "The single regularizer that leaves the smallest mean gap: **{reg}** \
                 ({gap:+.2} pts)."
            ),
            None => "No single-regularizer arm has a seed that reached the target.".into(),
        });
    }

    /// Every run, and what stopped the experiment.
    fn runs_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.heading(2, "Runs");
        let mut rows = Vec::new();
        let mut push = |arm: &str, run: &str, rec: &RunRecord| {
            rows.push(vec![
                rec.seed.to_string(),
                arm.to_string(),
                run.to_string(),
                rec.epochs.to_string(),
                if rec.fitted { "yes" } else { "no" }.to_string(),
                if rec.loss_change.is_finite() {
                    format!(
                        "{:.1}% ({})",
                        100.0 * rec.loss_change,
                        if rec.plateaued { "yes" } else { "no" }
                    )
                } else {
                    "-".into()
                },
                pct(rec.train_acc),
                pct(rec.test_acc),
                format!("{:.2}", rec.weight_norm),
                format!("{:.2}", rec.distance_from_init),
            ]);
        };
        for rec in &r.random_phase {
            push("-", "random labels", rec);
        }
        for arm in &self.arm_names {
            if let Some(a) = r.arms.get(arm) {
                for rec in &a.baseline {
                    push(arm, "from scratch", rec);
                }
                for rec in &a.pretrained {
                    push(arm, "after random labels", rec);
                }
            }
        }
        md.table(
            &[
                "seed",
                "arm",
                "run",
                "epochs",
                "reached the target",
                "loss change over the last window (plateaued)",
                "train acc",
                "test acc",
                "‖w‖",
                "‖w − w₀‖",
            ],
            &rows,
        );
        if let Some(f) = &self.failure {
            md.paragraph(&format!("Stopped: {f}"));
        }
    }
}
