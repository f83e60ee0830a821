//! The page's input for egui when the lab paints in a Worker ([`crate::page_runner`]; eframe,
//! which does this on the WebGPU path, needs the canvas's own context): pointer, wheel, keys,
//! text, clipboard and focus events, turned into [`egui::Event`]s queued for the next pass.
//!
//! Text goes through a hidden `<input>` (the text agent) that has the focus while an egui text
//! field does, so that touch devices open their keyboard and input methods compose; its `input`
//! events become [`egui::Event::Text`], and its keys are the page's keys.

use egui::{Event, Key, Modifiers, PointerButton, Pos2, TouchPhase, Vec2};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{HtmlCanvasElement, HtmlInputElement};

/// Events waiting for the next pass, and what the listeners need to know of egui.
pub struct PageInput {
    /// Queued events, oldest first.
    pub events: Vec<Event>,
    /// Whether the page has the focus.
    pub focused: bool,
}

/// Shared between the listeners and the runner.
pub type SharedInput = Rc<RefCell<PageInput>>;

/// The listeners' handle on the page: the canvas, the text agent and what to call after an event
/// (the runner's repaint).
pub struct Listeners {
    canvas: HtmlCanvasElement,
    agent: HtmlInputElement,
    input: SharedInput,
    ctx: egui::Context,
    wake: fn(),
}

/// Installs the listeners for the lifetime of the page and returns the queue they fill and the
/// text agent (the runner focuses it while egui edits text).
pub fn install(
    canvas: &HtmlCanvasElement,
    ctx: &egui::Context,
    wake: fn(),
) -> Result<(SharedInput, HtmlInputElement), String> {
    let document = canvas
        .owner_document()
        .ok_or("the canvas has no document")?;
    let agent = document
        .create_element("input")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into::<HtmlInputElement>()
        .map_err(|_| "not an input element")?;
    agent.set_type("text");
    agent.set_id("sgdlab-text-agent");
    agent.set_attribute("autocapitalize", "off").ok();
    agent.set_attribute("autocomplete", "off").ok();
    agent.set_attribute("aria-hidden", "true").ok();
    // On the page but invisible and out of the way; the runner moves it to the text cursor.
    let style = agent.style();
    for (k, v) in [
        ("position", "absolute"),
        ("opacity", "0"),
        ("width", "1px"),
        ("height", "1px"),
        ("border", "0"),
        ("padding", "0"),
        ("left", "0"),
        ("top", "0"),
        ("pointer-events", "none"),
    ] {
        style.set_property(k, v).ok();
    }
    document
        .body()
        .ok_or("the page has no body")?
        .append_child(&agent)
        .map_err(|e| format!("{e:?}"))?;
    // Focusable, so that key events go to the page while the canvas has the focus.
    canvas.set_tab_index(0);
    let input: SharedInput = Rc::new(RefCell::new(PageInput {
        events: Vec::new(),
        focused: document.has_focus().unwrap_or(true),
    }));
    let l = Rc::new(Listeners {
        canvas: canvas.clone(),
        agent: agent.clone(),
        input: input.clone(),
        ctx: ctx.clone(),
        wake,
    });
    l.pointer()?;
    l.wheel()?;
    l.keys(&document)?;
    l.clipboard(&document)?;
    l.text()?;
    l.focus()?;
    Ok((input, agent))
}

/// Adds `f` as a listener for `event` on `target`, for the lifetime of the page.
fn listen<E: wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &web_sys::EventTarget,
    event: &str,
    passive: bool,
    f: impl FnMut(E) + 'static,
) -> Result<(), String> {
    let closure = Closure::<dyn FnMut(E)>::new(f);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_passive(passive);
    target
        .add_event_listener_with_callback_and_add_event_listener_options(
            event,
            closure.as_ref().unchecked_ref(),
            &options,
        )
        .map_err(|e| format!("listening to {event}: {e:?}"))?;
    // The page keeps its listeners until it closes.
    closure.forget();
    Ok(())
}

impl Listeners {
    fn push(&self, e: Event) {
        self.input.borrow_mut().events.push(e);
        (self.wake)();
    }

    /// A point in egui's points: CSS pixels from the canvas's top left (egui's zoom is 1, so a
    /// point is a CSS pixel and pixels per point is the device pixel ratio).
    fn pos(&self, client_x: i32, client_y: i32) -> Pos2 {
        let r = self.canvas.get_bounding_client_rect();
        Pos2::new(
            client_x as f32 - r.left() as f32,
            client_y as f32 - r.top() as f32,
        )
    }

