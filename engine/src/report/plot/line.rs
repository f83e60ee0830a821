//! Line charts: one or more stacked panels sharing an x axis, each with its own y axis, so
//! quantities with different units never share an axis.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::audit::PanelRect;
use super::axis::{Axis, FrameStyle, Resolved, frame};
use super::legend::{CENSORED_ENTRY, LegendEntry, Swatch, draw_legend, legend_width, split_strip};
use super::marks::{censored_mark, whisker};
use super::style::{DrawResult, de, series_color, titled};
use super::{Figure, render_figure};
use crate::error::Result;

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// Points joined by a line.
    #[default]
    Line,
    /// Unjoined markers.
    Points,
    /// A line with a marker at each point.
    LinePoints,
}

/// One named series of `(x, y)` points in a [`Panel`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The legend label.
    pub name: String,
    /// The measured points, in drawing order. Non-finite points (and non-positive ones on a log
    /// axis) are skipped, and a line is broken where they were.
    pub points: Vec<(f64, f64)>,
    /// How the series is drawn.
    pub style: SeriesStyle,
    /// Vertical intervals `(x, lo, hi)` (e.g. a 95% CI at a point), clipped to the y axis's
    /// bounds; an interval with a non-finite end is not drawn.
    pub intervals: Vec<(f64, f64, f64)>,
    /// Censored values `(x, bound)`: the quantity is above `bound` (never exited, not reached
    /// within the horizon). Drawn as an open upward triangle labelled `>bound`, never as a point
    /// of the line.
    pub censored: Vec<(f64, f64)>,
}

impl Series {
    /// A series of `points` drawn as a line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::styled(name, points, SeriesStyle::Line)
    }

    /// A series of `points` drawn as markers.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::styled(name, points, SeriesStyle::Points)
    }

    /// A series of `points` drawn as a line with markers.
    pub fn line_points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self::styled(name, points, SeriesStyle::LinePoints)
    }

    /// A series of `points` drawn in `style`, without intervals or censored values.
    pub fn styled(name: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        Self {
            name: name.into(),
            points,
            style,
            intervals: Vec::new(),
            censored: Vec::new(),
        }
    }

    /// Splits `(x, value)` pairs into measured points and censored ones: `None` is a value that
    /// was not reached within `horizon`, drawn as the lower bound `>horizon`.
    pub fn with_censored(
        name: impl Into<String>,
        values: &[(f64, Option<f64>)],
        horizon: f64,
        style: SeriesStyle,
    ) -> Self {
        let mut s = Self::styled(
            name,
            values
                .iter()
                .filter_map(|&(x, v)| v.map(|v| (x, v)))
                .collect(),
            style,
        );
        s.censored = values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|&(x, _)| (x, horizon))
            .collect();
        s
    }
}

/// One panel of a [`LinePlot`]: a y axis and the series drawn against it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// The y axis: its title names the quantity with its unit.
    pub y: Axis,
    /// The series, each in its own colour (numbered across all panels).
    pub series: Vec<Series>,
}

/// A chart of series against a shared x axis: one panel per y quantity, stacked top to bottom,
/// each with its legend in a strip to its right.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// The figure title.
    pub title: String,
    /// The shared x axis.
    pub x: Axis,
    /// The panels, top to bottom.
    pub panels: Vec<Panel>,
}

impl LinePlot {
    /// A one-panel chart.
    pub fn single(title: impl Into<String>, x: Axis, y: Axis, series: Vec<Series>) -> Self {
        Self {
            title: title.into(),
            x,
            panels: vec![Panel { y, series }],
        }
    }

    /// Renders the chart to `dir/stem.png` and `dir/stem.svg` (1000 wide; 640 high for one
    /// panel, 340 more per further panel), creating `dir` if needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`](crate::error::EngineError::Plot) if an axis has no title, there is
    /// no panel, or drawing fails; [`EngineError::Io`](crate::error::EngineError::Io) if a file
    /// cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// Checks the titles and that there is a panel.
    fn validate(&self) -> DrawResult {
        if self.panels.is_empty() {
            return Err(format!("line chart `{}` has no panel", self.title));
        }
        self.x
            .require_title(&format!("the x axis of line chart `{}`", self.title))?;
        for (i, p) in self.panels.iter().enumerate() {
            p.y.require_title(&format!(
                "the y axis of panel {} of line chart `{}`",
                i + 1,
                self.title
            ))?;
        }
        Ok(())
    }
}

