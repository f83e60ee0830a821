//! Axes: their titles, scales and bounds, the tick positions and labels we choose ourselves
//! (plotters' log axes left most ticks unlabelled), and the chart frame every chart kind draws
//! its data into.
//!
//! Every chart is drawn on linear plotters coordinates in *axis space*: the value itself on a
//! linear axis, its base-10 logarithm on a log axis. Ticks are explicit key points, so a log axis
//! always gets decade labels and, when it spans little, the minor labels between them.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::audit::PanelRect;
use super::style::{AXIS_TITLE_FONT, Area, DrawResult, TICK_FONT, de, font};

/// The values a quantity can take; intervals and axes are clipped to them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// The smallest possible value (`-inf` when unbounded).
    pub lo: f64,
    /// The largest possible value (`inf` when unbounded).
    pub hi: f64,
}

impl Bounds {
    /// No bounds.
    pub const NONE: Self = Self {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
    };
    /// `[0, 1]`: accuracies, fractions, probabilities.
    pub const UNIT: Self = Self { lo: 0.0, hi: 1.0 };
    /// `[0, inf)`: counts, times, variances, λ_max of a positive semi-definite Hessian, norms.
    pub const NON_NEGATIVE: Self = Self {
        lo: 0.0,
        hi: f64::INFINITY,
    };
    /// `[0, 100]`: percentages and accuracy points.
    pub const PERCENT: Self = Self { lo: 0.0, hi: 100.0 };

    /// `v` clamped into the bounds (NaN stays NaN).
    pub fn clamp(&self, v: f64) -> f64 {
        if v.is_nan() {
            v
        } else {
            v.max(self.lo).min(self.hi)
        }
    }

    /// The interval `(lo, hi)` clipped to the bounds.
    pub fn clip(&self, (lo, hi): (f64, f64)) -> (f64, f64) {
        (self.clamp(lo), self.clamp(hi))
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Self::NONE
    }
}

/// One axis of a chart: its title (with the unit), its scale and the range of the quantity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    /// The axis title with its unit, e.g. `step`, `time (steps)`, `test accuracy (fraction)`.
    /// Rendering fails, naming the chart, when it is empty.
    pub title: String,
    /// Logarithmic scale: decade labels (and minor labels on short ranges); non-positive values
    /// are not drawn.
    pub log: bool,
    /// The values the quantity can take: error bars are clipped to them and the axis does not
    /// extend past them.
    pub bounds: Bounds,
}

impl Axis {
    /// A linear, unbounded axis titled `title`.
    pub fn linear(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            log: false,
            bounds: Bounds::NONE,
        }
    }

    /// A logarithmic axis titled `title` (its values are positive by construction).
    pub fn log(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            log: true,
            bounds: Bounds::NON_NEGATIVE,
        }
    }

    /// The same axis with the quantity's possible range.
    pub fn bounded(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// `v` in axis space (its log10 on a log axis), or `None` where it cannot be drawn.
    pub(super) fn to_axis(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// The error when the title is empty: `what` names the axis and the chart.
    pub(super) fn require_title(&self, what: &str) -> DrawResult {
        if self.title.trim().is_empty() {
            Err(format!(
                "{what} has no title (an axis title names the quantity and its unit)"
            ))
        } else {
            Ok(())
        }
    }
}

/// What the tick labels of an axis show.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TickKind {
    Linear,
    Log,
    /// Category names at 0, 1, 2, … (bar charts).
    Categories(Vec<String>),
}

/// An axis resolved against its data: the range and ticks in axis space.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Resolved {
    pub title: String,
    pub kind: TickKind,
    pub lo: f64,
    pub hi: f64,
    /// Labelled tick positions (axis space).
    pub ticks: Vec<f64>,
    /// Unlabelled grid positions (axis space).
    pub minor: Vec<f64>,
}

