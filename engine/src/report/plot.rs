//! Charts for experiment reports, each rendered with plotters to both `<stem>.png` and
//! `<stem>.svg`.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (registered once as `sans-serif`), so
//! rendering needs no system fonts or fontconfig. Legends sit in a strip to the right of the
//! plotting area, so they never cover data. Both files are written atomically.

use std::fs;
use std::path::{Path, PathBuf};
#[cfg(not(target_arch = "wasm32"))]
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
#[cfg(not(target_arch = "wasm32"))]
use plotters::style::{FontStyle, register_font};

use crate::error::{EngineError, Result};

use super::atomic::{commit_tmp, create_parent, tmp_sibling, write_atomic};

/// The pixel size of line, bar and histogram charts.
const DEFAULT_SIZE: (u32, u32) = (1000, 640);

/// The font family every text element uses; it is bound to the embedded DejaVu Sans.
const FONT: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`), also the lab's
/// fallback font for the math symbols egui's default font lacks.
pub static DEJAVU_SANS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// Distinct series colours (matplotlib's "tab10"), reused cyclically.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Drawing results carry the plotting library's message; [`render_figure`] adds the file name.
type DrawResult<T = ()> = std::result::Result<T, String>;

/// A pixel-addressed drawing area.
type Area<DB> = DrawingArea<DB, Shift>;

/// The colour of series number `i`.
fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Converts a plotters drawing error into its message.
fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Registers the embedded font as `sans-serif` (once per process).
#[cfg(not(target_arch = "wasm32"))]
fn ensure_font() -> DrawResult {
    static REGISTERED: OnceLock<DrawResult> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_owned())
        })
        .clone()
}

/// In a browser plotters measures text with the page's fonts (it has no `register_font` there).
#[cfg(target_arch = "wasm32")]
fn ensure_font() -> DrawResult {
    Ok(())
}

/// A text style in the embedded font.
fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

/// Something that can be drawn onto a drawing area of any backend.
trait Figure {
    /// The figure's size in pixels.
    fn size(&self) -> (u32, u32) {
        DEFAULT_SIZE
    }

    /// Draws the figure onto `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Renders `fig` to `dir/stem.png` and `dir/stem.svg` and returns both paths.
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
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(de)
            .and_then(|()| fig.draw(&root))
            .and_then(|()| root.present().map_err(de))
            .map_err(plot_err(&svg))?;
    }
    write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

/// Draws `fig` into the PNG file `path`.
#[cfg(not(target_arch = "wasm32"))]
fn draw_png<F: Figure>(fig: &F, path: &Path, size: (u32, u32)) -> DrawResult {
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(de)?;
    fig.draw(&root)?;
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

// ---------------------------------------------------------------------------------------------
// Shared pieces: axis ranges and the legend strip.

/// The range `[lo, hi]` of `values` padded by 5% on each side (in log space for log axes).
///
/// `values` must already be finite (and positive for a log axis). A single value, or all values
/// equal, gets a range of ±5% of its magnitude (±0.5 around zero, half a decade on a log axis);
/// no values gives `[0, 1]` (`[1, 10]` on a log axis).
fn axis_range(values: impl IntoIterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let pad = if b > a { 0.05 * (b - a) } else { 0.5 };
        (10f64.powf(a - pad), 10f64.powf(b + pad))
    } else {
        let span = hi - lo;
        let pad = if span > 0.0 {
            0.05 * span
        } else if lo != 0.0 {
            0.05 * lo.abs()
        } else {
            0.5
        };
        (lo - pad, hi + pad)
    }
}

/// The spans (end - start) of a chart's x and y axes.
fn axis_spans<DB, X, Y>(chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>) -> (f64, f64)
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (x, y) = (chart.x_range(), chart.y_range());
    (x.end - x.start, y.end - y.start)
}

