//! Histograms: overlaid, semi-transparent histograms of several samples over one common range,
//! binned in axis space (so a log x axis gets bins of equal width in log10).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::audit::PanelRect;
use super::axis::{Axis, FrameStyle, Resolved, frame, padded_range};
use super::legend::{LegendEntry, Swatch, draw_legend, split_legend};
use super::style::{DrawResult, de, series_color, titled};
use super::{Figure, render_figure};
use crate::error::Result;

/// Overlaid histograms of several samples; the y axis is the count per bin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// The figure title.
    pub title: String,
    /// The x axis: title with unit, and scale (a log axis bins in log10 and skips
    /// non-positive values).
    pub x: Axis,
    /// What is counted, with the y axis's unit implied (e.g. `runs`, `inits`): the y axis is
    /// titled `count (<what>)`; empty gives `count`.
    pub counted: String,
    /// `(name, sample)` pairs; non-finite values are ignored.
    pub series: Vec<(String, Vec<f64>)>,
    /// The number of equal-width bins over the range of all samples (0 means 30).
    pub bins: usize,
}

impl Histogram {
    /// Renders the chart to `dir/stem.png` (1000×640) and `dir/stem.svg`, creating `dir` if
    /// needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`](crate::error::EngineError::Plot) if the x axis has no title or
    /// drawing fails; [`EngineError::Io`](crate::error::EngineError::Io) if a file cannot be
    /// written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }
}

impl Figure for Histogram {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        self.x
            .require_title(&format!("the x axis of histogram `{}`", self.title))?;
        let area = titled(root, &self.title)?;
        let entries: Vec<LegendEntry<'_>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (name, _))| LegendEntry {
                name,
                color: series_color(i),
                swatch: Swatch::Block,
            })
            .collect();
        let (chart_area, legend) = split_legend(&area, &entries)?;

        let bins = if self.bins == 0 { 30 } else { self.bins };
        // Samples in axis space.
        let samples: Vec<Vec<f64>> = self
            .series
            .iter()
            .map(|(_, xs)| xs.iter().filter_map(|&v| self.x.to_axis(v)).collect())
            .collect();
        let (mut lo, mut hi) = samples
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        } else if lo == hi {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let width = (hi - lo) / bins as f64;
        let counts: Vec<Vec<u64>> = samples
            .iter()
            .map(|xs| {
                let mut c = vec![0u64; bins];
                for &x in xs {
                    let b = (((x - lo) / width) as usize).min(bins - 1);
                    c[b] += 1;
                }
                c
            })
            .collect();
        let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;

        let (x0, x1) = padded_range([lo, hi], false);
        let x = Resolved::with_range(&self.x, x0, x1);
        let y_title = if self.counted.trim().is_empty() {
            "count".to_owned()
        } else {
            format!("count ({})", self.counted.trim())
        };
        let y = Resolved::with_range(&Axis::linear(y_title), 0.0, max * 1.05);
        let mut chart = frame(
            &chart_area,
            &x,
            &y,
            &FrameStyle::default(),
            &self.title,
            marks,
        )?;
        for (i, c) in counts.iter().enumerate() {
            let color = series_color(i);
            let edge = |b: usize| lo + b as f64 * width;
            chart
                .draw_series(
                    c.iter()
                        .enumerate()
                        .filter(|(_, n)| **n > 0)
                        .map(|(b, &n)| {
                            Rectangle::new(
                                [(edge(b), 0.0), (edge(b + 1), n as f64)],
                                color.mix(0.3).filled(),
                            )
                        }),
                )
                .map_err(de)?;
            // The outline as a step line, so overlapping histograms stay distinguishable.
            let mut outline = vec![(lo, 0.0)];
            for (b, &n) in c.iter().enumerate() {
                outline.extend([(edge(b), n as f64), (edge(b + 1), n as f64)]);
            }
            outline.push((hi, 0.0));
            chart
                .draw_series([PathElement::new(outline, color.stroke_width(2))])
                .map_err(de)?;
        }
        if let Some(legend) = legend {
            draw_legend(&legend, &entries, 15)?;
        }
        Ok(())
    }
}
