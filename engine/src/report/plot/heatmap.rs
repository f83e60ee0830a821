//! Heatmaps: a probability field over a 2-D region (a classifier's decision boundary) with a
//! class-coloured scatter on top, alone or as a grid of panels sharing one colour bar.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::audit::PanelRect;
use super::axis::{Axis, FrameStyle, Resolved, frame};
use super::style::{DrawResult, de, font, series_color, titled};
use super::{Figure, render_figure};
use crate::error::Result;

/// A probability field over a 2-D region with a class-coloured scatter on top: the decision
/// boundary of a 2-D classifier. Values are coloured blue (0) through white (0.5) to red (1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heatmap {
    /// The panel title.
    pub title: String,
    /// The x axis title with its unit (e.g. `x₁ (feature)`); rendering fails when empty.
    pub x_title: String,
    /// The y axis title with its unit; rendering fails when empty.
    pub y_title: String,
    /// The x extent `(min, max)` covered by the grid.
    pub x_range: (f64, f64),
    /// The y extent `(min, max)` covered by the grid.
    pub y_range: (f64, f64),
    /// Grid cells along x.
    pub nx: usize,
    /// Grid cells along y.
    pub ny: usize,
    /// `ny` rows of `nx` values in [0, 1] (e.g. the predicted probability of class 1), row-major;
    /// row 0 is the bottom row (smallest y) and each row runs from the smallest x. Values outside
    /// [0, 1] are clamped; non-finite ones are drawn grey.
    pub values: Vec<f64>,
    /// What the values are, for the colour bar (e.g. `P(class 1)`); empty shows `value`.
    pub value_label: String,
    /// Scatter overlay `(x, y, class)`: class 0 dark blue, class 1 dark red, others from the
    /// series palette. Points outside the ranges or non-finite are skipped.
    pub points: Vec<(f64, f64, u32)>,
}

impl Heatmap {
    /// Renders the heatmap with a colour bar to `dir/stem.png` (860×720) and `dir/stem.svg`,
    /// creating `dir` if needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`](crate::error::EngineError::Plot) if the grid is inconsistent (`values.len() != nx * ny`, an empty
    /// grid, or an empty or non-finite range) or drawing fails; [`EngineError::Io`](crate::error::EngineError::Io) if a file
    /// cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// Checks that the grid and ranges are consistent.
    fn validate(&self) -> DrawResult {
        let ok_range = |(a, b): (f64, f64)| a.is_finite() && b.is_finite() && a < b;
        if self.nx == 0 || self.ny == 0 || self.values.len() != self.nx * self.ny {
            return Err(format!(
                "heatmap `{}`: {} values for a {}×{} grid",
                self.title,
                self.values.len(),
                self.nx,
                self.ny
            ));
        }
        for (which, t) in [("x", &self.x_title), ("y", &self.y_title)] {
            if t.trim().is_empty() {
                return Err(format!(
                    "the {which} axis of heatmap `{}` has no title (an axis title names the \
                     quantity and its unit)",
                    self.title
                ));
            }
        }
        if !ok_range(self.x_range) || !ok_range(self.y_range) {
            return Err(format!(
                "heatmap `{}`: ranges must be finite and increasing, got x {:?}, y {:?}",
                self.title, self.x_range, self.y_range
            ));
        }
        Ok(())
    }

    /// Draws this heatmap as one chart in `area`, with its title as caption when `caption` gives
    /// a font size.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: Option<u32>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        self.validate()?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let x = Resolved::with_range(&Axis::linear(self.x_title.as_str()), x0, x1);
        let y = Resolved::with_range(&Axis::linear(self.y_title.as_str()), y0, y1);
        let style = FrameStyle {
            caption: caption.map(|size| (self.title.as_str(), size)),
            x_area: 55,
            y_area: 75,
            grid: false,
            x_tick_font: 13,
        };
        let mut chart = frame(area, &x, &y, &style, &self.title, marks)?;

        // One rectangle per run of equal (quantized) colour along a row keeps the SVG small.
        let dx = (x1 - x0) / self.nx as f64;
        let dy = (y1 - y0) / self.ny as f64;
        let mut cells = Vec::new();
        for (j, row) in self.values.chunks(self.nx).enumerate() {
            let (ya, yb) = (y0 + j as f64 * dy, y0 + (j + 1) as f64 * dy);
            let mut i = 0;
            while i < row.len() {
                let color = prob_color(row[i]);
                let mut k = i + 1;
                while k < row.len() && prob_color(row[k]) == color {
                    k += 1;
                }
                cells.push(Rectangle::new(
                    [(x0 + i as f64 * dx, ya), (x0 + k as f64 * dx, yb)],
                    color.filled(),
                ));
                i = k;
            }
        }
        chart.draw_series(cells).map_err(de)?;