/// A compact tick label for `v` on an axis spanning `span`: at most 6 significant digits with
/// trailing zeros trimmed (`50`, `0.25`, `0.6`), exponent notation for very large or small
/// magnitudes (`1e-5`), and `0` for values that are zero up to rounding (`-1.4e-17` on an axis
/// spanning 0.5), never `-0`.
fn fmt_tick(v: f64, span: f64) -> String {
    if v.abs() <= span.abs() * 1e-9 || !v.is_finite() {
        return if v.is_finite() {
            "0".to_owned()
        } else {
            v.to_string()
        };
    }
    let magnitude = v.abs().log10().floor();
    let s = if !(-4.0..6.0).contains(&magnitude) {
        let s = format!("{v:.2e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
            None => s,
        }
    } else {
        let decimals = (5.0 - magnitude).clamp(0.0, 10.0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_owned()
    };
    if s == "-0" { "0".to_owned() } else { s }
}

/// Trims trailing zeros after a decimal point, and the point itself if nothing follows it.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// How a legend entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Line,
    Points,
    LinePoints,
    Block,
}

/// One legend entry.
struct LegendEntry<'a> {
    name: &'a str,
    color: RGBColor,
    swatch: Swatch,
}

/// Splits a strip for the legend off the right of `area`, sized to the longest entry name (at
/// most 40% of the width); no strip when there are no entries.
fn split_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry<'_>],
) -> DrawResult<(Area<DB>, Option<Area<DB>>)> {
    if entries.is_empty() {
        return Ok((area.clone(), None));
    }
    let style = font(16);
    let mut text_w = 0;
    for e in entries {
        text_w = text_w.max(area.estimate_text_size(e.name, &style).map_err(de)?.0);
    }
    let (w, _) = area.dim_in_pixel();
    let strip = (text_w + 75).clamp(120, (w * 2 / 5).max(120));
    let (chart, legend) = area.split_horizontally(w.saturating_sub(strip));
    Ok((chart, Some(legend)))
}

/// Draws a framed legend into the strip `area`, starting `top` pixels down.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry<'_>],
    top: i32,
) -> DrawResult {
    const ROW: i32 = 26;
    let (w, _) = area.dim_in_pixel();
    let right = w as i32 - 12;
    let bottom = top + ROW * entries.len() as i32 + 10;
    area.draw(&Rectangle::new(
        [(4, top), (right, bottom)],
        ShapeStyle::from(&BLACK.mix(0.4)).stroke_width(1),
    ))
    .map_err(de)?;
    for (i, e) in entries.iter().enumerate() {
        let y = top + 5 + ROW * i as i32 + ROW / 2;
        let (x0, x1) = (12, 44);
        if matches!(e.swatch, Swatch::Line | Swatch::LinePoints) {
            area.draw(&PathElement::new(
                vec![(x0, y), (x1, y)],
                e.color.stroke_width(3),
            ))
            .map_err(de)?;
        }
        if matches!(e.swatch, Swatch::Points | Swatch::LinePoints) {
            area.draw(&Circle::new(((x0 + x1) / 2, y), 4, e.color.filled()))
                .map_err(de)?;
        }
        if e.swatch == Swatch::Block {
            area.draw(&Rectangle::new(
                [(x0 + 4, y - 8), (x1 - 4, y + 8)],
                e.color.mix(0.7).filled(),
            ))
            .map_err(de)?;
        }
        area.draw(&Text::new(
            e.name.to_owned(),
            (x1 + 10, y),
            font(16).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// Draws the figure title at the top of `root` and returns the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> DrawResult<DrawingArea<DB, Shift>> {
    if title.is_empty() {
        return Ok(root.clone());
    }
    root.titled(title, font(26)).map_err(de)
}

// ---------------------------------------------------------------------------------------------
// Line plots.

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

/// One named series of `(x, y)` points in a [`LinePlot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The legend label.
    pub name: String,
    /// The points, in drawing order. Non-finite points (and non-positive ones on a log axis) are
    /// skipped, and a line is broken where they were.
    pub points: Vec<(f64, f64)>,
    /// How the series is drawn.
    pub style: SeriesStyle,
}

/// A chart of one or more series against a shared x axis, with a legend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// The figure title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// The series, each in its own colour (ten distinct colours, then the palette repeats).
    pub series: Vec<Series>,
    /// Logarithmic x axis (non-positive x values are skipped).
    pub log_x: bool,
    /// Logarithmic y axis (non-positive y values are skipped).
    pub log_y: bool,
}

impl LinePlot {
    /// Renders the chart to `dir/stem.png` (1000×640) and `dir/stem.svg`, creating `dir` if
    /// needed, and returns both paths.
    ///
    /// # Errors
    /// [`EngineError::Plot`] if drawing fails, [`EngineError::Io`] if a file cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// The drawable runs of each series: finite points (positive on log axes), split at gaps.
    fn segments(&self) -> Vec<Vec<Vec<(f64, f64)>>> {
        let ok = |&(x, y): &(f64, f64)| {
            x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0) && (!self.log_y || y > 0.0)
        };
        self.series
            .iter()
            .map(|s| {
                let mut runs = Vec::new();
                let mut run = Vec::new();
                for p in &s.points {
                    if ok(p) {
                        run.push(*p);
                    } else if !run.is_empty() {
                        runs.push(std::mem::take(&mut run));
                    }
                }
                if !run.is_empty() {
                    runs.push(run);
                }
                runs
            })
            .collect()
    }

    /// Draws the axes and series with the given axis coordinate specs (linear or log).
    fn draw_with<DB, X, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        segments: &[Vec<Vec<(f64, f64)>>],
        x: X,
        y: Y,
    ) -> DrawResult
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .margin(15)
            .margin_right(25)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(x, y)
            .map_err(de)?;
        let (xspan, yspan) = axis_spans(&chart);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| fmt_tick(*v, xspan))
            .y_label_formatter(&|v| fmt_tick(*v, yspan))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.04))
            .label_style(font(15))
            .axis_desc_style(font(18))
            .draw()
            .map_err(de)?;
        for (i, (series, runs)) in self.series.iter().zip(segments).enumerate() {
            let color = series_color(i);
            for run in runs {
                if matches!(series.style, SeriesStyle::Line | SeriesStyle::LinePoints) {
                    chart
                        .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                        .map_err(de)?;
                }
                if matches!(series.style, SeriesStyle::Points | SeriesStyle::LinePoints) {
                    chart
                        .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(de)?;
                }
            }
        }
        Ok(())
    }
}

