//! The CPU fallback's frame loop when a Worker paints (`Renderer::WebGlWorker`): egui's passes
//! run here, on the page, at the browser's animation frames; each frame's meshes and texture
//! changes go to the paint worker ([`crate::paint_worker`]) as bytes ([`crate::paint_wire`]),
//! and the next pass waits until the worker has painted the last one (one frame in flight: the
//! lab never lays out frames nobody sees; the dynamics take a fixed slice of each pass,
//! `sgdlab_ui::Slice::Fixed`).
//!
//! Why not eframe: its web runner paints on the page's own canvas context, and where the browser
//! composites in software (no GPU) every WebGL frame is then read back on the page's main thread
//! (`web/README.md`, "Speed"). In a Worker the readback is the worker's.

use crate::app::WebApp;
use crate::page_input::{self, SharedInput};
use crate::paint_wire::{PaintFrame, encode};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{HtmlCanvasElement, HtmlInputElement, Worker};

/// Starts the loop: the app laid out on `ctx`, painted by `worker` (which paints
/// `canvas`'s `OffscreenCanvas`), input from the page. Runs until the page closes.
pub fn run(
    ctx: egui::Context,
    app: WebApp,
    canvas: HtmlCanvasElement,
    worker: Worker,
    max_texture_side: usize,
) -> Result<(), String> {
    let scheduler = Rc::new(Scheduler::default());
    SCHEDULER.with(|s| *s.borrow_mut() = Some(scheduler.clone()));
    // egui asks for repaints from any thread it might run on (a Send + Sync callback); here there
    // is one, and the callback finds the scheduler in its thread-local slot.
    ctx.set_request_repaint_callback(|info| {
        if info.delay.is_zero() {
            request_pass();
        } else if let Some(w) = web_sys::window() {
            let later = Closure::once_into_js(request_pass);
            let ms = info.delay.as_millis().min(i32::MAX as u128) as i32;
            let _ =
                w.set_timeout_with_callback_and_timeout_and_arguments_0(later.unchecked_ref(), ms);
        }
    });
    let (input, agent) = page_input::install(&canvas, &ctx, request_pass)?;
    let runner = Rc::new(RefCell::new(Runner {
        ctx,
        app,
        canvas,
        worker: worker.clone(),
        input,
        agent,
        max_texture_side,
        in_flight: false,
        bytes: Vec::new(),
        warned_callbacks: false,
        cursor: egui::CursorIcon::Default,
    }));
    // The worker's answer to each frame: painted (the next pass may run), or why not.
    {
        let runner = runner.clone();
        let scheduler_after_paint = scheduler.clone();
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let data = e.data();
                let error = js_sys::Reflect::get(&data, &"error".into())
                    .ok()
                    .and_then(|v| v.as_string());
                if let Some(error) = error {
                    // The page's error handler shows it (web/static/loader.js).
                    wasm_bindgen::throw_str(&format!("the paint worker failed: {error}"));
                }
                runner.borrow_mut().painted();
                // The pass asked for meanwhile (a running lab asks every frame); an idle lab
                // lays out nothing more.
                scheduler_after_paint.frame_if_wanted();
            });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
    }
    {
        let runner = runner.clone();
        let s = scheduler.clone();
        let on_frame = Closure::<dyn FnMut()>::new(move || {
            s.pending.set(false);
            let Ok(mut r) = runner.try_borrow_mut() else {
                // A pass is running (an event handler re-entered): the next frame does it.
                s.frame_if_wanted();
                return;
            };
            if r.in_flight || !s.wanted.replace(false) {
                // In flight: the worker's answer asks for the frame (`wanted` stays set).
                return;
            }
            r.pass();
        });
        *scheduler.on_frame.borrow_mut() = Some(on_frame);
    }
    scheduler.request();
    Ok(())
}

thread_local! {
    /// The page's one scheduler (set by [`run`]).
    static SCHEDULER: RefCell<Option<Rc<Scheduler>>> = const { RefCell::new(None) };
}

