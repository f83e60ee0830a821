//! `window.sgdlab`: the page's read-only test hook.
//!
//! `window.sgdlab.state()` returns a fresh JavaScript object built from the latest record the app
//! published (see [`crate::state::LabState`]); changing that object changes nothing in the app.
//! With `?hold-compute` in the page's address, `window.sgdlab.releaseCompute()` lets the compute
//! device's self-check start ([`ComputeHold`]).

use js_sys::{Function, Promise};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

/// The slot the app writes its record into each frame and the hook reads from.
#[derive(Clone, Default)]
pub struct StateHook(Rc<RefCell<Value>>);

/// A promise the self-check waits for, and the function that resolves it
/// (`window.sgdlab.releaseCompute`).
pub struct ComputeHold {
    /// Resolved by `release`.
    pub promise: Promise,
    release: Function,
}

impl ComputeHold {
    /// A hold when the page's address asks for one (`?hold-compute`), else `None`.
    pub fn from_page_address() -> Option<Self> {
        let search = web_sys::window()?.location().search().ok()?;
        if !search
            .trim_start_matches('?')
            .split('&')
            .any(|p| p == "hold-compute")
        {
            return None;
        }
        let mut release = None;
        let promise = Promise::new(&mut |resolve, _reject| release = Some(resolve));
        // The executor runs synchronously inside `new Promise`.
        Some(Self {
            promise,
            release: release?,
        })
    }
}

impl StateHook {
    /// Replaces the published record.
    pub fn publish(&self, state: Value) {
        *self.0.borrow_mut() = state;
    }

    /// The published record as a JavaScript object.
    fn to_js(&self) -> JsValue {
        let text = self.0.borrow().to_string();
        // serde_json writes valid JSON, which JSON.parse accepts.
        js_sys::JSON::parse(&text).unwrap_or_else(|e| e)
    }

    /// Installs `window.sgdlab = { state() }` (and `releaseCompute()` with a hold), reading
    /// this slot.
    pub fn install(&self, hold: Option<&ComputeHold>) -> Result<(), JsValue> {
        let window = web_sys::window().ok_or("no window: sgdlab runs on a page's main thread")?;
        let hook = js_sys::Object::new();
        let slot = self.clone();
        let state = Closure::<dyn Fn() -> JsValue>::new(move || slot.to_js());
        js_sys::Reflect::set(&hook, &"state".into(), state.as_ref())?;
        // The hook lives as long as the page, so the closure is never freed.
        state.forget();
        if let Some(h) = hold {
            js_sys::Reflect::set(&hook, &"releaseCompute".into(), &h.release)?;
        }
        js_sys::Object::freeze(&hook);
        js_sys::Reflect::set(&window, &"sgdlab".into(), &hook)?;
        Ok(())
    }
}
