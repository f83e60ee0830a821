//! Grouped bar charts with intervals given as `(lo, hi)`, clipped to the quantity's bounds,
//! per-seed values beside each bar, and censored bars drawn as lower bounds.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::audit::PanelRect;
use super::axis::{Axis, FrameStyle, Resolved, frame};
use super::legend::{CENSORED_ENTRY, LegendEntry, Swatch, draw_legend, split_legend};
use super::marks::{censored_mark, whisker};
use super::style::{DrawResult, TICK_FONT, de, font, series_color, titled};
use super::{Figure, render_figure};
use crate::error::Result;
use crate::report::Interval;

/// With at most this many seeds, [`BarSeries::mean_ci95`] draws every seed's value beside the
/// bar: a mean of a handful of values hides how they spread.
pub const SEED_POINTS_MAX: usize = 10;

/// The legend text of the per-seed dots.
const SEED_ENTRY: &str = "one seed";

/// One named set of bars in a [`BarPlot`]: one value per group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarSeries {
    /// The legend label.
    pub name: String,
    /// The bar heights, one per group (a non-finite value draws no bar).
    pub values: Vec<f64>,
    /// Optional intervals `(lo, hi)`, one per value (e.g. a 95% CI), clipped to the y axis's
    /// bounds; an interval with a non-finite end is not drawn.
    pub intervals: Option<Vec<(f64, f64)>>,
    /// Per-group sample values (e.g. one per seed) drawn as dots on the bar; empty: none.
    pub seeds: Vec<Vec<f64>>,
    /// Per group, whether the value is censored (a lower bound: not reached within the
    /// horizon): the bar is drawn open with a `>value` mark. Empty: none is.
    pub censored: Vec<bool>,
}