impl Figure for LinePlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        let entries: Vec<LegendEntry<'_>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                name: &s.name,
                color: series_color(i),
                swatch: match s.style {
                    SeriesStyle::Line => Swatch::Line,
                    SeriesStyle::Points => Swatch::Points,
                    SeriesStyle::LinePoints => Swatch::LinePoints,
                },
            })
            .collect();
        let (chart_area, legend) = split_legend(&area, &entries)?;
        let segments = self.segments();
        let all = || segments.iter().flatten().flatten();
        let (x0, x1) = axis_range(all().map(|p| p.0), self.log_x);
        let (y0, y1) = axis_range(all().map(|p| p.1), self.log_y);
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_with(&chart_area, &segments, x0..x1, y0..y1)?,
            (true, false) => {
                self.draw_with(&chart_area, &segments, (x0..x1).log_scale(), y0..y1)?;
            }
            (false, true) => {
                self.draw_with(&chart_area, &segments, x0..x1, (y0..y1).log_scale())?;
            }
            (true, true) => self.draw_with(
                &chart_area,
                &segments,
                (x0..x1).log_scale(),
                (y0..y1).log_scale(),
            )?,
        }
        if let Some(legend) = legend {
            draw_legend(&legend, &entries, 15)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Bar plots.

/// One named set of bars in a [`BarPlot`]: one value per group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarSeries {
    /// The legend label.
    pub name: String,
    /// The bar heights, one per group (a non-finite value draws no bar).
    pub values: Vec<f64>,
    /// Optional error-bar half-widths, one per value (e.g. a 95% CI from
    /// [`mean_ci95`](super::mean_ci95)); non-finite entries draw no error bar.
    pub errors: Option<Vec<f64>>,
}

/// Grouped bars: for each x category, one bar per [`BarSeries`], with optional error bars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarPlot {
    /// The figure title.
    pub title: String,
    /// The y axis label.
    pub y_label: String,
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
    /// [`EngineError::Plot`] if drawing fails, [`EngineError::Io`] if a file cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }

    /// The error half-width of bar `g` of `series`, if it has a finite one.
    fn error(series: &BarSeries, g: usize) -> Option<f64> {
        series
            .errors
            .as_ref()
            .and_then(|e| e.get(g))
            .map(|e| e.abs())
            .filter(|e| e.is_finite())
    }
}

