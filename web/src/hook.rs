//! `window.sgdlab`: the page's read-only test hook.
//!
//! `window.sgdlab.state()` returns a fresh JavaScript object built from the latest record the app
//! published (see [`crate::state::LabState`]); changing that object changes nothing in the app.

use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

/// The slot the app writes its record into each frame and the hook reads from.
#[derive(Clone, Default)]
pub struct StateHook(Rc<RefCell<Value>>);

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

    /// Installs `window.sgdlab = { state() }`, reading this slot.
    pub fn install(&self) -> Result<(), JsValue> {
        let window = web_sys::window().ok_or("no window: sgdlab runs on a page's main thread")?;
        let hook = js_sys::Object::new();
        let slot = self.clone();
        let state = Closure::<dyn Fn() -> JsValue>::new(move || slot.to_js());
        js_sys::Reflect::set(&hook, &"state".into(), state.as_ref())?;
        // The hook lives as long as the page, so the closure is never freed.
        state.forget();
        js_sys::Object::freeze(&hook);
        js_sys::Reflect::set(&window, &"sgdlab".into(), &hook)?;
        Ok(())
    }
}
