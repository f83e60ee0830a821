//! The lab on the page: `sgdlab_ui::LabApp`, stepped inline between frames, with the page's
//! URL fragment as its shareable state and downloads for its exports; each frame publishes the
//! record `window.sgdlab.state()` returns. The app draws and takes input from its first frame;
//! the compute device's self-check runs meanwhile and the views wait for it.

use crate::compute::{Compute, Renderer, self_check};
use crate::fetch::Fetcher;
use crate::fonts::{Fonts, LATER_FONTS};
use crate::hook::{ComputeHold, StateHook};
use crate::state::SelfCheck;
use serde_json::{Value, json};
use sgdlab_ui::export::Platform;
use sgdlab_ui::{LabApp, LabOptions, Painting};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// What [`make_app`] needs from [`crate::start`].
pub struct Startup {
    /// The compute device (its self-check still to run).
    pub compute: Compute,
    /// The test hook.
    pub hook: StateHook,
    /// The first frame's fonts.
    pub fonts: Fonts,
    /// The loader's fetch, for what comes later.
    pub fetcher: Fetcher,
    /// The tests' hold on the self-check (`?hold-compute`).
    pub hold: Option<ComputeHold>,
}

/// The self-check's outcome and when it landed.
type Ready = Rc<RefCell<Option<(SelfCheck, Option<f64>)>>>;

/// Builds the app on `ctx` (drawing with eframe's wgpu state `render` when there is one) and
/// starts the self-check.
pub fn make_app(
    ctx: &egui::Context,
    render: Option<egui_wgpu::RenderState>,
    painting: Painting,
    startup: Startup,
) -> WebApp {
    let Startup {
        compute,
        hook,
        fonts,
        fetcher,
        hold,
    } = startup;
    mark("renderer");
    ctx.set_theme(egui::Theme::Dark);
    ctx.set_fonts(fonts.definitions());
    let Compute {
        renderer,
        lab: ui_compute,
    } = compute;
    let fragment = location_hash();
    let mut app = LabApp::new(
        ctx,
        render,
        ui_compute.clone(),
        LabOptions {
            threaded: false,
            painting,
            platform: Box::new(WebPlatform),
            fragment: Some(fragment),
            autostart: true,
        },
    );
    mark("labs");
    app.hold_until_compute(match renderer {
        Renderer::SharedWebGpu(_) => "Starting the GPU…",
        Renderer::WebGl | Renderer::WebGlWorker => "Starting the CPU backend…",
    });
    let ready: Ready = Rc::default();
    {
        let ready = ready.clone();
        let device = ui_compute.device.device.clone();
        let gpu = ui_compute.gpu.clone();
        let ctx = ctx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(h) = hold {
                let _ = wasm_bindgen_futures::JsFuture::from(h.promise).await;
            }
            // The first frame goes first: on the CPU the self-check runs on this thread.
            let _ = wasm_bindgen_futures::JsFuture::from(later(100)).await;
            let check = self_check(&device, gpu).await;
            if !check.ok {
                log::error!("the startup self-check failed: {check:?}");
            }
            *ready.borrow_mut() = Some((check, now_ms()));
            ctx.request_repaint();
        });
    }
    // A fragment edited by hand (or a pasted link) applies without a reload.
    let pending: Rc<RefCell<Option<String>>> = Rc::default();
    let slot = pending.clone();
    let repaint = ctx.clone();
    let on_hash = Closure::<dyn FnMut()>::new(move || {
        *slot.borrow_mut() = Some(location_hash());
        repaint.request_repaint();
    });
    if let Some(w) = web_sys::window() {
        // The listener lives as long as the page.
        let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    }
    on_hash.forget();
    WebApp {
        app,
        painting,
        hook,
        renderer: renderer.name(),
        fallback_reason: ui_compute.fallback.clone(),
        self_check: Value::Null,
        compute_ready_ms: None,
        first_frame_ms: None,
        laid_out: false,
        pending,
        own_fragment: String::new(),
        ready,
        ui_compute: Some(ui_compute),
        fetcher,
        later_fonts_requested: false,
    }
}

/// The lab on the page, with what the page adds: the self-check's landing, the fragment, the
/// later fonts and the state hook.
pub struct WebApp {
    app: LabApp,
    painting: Painting,
    hook: StateHook,
    renderer: &'static str,
    fallback_reason: Option<String>,
    self_check: Value,
    compute_ready_ms: Option<f64>,
    first_frame_ms: Option<f64>,
    /// Whether the first pass has run.
    laid_out: bool,
    pending: Rc<RefCell<Option<String>>>,
    own_fragment: String,
    ready: Ready,
    /// The compute handed to the app once the self-check is done.
    ui_compute: Option<sgdlab_ui::Compute>,
    fetcher: Fetcher,
    later_fonts_requested: bool,
}