impl BarSeries {
    /// Plain bars of `values`.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values,
            ..Self::default()
        }
    }

    /// Bars of `values` with intervals `(lo, hi)`.
    pub fn with_intervals(
        name: impl Into<String>,
        values: Vec<f64>,
        intervals: Vec<(f64, f64)>,
    ) -> Self {
        Self {
            intervals: Some(intervals),
            ..Self::new(name, values)
        }
    }

    /// For each group's samples: the mean with its 95% Student-t interval
    /// ([`Interval::mean_ci95`]), and every sample as a dot when there are at most
    /// [`SEED_POINTS_MAX`] of them.
    pub fn mean_ci95(name: impl Into<String>, samples: &[Vec<f64>]) -> Self {
        let ci: Vec<Interval> = samples.iter().map(|xs| Interval::mean_ci95(xs)).collect();
        Self {
            values: ci.iter().map(|i| i.estimate).collect(),
            intervals: Some(ci.iter().map(|i| (i.lo, i.hi)).collect()),
            seeds: samples
                .iter()
                .map(|xs| {
                    if xs.len() <= SEED_POINTS_MAX {
                        xs.clone()
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            ..Self::new(name, Vec::new())
        }
    }

    /// Proportions `successes / trials` per group with their 95% Wilson intervals
    /// ([`Interval::wilson95`]), which stay within [0, 1] and are not empty at 0 or n.
    pub fn wilson95(name: impl Into<String>, counts: &[(usize, usize)]) -> Self {
        let ci: Vec<Interval> = counts
            .iter()
            .map(|&(k, n)| Interval::wilson95(k, n))
            .collect();
        Self::with_intervals(
            name,
            ci.iter().map(|i| i.estimate).collect(),
            ci.iter().map(|i| (i.lo, i.hi)).collect(),
        )
    }

    /// The interval of bar `g`, if it has one.
    fn interval(&self, g: usize) -> Option<(f64, f64)> {
        self.intervals.as_ref().and_then(|e| e.get(g)).copied()
    }

    /// Whether bar `g` is censored.
    fn is_censored(&self, g: usize) -> bool {
        self.censored.get(g).copied().unwrap_or(false)
    }
}

/// Grouped bars: for each x category, one bar per [`BarSeries`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarPlot {
    /// The figure title.
    pub title: String,
    /// What the categories are (e.g. `arm`, `algorithm`).
    pub x_title: String,
    /// The y axis: title with unit, scale (bars start at the bottom of a log axis) and bounds.
    pub y: Axis,
    /// The x categories, left to right.
    pub groups: Vec<String>,
    /// The bar series, each in its own colour.
    pub bars: Vec<BarSeries>,
}

impl BarPlot {
    /// Renders the chart to `dir/stem.png` (1000×640) and `dir/stem.svg`, creating `dir` if
    /// needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`](crate::error::EngineError::Plot) if an axis has no title or
    /// drawing fails; [`EngineError::Io`](crate::error::EngineError::Io) if a file cannot be
    /// written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// Checks the titles.
    fn validate(&self) -> DrawResult {
        if self.x_title.trim().is_empty() {
            return Err(format!(
                "the x axis of bar chart `{}` has no title (name what the categories are)",
                self.title
            ));
        }
        self.y
            .require_title(&format!("the y axis of bar chart `{}`", self.title))
    }
}

impl Figure for BarPlot {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        self.validate()?;
        let area = titled(root, &self.title)?;
        let mut entries: Vec<LegendEntry<'_>> = self
            .bars
            .iter()
            .enumerate()
            .map(|(i, b)| LegendEntry {
                name: &b.name,
                color: series_color(i),
                swatch: Swatch::Block,
            })
            .collect();
        if self
            .bars
            .iter()
            .any(|b| b.seeds.iter().any(|s| !s.is_empty()))
        {
            entries.push(LegendEntry {
                name: SEED_ENTRY,
                color: BLACK,
                swatch: Swatch::OpenPoint,
            });
        }
        if self.bars.iter().any(|b| b.censored.iter().any(|c| *c)) {
            entries.push(LegendEntry {
                name: CENSORED_ENTRY,
                color: BLACK,
                swatch: Swatch::Censored,
            });
        }
        let (chart_area, legend) = split_legend(&area, &entries)?;

        let n_groups = self
            .bars
            .iter()
            .map(|b| b.values.len())
            .chain([self.groups.len(), 1])
            .max()
            .unwrap_or(1);
        let width = 0.8 / self.bars.len().max(1) as f64;

        // The y range spans every bar, interval end and seed (and zero on a linear axis).
        let mut ys = Vec::new();
        if !self.y.log {
            ys.push(0.0);
        }
        for b in &self.bars {
            for (g, &v) in b.values.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                ys.push(v);
                if let Some(i) = b.interval(g) {
                    let (lo, hi) = self.y.bounds.clip(i);
                    ys.extend([lo, hi]);
                }
            }
            ys.extend(b.seeds.iter().flatten().copied());
        }
        let y = Resolved::new(&self.y, ys);
        let x = Resolved::categories(&self.x_title, self.groups.clone(), n_groups);

        // Category labels shrink if they would collide.
        let slot = chart_area.dim_in_pixel().0 as f64 * 0.8 / n_groups as f64;
        let mut size = TICK_FONT;
        while size > 10
            && self.groups.iter().try_fold(false, |wide, g| {
                let w = chart_area.estimate_text_size(g, &font(size)).map_err(de)?.0;
                DrawResult::Ok(wide || f64::from(w) > slot - 6.0)
            })?
        {
            size -= 1;
        }
        let style = FrameStyle {
            x_tick_font: size,
            ..FrameStyle::default()
        };
        let mut chart = frame(&chart_area, &x, &y, &style, &self.title, marks)?;
        let base = if self.y.log { y.lo } else { 0.0 };

        for (i, b) in self.bars.iter().enumerate() {
            let color = series_color(i);
            for (g, &v) in b.values.iter().enumerate() {
                let Some(top) = self.y.to_axis(v) else {
                    continue;
                };
                let left = g as f64 - 0.4 + i as f64 * width;
                let right = left + width;
                let mid = (left + right) / 2.0;
                if b.is_censored(g) {
                    chart
                        .draw_series([
                            Rectangle::new([(left, base), (right, top)], color.mix(0.25).filled()),
                            Rectangle::new([(left, base), (right, top)], color.stroke_width(2)),
                        ])
                        .map_err(de)?;
                    censored_mark(&chart, (mid, top), v, BLACK)?;
                } else {
                    chart
                        .draw_series([Rectangle::new([(left, base), (right, top)], color.filled())])
                        .map_err(de)?;
                }
                if let Some(iv) = b.interval(g) {
                    whisker(&mut chart, &self.y, mid, iv, width * 0.2, BLACK)?;
                }
                if let Some(seeds) = b.seeds.get(g) {
                    let n = seeds.len();
                    let dots = seeds.iter().enumerate().filter_map(|(k, &s)| {
                        let sx = if n > 1 {
                            left + width * (0.2 + 0.6 * k as f64 / (n - 1) as f64)
                        } else {
                            mid + width * 0.25
                        };
                        self.y.to_axis(s).map(|sy| (sx, sy))
                    });
                    for p in dots {
                        chart
                            .draw_series([
                                Circle::new(p, 4, WHITE.filled()),
                                Circle::new(p, 4, BLACK.stroke_width(1)),
                            ])
                            .map_err(de)?;
                    }
                }
            }
        }
        if !self.y.log && y.lo < 0.0 && y.hi > 0.0 {
            chart
                .draw_series([PathElement::new(
                    vec![(x.lo, 0.0), (x.hi, 0.0)],
                    BLACK.stroke_width(1),
                )])
                .map_err(de)?;
        }
        if let Some(legend) = legend {
            draw_legend(&legend, &entries, 15)?;
        }
        Ok(())
    }
}