/// A pass at the next animation frame.
fn request_pass() {
    let s = SCHEDULER.with(|s| s.borrow().clone());
    if let Some(s) = s {
        s.request();
    }
}

/// Asks the browser for one animation frame at a time, and remembers whether a pass is wanted.
#[derive(Default)]
struct Scheduler {
    /// An animation frame is requested.
    pending: Cell<bool>,
    /// A pass is wanted (egui asked for a repaint, or an event came).
    wanted: Cell<bool>,
    on_frame: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Scheduler {
    /// A pass at the next animation frame (once, however often asked).
    fn request(&self) {
        self.wanted.set(true);
        self.frame();
    }

    /// An animation frame if a pass is wanted.
    fn frame_if_wanted(&self) {
        if self.wanted.get() {
            self.frame();
        }
    }

    /// An animation frame (once, however often asked).
    fn frame(&self) {
        if self.pending.replace(true) {
            return;
        }
        let window = web_sys::window();
        let f = self.on_frame.borrow();
        match (window, f.as_ref()) {
            (Some(w), Some(f)) => {
                let _ = w.request_animation_frame(f.as_ref().unchecked_ref());
            }
            // Not started yet: `run` asks once everything is in place.
            _ => self.pending.set(false),
        }
    }
}

struct Runner {
    ctx: egui::Context,
    app: WebApp,
    canvas: HtmlCanvasElement,
    worker: Worker,
    input: SharedInput,
    agent: HtmlInputElement,
    max_texture_side: usize,
    /// A frame sent and not yet painted.
    in_flight: bool,
    /// The last frame's bytes (the buffer is reused).
    bytes: Vec<u8>,
    warned_callbacks: bool,
    /// The cursor the canvas shows.
    cursor: egui::CursorIcon,
}

impl Runner {
    /// The worker painted the frame in flight.
    fn painted(&mut self) {
        self.in_flight = false;
        if self.app.painted() {
            // The hook's record says so at the next pass.
            self.ctx.request_repaint();
        }
    }

