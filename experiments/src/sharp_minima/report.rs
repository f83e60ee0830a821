//! The sharp-minima report: its table (`metrics.csv`), its charts (exit times against 1/η with
//! censored runs drawn as bounds, the sharp well's share of time with intervals) and the body of
//! `report.md`.

use super::{CLIP_MODES, PAPER, SharpMinima, SharpMinimaResults, SharpRun};
use crate::{Interval, NetworkPart};
use sgdlab_engine::error::Result;
use sgdlab_engine::report::{
    Axis, Bounds, CsvTable, LinePlot, ReportMd, Series, fmt_f64, mean_ci95,
};
use std::path::{Path, PathBuf};

impl SharpMinima {
    pub(super) fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "variant",
            "clip",
            "lr",
            "steps",
            "exit_time_sharp",
            "exit_time_wide",
            "exited_sharp",
            "exited_wide",
            "occupation_sharp",
            "occupation_wide",
            "transitions_sharp_to_wide",
            "transitions_wide_to_sharp",
            "diverged",
        ]);
        for r in &self.results.runs {
            let t01 = |i: usize, j: usize| {
                r.transitions
                    .get(i)
                    .and_then(|row| row.get(j))
                    .copied()
                    .unwrap_or(0)
            };
            t.push_row(vec![
                r.variant.clone(),
                r.clip.clone(),
                fmt_f64(r.lr),
                r.steps.to_string(),
                fmt_f64(r.exit_time_sharp),
                fmt_f64(r.exit_time_wide),
                fmt_f64(r.exited_sharp),
                fmt_f64(r.exited_wide),
                fmt_f64(r.occupation_sharp),
                fmt_f64(r.occupation_wide),
                (t01(1, 0) + t01(1, 2)).to_string(),
                (t01(0, 1) + t01(2, 1)).to_string(),
                r.diverged.to_string(),
            ]);
        }
        t
    }

    /// Writes `metrics.csv` and the particle charts into `dir`.
    pub(super) fn write_particle_outputs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let metrics = dir.join("metrics.csv");
        self.metrics_table().write(&metrics)?;
        let mut written = vec![metrics];
        if !self.results.runs.is_empty() {
            let mut exit = Vec::new();
            let mut occ = Vec::new();
            for (variant, ci) in &self.modes {
                let clip = CLIP_MODES[*ci];
                let runs: Vec<&SharpRun> = self
                    .results
                    .runs
                    .iter()
                    .filter(|r| r.clip == clip && r.variant == *variant)
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let clip = if variant == PAPER {
                    clip.to_string()
                } else {
                    format!("{clip} ({variant})")
                };
                for well in ["sharp", "wide"] {
                    if variant != PAPER && well == "wide" {
                        // The same wide wells as the paper variant's.
                        continue;
                    }
                    // A run in which no particle left has no mean, only the lower bound T
                    // (its steps): drawn as censored, never as a point.
                    let mut series =
                        Series::line_points(format!("{clip}, {well} well"), Vec::new());
                    for r in &runs {
                        let sample = if well == "sharp" {
                            &r.sample_sharp
                        } else {
                            &r.sample_wide
                        };
                        let x = 1.0 / r.lr;
                        match sample.mean_interval() {
                            Some((m, lo, hi)) => {
                                series.points.push((x, m));
                                series.intervals.push((x, lo, hi));
                            }
                            None => series.censored.push((x, f64::from(r.steps))),
                        }
                    }
                    exit.push(series);
                }
                let mut share =
                    Series::line_points(format!("{clip}: time in the sharp well"), Vec::new());
                for r in &runs {
                    let shares: Vec<f64> = r.sharp_shares.iter().map(|&v| f64::from(v)).collect();
                    let (m, h) = mean_ci95(&shares);
                    share.points.push((1.0 / r.lr, m));
                    share.intervals.push((1.0 / r.lr, m - h, m + h));
                }
                occ.push(share);
            }
            written.extend(
                LinePlot::single(
                    "Mean first exit time against 1/η",
                    Axis::log("1/η (inverse learning rate)"),
                    Axis::log("mean first exit time (steps)"),
                    exit,
                )
                .render(dir, "exit_times")?,
            );
            written.extend(
                LinePlot::single(
                    "Fraction of time in the sharp well (mean over particles, 95% interval)",
                    Axis::log("1/η (inverse learning rate)"),
                    Axis::linear("fraction of particle-steps").bounded(Bounds::UNIT),
                    occ,
                )
                .render(dir, "sharp_occupation")?,
            );
        }
        Ok(written)
    }

    pub(super) fn report_body(&self, md: &mut ReportMd, r: &SharpMinimaResults) {
        self.intro_section(md, r);
        self.slopes_section(md, r);
        self.runs_section(md, r);
    }

    /// The paper, the landscape and noise, the horizons.
    fn intro_section(&self, md: &mut ReportMd, r: &SharpMinimaResults) {
        let c = &self.config;
        md.paragraph(
            "Wang, Oh, Rhee (2021): SGD with heavy-tailed noise truncated at b leaves a basin of \
             radius r after about η^-(1 + l*(α-1)) steps, l* = ⌈r/b⌉, so as η → 0 it spends \
             vanishing time in sharp (narrow) minima; without truncation every basin is left on \
             the same η^-α scale. Clipping the gradient instead (noise included, at a fixed c) \
             bounds every jump by ηc, so leaving any basin takes more jumps as η falls: the \
             noise is no longer heavy-tailed at the scale of the basins and nothing is \
             eliminated.",
        );
        md.paragraph(&format!(
            "Status: **{}**. Landscape: wells [wide r = {}][sharp r = {}][wide r = {}], depth {}; \
             noise {} with σ = {}, α = {}; truncation b = {} (l* = {} sharp, {} wide); gradient \
             clipping {}; {} particles per run on the {} engine; device: {}.",
            r.status,
            c.wide_radius,
            c.sharp_radius,
            c.wide_radius,
            c.depth,
            c.noise.name(),
            c.sigma,
            c.alpha,
            c.truncation,
            r.l_star_sharp,
            r.l_star_wide,
            c.grad_clip
                .map_or("not run".to_string(), |c| format!("c = {c}")),
            c.particles,
            r.engine,
            r.device
        ));
        if c.variants.iter().any(|v| v != PAPER) {
            md.paragraph(&format!(
                "Variant `matched-curvature`: the same wells, but the narrow one has depth {} \
                 instead of {}, so its curvature at the bottom (h π² / 2r²) equals the wide \
                 wells' instead of being {:.1} times it. The theory's exponent depends on the \
                 radius only (l* = ⌈r/b⌉), so it predicts the same slopes; this separates width \
                 from curvature.",
                c.sharp_depth(super::MATCHED_CURVATURE),
                c.depth,
                (c.wide_radius / c.sharp_radius).powi(2)
            ));
        }
        md.paragraph(&format!(
            "Horizons: truncated runs {} steps at η = {:?}; unclipped and gradient-clipped runs \
             {} steps. A particle still in its well at the horizon is censored: it counts as a \
             lower bound in the exponential maximum-likelihood mean, never as an exit.",
            c.lrs
                .iter()
                .map(|&l| c.steps_for_mode(1, l).to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            c.lrs,
            c.lrs
                .iter()
                .map(|&l| c.steps_for_mode(0, l).to_string())
                .collect::<Vec<_>>()
                .join(" / "),
        ));
    }

    /// The exit-time slopes against the theory's.
    fn slopes_section(&self, md: &mut ReportMd, r: &SharpMinimaResults) {
        let c = &self.config;
        md.heading(2, "Exit-time slopes (ln mean exit time against ln 1/η)");
        let rows: Vec<Vec<String>> = r
            .slopes
            .iter()
            .map(|s| {
                vec![
                    s.variant.clone(),
                    s.clip.clone(),
                    s.well.clone(),
                    format!("{:?}", s.fit_lrs),
                    Interval {
                        estimate: s.fitted,
                        lo: s.lo,
                        hi: s.hi,
                    }
                    .show(2),
                    format!("{:.2}", s.local),
                    format!("{:.2}", s.fitted_all),
                    if s.theory.is_finite() {
                        format!("{:.2}", s.theory)
                    } else {
                        "none: ⌈r/(ηc)⌉ jumps grow as η falls".into()
                    },
                    s.fewest_exits.to_string(),
                ]
            })
            .collect();
        md.table(
            &[
                "landscape",
                "clipping",
                "well",
                "fitted η",
                "slope [95% bootstrap]",
                "local slope, two smallest η",
                "slope over all η",
                "theory (η → 0)",
                "fewest exits in a fitted run",
            ],
            &rows,
        );
        md.paragraph(&format!(
            "Mean exit times are censoring-corrected (Σ min(τ, T) / #exits, the exponential \
             maximum-likelihood estimate); a run with no exit has no estimate, only the lower \
             bound T (drawn as censored). Intervals resample particles within each run \
             ({} resamples). The theory's exponents are limits as η → 0, so the slope is fitted \
             over the {} smallest learning rates; the slope over all η is shown for context.",
            c.bootstrap_resamples, c.slope_fit_lrs
        ));
    }

    /// Every run, the occupation ratios, and the network part.
    fn runs_section(&self, md: &mut ReportMd, r: &SharpMinimaResults) {
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    x.variant.clone(),
                    x.clip.clone(),
                    format!("{}", x.lr),
                    x.steps.to_string(),
                    censored_mean(x.exit_time_sharp, x.exits_sharp, x.steps),
                    censored_mean(x.exit_time_wide, x.exits_wide, x.steps),
                    format!("{:.3}", x.occupation_sharp),
                    format!("{:.3}", x.occupation_wide),
                    x.diverged.to_string(),
                ]
            })
            .collect();
        md.table(
            &[
                "landscape",
                "clipping",
                "η",
                "steps",
                "mean exit, sharp (steps)",
                "mean exit, wide (steps)",
                "time in sharp",
                "time in wide",
                "diverged",
            ],
            &rows,
        );
        for o in &r.occupation_ratios {
            md.paragraph(&format!(
                "{} ({} landscape): from the largest η to the smallest, the sharp well's share of \
                 time is multiplied by {}.",
                o.clip,
                o.variant,
                Interval {
                    estimate: o.estimate,
                    lo: o.lo,
                    hi: o.hi,
                }
                .show(3)
            ));
        }
        if let Some(net) = &self.net {
            net.report(md);
        }
    }
}

/// A mean exit time with its exit count, or `> T (no exit)` when every particle was censored.
fn censored_mean(mean: f64, exits: usize, steps: u32) -> String {
    if exits == 0 || !mean.is_finite() {
        format!("> {steps} (no exit)")
    } else {
        format!("{mean:.1} ({exits} exits)")
    }
}