/// The drawable runs of `points` on axes `x`, `y` in axis space, split at undrawable points.
fn runs(points: &[(f64, f64)], x: &Axis, y: &Axis) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for &(px, py) in points {
        match (x.to_axis(px), y.to_axis(py)) {
            (Some(a), Some(b)) => run.push((a, b)),
            _ if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            _ => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

impl Figure for LinePlot {
    fn size(&self) -> (u32, u32) {
        (1000, 640 + 340 * self.panels.len().saturating_sub(1) as u32)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        self.validate()?;
        let area = titled(root, &self.title)?;
        let mut color_of = Vec::new();
        let mut legends = Vec::new();
        for p in &self.panels {
            let mut entries = Vec::new();
            for s in &p.series {
                let color = series_color(color_of.len());
                color_of.push(color);
                entries.push(LegendEntry {
                    name: &s.name,
                    color,
                    swatch: match s.style {
                        SeriesStyle::Line => Swatch::Line,
                        SeriesStyle::Points => Swatch::Points,
                        SeriesStyle::LinePoints => Swatch::LinePoints,
                    },
                });
            }
            if p.series.iter().any(|s| !s.censored.is_empty()) {
                entries.push(LegendEntry {
                    name: CENSORED_ENTRY,
                    color: BLACK,
                    swatch: Swatch::Censored,
                });
            }
            legends.push(entries);
        }
        let strip = legends
            .iter()
            .map(|e| legend_width(&area, e))
            .collect::<DrawResult<Vec<u32>>>()?
            .into_iter()
            .max()
            .unwrap_or(0);

        let all_series = || self.panels.iter().flat_map(|p| &p.series);
        let x = Resolved::new(
            &self.x,
            all_series().flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.0)
                    .chain(s.intervals.iter().map(|i| i.0))
                    .chain(s.censored.iter().map(|c| c.0))
            }),
        );
        let rows = area.split_evenly((self.panels.len(), 1));
        let mut color_index = 0;
        for (k, ((panel, row), entries)) in self.panels.iter().zip(&rows).zip(&legends).enumerate()
        {
            let (chart_area, legend) = split_strip(row, strip);
            let yaxis = &panel.y;
            let ys = panel.series.iter().flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.1)
                    .chain(s.intervals.iter().flat_map(|&(_, lo, hi)| {
                        let (lo, hi) = yaxis.bounds.clip((lo, hi));
                        [lo, hi]
                    }))
                    .chain(s.censored.iter().map(|c| c.1))
            });
            let y = Resolved::new(yaxis, ys);
            let name = if self.panels.len() > 1 {
                format!("{}, panel {}", self.title, k + 1)
            } else {
                self.title.clone()
            };
            let mut chart = frame(&chart_area, &x, &y, &FrameStyle::default(), &name, marks)?;
            let cap = 0.006 * (x.hi - x.lo);
            for s in &panel.series {
                let color = color_of[color_index];
                color_index += 1;
                for run in runs(&s.points, &self.x, yaxis) {
                    if matches!(s.style, SeriesStyle::Line | SeriesStyle::LinePoints) {
                        chart
                            .draw_series(LineSeries::new(
                                run.iter().copied(),
                                color.stroke_width(2),
                            ))
                            .map_err(de)?;
                    }
                    if matches!(s.style, SeriesStyle::Points | SeriesStyle::LinePoints) {
                        chart
                            .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(de)?;
                    }
                }
                for &(ix, lo, hi) in &s.intervals {
                    if let Some(ax) = self.x.to_axis(ix) {
                        whisker(&mut chart, yaxis, ax, (lo, hi), cap, color)?;
                    }
                }
                for &(cx, bound) in &s.censored {
                    if let (Some(a), Some(b)) = (self.x.to_axis(cx), yaxis.to_axis(bound)) {
                        censored_mark(&chart, (a, b), bound, color)?;
                    }
                }
            }
            if let Some(legend) = legend {
                draw_legend(&legend, entries, 15)?;
            }
        }
        Ok(())
    }
}