        let inside =
            |&&(x, y, _): &&(f64, f64, u32)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
        chart
            .draw_series(
                self.points
                    .iter()
                    .filter(inside)
                    .map(|&(x, y, c)| Circle::new((x, y), 4, class_color(c).filled())),
            )
            .map_err(de)?;
        chart
            .draw_series(
                self.points
                    .iter()
                    .filter(inside)
                    .map(|&(x, y, _)| Circle::new((x, y), 4, WHITE.stroke_width(1))),
            )
            .map_err(de)?;
        Ok(())
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (860, 720)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        let area = titled(root, &self.title)?;
        let (w, _) = area.dim_in_pixel();
        let (panel, bar) = area.split_horizontally(w.saturating_sub(COLORBAR_WIDTH));
        self.draw_panel(&panel, None, marks)?;
        draw_colorbar(&bar, &self.value_label)
    }
}

/// Several [`Heatmap`] panels in one figure, laid out in rows of `columns`, sharing one colour
/// bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatmapGrid {
    /// The figure title.
    pub title: String,
    /// The panels, left to right then top to bottom; each is drawn with its own title.
    pub panels: Vec<Heatmap>,
    /// Panels per row (0 is treated as 1).
    pub columns: usize,
}

impl HeatmapGrid {
    /// Renders the grid to `dir/stem.png` and `dir/stem.svg` (about 420×400 pixels per panel),
    /// creating `dir` if needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`](crate::error::EngineError::Plot) if a panel is inconsistent (see [`Heatmap::render`]) or drawing
    /// fails; [`EngineError::Io`](crate::error::EngineError::Io) if a file cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// `(rows, columns)` of the layout.
    fn layout(&self) -> (usize, usize) {
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(cols).max(1), cols)
    }
}

impl Figure for HeatmapGrid {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.layout();
        (
            (cols as u32 * 420 + COLORBAR_WIDTH).max(600),
            rows as u32 * 400 + 50,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        marks: &mut Vec<PanelRect>,
    ) -> DrawResult {
        let area = titled(root, &self.title)?;
        let (w, _) = area.dim_in_pixel();
        let (panels, bar) = area.split_horizontally(w.saturating_sub(COLORBAR_WIDTH));
        let (rows, cols) = self.layout();
        for (cell, panel) in panels.split_evenly((rows, cols)).iter().zip(&self.panels) {
            panel.draw_panel(cell, Some(18), marks)?;
        }
        let label = self.panels.first().map_or("", |p| p.value_label.as_str());
        draw_colorbar(&bar, label)
    }
}

/// The width of the colour-bar strip beside heatmaps.
const COLORBAR_WIDTH: u32 = 110;

/// The heatmap colour of a value in [0, 1], quantized to 1/64 steps: blue, white at 0.5, red.
pub(super) fn prob_color(v: f64) -> RGBColor {
    const LOW: (f64, f64, f64) = (59.0, 116.0, 196.0);
    const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);
    const HIGH: (f64, f64, f64) = (206.0, 70.0, 62.0);
    if !v.is_finite() {
        return RGBColor(190, 190, 190);
    }
    let q = (v.clamp(0.0, 1.0) * 64.0).round() / 64.0;
    let (a, b, t) = if q < 0.5 {
        (LOW, MID, q / 0.5)
    } else {
        (MID, HIGH, (q - 0.5) / 0.5)
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The scatter colour of a class label.
fn class_color(class: u32) -> RGBColor {
    match class {
        0 => RGBColor(16, 52, 120),
        1 => RGBColor(120, 10, 20),
        c => series_color(c as usize),
    }
}

/// Draws a vertical colour bar for [`prob_color`] with ticks at 0, 0.5 and 1.
fn draw_colorbar<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, label: &str) -> DrawResult {
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = (40, (h as i32 - 60).max(100));
    let (left, right) = (14, 36);
    const STEPS: i32 = 64;
    for s in 0..STEPS {
        let ya = bottom - (bottom - top) * (s + 1) / STEPS;
        let yb = bottom - (bottom - top) * s / STEPS;
        let color = prob_color((f64::from(s) + 0.5) / f64::from(STEPS));
        area.draw(&Rectangle::new([(left, ya), (right, yb)], color.filled()))
            .map_err(de)?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(de)?;
    for (v, label) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        let y = bottom - ((bottom - top) as f64 * v).round() as i32;
        area.draw(&PathElement::new(
            vec![(right, y), (right + 5, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(de)?;
        area.draw(&Text::new(
            label,
            (right + 8, y),
            font(14).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(de)?;
    }
    area.draw(&Text::new(
        if label.is_empty() { "value" } else { label },
        (left - 6, top - 22),
        font(14).pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(de)?;
    Ok(())
}
