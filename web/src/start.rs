//! The entry point JavaScript calls: `await start("canvas-id")` (see `web/static/loader.js`).

use crate::app::make_app;
use crate::compute::Compute;
use crate::hook::StateHook;
use crate::state::LabState;
use wasm_bindgen::prelude::*;

/// The id of the page's banner element, shown with the fallback's reason.
const BANNER_ID: &str = "sgdlab-banner";

/// Starts the lab on the canvas with id `canvas_id`: installs `window.sgdlab`, initializes the
/// compute device (WebGPU, else the CPU with a banner), then runs eframe on the canvas.
///
/// Rejects with a message when the page lacks the canvas or eframe cannot start its renderer.
#[wasm_bindgen]
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
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
    hook.install()?;

    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document: sgdlab runs on a page's main thread")?;
    let canvas = document
        .get_element_by_id(&canvas_id)
        .ok_or_else(|| format!("the page has no element with id `{canvas_id}`"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| format!("the element `{canvas_id}` is not a <canvas>"))?;

    let compute = Compute::init().await;
    hook.publish(
        LabState {
            lab: "starting".into(),
            backend: compute.device.info.backend.clone(),
            adapter: compute.device.info.adapter.clone(),
            renderer: compute.renderer_name().into(),
            fallback_reason: compute.fallback_reason.clone(),
            self_check: compute.self_check.clone(),
            rayon_threads: rayon::current_num_threads(),
            compute_ready_ms: compute.ready_ms,
            ..LabState::default()
        }
        .to_json(),
    );
    if let Some(reason) = &compute.fallback_reason {
        show_banner(
            &document,
            &format!(
                "WebGPU is not available ({reason}). The lab runs on the CPU inside this page \
                 and draws with WebGL, which is slower."
            ),
        );
    }

    let web_options = compute.web_options();
    eframe::WebRunner::new()
        .start(
            canvas,
            web_options,
            Box::new(move |cc| Ok(make_app(cc, compute, hook))),
        )
        .await
}

/// Shows the page's banner with `text` (a page without the element simply has no banner).
fn show_banner(document: &web_sys::Document, text: &str) {
    if let Some(banner) = document.get_element_by_id(BANNER_ID) {
        banner.set_text_content(Some(text));
        // Removing an attribute from an element that exists cannot fail.
        let _ = banner.remove_attribute("hidden");
    }
}
