//! The six labs and helpers their views share.

pub mod elimination;
pub mod field;
pub mod gossip;
pub mod random_labels;
pub mod rnn;
pub mod sharp_minima;
pub mod smoothing;

use egui_plot::{PlotPoints, PlotResponse};

/// A texture kept in egui's memory under `id`, rebuilt when `version` changes.
pub fn cached_texture(
    ui: &egui::Ui,
    id: &str,
    version: u64,
    make: impl FnOnce() -> egui::ColorImage,
) -> egui::TextureHandle {
    let key = egui::Id::unique(("sgdlab-texture", id));
    let cached: Option<(u64, egui::TextureHandle)> = ui.data(|d| d.get_temp(key));
    if let Some((v, t)) = cached
        && v == version
    {
        return t;
    }
    let tex = ui
        .ctx()
        .load_texture(id, make(), egui::TextureOptions::NEAREST);
    ui.data_mut(|d| d.insert_temp(key, (version, tex.clone())));
    tex
}

/// Where a plot was clicked, in plot coordinates.
pub fn plot_click(
    resp: &PlotResponse<Option<egui_plot::PlotPoint>>,
) -> Option<egui_plot::PlotPoint> {
    if resp.response.clicked() {
        resp.inner
    } else {
        None
    }
}

/// NaN and infinities as JSON null (the labs' test-hook states).
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Plot points from `[x, y]` pairs, skipping non-finite ones.
pub fn series(points: impl Iterator<Item = [f64; 2]>) -> PlotPoints<'static> {
    PlotPoints::new(
        points
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .collect(),
    )
}
