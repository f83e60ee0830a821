//! The smoothing report: its table (`metrics.csv`), its charts (where runs end, `g_η` over `f`,
//! the 2-D heatmaps, and the share of runs staying near x* per level with Wilson intervals) and
//! the body of `report.md`.

use super::{LevelResult, SmoothingExperiment, SmoothingResults, bowl_name};
use crate::{Interval, NetworkPart};
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, Bounds, CsvTable, Heatmap, HeatmapGrid, Histogram, LinePlot, Panel, ReportMd, Series,
    fmt_f64,
};
use std::path::{Path, PathBuf};

impl SmoothingExperiment {
    pub(super) fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "dim",
            "bowl",
            "sigma",
            "smoothing_radius",
            "runs",
            "convex_share",
            "near_after_burn_in",
            "stays_near",
            "stays_lo",
            "stays_hi",
            "near_fraction",
            "center_cell_fraction",
            "mean_distance",
            "diverged",
            "g_local_minima",
        ]);
        for l in &self.results.levels {
            t.push_row(vec![
                l.dim.to_string(),
                bowl_name(l.control).into(),
                fmt_f64(l.sigma),
                fmt_f64(l.smoothing_radius),
                l.runs.to_string(),
                l.convex_share.map_or("-".into(), fmt_f64),
                fmt_f64(l.near_after_burn_in),
                l.stays_near.to_string(),
                fmt_f64(l.stays_interval[0]),
                fmt_f64(l.stays_interval[1]),
                fmt_f64(l.near_fraction),
                fmt_f64(l.center_cell_fraction),
                fmt_f64(l.mean_distance),
                l.diverged.to_string(),
                l.g_local_minima.map_or("-".into(), |m| m.to_string()),
            ]);
        }
        t
    }

    pub(super) fn level_name(sigma: f64) -> String {
        if sigma == 0.0 {
            "GD".into()
        } else {
            format!("SGD σ = {sigma}")
        }
    }

    /// Writes `metrics.csv` and the landscape charts into `dir`.
    pub(super) fn write_landscape_outputs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        if !self.results.levels.is_empty() {
            written.extend(self.stays_plot().render(dir, "stays_near")?);
        }
        for dim in [1u32, 2] {
            let series: Vec<(String, Vec<f64>)> = self
                .results
                .levels
                .iter()
                .filter(|l| l.dim == dim && !l.control)
                .map(|l| (Self::level_name(l.sigma), l.finals.clone()))
                .collect();
            if !series.is_empty() {
                written.extend(
                    Histogram {
                        title: if dim == 1 {
                            "Where runs end (1-D spiky bowl, x* = 0)".into()
                        } else {
                            "Final distance to x* (2-D spiky bowl)".into()
                        },
                        x: if dim == 1 {
                            Axis::linear("final x (position)")
                        } else {
                            Axis::linear("final ‖x − x*‖ (distance)").bounded(Bounds::NON_NEGATIVE)
                        },
                        counted: "runs".into(),
                        series,
                        bins: 60,
                    }
                    .render(dir, &format!("endpoints_{dim}d"))?,
                );
            }
        }
        if !self.g_curves.is_empty() {
            let land = self.config.landscape_1d.packed();
            let r = f64::from(self.config.start_range);
            let mut series = vec![Series::line(
                "f",
                (0..=1200)
                    .map(|i| {
                        let y = -r + 2.0 * r * f64::from(i) / 1200.0;
                        (y, f64::from(land.value([y as f32, 0.0])))
                    })
                    .collect(),
            )];
            for (sigma, pts) in self.g_curves.iter().filter(|(s, _)| *s > 0.0) {
                series.push(Series::line(
                    format!(
                        "g, σ = {sigma} (ησ = {:.2})",
                        sigma * f64::from(self.config.lr)
                    ),
                    pts.clone(),
                ));
            }
            written.extend(
                LinePlot::single(
                    "The smoothed landscape g_η over f",
                    Axis::linear("x (position)"),
                    Axis::linear("f(x), g_η(x) (loss)"),
                    series,
                )
                .render(dir, "smoothed_1d")?,
            );
        }
        if !self.g_grids.is_empty() {
            let r = f64::from(self.config.start_range);
            let n = self.config.grid_2d as usize;
            let panels = self
                .g_grids
                .iter()
                .map(|(sigma, values)| {
                    let pts = self
                        .results
                        .levels
                        .iter()
                        .find(|l| l.dim == 2 && !l.control && l.sigma == *sigma)
                        .map(|l| l.points.iter().map(|&(x, y)| (x, y, 1)).collect())
                        .unwrap_or_default();
                    let (lo, hi) = values
                        .iter()
                        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
                    Heatmap {
                        title: format!("{} (g, normalized; dots: ends)", Self::level_name(*sigma)),
                        x_title: "x₁ (position)".into(),
                        y_title: "x₂ (position)".into(),
                        x_range: (-r, r),
                        y_range: (-r, r),
                        nx: n,
                        ny: n,
                        values: values
                            .iter()
                            .map(|v| (v - lo) / (hi - lo).max(1e-12))
                            .collect(),
                        value_label: "g (normalized)".into(),
                        points: pts,
                    }
                })
                .collect();
            written.extend(
                HeatmapGrid {
                    title: "The smoothed 2-D landscape per noise level".into(),
                    columns: 2,
                    panels,
                }
                .render(dir, "smoothed_2d")?,
            );
        }
        Ok(written)
    }

    /// Per noise level: the share of runs whose second-half mean position is near x* (Wilson
    /// 95% intervals), spiky bowl and control; below, the share of the start region where g_η is
    /// one-point convex.
    fn stays_plot(&self) -> LinePlot {
        let mut stays = Vec::new();
        let mut convex = Vec::new();
        for dim in [1u32, 2] {
            for control in [false, true] {
                let levels: Vec<&LevelResult> = self
                    .results
                    .levels
                    .iter()
                    .filter(|l| l.dim == dim && l.control == control)
                    .collect();
                if levels.is_empty() {
                    continue;
                }
                let mut s = Series::line_points(
                    format!("{dim}-D {}", bowl_name(control)),
                    levels
                        .iter()
                        .map(|l| (l.sigma, l.stays_fraction()))
                        .collect(),
                );
                s.intervals = levels
                    .iter()
                    .map(|l| (l.sigma, l.stays_interval[0], l.stays_interval[1]))
                    .collect();
                stays.push(s);
                if !control {
                    convex.push(Series::line_points(
                        format!("{dim}-D spiky: g_η one-point convex"),
                        levels
                            .iter()
                            .filter_map(|l| l.convex_share.map(|v| (l.sigma, v)))
                            .collect(),
                    ));
                }
            }
        }
        LinePlot {
            title: format!(
                "Runs settling within {} of x* (mean of {} snapshots of the second half), per \
                 noise level",
                self.config.near_radius, self.config.snapshots
            ),
            x: Axis::linear("noise scale σ (gradient units; 0 = GD)"),
            panels: vec![
                Panel {
                    y: Axis::linear("share of runs (Wilson 95%)").bounded(Bounds::UNIT),
                    series: stays,
                },
                Panel {
                    y: Axis::linear(format!(
                        "share of start region, c = {}",
                        self.config.one_point_c
                    ))
                    .bounded(Bounds::UNIT),
                    series: convex,
                },
            ],
        }
    }

    pub(super) fn report_body(&self, md: &mut ReportMd, r: &SmoothingResults) {
        let c = &self.config;
        md.paragraph(
            "Kleinberg, Li, Yuan (ICML 2018): with y = x − η∇f(x), SGD's y follows in expectation \
             gradient descent on g(y) = E f(y − ηω). On a bowl with high-frequency spikes, g is \
             one-point convex toward x* = 0 once ηω is large enough, and then SGD reaches x*'s \
             neighbourhood while GD on f stops in a spurious minimum. The claims compare SGD at a \
             smallest level where g is one-point convex over the start region (chosen by the closed \
             form, before any run) with GD, by the share of runs that settle near x*: whose \
             position averaged over evenly spaced snapshots of the second half lies within \
             near_radius of x*. The theorem bounds SGD's distance to x* by a radius that grows \
             with the noise, so a single final position would count the noise's fluctuations \
             as failures. Every level is repeated on the same bowl without spikes (the \
             control), where noise cannot help.",
        );
        md.paragraph(&format!(
            "Status: **{}**. {} runs per level from uniform starts in [-{s}, {s}]^d, η = {}, {} \
             steps (burn-in: the first half; {} snapshots of the second half), Gaussian noise; one-point convexity with c = {} on \
             a {}-point grid per side; engine {}; device: {}.",
            r.status,
            c.starts,
            c.lr,
            c.steps,
            c.snapshots,
            c.one_point_c,
            c.convex_grid,
            r.engine,
            r.device,
            s = c.start_range
        ));
        md.table(
            &[
                "dim",
                "bowl",
                "level",
                "ησ",
                "g one-point convex on",
                &format!("within {} of x* after burn-in", c.near_radius),
                "settled near x* (second-half mean) [Wilson 95%]",
                "ends in x*'s cell",
                "mean distance",
                "local minima of g",
                "diverged",
            ],
            &r.levels
                .iter()
                .map(|l| {
                    vec![
                        l.dim.to_string(),
                        bowl_name(l.control).into(),
                        Self::level_name(l.sigma),
                        format!("{:.3}", l.smoothing_radius),
                        l.convex_share
                            .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v)),
                        format!("{:.3}", l.near_after_burn_in),
                        Interval {
                            estimate: l.stays_fraction(),
                            lo: l.stays_interval[0],
                            hi: l.stays_interval[1],
                        }
                        .show(3),
                        format!("{:.3}", l.center_cell_fraction),
                        format!("{:.3}", l.mean_distance),
                        l.g_local_minima.map_or("-".into(), |m| m.to_string()),
                        l.diverged.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        if let Some(nn) = &self.nn {
            nn.report(md);
        }
    }
}
