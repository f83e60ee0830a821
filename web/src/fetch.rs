//! Files the lab fetches after it started: the symbol font once the first frame is drawn and the
//! data a view asks for ([`sgdlab_ui::assets`]), through the loader's `fetchBytes(url, progress)`
//! (the same streamed download with progress as the .wasm's).

use js_sys::{Function, Promise, Uint8Array};
use sgdlab_ui::assets::{self, AssetState};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The loader's fetch function.
#[derive(Clone)]
pub struct Fetcher(Function);

impl Fetcher {
    /// Wraps `fetchBytes(url, onProgress(loaded, total)) -> Promise<Uint8Array>`.
    pub fn new(fetch_bytes: Function) -> Self {
        Self(fetch_bytes)
    }

    /// The bytes at `url` (relative to the page), reporting progress to `progress`.
    pub async fn bytes(
        &self,
        url: &str,
        progress: impl FnMut(f64, f64) + 'static,
    ) -> Result<Vec<u8>, String> {
        let on_progress = Closure::<dyn FnMut(f64, f64)>::new(progress);
        let promise = self
            .0
            .call2(&JsValue::NULL, &url.into(), on_progress.as_ref())
            .map_err(describe)?
            .dyn_into::<Promise>()
            .map_err(|_| "fetchBytes did not return a promise".to_string())?;
        let value = JsFuture::from(promise).await.map_err(describe)?;
        drop(on_progress);
        Ok(value
            .dyn_into::<Uint8Array>()
            .map_err(|_| format!("{url}: fetchBytes did not give bytes"))?
            .to_vec())
    }

    /// Starts fetching every asset a view asked for (see [`sgdlab_ui::assets`]); `repaint` is
    /// called whenever one progresses or lands.
    pub fn start_wanted(&self, repaint: impl Fn() + Clone + 'static) {
        for name in assets::wanted() {
            if name == assets::MNIST10K {
                assets::set(
                    name,
                    AssetState::Fetching {
                        loaded: 0,
                        total: None,
                    },
                );
                let fetcher = self.clone();
                let repaint = repaint.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let state = match fetcher.mnist10k(repaint.clone()).await {
                        Ok(()) => AssetState::Ready,
                        Err(e) => {
                            log::error!("fetching the MNIST subset failed: {e}");
                            AssetState::Failed(e)
                        }
                    };
                    assets::set(name, state);
                    repaint();
                });
            }
        }
    }

    /// Downloads the MNIST subset's two files and hands them to the engine.
    async fn mnist10k(&self, repaint: impl Fn() + Clone + 'static) -> Result<(), String> {
        let progress = move |loaded: f64, total: f64| {
            assets::set(
                assets::MNIST10K,
                AssetState::Fetching {
                    loaded: loaded as u64,
                    total: (total > 0.0).then_some(total as u64),
                },
            );
            repaint();
        };
        let images = self
            .bytes("data/mnist10k-images-idx3-ubyte.gz", progress)
            .await?;
        let labels = self
            .bytes("data/mnist10k-labels-idx1-ubyte.gz", |_, _| {})
            .await?;
        sgdlab_engine::data::provide_mnist10k(images, labels);
        Ok(())
    }
}

/// A JavaScript error as text.
fn describe(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