    /// One egui pass, its platform output handled and its frame sent to the worker.
    fn pass(&mut self) {
        let window = web_sys::window();
        let ppp = window.as_ref().map_or(1.0, |w| w.device_pixel_ratio()) as f32;
        let rect = self.canvas.get_bounding_client_rect();
        let size_points = egui::vec2(rect.width() as f32, rect.height() as f32);
        let size_px = [
            ((size_points.x * ppp).round() as u32).max(1),
            ((size_points.y * ppp).round() as u32).max(1),
        ];
        let mut raw = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size_points)),
            max_texture_side: Some(self.max_texture_side),
            time: window
                .and_then(|w| w.performance())
                .map(|p| p.now() / 1000.0),
            ..Default::default()
        };
        {
            let mut input = self.input.borrow_mut();
            raw.events = std::mem::take(&mut input.events);
            raw.focused = input.focused;
        }
        if let Some(v) = raw.viewports.get_mut(&egui::ViewportId::ROOT) {
            v.native_pixels_per_point = Some(ppp);
            v.focused = Some(raw.focused);
        }
        let app = &mut self.app;
        let out = self.ctx.run_ui(raw, |ui| app.frame(ui));
        self.platform_output(out.platform_output);
        let clear_color = eframe::App::clear_color(&self.app, &self.ctx.global_style().visuals);
        let primitives = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        let (frame, callbacks) = PaintFrame::new(
            size_px,
            out.pixels_per_point,
            clear_color,
            out.textures_delta,
            primitives,
        );
        if callbacks > 0 && !self.warned_callbacks {
            self.warned_callbacks = true;
            log::warn!("{callbacks} paint callbacks left out: the paint worker draws meshes only");
        }
        encode(&frame, &mut self.bytes);
        let message = js_sys::Uint8Array::new_with_length(self.bytes.len() as u32);
        message.copy_from(&self.bytes);
        let buffer = message.buffer();
        match self
            .worker
            .post_message_with_transfer(&buffer, &js_sys::Array::of1(&buffer))
        {
            Ok(()) => self.in_flight = true,
            Err(e) => log::error!("a frame could not be sent to the paint worker: {e:?}"),
        }
    }

    /// The cursor, the clipboard, links, and the text agent's focus.
    fn platform_output(&mut self, out: egui::PlatformOutput) {
        if out.cursor_icon != self.cursor {
            self.cursor = out.cursor_icon;
            let _ = self
                .canvas
                .style()
                .set_property("cursor", cursor(out.cursor_icon));
        }
        for command in out.commands {
            match command {
                egui::OutputCommand::CopyText(text) => {
                    if let Some(w) = web_sys::window() {
                        // A promise nobody waits on: a refused write loses the copy, nothing else.
                        let _ = w.navigator().clipboard().write_text(&text);
                    }
                }
                egui::OutputCommand::OpenUrl(open) => {
                    if let Some(w) = web_sys::window() {
                        let target = if open.new_tab { "_blank" } else { "_self" };
                        let _ = w.open_with_url_and_target(&open.url, target);
                    }
                }
                egui::OutputCommand::CopyImage(_) => {
                    log::warn!("copying an image is not supported in the browser");
                }
                // A primary selection is an X11 and Wayland thing.
                egui::OutputCommand::TextSelectionSettled(_) => {}
            }
        }
        // While egui edits text the text agent has the focus (touch keyboards, input methods),
        // placed at the text cursor; otherwise the canvas has it.
        let document = self.canvas.owner_document();
        let agent_focused = document
            .as_ref()
            .and_then(|d| d.active_element())
            .is_some_and(|a| a.dyn_ref::<HtmlInputElement>() == Some(&self.agent));
        match out.ime {
            Some(ime) => {
                let r = self.canvas.get_bounding_client_rect();
                let style = self.agent.style();
                let _ = style.set_property(
                    "left",
                    &format!("{}px", r.left() + f64::from(ime.cursor_rect.min.x)),
                );
                let _ = style.set_property(
                    "top",
                    &format!("{}px", r.top() + f64::from(ime.cursor_rect.max.y)),
                );
                if !agent_focused {
                    let _ = self.agent.focus();
                }
            }
            None => {
                if agent_focused {
                    let _ = self.canvas.focus();
                }
            }
        }
    }
}

/// The CSS cursor for egui's.
fn cursor(icon: egui::CursorIcon) -> &'static str {
    use egui::CursorIcon as C;
    match icon {
        C::Default => "default",
        C::None => "none",
        C::ContextMenu => "context-menu",
        C::Help => "help",
        C::PointingHand => "pointer",
        C::Progress => "progress",
        C::Wait => "wait",
        C::Cell => "cell",
        C::Crosshair => "crosshair",
        C::Text => "text",
        C::VerticalText => "vertical-text",
        C::Alias => "alias",
        C::Copy => "copy",
        C::Move => "move",
        C::NoDrop => "no-drop",
        C::NotAllowed => "not-allowed",
        C::Grab => "grab",
        C::Grabbing => "grabbing",
        C::AllScroll => "all-scroll",
        C::ResizeHorizontal => "ew-resize",
        C::ResizeNeSw => "nesw-resize",
        C::ResizeNwSe => "nwse-resize",
        C::ResizeVertical => "ns-resize",
        C::ResizeEast => "e-resize",
        C::ResizeSouthEast => "se-resize",
        C::ResizeSouth => "s-resize",
        C::ResizeSouthWest => "sw-resize",
        C::ResizeWest => "w-resize",
        C::ResizeNorthWest => "nw-resize",
        C::ResizeNorth => "n-resize",
        C::ResizeNorthEast => "ne-resize",
        C::ResizeColumn => "col-resize",
        C::ResizeRow => "row-resize",
        C::ZoomIn => "zoom-in",
        C::ZoomOut => "zoom-out",
    }
}