impl Resolved {
    /// Resolves `axis` over `values` (raw values; undrawable ones are ignored), padded by 5%
    /// and kept within the axis bounds.
    pub fn new(axis: &Axis, values: impl IntoIterator<Item = f64>) -> Self {
        let (lo, hi) = padded_range(values.into_iter().filter_map(|v| axis.to_axis(v)), axis.log);
        let (blo, bhi) = (axis.to_axis(axis.bounds.lo), axis.to_axis(axis.bounds.hi));
        let lo = blo.map_or(lo, |b| lo.max(b));
        let hi = bhi.map_or(hi, |b| hi.min(b));
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
        Self::with_range(axis, lo, hi)
    }

    /// The axis over the fixed axis-space range `[lo, hi]`.
    pub fn with_range(axis: &Axis, lo: f64, hi: f64) -> Self {
        let (ticks, minor) = if axis.log {
            log_ticks(lo, hi)
        } else {
            (linear_ticks(lo, hi), Vec::new())
        };
        Self {
            title: axis.title.clone(),
            kind: if axis.log {
                TickKind::Log
            } else {
                TickKind::Linear
            },
            lo,
            hi,
            ticks,
            minor,
        }
    }

    /// A category axis: `names` at 0, 1, …, with half a slot of room on each side.
    pub fn categories(title: &str, names: Vec<String>, slots: usize) -> Self {
        let n = slots.max(names.len()).max(1);
        Self {
            title: title.to_owned(),
            ticks: (0..names.len()).map(|i| i as f64).collect(),
            kind: TickKind::Categories(names),
            lo: -0.5,
            hi: n as f64 - 0.5,
            minor: Vec::new(),
        }
    }