impl WebApp {
    /// After the first frame: fetches the fonts the first frame did without (Hack, then the
    /// symbol font) and adds each when it lands.
    fn request_later_fonts(&mut self, ctx: &egui::Context) {
        if self.later_fonts_requested {
            return;
        }
        self.later_fonts_requested = true;
        let fetcher = self.fetcher.clone();
        let ctx = ctx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            for font in &LATER_FONTS {
                match fetcher.bytes(font.url, |_, _| {}).await {
                    Ok(bytes) => {
                        font.add(&ctx, bytes);
                        ctx.request_repaint();
                    }
                    // Text keeps its first-frame font (the browser draws the symbols); nothing
                    // else depends on these.
                    Err(e) => log::warn!("the font {} did not load: {e}", font.url),
                }
            }
        });
    }
}

impl WebApp {
    /// The paint worker drew a frame; the first one is the state hook's `first_frame_ms`.
    /// Returns whether it was the first.
    pub fn painted(&mut self) -> bool {
        if self.first_frame_ms.is_some() {
            return false;
        }
        mark("first-paint");
        self.first_frame_ms = now_ms();
        true
    }

    /// One pass of the lab: what eframe's `App::ui` does, and what the page runner calls.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let landed = self.ready.borrow_mut().take();
        if let Some((check, at)) = landed {
            self.self_check = serde_json::to_value(&check).unwrap_or_default();
            self.compute_ready_ms = at;
            if let Some(c) = self.ui_compute.take() {
                self.app.set_compute(c);
            }
        }
        let hash = self.pending.borrow_mut().take();
        if let Some(h) = hash {
            // Our own replaceState does not fire hashchange; a different fragment is the user's.
            if h.trim_start_matches('#') != self.own_fragment {
                self.app.apply_fragment(&h);
            }
        }
        let first = !self.laid_out;
        if first {
            mark("first-ui");
        }
        self.app.ui(ui);
        self.own_fragment = self.app.fragment();
        let ctx = ui.ctx().clone();
        if first {
            mark("first-ui-done");
            self.laid_out = true;
            // With a paint worker the first frame is drawn when the worker says so
            // (painted).
            if self.painting == Painting::OnThisThread {
                self.first_frame_ms = now_ms();
            }
        } else {
            self.request_later_fonts(&ctx);
        }
        let repaint = move || ctx.request_repaint();
        self.fetcher.start_wanted(repaint);
        let mut s = self.app.state_json();
        if let Some(o) = s.as_object_mut() {
            o.insert("renderer".into(), json!(self.renderer));
            o.insert("fallback_reason".into(), json!(self.fallback_reason));
            o.insert("self_check".into(), self.self_check.clone());
            o.insert("compute_ready_ms".into(), json!(self.compute_ready_ms));
            o.insert("compute_ready".into(), json!(!self.app.is_starting()));
            o.insert("first_frame_ms".into(), json!(self.first_frame_ms));
        }
        self.hook.publish(s);
    }
}

impl eframe::App for WebApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(&mut *self)
    }
}

/// Downloads for exports; the URL fragment kept in step with the state.
struct WebPlatform;

impl Platform for WebPlatform {
    fn save(&self, name: &str, mime: &str, bytes: Vec<u8>) -> Result<String, String> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let array = js_sys::Uint8Array::from(bytes.as_slice());
        let parts = js_sys::Array::of1(&array);
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
            .map_err(|e| format!("{e:?}"))?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
        let a = document
            .create_element("a")
            .map_err(|e| format!("{e:?}"))?
            .dyn_into::<web_sys::HtmlAnchorElement>()
            .map_err(|_| "not an anchor")?;
        a.set_href(&url);
        a.set_download(name);
        a.click();
        // The click has started the download; the object URL is no longer needed.
        let _ = web_sys::Url::revoke_object_url(&url);
        Ok(format!("{name} (a download)"))
    }

    fn set_fragment(&self, fragment: &str) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            // replaceState keeps one history entry per visit and fires no hashchange.
            let _ = history.replace_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&format!("#{fragment}")),
            );
        }
    }
}

/// The page's fragment, with its `#`.
fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// A promise that resolves after `ms` milliseconds (`setTimeout`).
fn later(ms: i32) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    })
}

/// A `performance.mark` named `sgdlab:{name}`: the stages of the start, which `web/bench.mjs`
/// reports (`marks_ms`) beside the loader's.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(&format!("sgdlab:{name}"));
    }
}

/// `performance.now()`: milliseconds since navigation start.
pub fn now_ms() -> Option<f64> {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
}
