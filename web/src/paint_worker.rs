//! The CPU fallback's painter, in a dedicated Worker (`web/static/painter.js`): egui's glow
//! painter on the WebGL2 context of the lab canvas's `OffscreenCanvas`, painting the frames the
//! page sends ([`crate::paint_wire`]). Where the browser composites in software (no GPU), each
//! WebGL frame is read back for the compositor on the thread that drew it; here that is this
//! worker's, not the page's (`web/README.md`, "Speed").

use crate::paint_wire::{Painted, decode};
use egui::epaint::{ClippedPrimitive, Mesh, Primitive};
use egui::{Color32, Pos2, Rect, TextureId, TextureOptions};
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The worker's painter: one per worker, made from the canvas the page transferred.
#[wasm_bindgen]
pub struct WorkerPainter {
    canvas: web_sys::OffscreenCanvas,
    painter: egui_glow::Painter,
    /// The particle splats' textures the last frame used (`TextureId::User(0..n)`).
    splat_textures: u64,
}

#[wasm_bindgen]
impl WorkerPainter {
    /// A painter on `canvas`'s WebGL2 context (without MSAA: egui feathers its own edges, and a
    /// multisampled canvas costs a resolve every frame). Throws when the worker has no WebGL2.
    #[wasm_bindgen(constructor)]
    pub fn new(canvas: web_sys::OffscreenCanvas) -> Result<WorkerPainter, JsValue> {
        // Err only when a logger is already installed.
        let _ = eframe::WebLogger::init(log::LevelFilter::Info);
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"antialias".into(), &false.into())?;
        let gl = canvas
            .get_context_with_context_options("webgl2", &options)?
            .ok_or("this browser has no WebGL2 in a Worker (OffscreenCanvas)")?
            .dyn_into::<web_sys::WebGl2RenderingContext>()
            .map_err(|_| "the OffscreenCanvas's webgl2 context is not a WebGL2RenderingContext")?;
        let gl = egui_glow::glow::Context::from_webgl2_context(gl);
        // eframe's defaults for WebGL2: no shader prefix, the detected shader version, dithering.
        #[allow(clippy::arc_with_non_send_sync)] // one thread: the worker's
        let painter = egui_glow::Painter::new(Arc::new(gl), "", None, true)
            .map_err(|e| format!("egui's glow painter did not start: {e}"))?;
        Ok(Self {
            canvas,
            painter,
            splat_textures: 0,
        })
    }

    /// The largest texture side the context takes (egui's `max_texture_side`).
    #[wasm_bindgen(js_name = maxTextureSide)]
    pub fn max_texture_side(&self) -> usize {
        self.painter.max_texture_side()
    }

    /// Paints one frame: resizes the canvas to the frame's size, applies its texture changes,
    /// clears, draws its meshes and frees the textures it lets go. Throws on a malformed frame.
    pub fn paint(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let frame = decode(bytes).map_err(|e| e.to_string())?;
        let [w, h] = frame.size_px;
        if self.canvas.width() != w || self.canvas.height() != h {
            self.canvas.set_width(w);
            self.canvas.set_height(h);
        }
        for (id, delta) in &frame.set {
            self.painter.set_texture(*id, delta);
        }
        // Each splat becomes an image (a user texture, replaced every frame) and a quad.
        let mut splats = 0;
        let primitives: Vec<ClippedPrimitive> = frame
            .primitives
            .into_iter()
            .map(|p| match p {
                Painted::Mesh { clip_rect, mesh } => ClippedPrimitive {
                    clip_rect,
                    primitive: Primitive::Mesh(mesh),
                },
                Painted::Splat {
                    clip_rect,
                    rect,
                    splat,
                } => {
                    let id = TextureId::User(splats);
                    splats += 1;
                    let delta =
                        egui::epaint::ImageDelta::full(splat.image(), TextureOptions::NEAREST);
                    self.painter.set_texture(id, &delta);
                    let mut mesh = Mesh::with_texture(id);
                    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                    mesh.add_rect_with_uv(rect, uv, Color32::WHITE);
                    ClippedPrimitive {
                        clip_rect,
                        primitive: Primitive::Mesh(mesh),
                    }
                }
            })
            .collect();
        egui_glow::painter::clear(self.painter.gl(), frame.size_px, frame.clear_color);
        self.painter
            .paint_primitives(frame.size_px, frame.pixels_per_point, &primitives);
        for id in &frame.free {
            self.painter.free_texture(*id);
        }
        // Splats the view no longer draws.
        for k in splats..self.splat_textures {
            self.painter.free_texture(TextureId::User(k));
        }
        self.splat_textures = splats;
        Ok(())
    }
}