    /// A touch pointer's event as an egui touch too (egui's pinch zoom and rotation read them;
    /// the primary touch also drives egui's pointer).
    fn touch(&self, e: &web_sys::PointerEvent, phase: TouchPhase) {
        if e.pointer_type() != "touch" {
            return;
        }
        let pressure = e.pressure();
        self.push(Event::Touch {
            device_id: egui::TouchDeviceId(0),
            id: egui::TouchId::from(e.pointer_id()),
            phase,
            pos: self.pos(e.client_x(), e.client_y()),
            force: (pressure > 0.0).then_some(pressure),
        });
    }

    fn pointer(self: &Rc<Self>) -> Result<(), String> {
        let target: &web_sys::EventTarget = &self.canvas;
        let l = self.clone();
        listen(
            target,
            "pointermove",
            true,
            move |e: web_sys::PointerEvent| {
                l.touch(&e, TouchPhase::Move);
                if e.is_primary() {
                    let p = l.pos(e.client_x(), e.client_y());
                    l.push(Event::PointerMoved(p));
                }
            },
        )?;
        let l = self.clone();
        listen(
            target,
            "pointerdown",
            false,
            move |e: web_sys::PointerEvent| {
                // Drags keep coming when they leave the canvas; the canvas takes the focus (not the
                // text agent, until egui asks for it); no text selection or page scroll starts.
                l.canvas.set_pointer_capture(e.pointer_id()).ok();
                e.prevent_default();
                l.canvas.focus().ok();
                l.touch(&e, TouchPhase::Start);
                // A second finger is a touch (pinch, rotate), not a second pointer.
                let Some(button) = button(e.button()).filter(|_| e.is_primary()) else {
                    return;
                };
                let pos = l.pos(e.client_x(), e.client_y());
                l.push(Event::PointerMoved(pos));
                l.push(Event::PointerButton {
                    pos,
                    button,
                    pressed: true,
                    modifiers: modifiers_of_mouse(&e),
                });
            },
        )?;
        let l = self.clone();
        listen(
            target,
            "pointerup",
            true,
            move |e: web_sys::PointerEvent| {
                l.canvas.release_pointer_capture(e.pointer_id()).ok();
                l.touch(&e, TouchPhase::End);
                let Some(button) = button(e.button()).filter(|_| e.is_primary()) else {
                    return;
                };
                let pos = l.pos(e.client_x(), e.client_y());
                l.push(Event::PointerButton {
                    pos,
                    button,
                    pressed: false,
                    modifiers: modifiers_of_mouse(&e),
                });
                // A touch ends with its pointer gone (no hover is left behind).
                if e.pointer_type() == "touch" {
                    l.push(Event::PointerGone);
                }
            },
        )?;
        for gone in ["pointerleave", "pointercancel"] {
            let l = self.clone();
            listen(target, gone, true, move |e: web_sys::PointerEvent| {
                if e.type_() == "pointercancel" {
                    l.touch(&e, TouchPhase::Cancel);
                }
                if e.is_primary() {
                    l.push(Event::PointerGone);
                }
            })?;
        }
        listen(target, "contextmenu", false, |e: web_sys::Event| {
            e.prevent_default();
        })
    }

    fn wheel(self: &Rc<Self>) -> Result<(), String> {
        let l = self.clone();
        // Not passive: a wheel over the lab scrolls or zooms the lab, not the page.
        listen(
            &self.canvas,
            "wheel",
            false,
            move |e: web_sys::WheelEvent| {
                e.prevent_default();
                let unit = match e.delta_mode() {
                    web_sys::WheelEvent::DOM_DELTA_LINE => egui::MouseWheelUnit::Line,
                    web_sys::WheelEvent::DOM_DELTA_PAGE => egui::MouseWheelUnit::Page,
                    _ => egui::MouseWheelUnit::Point,
                };
                // The browser's delta is how far the page would scroll; egui's, how far content
                // moves.
                let delta = -Vec2::new(e.delta_x() as f32, e.delta_y() as f32);
                l.push(Event::MouseWheel {
                    unit,
                    delta,
                    phase: TouchPhase::Move,
                    source: egui::MouseWheelSource::Unknown,
                    modifiers: modifiers_of_mouse(&e),
                });
            },
        )
    }

