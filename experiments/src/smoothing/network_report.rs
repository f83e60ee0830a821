//! The network check's outputs: `one_point.csv` (every probed point of every run), the chart of c
//! along each run's trajectory, and its section of `report.md` (the protocol, one row per run and
//! the summary over runs).

use super::{NETWORK_SHARE_MIN, NetworkResults, OnePointConfig, OnePointResults, Z95};
use crate::Interval;
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{Axis, CsvTable, LinePlot, Panel, ReportMd, Series, fmt_f64};
use std::path::{Path, PathBuf};

/// Every probed point of every run, one row each, with the run's seeds.
pub(super) fn network_table(r: &NetworkResults) -> CsvTable {
    let mut t = CsvTable::new(&[
        "run",
        "seed",
        "reference_seed",
        "step",
        "epoch",
        "loss",
        "test_acc",
        "distance_to_reference",
        "distance_to_end",
        "inner_raw",
        "c_raw",
        "cosine_raw",
        "c",
        "c_se",
        "cosine",
        "c_end_raw",
        "c_end",
        "c_end_se",
        "noise_norm",
        "positive",
        "negative",
    ]);
    for (i, run) in r.runs.iter().enumerate() {
        for e in &run.rows {
            t.push_row(vec![
                i.to_string(),
                run.seed.to_string(),
                run.reference_seed.to_string(),
                e.step.to_string(),
                fmt_f64(e.epoch),
                fmt_f64(e.loss),
                fmt_f64(e.test_acc),
                fmt_f64(e.distance_to_reference),
                fmt_f64(e.distance_to_end),
                fmt_f64(e.raw.inner),
                fmt_f64(e.raw.c),
                fmt_f64(e.raw.cosine),
                fmt_f64(e.c),
                fmt_f64(e.c_se),
                fmt_f64(e.cosine),
                fmt_f64(e.c_end_raw),
                fmt_f64(e.c_end),
                fmt_f64(e.c_end_se),
                fmt_f64(e.noise_norm),
                e.positive.to_string(),
                e.negative.to_string(),
            ]);
        }
    }
    t
}

/// c along each run's trajectory: toward x* (smoothed, with its Monte Carlo interval) and
/// toward the run's own end (the paper's version).
pub(super) fn network_plots(r: &NetworkResults, epochs: usize, dir: &Path) -> Result<Vec<PathBuf>> {
    let runs: Vec<&OnePointResults> = r.runs.iter().filter(|x| !x.rows.is_empty()).collect();
    let Some(first) = runs.first() else {
        return Ok(Vec::new());
    };
    let mut toward_reference = Vec::new();
    let mut toward_end = Vec::new();
    for run in &runs {
        let mut s = Series::line_points(
            format!("seed {} (95% Monte Carlo interval)", run.seed),
            run.rows.iter().map(|x| (x.epoch, x.c)).collect(),
        );
        s.intervals = run
            .rows
            .iter()
            .map(|x| (x.epoch, x.c - Z95 * x.c_se, x.c + Z95 * x.c_se))
            .collect();
        toward_reference.push(s);
        toward_end.push(Series::line_points(
            format!("seed {}", run.seed),
            run.rows.iter().map(|x| (x.epoch, x.c_end)).collect(),
        ));
    }
    toward_reference.push(Series::line("0", vec![(0.0, 0.0), (epochs as f64, 0.0)]));
    LinePlot {
        title: format!(
            "One-point convexity of the smoothed loss along SGD on {}, per run",
            first.dataset
        ),
        x: Axis::linear("epoch"),
        panels: vec![
            Panel {
                y: Axis::linear("smoothed c toward x* = ⟨−∇g(x), x* − x⟩/‖x* − x‖²"),
                series: toward_reference,
            },
            Panel {
                y: Axis::linear("smoothed c toward x_T (own end; the paper's target)"),
                series: toward_end,
            },
        ],
    }
    .render(dir, "one_point_convexity")
}

/// `a of n [lo, hi]`.
fn share(a: usize, n: usize) -> String {
    let w = Interval::wilson95(a, n);
    format!("{a} of {n} [{:.3}, {:.3}]", w.lo, w.hi)
}