    /// The label of the tick at axis-space position `v`.
    pub fn label(&self, v: f64) -> String {
        match &self.kind {
            TickKind::Linear => fmt_tick(v, self.hi - self.lo),
            TickKind::Log => log_label(v),
            TickKind::Categories(names) => names
                .get(v.round().max(0.0) as usize)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The plotters coordinate spec with our ticks as key points.
    fn coord(&self) -> Ticked {
        Ticked {
            inner: (self.lo..self.hi).into(),
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// A linear f64 coordinate whose key points are exactly our ticks (plotters' own
/// `WithKeyPoints` over `f64` has no value formatter, so the mesh cannot label it).
#[derive(Clone)]
pub(super) struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A chart frame in axis space.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// How a chart frame is laid out.
pub(super) struct FrameStyle<'t> {
    /// A caption above the frame (panel title) and its font size.
    pub caption: Option<(&'t str, u32)>,
    /// Pixels below the plotting area for tick labels and the x title.
    pub x_area: u32,
    /// Pixels left of the plotting area for tick labels and the y title.
    pub y_area: u32,
    /// Grid lines in the plotting area.
    pub grid: bool,
    /// The tick label font size of the x axis.
    pub x_tick_font: u32,
}

impl Default for FrameStyle<'_> {
    fn default() -> Self {
        Self {
            caption: None,
            x_area: 60,
            y_area: 90,
            grid: true,
            x_tick_font: TICK_FONT,
        }
    }
}

/// Builds a chart frame on `area` with titled, labelled axes `x` and `y`, records its plotting
/// rectangle in `panels` (for the SVG audit), and returns it for the data to be drawn into.
pub(super) fn frame<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    x: &Resolved,
    y: &Resolved,
    style: &FrameStyle<'_>,
    name: &str,
    panels: &mut Vec<PanelRect>,
) -> DrawResult<Chart<'a, DB>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(25)
        .x_label_area_size(style.x_area)
        .y_label_area_size(style.y_area);
    if let Some((caption, size)) = style.caption {
        builder.caption(caption, font(size));
    }
    let mut chart = builder
        .build_cartesian_2d(x.coord(), y.coord())
        .map_err(de)?;
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x.title.as_str())
        .y_desc(y.title.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .x_label_style(font(style.x_tick_font))
        .y_label_style(font(TICK_FONT))
        .axis_desc_style(font(AXIS_TITLE_FONT));
    if !style.grid {
        mesh.disable_mesh();
    }
    if matches!(x.kind, TickKind::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(de)?;
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    panels.push(PanelRect {
        chart: name.to_owned(),
        left: xs.start,
        top: ys.start,
        right: xs.end,
        bottom: ys.end,
    });
    Ok(chart)
}

/// The range of axis-space `values` padded by 5% on each side.
///
/// A single value, or all values equal, gets ±5% of its magnitude (±0.5 around zero, half a
/// decade on a log axis); no values gives `[0, 1]` (one decade, 1 to 10, on a log axis).
pub(super) fn padded_range(values: impl IntoIterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else if log {
        0.5
    } else if lo != 0.0 {
        0.05 * lo.abs()
    } else {
        0.5
    };
    (lo - pad, hi + pad)
}

/// Round tick positions for a linear axis over `[lo, hi]`: steps of 1, 2 or 5 × 10^k giving
/// 3 to 9 ticks.
pub(super) fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || span.is_infinite() {
        return vec![lo];
    }
    let raw = span / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // Snap values that are zero up to rounding.
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// Labelled and unlabelled tick positions (log10 space) for a log axis over `[a, b]` (log10).
///
/// The coarsest level that gives at least three labels wins: every decade (thinned to at most
/// eight labels), then 1-2-5 per decade, then 1…9 per decade, and on a range shorter than that
/// round linear steps. Unlabelled grid lines mark 2…9 within each decade when few decades show.
pub(super) fn log_ticks(a: f64, b: f64) -> (Vec<f64>, Vec<f64>) {
    let in_range = |l: f64| l >= a - 1e-9 && l <= b + 1e-9;
    let first = a.floor() as i64;
    let last = b.ceil() as i64;
    let level = |mults: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|k| mults.iter().map(move |m| m.log10() + k as f64))
            .filter(|&l| in_range(l))
            .collect()
    };
    let minor = if b - a <= 6.0 {
        level(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else {
        Vec::new()
    };
    let decades: Vec<f64> = level(&[1.0]);
    if decades.len() >= 3 {
        let stride = decades.len().div_ceil(8);
        let thinned = decades
            .iter()
            .copied()
            .filter(|l| (l.round() as i64).rem_euclid(stride as i64) == 0)
            .collect();
        return (thinned, minor);
    }
    for mults in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..],
    ] {
        let ticks = level(mults);
        if ticks.len() >= 3 {
            return (ticks, minor);
        }
    }
    let ticks = linear_ticks(10f64.powf(a), 10f64.powf(b))
        .into_iter()
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .collect();
    (ticks, minor)
}

/// The label of a log-axis tick at log10 position `l`: `0.01`…`10000` written out, other
/// decades as `10⁻⁵`, `10⁶`, and non-decade ticks as their value (`2`, `50`, `3×10⁻⁶`).
pub(super) fn log_label(l: f64) -> String {
    let k = l.floor();
    let (k, m) = {
        let m = 10f64.powf(l - k);
        // 9.9999… is the next decade.
        if m > 9.9995 { (k + 1.0, 1.0) } else { (k, m) }
    };
    let plain = (-3.0..=4.0).contains(&k);
    let mantissa = trim_zeros(&format!("{m:.3}")).to_owned();
    if plain {
        let v = m * 10f64.powf(k);
        fmt_tick(v, v)
    } else if mantissa == "1" {
        format!("10{}", superscript(k as i64))
    } else {
        format!("{mantissa}×10{}", superscript(k as i64))
    }
}

/// `k` in Unicode superscript digits.
fn superscript(k: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if k < 0 {
        s.push('⁻');
    }
    for c in k.unsigned_abs().to_string().bytes() {
        s.push(DIGITS[usize::from(c - b'0')]);
    }
    s
}

/// A compact tick label for `v` on an axis spanning `span`: at most 6 significant digits with
/// trailing zeros trimmed (`50`, `0.25`, `0.6`), exponent notation for very large or small
/// magnitudes (`1e-5`), and `0` for values that are zero up to rounding (`-1.4e-17` on an axis
/// spanning 0.5), never `-0`.
pub(super) fn fmt_tick(v: f64, span: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(a: f64, b: f64) -> Vec<String> {
        log_ticks(a, b).0.into_iter().map(log_label).collect()
    }

    #[test]
    fn log_axes_label_decades_and_minor_ticks_on_short_ranges() {
        // Five decades: every decade, written out.
        assert_eq!(labels(-0.1, 4.1), ["1", "10", "100", "1000", "10000"]);
        // Far from 1: powers of ten.
        assert_eq!(labels(-7.2, -4.8), ["10⁻⁷", "10⁻⁶", "10⁻⁵"]);
        // One decade (1.5 to 15): 1-2-5 labels, at least two.
        assert_eq!(labels(1.5f64.log10(), 15f64.log10()), ["2", "5", "10"]);
        // Less than a decade (3 to 8): 1…9.
        assert_eq!(
            labels(3f64.log10(), 8f64.log10()),
            ["3", "4", "5", "6", "7", "8"]
        );
        // Very short (3.1 to 3.9): linear steps.
        let l = labels(3.1f64.log10(), 3.9f64.log10());
        assert!(l.len() >= 2, "{l:?}");
        assert_eq!(l[0], "3.1");
        // Twenty decades: thinned to at most eight labels.
        let l = labels(-10.0, 10.0);
        assert_eq!(l.len(), 7, "{l:?}");
        assert_eq!((l[0].as_str(), l[3].as_str()), ("10⁻⁹", "1"));
    }

    #[test]
    fn every_log_range_gets_two_labels() {
        for a in [-9.0, -3.3, -0.01, 0.0, 0.7, 2.25, 5.5] {
            for span in [0.01, 0.05, 0.3, 1.0, 1.7, 3.0, 12.0] {
                let n = log_ticks(a, a + span).0.len();
                assert!(n >= 2, "[{a}, {}]: {n} labels", a + span);
            }
        }
    }

    #[test]
    fn linear_ticks_are_round() {
        assert_eq!(linear_ticks(-0.5, 10.5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(
            linear_ticks(0.0, 1.0),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert!(linear_ticks(1e-9, 3e-9).len() >= 2);
    }

    #[test]
    fn bounds_clip_intervals_and_the_axis() {
        assert_eq!(Bounds::UNIT.clip((0.9, 1.2)), (0.9, 1.0));
        assert_eq!(Bounds::NON_NEGATIVE.clip((-3.0, 2.0)), (0.0, 2.0));
        let acc = Axis::linear("accuracy (fraction)").bounded(Bounds::UNIT);
        let r = Resolved::new(&acc, [0.2, 1.0]);
        assert!(r.hi <= 1.0 && r.lo < 0.2, "{r:?}");
        let free = Axis::linear("accuracy (fraction)");
        assert!(Resolved::new(&free, [0.2, 1.0]).hi > 1.0);
    }

    #[test]
    fn empty_titles_are_errors() {
        assert!(Axis::linear(" ").require_title("x axis").is_err());
        assert!(Axis::log("steps").require_title("x axis").is_ok());
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
        assert_eq!(log_label(3e-6f64.log10()), "3×10⁻⁶");
        assert_eq!(log_label(0.02f64.log10()), "0.02");
    }

    #[test]
    fn padded_range_handles_degenerate_input() {
        let (a, b) = padded_range([0.0, 10.0], false);
        assert!((a + 0.5).abs() < 1e-12 && (b - 10.5).abs() < 1e-12);
        assert_eq!(padded_range([2.0], false), (1.9, 2.1));
        assert_eq!(padded_range([0.0, 0.0], false), (-0.5, 0.5));
        assert_eq!(padded_range([], false), (0.0, 1.0));
        assert_eq!(padded_range([1.0], true), (0.5, 1.5));
    }
}
