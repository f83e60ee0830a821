//! The look shared by every chart: the embedded font, the series palette and the sizes of text.

#[cfg(not(target_arch = "wasm32"))]
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
#[cfg(not(target_arch = "wasm32"))]
use plotters::style::{FontStyle, register_font};

/// Drawing results carry the plotting library's message; the renderer adds the file name.
pub(super) type DrawResult<T = ()> = std::result::Result<T, String>;

/// A pixel-addressed drawing area.
pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// The pixel size of line, bar and histogram charts (line charts grow with their panels).
pub(super) const DEFAULT_SIZE: (u32, u32) = (1000, 640);

/// The font family every text element uses; it is bound to the embedded DejaVu Sans.
const FONT: &str = "sans-serif";

/// Tick label size.
pub(super) const TICK_FONT: u32 = 15;

/// Axis title size.
pub(super) const AXIS_TITLE_FONT: u32 = 18;

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

/// The colour of series number `i`.
pub(super) fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Converts a plotters drawing error into its message.
pub(super) fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Registers the embedded font as `sans-serif` (once per process).
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn ensure_font() -> DrawResult {
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
pub(super) fn ensure_font() -> DrawResult {
    Ok(())
}

/// A text style in the embedded font.
pub(super) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

/// Draws the figure title at the top of `root` and returns the area below it.
pub(super) fn titled<DB: DrawingBackend>(root: &Area<DB>, title: &str) -> DrawResult<Area<DB>> {
    if title.is_empty() {
        return Ok(root.clone());
    }
    root.titled(title, font(26)).map_err(de)
}
