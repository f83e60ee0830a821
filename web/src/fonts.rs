//! The page's fonts: not compiled into the .wasm (they would add ~0.3 MB gzipped to every
//! download of it) but fetched beside it by `web/static/loader.js` and handed to [`crate::start`];
//! the same files and families as egui's built-in defaults, so the lab looks as it does natively.
//! DejaVu Sans, the fallback for the labs' math symbols, comes later (after the first frame);
//! until then the browser draws those glyphs (eframe's canvas glyph fallback).

use egui::{FontData, FontDefinitions, FontFamily, FontTweak};
use std::sync::Arc;

/// Where the symbol fallback font lies, relative to the page (web/build.sh copies it there).
pub const FALLBACK_FONT_URL: &str = "fonts/DejaVuSans.ttf";

/// The three font files the first frame needs (egui's defaults).
pub struct Fonts {
    /// Ubuntu Light: the proportional font.
    pub proportional: Vec<u8>,
    /// Hack: the monospace font.
    pub monospace: Vec<u8>,
    /// egui's handful of icons.
    pub icons: Vec<u8>,
}

impl Fonts {
    /// egui's default font definitions, from these files.
    pub fn definitions(self) -> FontDefinitions {
        let mut defs = FontDefinitions::empty();
        defs.font_data.insert(
            "Ubuntu-Light".into(),
            Arc::new(FontData::from_owned(self.proportional)),
        );
        defs.font_data.insert(
            "Hack".into(),
            Arc::new(FontData::from_owned(self.monospace)),
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
            names(&["Hack", "Ubuntu-Light", "egui-icons"]),
        );
        defs.families.insert(
            FontFamily::Proportional,
            names(&["Ubuntu-Light", "egui-icons"]),
        );
        defs
    }
}
