//! Marks shared by line and bar charts: interval whiskers and censored-value markers.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Chart, fmt_tick};
use super::legend::open_triangle;
use super::style::{DrawResult, de, font};

/// Draws a vertical whisker from `lo` to `hi` (raw values, clipped to the axis bounds) at
/// axis-space `x`, with caps `cap` wide on each side. Nothing is drawn where an end is not
/// finite, or both clipped ends are undrawable on a log axis.
pub(super) fn whisker<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    y: &Axis,
    x: f64,
    (lo, hi): (f64, f64),
    cap: f64,
    color: RGBColor,
) -> DrawResult {
    if !lo.is_finite() || !hi.is_finite() {
        return Ok(());
    }
    let (lo, hi) = y.bounds.clip((lo.min(hi), lo.max(hi)));
    let (Some(a), Some(b)) = (y.to_axis(lo), y.to_axis(hi)) else {
        return Ok(());
    };
    let style = color.stroke_width(2);
    chart
        .draw_series([
            PathElement::new(vec![(x, a), (x, b)], style),
            PathElement::new(vec![(x - cap, a), (x + cap, a)], style),
            PathElement::new(vec![(x - cap, b), (x + cap, b)], style),
        ])
        .map_err(de)?;
    Ok(())
}

/// The label of a censored value: `>1500`.
pub(super) fn censored_label(bound: f64) -> String {
    format!(">{}", fmt_tick(bound, bound))
}

/// Draws the censored-value mark at axis-space `(x, y)`: an open upward triangle (the value is
/// above) and the `>bound` label to its right.
pub(super) fn censored_mark<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    (x, y): (f64, f64),
    bound: f64,
    color: RGBColor,
) -> DrawResult {
    let (px, py) = chart.backend_coord(&(x, y));
    let base = chart.plotting_area().get_base_pixel();
    let area = chart.plotting_area().strip_coord_spec();
    let at = (px - base.0, py - base.1);
    open_triangle(&area, at, 7, color)?;
    area.draw(&Text::new(
        censored_label(bound),
        (at.0 + 9, at.1 - 9),
        font(13)
            .color(&color)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(de)?;
    Ok(())
}