    fn keys(self: &Rc<Self>, document: &web_sys::Document) -> Result<(), String> {
        for (event, pressed) in [("keydown", true), ("keyup", false)] {
            let l = self.clone();
            listen(document, event, false, move |e: web_sys::KeyboardEvent| {
                if e.is_composing() {
                    return;
                }
                let modifiers = modifiers_of_key(&e);
                l.push(Event::ModifiersChanged(modifiers));
                let key = Key::from_name(&e.key());
                if let Some(key) = key {
                    l.push(Event::Key {
                        key,
                        physical_key: Key::from_name(&e.code()),
                        pressed,
                        repeat: e.repeat(),
                        modifiers,
                    });
                }
                let text = e.key();
                let in_agent = e
                    .target()
                    .is_some_and(|t| t.dyn_ref::<HtmlInputElement>() == Some(&l.agent));
                let printable = text.chars().count() == 1
                    && !modifiers.ctrl
                    && !modifiers.command
                    && !modifiers.mac_cmd;
                // Printable keys are text; in the text agent they arrive as its `input` events.
                if pressed && printable && !in_agent {
                    l.push(Event::Text(text));
                }
                // Keys egui uses stay in the lab (Tab, arrows, Backspace, Ctrl+A in a text
                // field...). Printable keys go on (the agent's `input` event is their text), and
                // the clipboard shortcuts must reach the browser, which then fires copy, cut or
                // paste.
                let clipboard = (modifiers.ctrl || modifiers.mac_cmd)
                    && matches!(key, Some(Key::C | Key::X | Key::V));
                if pressed
                    && !printable
                    && !clipboard
                    && key.is_some()
                    && l.ctx.egui_wants_keyboard_input()
                {
                    e.prevent_default();
                }
            })?;
        }
        Ok(())
    }

    fn clipboard(self: &Rc<Self>, document: &web_sys::Document) -> Result<(), String> {
        let l = self.clone();
        listen(
            document,
            "paste",
            false,
            move |e: web_sys::ClipboardEvent| {
                if let Some(text) = e.clipboard_data().and_then(|d| d.get_data("text").ok()) {
                    e.prevent_default();
                    l.push(Event::Paste(text.replace("\r\n", "\n")));
                }
            },
        )?;
        for (event, egui_event) in [("copy", Event::Copy), ("cut", Event::Cut)] {
            let l = self.clone();
            listen(document, event, true, move |_: web_sys::ClipboardEvent| {
                l.push(egui_event.clone());
            })?;
        }
        Ok(())
    }

    fn text(self: &Rc<Self>) -> Result<(), String> {
        let target: &web_sys::EventTarget = &self.agent;
        let l = self.clone();
        listen(target, "input", true, move |e: web_sys::InputEvent| {
            if e.is_composing() {
                return;
            }
            let text = l.agent.value();
            l.agent.set_value("");
            if !text.is_empty() {
                l.push(Event::Text(text));
            }
        })?;
        let l = self.clone();
        listen(
            target,
            "compositionstart",
            true,
            move |_: web_sys::CompositionEvent| l.agent.set_value(""),
        )?;
        let l = self.clone();
        listen(
            target,
            "compositionupdate",
            true,
            move |e: web_sys::CompositionEvent| {
                let text = e.data().unwrap_or_default();
                l.push(Event::Ime(egui::ImeEvent::Preedit {
                    text,
                    active_range_chars: None,
                }));
            },
        )?;
        let l = self.clone();
        listen(
            target,
            "compositionend",
            true,
            move |e: web_sys::CompositionEvent| {
                l.agent.set_value("");
                let text = e.data().unwrap_or_default();
                l.push(Event::Ime(egui::ImeEvent::Commit(text)));
            },
        )
    }

    fn focus(self: &Rc<Self>) -> Result<(), String> {
        let window = web_sys::window().ok_or("no window")?;
        for (event, focused) in [("focus", true), ("blur", false)] {
            let l = self.clone();
            listen(&window, event, true, move |_: web_sys::FocusEvent| {
                l.input.borrow_mut().focused = focused;
                l.push(Event::WindowFocused(focused));
            })?;
        }
        // A resize lays the lab out again.
        let l = self.clone();
        listen(&window, "resize", true, move |_: web_sys::UiEvent| {
            (l.wake)()
        })
    }
}

/// egui's button for a DOM `button` number.
fn button(b: i16) -> Option<PointerButton> {
    match b {
        0 => Some(PointerButton::Primary),
        1 => Some(PointerButton::Middle),
        2 => Some(PointerButton::Secondary),
        3 => Some(PointerButton::Extra1),
        4 => Some(PointerButton::Extra2),
        _ => None,
    }
}

fn modifiers(alt: bool, ctrl: bool, shift: bool, meta: bool) -> Modifiers {
    let mac = is_mac();
    Modifiers {
        alt,
        ctrl,
        shift,
        mac_cmd: mac && meta,
        command: if mac { meta } else { ctrl },
    }
}

fn modifiers_of_mouse(e: &web_sys::MouseEvent) -> Modifiers {
    modifiers(e.alt_key(), e.ctrl_key(), e.shift_key(), e.meta_key())
}

fn modifiers_of_key(e: &web_sys::KeyboardEvent) -> Modifiers {
    modifiers(e.alt_key(), e.ctrl_key(), e.shift_key(), e.meta_key())
}

/// Whether the browser runs on a Mac (⌘ is the command key there).
fn is_mac() -> bool {
    web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .is_some_and(|ua| ua.contains("Mac"))
}