impl Figure for BarPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        let entries: Vec<LegendEntry<'_>> = self
            .bars
            .iter()
            .enumerate()
            .map(|(i, b)| LegendEntry {
                name: &b.name,
                color: series_color(i),
                swatch: Swatch::Block,
            })
            .collect();
        let (chart_area, legend) = split_legend(&area, &entries)?;

        let n_groups = self
            .bars
            .iter()
            .map(|b| b.values.len())
            .chain([self.groups.len(), 1])
            .max()
            .unwrap_or(1);
        let width = 0.8 / self.bars.len().max(1) as f64;

        // The y range spans zero and every bar and error-bar end.
        let mut ys = vec![0.0];
        let (mut neg, mut pos) = (false, false);
        for b in &self.bars {
            for (g, &v) in b.values.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                neg |= v < 0.0;
                pos |= v > 0.0;
                let e = Self::error(b, g).unwrap_or(0.0);
                ys.extend([v - e, v + e]);
            }
        }
        let lo = ys.iter().copied().fold(0.0, f64::min);
        let hi = ys.iter().copied().fold(0.0, f64::max);
        let (y0, y1) = if hi > lo {
            let pad = 0.05 * (hi - lo);
            (
                if lo < 0.0 { lo - pad } else { 0.0 },
                if hi > 0.0 { hi + pad } else { 0.0 },
            )
        } else {
            (0.0, 1.0)
        };
        let x_end = n_groups as f64 - 0.5;

        let mut chart = ChartBuilder::on(&chart_area)
            .margin(15)
            .margin_right(25)
            .x_label_area_size(45)
            .y_label_area_size(85)
            .build_cartesian_2d(-0.5..x_end, y0..y1)
            .map_err(de)?;
        let (xspan, yspan) = axis_spans(&chart);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| fmt_tick(*v, xspan))
            .y_label_formatter(&|v| fmt_tick(*v, yspan))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.04))
            .label_style(font(15))
            .axis_desc_style(font(18))
            .draw()
            .map_err(de)?;

        for (i, b) in self.bars.iter().enumerate() {
            let color = series_color(i);
            for (g, &v) in b.values.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let left = g as f64 - 0.4 + i as f64 * width;
                let right = left + width;
                chart
                    .draw_series([Rectangle::new([(left, 0.0), (right, v)], color.filled())])
                    .map_err(de)?;
                if let Some(e) = Self::error(b, g) {
                    let mid = (left + right) / 2.0;
                    let cap = width * 0.2;
                    let style = BLACK.stroke_width(2);
                    chart
                        .draw_series([
                            PathElement::new(vec![(mid, v - e), (mid, v + e)], style),
                            PathElement::new(vec![(mid - cap, v - e), (mid + cap, v - e)], style),
                            PathElement::new(vec![(mid - cap, v + e), (mid + cap, v + e)], style),
                        ])
                        .map_err(de)?;
                }
            }
        }
        if neg && pos {
            chart
                .draw_series([PathElement::new(
                    vec![(-0.5, 0.0), (x_end, 0.0)],
                    BLACK.stroke_width(1),
                )])
                .map_err(de)?;
        }

        // Category labels, centred under each group and shrunk if they would collide.
        let slot = chart.backend_coord(&(1.0, y0)).0 - chart.backend_coord(&(0.0, y0)).0;
        let base = chart_area.get_base_pixel();
        let mut size = 15;
        while size > 10
            && self.groups.iter().try_fold(false, |wide, g| {
                let w = chart_area.estimate_text_size(g, &font(size)).map_err(de)?.0;
                DrawResult::Ok(wide || w as i32 > slot - 6)
            })?
        {
            size -= 1;
        }
        for (g, name) in self.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64, y0));
            chart_area
                .draw(&Text::new(
                    name.clone(),
                    (px - base.0, py - base.1 + 10),
                    font(size).pos(Pos::new(HPos::Center, VPos::Top)),
                ))
                .map_err(de)?;
        }
        if let Some(legend) = legend {
            draw_legend(&legend, &entries, 15)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Heatmaps (2-D decision boundaries).

/// A probability field over a 2-D region with a class-coloured scatter on top: the decision
/// boundary of a 2-D classifier. Values are coloured blue (0) through white (0.5) to red (1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heatmap {
    /// The panel title.
    pub title: String,
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
    /// [`EngineError::Plot`] if the grid is inconsistent (`values.len() != nx * ny`, an empty
    /// grid, or an empty or non-finite range) or drawing fails; [`EngineError::Io`] if a file
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
    ) -> DrawResult {
        self.validate()?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55);
        if let Some(size) = caption {
            builder.caption(&self.title, font(size));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(de)?;

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
        let (xspan, yspan) = axis_spans(&chart);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&|v| fmt_tick(*v, xspan))
            .y_label_formatter(&|v| fmt_tick(*v, yspan))
            .label_style(font(13))
            .draw()
            .map_err(de)?;
        Ok(())
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (860, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        let (w, _) = area.dim_in_pixel();
        let (panel, bar) = area.split_horizontally(w.saturating_sub(COLORBAR_WIDTH));
        self.draw_panel(&panel, None)?;
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
    /// [`EngineError::Plot`] if a panel is inconsistent (see [`Heatmap::render`]) or drawing
    /// fails; [`EngineError::Io`] if a file cannot be written.
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

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = titled(root, &self.title)?;
        let (w, _) = area.dim_in_pixel();
        let (panels, bar) = area.split_horizontally(w.saturating_sub(COLORBAR_WIDTH));
        let (rows, cols) = self.layout();
        for (cell, panel) in panels.split_evenly((rows, cols)).iter().zip(&self.panels) {
            panel.draw_panel(cell, Some(18))?;
        }
        let label = self.panels.first().map_or("", |p| p.value_label.as_str());
        draw_colorbar(&bar, label)
    }
}