/// The report section: the protocol, one row per run, and the summary over runs.
pub(super) fn network_section(
    md: &mut ReportMd,
    r: &NetworkResults,
    c: &OnePointConfig,
    done: bool,
) {
    md.heading(
        2,
        "The network check: one-point convexity of the smoothed loss along SGD on MNIST",
    );
    let Some(first) = r.runs.first() else {
        return;
    };
    md.paragraph(&format!(
        "{} independent runs of {} trained by SGD (η = {}, batches of {}, {} epochs) on {} \
         examples of {}; run i starts from seed {} + i (initial weights, batch order, Monte \
         Carlo draws), and its target x* is {}. At {} evenly spaced points x of each trajectory \
         ({} per epoch, x_0 to x_T): c = ⟨−∇g(x), x* − x⟩/‖x* − x‖² for the smoothed loss \
         g(x) = E_ω L(x − ηω), where ω = ∇L_B(x) − ∇L(x) is the mini-batch gradient noise at x \
         (batches of {} from the probe set), so ηω is the noise of one SGD step at the run's η; \
         ∇g by the mean of {} Monte Carlo draws, with its standard error. L is the training \
         loss on {} training examples. A point counts as positive when c − {Z95:.2} SE > 0. \
         The paper measured toward the run's own end x_T, which SGD's later steps move toward \
         by construction; that version is reported alongside (c toward x_T), not tested.",
        c.seeds,
        first.network,
        c.lr,
        c.batch_size,
        c.epochs,
        first.train_size,
        first.dataset,
        c.seed,
        c.reference.describe_runs(c.reference_seed),
        c.points(),
        c.points_per_epoch,
        c.batch_size.min(first.probe_size),
        first.samples,
        first.probe_size,
    ));
    md.table(
        &[
            "run",
            "seed",
            "reference seed",
            "test acc at x_T",
            "test acc at x*",
            "‖x* − x_T‖",
            "points with c > 0 [Wilson 95%]",
            &format!("passes alone (lower bound > {NETWORK_SHARE_MIN})"),
            "median c [bootstrap over points]",
            "min c",
            "toward x_T: c > 0",
            "‖ηω‖",
        ],
        &r.runs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let complete = i < r.pooled.runs;
                vec![
                    i.to_string(),
                    x.seed.to_string(),
                    if x.reference_kind == super::ReferencePoint::Opposite {
                        "-".into()
                    } else {
                        x.reference_seed.to_string()
                    },
                    format!("{:.4}", x.final_test_acc),
                    format!("{:.4}", x.reference_test_acc),
                    format!("{:.3}", x.reference_to_end),
                    share(x.positive, x.points),
                    if complete {
                        (x.positive_interval[0] > NETWORK_SHARE_MIN).to_string()
                    } else {
                        "running".into()
                    },
                    format!(
                        "{:.5} [{:.5}, {:.5}]",
                        x.c.median, x.c.median_ci[0], x.c.median_ci[1]
                    ),
                    format!("{:.5}", x.c.min),
                    format!("{} of {}", x.end_positive, x.points.saturating_sub(1)),
                    format!("{:.4}", x.noise_norm),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let p = &r.pooled;
    if done && p.runs > 0 {
        md.paragraph(&format!(
            "Over the {} runs: the mean share of points with c > 0 is {:.3}, interval [{:.3}, \
             {:.3}] (the wider of the Student-t 95% interval over runs, [{:.3}, {:.3}], and the \
             Wilson interval of all {} points pooled, {}); {} runs pass on their own \
             (Wilson lower bound of their share above {NETWORK_SHARE_MIN}), {} of the runs. \
             The runs' median c: {} (the bracket resamples runs). Toward the own end x_T (the \
             paper's version): {} points positive. The noise ‖ηω‖ averages {:.4}.",
            p.runs,
            p.mean_share,
            p.mean_share_interval[0],
            p.mean_share_interval[1],
            p.share_t_interval[0],
            p.share_t_interval[1],
            p.points,
            share(p.positive, p.points),
            p.passing,
            share(p.passing, p.runs),
            p.c_median.show(),
            share(p.end_positive, p.end_points),
            p.noise_norm,
        ));
    }
}
