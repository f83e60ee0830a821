//! Charts for experiment reports, each rendered with plotters to both `<stem>.png` and
//! `<stem>.svg`, one file per chart kind: [`LinePlot`] (stacked panels sharing x, one unit per
//! y axis), [`BarPlot`], [`Heatmap`] and [`HeatmapGrid`], and [`Histogram`].
//!
//! Every chart is meant to be read without its code: each axis has a title with its unit (an
//! empty title is a render error naming the chart), every axis has labelled ticks (log axes get
//! decade labels and, on short ranges, minor labels; see `axis.rs`), intervals are `(lo, hi)`
//! pairs clipped to the quantity's [`Bounds`], censored values (lower bounds) get their own
//! marker and a `>` label, and legends sit in a strip beside the plotting area so they never
//! cover data. [`axis_problems`] checks a written SVG for the axis part of that promise.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (registered once as `sans-serif`), so
//! rendering needs no system fonts or fontconfig. Both files are written atomically.

mod audit;
mod axis;
mod bar;
mod heatmap;
mod histogram;
mod legend;
mod line;
mod marks;
mod style;

pub use audit::axis_problems;
pub use axis::{Axis, Bounds};
pub use bar::{BarPlot, BarSeries, SEED_POINTS_MAX};
pub use heatmap::{Heatmap, HeatmapGrid};
pub use histogram::Histogram;
pub use line::{LinePlot, Panel, Series, SeriesStyle};
pub use style::DEJAVU_SANS;

use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use self::audit::{PanelRect, mark_panels};
use self::style::{DEFAULT_SIZE, DrawResult, de, ensure_font};
use super::atomic::{commit_tmp, create_parent, tmp_sibling, write_atomic};
use crate::error::{EngineError, Result};

/// Something that can be drawn onto a drawing area of any backend.
trait Figure {
    /// The figure's size in pixels.
    fn size(&self) -> (u32, u32) {
        DEFAULT_SIZE
    }

    /// Draws the figure onto `root`, which is already filled white, and records the plotting
    /// rectangle of every chart panel in `panels`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        panels: &mut Vec<PanelRect>,
    ) -> DrawResult;
}

/// Renders `fig` to `dir/stem.png` and `dir/stem.svg` and returns both paths. The SVG carries
/// one marker comment per panel for [`axis_problems`].
fn render_figure<F: Figure>(fig: &F, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let plot_err = |path: &Path| {
        let name = path.display().to_string();
        move |detail: String| EngineError::Plot { name, detail }
    };
    ensure_font().map_err(plot_err(&png))?;
    create_parent(&png)?;
    let size = fig.size();

    // The PNG encoder picks the format from the extension, so the temporary file keeps `.png`.
    let tmp = tmp_sibling(&png, ".tmp.png");
    if let Err(detail) = draw_png(fig, &tmp, size) {
        let _ = fs::remove_file(&tmp);
        return Err(plot_err(&png)(detail));
    }
    commit_tmp(&tmp, &png)?;

    let mut text = String::new();
    let mut panels = Vec::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(de)
            .and_then(|()| fig.draw(&root, &mut panels))
            .and_then(|()| root.present().map_err(de))
            .map_err(plot_err(&svg))?;
    }
    mark_panels(&mut text, &panels);
    write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

/// Draws `fig` into the PNG file `path`.
#[cfg(not(target_arch = "wasm32"))]
fn draw_png<F: Figure>(fig: &F, path: &Path, size: (u32, u32)) -> DrawResult {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(de)?;
    fig.draw(&root, &mut Vec::new())?;
    root.present().map_err(de)
}

/// plotters has no file-based PNG backend on wasm32 (nor has a browser a file system to write
/// into); the browser build exports its figures itself.
#[cfg(target_arch = "wasm32")]
fn draw_png<F: Figure>(_fig: &F, _path: &Path, _size: (u32, u32)) -> DrawResult {
    Err(
        "PNG files are not drawn by the browser build (plotters cannot encode them on wasm32)"
            .into(),
    )
}

#[cfg(test)]
mod tests;
