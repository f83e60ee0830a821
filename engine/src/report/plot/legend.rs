//! Legends, drawn in a strip to the right of the plotting area so they never cover data.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{Area, DrawResult, de, font};

/// How a legend entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swatch {
    Line,
    Points,
    LinePoints,
    Block,
    /// The open upward triangle that marks a censored value (a lower bound).
    Censored,
    /// A white dot with a black ring: one seed's value beside a bar.
    OpenPoint,
}

/// One legend entry.
pub(super) struct LegendEntry<'a> {
    pub name: &'a str,
    pub color: RGBColor,
    pub swatch: Swatch,
}

/// The legend text of the censored-value marker.
pub(super) const CENSORED_ENTRY: &str = ">v: lower bound (not reached)";

/// The width of the legend strip for `entries`: sized to the longest name, at most 40% of
/// `area`'s width; 0 when there are no entries.
pub(super) fn legend_width<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[LegendEntry<'_>],
) -> DrawResult<u32> {
    if entries.is_empty() {
        return Ok(0);
    }
    let style = font(16);
    let mut text_w = 0;
    for e in entries {
        text_w = text_w.max(area.estimate_text_size(e.name, &style).map_err(de)?.0);
    }
    let (w, _) = area.dim_in_pixel();
    Ok((text_w + 75).clamp(120, (w * 2 / 5).max(120)))
}

/// Draws an open (white-filled) upward triangle of half-width `size` centred at pixel `at`:
/// the censored-value marker, distinct from every series' filled dots.
pub(super) fn open_triangle<DB: DrawingBackend>(
    area: &Area<DB>,
    (x, y): (i32, i32),
    size: i32,
    color: RGBColor,
) -> DrawResult {
    let (top, left, right) = (
        (x, y - size - 1),
        (x - size, y + size - 1),
        (x + size, y + size - 1),
    );
    area.draw(&Polygon::new(vec![top, left, right], WHITE.filled()))
        .map_err(de)?;
    area.draw(&PathElement::new(
        vec![top, left, right, top],
        color.stroke_width(2),
    ))
    .map_err(de)
}

/// Splits a strip of `width` pixels off the right of `area` (none when `width` is 0).
pub(super) fn split_strip<DB: DrawingBackend>(
    area: &Area<DB>,
    width: u32,
) -> (Area<DB>, Option<Area<DB>>) {
    if width == 0 {
        return (area.clone(), None);
    }
    let (w, _) = area.dim_in_pixel();
    let (chart, legend) = area.split_horizontally(w.saturating_sub(width));
    (chart, Some(legend))
}

/// Splits a legend strip sized for `entries` off the right of `area`.
pub(super) fn split_legend<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[LegendEntry<'_>],
) -> DrawResult<(Area<DB>, Option<Area<DB>>)> {
    Ok(split_strip(area, legend_width(area, entries)?))
}

/// Draws a framed legend into the strip `area`, starting `top` pixels down.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[LegendEntry<'_>],
    top: i32,
) -> DrawResult {
    const ROW: i32 = 26;
    if entries.is_empty() {
        return Ok(());
    }
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
        let mid = (x0 + x1) / 2;
        match e.swatch {
            Swatch::Line | Swatch::LinePoints => {
                area.draw(&PathElement::new(
                    vec![(x0, y), (x1, y)],
                    e.color.stroke_width(3),
                ))
                .map_err(de)?;
            }
            Swatch::Block => {
                area.draw(&Rectangle::new(
                    [(x0 + 4, y - 8), (x1 - 4, y + 8)],
                    e.color.mix(0.7).filled(),
                ))
                .map_err(de)?;
            }
            Swatch::Censored => {
                open_triangle(area, (mid, y), 6, e.color)?;
            }
            Swatch::OpenPoint => {
                area.draw(&Circle::new((mid, y), 4, WHITE.filled()))
                    .map_err(de)?;
                area.draw(&Circle::new((mid, y), 4, BLACK.stroke_width(1)))
                    .map_err(de)?;
            }
            Swatch::Points => {}
        }
        if matches!(e.swatch, Swatch::Points | Swatch::LinePoints) {
            area.draw(&Circle::new((mid, y), 4, e.color.filled()))
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