/// The width of the colour-bar strip beside heatmaps.
const COLORBAR_WIDTH: u32 = 110;

/// The heatmap colour of a value in [0, 1], quantized to 1/64 steps: blue, white at 0.5, red.
fn prob_color(v: f64) -> RGBColor {
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

// ---------------------------------------------------------------------------------------------
// Histograms.

/// Overlaid, semi-transparent histograms of several samples over one common range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// The figure title.
    pub title: String,
    /// The x axis label (the y axis is the count).
    pub x_label: String,
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
    /// [`EngineError::Plot`] if drawing fails, [`EngineError::Io`] if a file cannot be written.
    pub fn render(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        render_figure(self, dir, stem)
    }
}

impl Figure for Histogram {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
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
        let finite = || {
            self.series
                .iter()
                .flat_map(|(_, xs)| xs.iter().copied())
                .filter(|x| x.is_finite())
        };
        let (mut lo, mut hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        } else if lo == hi {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let width = (hi - lo) / bins as f64;
        let counts: Vec<Vec<u64>> = self
            .series
            .iter()
            .map(|(_, xs)| {
                let mut c = vec![0u64; bins];
                for &x in xs.iter().filter(|x| x.is_finite()) {
                    let b = (((x - lo) / width) as usize).min(bins - 1);
                    c[b] += 1;
                }
                c
            })
            .collect();
        let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;

        let (x0, x1) = axis_range([lo, hi], false);
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(15)
            .margin_right(25)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(x0..x1, 0.0..max * 1.05)
            .map_err(de)?;
        let (xspan, yspan) = axis_spans(&chart);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc("count")
            .x_label_formatter(&|v| fmt_tick(*v, xspan))
            .y_label_formatter(&|v| fmt_tick(*v, yspan))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.04))
            .label_style(font(15))
            .axis_desc_style(font(18))
            .draw()
            .map_err(de)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    /// Checks the two rendered files: a real PNG over 5 KB and an SVG containing `title`.
    fn check_outputs(paths: &[PathBuf], dir: &Path, stem: &str, title: &str) {
        assert_eq!(
            paths,
            [
                dir.join(format!("{stem}.png")),
                dir.join(format!("{stem}.svg"))
            ]
        );
        let png = fs::read(&paths[0]).expect("PNG was written");
        assert!(png.starts_with(PNG_SIGNATURE), "{stem}.png is not a PNG");
        assert!(
            png.len() > 5 * 1024,
            "{stem}.png is only {} bytes",
            png.len()
        );
        let svg = fs::read_to_string(&paths[1]).expect("SVG was written");
        assert!(svg.contains("<svg"), "{stem}.svg has no <svg element");
        assert!(svg.contains(title), "{stem}.svg lacks the title {title:?}");
        let leftovers: Vec<_> = fs::read_dir(dir)
            .expect("dir is readable")
            .map(|e| e.expect("dir entry").file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    fn line_plot() -> LinePlot {
        let curve = |scale: f64| -> Vec<(f64, f64)> {
            (1..=200)
                .map(|i| (f64::from(i), scale * (2.0 / f64::from(i).sqrt() + 0.05)))
                .collect()
        };
        let mut gappy = curve(0.5);
        gappy[50].1 = f64::NAN;
        gappy[51].1 = f64::INFINITY;
        LinePlot {
            title: "Training loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: vec![
                Series {
                    name: "lr 0.1".into(),
                    points: curve(1.0),
                    style: SeriesStyle::Line,
                },
                Series {
                    name: "lr 0.01 (with gaps)".into(),
                    points: gappy,
                    style: SeriesStyle::LinePoints,
                },
                Series {
                    name: "eval".into(),
                    points: (1..=10).map(|i| (f64::from(i * 20), 0.8)).collect(),
                    style: SeriesStyle::Points,
                },
            ],
            log_x: false,
            log_y: false,
        }
    }

    #[test]
    fn line_plot_renders_linear_and_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plot = line_plot();
        check_outputs(
            &plot.render(dir.path(), "loss").expect("render"),
            dir.path(),
            "loss",
            "Training loss",
        );
        let mut log = plot.clone();
        log.title = "Log-log loss".into();
        log.log_x = true;
        log.log_y = true;
        log.series[0].points.push((0.0, -1.0)); // skipped on log axes
        check_outputs(
            &log.render(dir.path(), "loss_log").expect("render"),
            dir.path(),
            "loss_log",
            "Log-log loss",
        );
    }

    #[test]
    fn degenerate_line_plots_still_render() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            vec![(3.0, 3.0)],
            vec![(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)],
            vec![(f64::NAN, 1.0)],
            vec![],
        ];
        for (i, points) in cases.into_iter().enumerate() {
            for log in [false, true] {
                let plot = LinePlot {
                    title: format!("Degenerate {i}"),
                    series: vec![Series {
                        name: "only".into(),
                        points: points.clone(),
                        style: SeriesStyle::LinePoints,
                    }],
                    log_y: log,
                    ..LinePlot::default()
                };
                plot.render(dir.path(), &format!("d{i}_{log}"))
                    .expect("render");
            }
        }
    }

    #[test]
    fn axis_range_pads_and_handles_degenerate_input() {
        let (a, b) = axis_range([0.0, 10.0], false);
        assert!((a + 0.5).abs() < 1e-12 && (b - 10.5).abs() < 1e-12);
        assert_eq!(axis_range([2.0], false), (1.9, 2.1));
        assert_eq!(axis_range([0.0, 0.0], false), (-0.5, 0.5));
        assert_eq!(axis_range([], false), (0.0, 1.0));
        let (a, b) = axis_range([1.0, 100.0], true);
        assert!((a.log10() + 0.1).abs() < 1e-12 && (b.log10() - 2.1).abs() < 1e-12);
        let (a, b) = axis_range([10.0], true);
        assert!(a < 10.0 && b > 10.0 && a > 0.0);
    }

    #[test]
    fn bar_plot_renders_with_errors_and_negative_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plot = BarPlot {
            title: "Generalization gap".into(),
            y_label: "accuracy change".into(),
            groups: vec![
                "small batch".into(),
                "large batch".into(),
                "huge batch".into(),
            ],
            bars: vec![
                BarSeries {
                    name: "train".into(),
                    values: vec![0.12, -0.05, 0.3],
                    errors: Some(vec![0.02, 0.03, f64::NAN]),
                },
                BarSeries {
                    name: "test".into(),
                    values: vec![0.08, -0.1, f64::NAN],
                    errors: None,
                },
            ],
        };
        let paths = plot.render(dir.path(), "bars").expect("render");
        check_outputs(&paths, dir.path(), "bars", "Generalization gap");
    }

    fn heatmap(title: &str, shift: f64) -> Heatmap {
        let (nx, ny) = (60, 50);
        let values = (0..ny)
            .flat_map(|j| {
                (0..nx).map(move |i| {
                    let x = -2.0 + 4.0 * (f64::from(i) + 0.5) / f64::from(nx);
                    let y = -2.0 + 4.0 * (f64::from(j) + 0.5) / f64::from(ny);
                    1.0 / (1.0 + (-(3.0 * (x - shift) + 2.0 * y.sin() * 2.0)).exp())
                })
            })
            .collect();
        let points = (0..40)
            .map(|k| {
                let t = f64::from(k) * 0.7;
                let (x, y) = (1.8 * t.sin(), 1.8 * (1.3 * t).cos());
                (x, y, u32::from(x > shift))
            })
            .collect();
        Heatmap {
            title: title.into(),
            x_range: (-2.0, 2.0),
            y_range: (-2.0, 2.0),
            nx: nx as usize,
            ny: ny as usize,
            values,
            value_label: "P(class 1)".into(),
            points,
        }
    }

    #[test]
    fn heatmap_and_grid_render() {
        let dir = tempfile::tempdir().expect("tempdir");
        let single = heatmap("Decision boundary", 0.0);
        check_outputs(
            &single.render(dir.path(), "boundary").expect("render"),
            dir.path(),
            "boundary",
            "Decision boundary",
        );
        let grid = HeatmapGrid {
            title: "Boundaries by width".into(),
            panels: (0..5)
                .map(|k| heatmap(&format!("width {}", 1 << k), f64::from(k) * 0.3 - 0.6))
                .collect(),
            columns: 3,
        };
        assert_eq!(grid.layout(), (2, 3));
        check_outputs(
            &grid.render(dir.path(), "grid").expect("render"),
            dir.path(),
            "grid",
            "Boundaries by width",
        );
    }

    #[test]
    fn inconsistent_heatmap_is_a_plot_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bad = heatmap("bad", 0.0);
        bad.values.pop();
        let err = bad.render(dir.path(), "bad").expect_err("must fail");
        assert!(matches!(err, EngineError::Plot { .. }), "{err}");
        assert!(
            err.to_string().contains("bad.png") && err.to_string().contains("2999 values"),
            "{err}"
        );
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn histogram_renders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sample = |mu: f64, n: u32| -> Vec<f64> {
            (0..n)
                .map(|k| {
                    // A deterministic, roughly bell-shaped sample.
                    let u = (f64::from(k) + 0.5) / f64::from(n);
                    mu + (u - 0.5) * 4.0 * (u * (1.0 - u)).sqrt()
                })
                .collect()
        };
        let mut with_nan = sample(0.3, 500);
        with_nan.push(f64::NAN);
        let plot = Histogram {
            title: "Weight distribution".into(),
            x_label: "weight".into(),
            series: vec![
                ("init".into(), sample(0.0, 800)),
                ("trained".into(), with_nan),
            ],
            bins: 40,
        };
        check_outputs(
            &plot.render(dir.path(), "hist").expect("render"),
            dir.path(),
            "hist",
            "Weight distribution",
        );
        let empty = Histogram {
            title: "Empty".into(),
            ..Histogram::default()
        };
        empty.render(dir.path(), "empty").expect("render");
    }

    #[test]
    fn tick_labels_are_compact() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (50.0, "50"),
            (0.25, "0.25"),
            (0.6000000000000001, "0.6"),
            (-0.05, "-0.05"),
            (1e-5, "1e-5"),
            (2.5e7, "2.5e7"),
            (123456.0, "123456"),
            (1234567.0, "1.23e6"),
            (0.9123456, "0.912346"),
        ];
        for (v, expected) in cases {
            assert_eq!(fmt_tick(v, 1.0), expected, "{v}");
        }
        assert_eq!(fmt_tick(-1.39e-17, 0.5), "0");
        assert_eq!(fmt_tick(1e-12, 1e-9), "1e-12");
    }

    #[test]
    fn prob_colors_run_blue_white_red() {
        assert_eq!(prob_color(0.0), RGBColor(59, 116, 196));
        assert_eq!(prob_color(0.5), RGBColor(247, 247, 247));
        assert_eq!(prob_color(1.0), RGBColor(206, 70, 62));
        assert_eq!(prob_color(7.0), prob_color(1.0));
        assert_eq!(prob_color(f64::NAN), RGBColor(190, 190, 190));
    }
}
