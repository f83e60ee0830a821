//! The page's fonts: not compiled into the .wasm (they would add ~0.3 MB gzipped to every
//! download of it) but fetched beside it, the same files and families as egui's built-in
//! defaults, so the lab looks as it does natively. The first frame needs two of them, Ubuntu
//! Light and egui's icons (`web/static/loader.js` fetches them with the .wasm and hands them to
//! [`crate::start`]); until Hack lands, monospace text is drawn in Ubuntu Light. After the first
//! frame the lab fetches [`LATER_FONTS`]: Hack (0.15 MB gzipped) and DejaVu Sans, the fallback
//! for the labs' math symbols (until it lands the browser draws those glyphs: eframe's canvas
//! glyph fallback).

use egui::epaint::text::FontPriority;
use egui::{FontData, FontDefinitions, FontFamily, FontTweak};
use std::sync::Arc;

/// A font fetched after the first frame: its address relative to the page (web/build.sh copies
/// it there), its name in egui, and where it goes in which families.
pub struct LaterFont {
    pub url: &'static str,
    pub name: &'static str,
    pub families: &'static [(FontFamily, FontPriority)],
}

/// The fonts fetched after the first frame, in this order.
pub const LATER_FONTS: [LaterFont; 2] = [
    LaterFont {
        url: "fonts/Hack-Regular.ttf",
        name: "Hack",
        families: &[(FontFamily::Monospace, FontPriority::Highest)],
    },
    LaterFont {
        url: "fonts/DejaVuSans.ttf",
        name: "dejavu-sans",
        families: &[
            (FontFamily::Proportional, FontPriority::Lowest),
            (FontFamily::Monospace, FontPriority::Lowest),
        ],
    },
];

impl LaterFont {
    /// Adds the font's bytes to `ctx` where it belongs.
    pub fn add(&self, ctx: &egui::Context, bytes: Vec<u8>) {
        sgdlab_ui::add_font(ctx, self.name, FontData::from_owned(bytes), self.families);
    }
}

/// The two font files the first frame needs.
pub struct Fonts {
    /// Ubuntu Light: the proportional font (and the monospace one until Hack lands).
    pub proportional: Vec<u8>,
    /// egui's handful of icons.
    pub icons: Vec<u8>,
}

impl Fonts {
    /// egui's default font definitions from these files, without Hack.
    pub fn definitions(self) -> FontDefinitions {
        let mut defs = FontDefinitions::empty();
        defs.font_data.insert(
            "Ubuntu-Light".into(),
            Arc::new(FontData::from_owned(self.proportional)),
        );
        defs.font_data.insert(
            "egui-icons".into(),
            Arc::new(FontData::from_owned(self.icons).tweak(FontTweak {
                scale: 0.90,
                ..Default::default()
            })),
        );
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        defs.families.insert(
            FontFamily::Monospace,
            names(&["Ubuntu-Light", "egui-icons"]),
        );
        defs.families.insert(
            FontFamily::Proportional,
            names(&["Ubuntu-Light", "egui-icons"]),
        );
        defs
    }
}
