//! The entry point JavaScript calls: `await start("canvas-id", font, icons, fetchBytes,
//! startPainter)` (see `web/static/loader.js`).

use crate::app::{Startup, make_app};
use crate::compute::{Compute, Renderer};
use crate::fetch::Fetcher;
use crate::fonts::Fonts;
use crate::hook::{ComputeHold, StateHook};
use crate::state::LabState;
use sgdlab_ui::Painting;
use wasm_bindgen::prelude::*;

/// Starts the lab on the canvas with id `canvas_id`: installs `window.sgdlab`, creates the
/// compute device (WebGPU, else the CPU), then runs eframe on the canvas at once; the device's
/// self-check runs meanwhile and the views wait for it ("Starting the GPU…"), while tabs,
/// controls and links already respond. `proportional_font` and `icon_font` are the font files
/// the loader fetched beside the .wasm; `fetch_bytes(url, onProgress)` fetches what the lab needs
/// later (the other fonts, after the first frame: [`crate::fonts::LATER_FONTS`]).
/// `start_painter(offscreenCanvas)` starts the paint worker on the canvas (the CPU fallback,
/// where a Worker can have WebGL2) and resolves to `{ worker, maxTextureSide }` once it paints.
///
/// With `?hold-compute` in the page's address the self-check waits for
/// `window.sgdlab.releaseCompute()` (the browser tests' way to act before the device is ready).
///
/// Rejects with a message when the page lacks the canvas or eframe cannot start its renderer.
#[wasm_bindgen]
pub async fn start(
    canvas_id: String,
    proportional_font: Vec<u8>,
    icon_font: Vec<u8>,
    fetch_bytes: js_sys::Function,
    start_painter: js_sys::Function,
) -> Result<(), JsValue> {
    // Err only when a logger is already installed (a second start on the same page).
    let _ = eframe::WebLogger::init(log::LevelFilter::Info);
    let hook = StateHook::default();
    hook.publish(
        LabState {
            lab: "starting".into(),
            ..LabState::default()
        }
        .to_json(),
    );
    let hold = ComputeHold::from_page_address();
    hook.install(hold.as_ref())?;

    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document: sgdlab runs on a page's main thread")?;
    let canvas = document
        .get_element_by_id(&canvas_id)
        .ok_or_else(|| format!("the page has no element with id `{canvas_id}`"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| format!("the element `{canvas_id}` is not a <canvas>"))?;

    let compute = Compute::init().await;
    crate::app::mark("compute");
    log::info!(
        "compute device: {} ({:.0} ms after navigation)",
        compute.lab.info(),
        crate::app::now_ms().unwrap_or(f64::NAN)
    );
    hook.publish(
        LabState {
            lab: "starting".into(),
            backend: compute.lab.info().backend.to_string(),
            adapter: compute.lab.info().adapter.clone(),
            renderer: compute.renderer.name().into(),
            fallback_reason: compute.lab.fallback.clone(),
            ..LabState::default()
        }
        .to_json(),
    );

    if matches!(compute.renderer, Renderer::WebGl) {
        webgl_without_msaa(&canvas);
    }
    let worker = if matches!(compute.renderer, Renderer::WebGlWorker) {
        Some(start_paint_worker(&canvas, &start_painter).await?)
    } else {
        None
    };
    let web_options = compute.web_options();
    let startup = Startup {
        compute,
        hook,
        fonts: Fonts {
            proportional: proportional_font,
            icons: icon_font,
        },
        fetcher: Fetcher::new(fetch_bytes),
        hold,
    };
    if let Some((worker, max_texture_side)) = worker {
        let ctx = egui::Context::default();
        let app = make_app(&ctx, None, Painting::InAWorker, startup);
        crate::page_runner::run(ctx, app, canvas, worker, max_texture_side)?;
        return Ok(());
    }
    eframe::WebRunner::new()
        .start(
            canvas,
            web_options,
            Box::new(move |cc| {
                Ok(Box::new(make_app(
                    &cc.egui_ctx,
                    cc.wgpu_render_state.clone(),
                    Painting::OnThisThread,
                    startup,
                )))
            }),
        )
        .await
}

/// Hands the canvas to a new paint worker (`web/static/painter.js`, through the loader's
/// `startPainter`) and waits until it paints: the worker and its largest texture side.
async fn start_paint_worker(
    canvas: &web_sys::HtmlCanvasElement,
    start_painter: &js_sys::Function,
) -> Result<(web_sys::Worker, usize), JsValue> {
    let offscreen = canvas.transfer_control_to_offscreen()?;
    let started = start_painter.call1(&JsValue::NULL, &offscreen)?;
    let answer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&started)).await?;
    let worker = js_sys::Reflect::get(&answer, &"worker".into())?
        .dyn_into::<web_sys::Worker>()
        .map_err(|_| "startPainter resolved without a worker")?;
    let side = js_sys::Reflect::get(&answer, &"maxTextureSide".into())?
        .as_f64()
        .ok_or("startPainter resolved without maxTextureSide")?;
    crate::app::mark("paint-worker");
    Ok((worker, side as usize))
}

/// Creates the fallback's WebGL2 context before eframe asks for one, without `antialias` (a
/// canvas keeps the attributes of its first context; eframe asks with none, and WebGL's default
/// is a multisampled canvas). egui feathers its own edges (eframe's native glow runs without
/// MSAA too). Where the compositor draws in software (no GPU: SwiftShader), every frame's commit
/// reads the canvas back on the main thread after the frame is rasterized, and a multisampled
/// 1024×700 canvas made that ~100 ms a frame; without MSAA it is ~25 ms (`web/README.md`).
///
/// Where WebGL2 is missing this creates nothing and eframe falls back to WebGL1 as before.
fn webgl_without_msaa(canvas: &web_sys::HtmlCanvasElement) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"antialias".into(), &false.into());
    if !matches!(
        canvas.get_context_with_context_options("webgl2", &options),
        Ok(Some(_))
    ) {
        log::warn!("no WebGL2 context without MSAA; eframe chooses its own context");
    }
}
