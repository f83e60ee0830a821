//! The compute device of the page: burn on WebGPU when the browser has it, burn's CPU backend
//! (flex, inside the wasm module) otherwise, and the renderer eframe uses with each.

use crate::state::SelfCheck;
use burn::tensor::{Device, Tensor};
use sgdlab_engine::device::{ComputeDevice, cpu_device, wgpu_device_async, wgpu_setup};

/// What eframe draws with.
pub enum Renderer {
    /// burn's WebGPU device, shared: the lab's buffers and egui's frames live on one device.
    SharedWebGpu(burn::tensor::wgpu::WgpuSetup),
    /// A WebGL context of eframe's own (the CPU fallback).
    WebGl,
}

/// The page's compute device, how eframe renders, and why it fell back (if it did). Creating it
/// is quick (an adapter and a device); its self-check, which compiles kernels, runs after the
/// lab's first frame ([`self_check`]).
pub struct Compute {
    /// The burn device and its description.
    pub device: ComputeDevice,
    /// What eframe draws with.
    pub renderer: Renderer,
    /// Why the page runs on the CPU; `None` on WebGPU.
    pub fallback_reason: Option<String>,
}

impl Compute {
    /// burn on WebGPU, or on the CPU when WebGPU is missing or gives no adapter.
    pub async fn init() -> Self {
        let (device, renderer, fallback_reason) = match webgpu().await {
            Ok((device, setup)) => (device, Renderer::SharedWebGpu(setup), None),
            Err(reason) => {
                log::warn!("running on the CPU: {reason}");
                (cpu_device(), Renderer::WebGl, Some(reason))
            }
        };
        Self {
            device,
            renderer,
            fallback_reason,
        }
    }

    /// `webgpu` or `webgl`, for the state hook.
    pub fn renderer_name(&self) -> &'static str {
        match self.renderer {
            Renderer::SharedWebGpu(_) => "webgpu",
            Renderer::WebGl => "webgl",
        }
    }

    /// eframe's options: render on burn's device, or with glow on WebGL for the CPU fallback
    /// (egui's own WebGL painter: no wgpu GL backend, hence no naga or wgpu-core in the .wasm,
    /// and fewer GL calls a frame).
    pub fn web_options(&self) -> eframe::WebOptions {
        let mut options = eframe::WebOptions::default();
        match &self.renderer {
            Renderer::SharedWebGpu(setup) => {
                options.renderer = eframe::Renderer::Wgpu;
                options.wgpu_options.wgpu_setup =
                    egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
                        instance: setup.instance.clone(),
                        adapter: setup.adapter.clone(),
                        device: setup.device.clone(),
                        queue: setup.queue.clone(),
                    });
            }
            // Deterministic: the fallback renders on WebGL even where WebGPU exists but burn
            // could not use it, so the notice's statement is true.
            Renderer::WebGl => options.renderer = eframe::Renderer::Glow,
        }
        options
    }
}

/// burn on the browser's WebGPU, or why not.
async fn webgpu() -> Result<(ComputeDevice, burn::tensor::wgpu::WgpuSetup), String> {
    if !navigator_has_gpu() {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    }
    let mut device = wgpu_device_async()
        .await
        .map_err(|e| format!("WebGPU is present but unusable: {e:#}"))?;
    let setup = wgpu_setup().map_err(|e| format!("WebGPU started without its handles: {e:#}"))?;
    // The engine names the adapter "<name> (<device type>)"; in a browser the name is empty.
    if device.info.adapter.starts_with(" (") {
        let label = browser_adapter_label()
            .await
            .unwrap_or_else(|| "unnamed WebGPU adapter".into());
        device.info.adapter = format!("{label}{}", device.info.adapter);
    }
    Ok((device, setup))
}

/// What the browser says about its WebGPU adapter (vendor, architecture: "google swiftshader").
///
/// wgpu 30 names a browser adapter by `GPUAdapterInfo.description` alone, which browsers leave
/// empty; this asks for an adapter the way burn does (high performance) and reads the rest.
async fn browser_adapter_label() -> Option<String> {
    use js_sys::{Function, Object, Promise, Reflect};
    use wasm_bindgen::JsCast;
    let gpu = Reflect::get(&web_sys::window()?.navigator(), &"gpu".into()).ok()?;
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    let options = Object::new();
    Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    )
    .ok()?;
    let promise = request
        .call1(&gpu, &options)
        .ok()?
        .dyn_into::<Promise>()
        .ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|key| Reflect::get(&info, &(*key).into()).ok()?.as_string())
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether `navigator.gpu` exists (checked before wgpu, whose WebGPU instance needs it).
fn navigator_has_gpu() -> bool {
    web_sys::window().is_some_and(|w| {
        js_sys::Reflect::get(&w.navigator(), &"gpu".into())
            .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
    })
}

/// The hand-worked results of [`SelfCheck`], computed on `device` (the gradient with autodiff)
/// and read back asynchronously (a browser cannot block on a GPU readback).
pub async fn self_check(device: &Device) -> SelfCheck {
    let large_ok = match large_results(device).await {
        Ok(ok) => ok,
        Err(e) => return SelfCheck::failed(e),
    };
    let x = Tensor::<2>::from_floats(SelfCheck::INPUT, &device.clone().autodiff()).require_grad();
    let f = x.clone().matmul(x.clone()).sum();
    let grads = f.backward();
    let Some(grad) = x.grad(&grads) else {
        return SelfCheck::failed("autodiff returned no gradient for X".into());
    };
    let value = match f.into_data_async().await.map(|d| d.try_to_vec::<f32>()) {
        Ok(Ok(v)) if v.len() == 1 => v[0],
        Ok(Ok(v)) => return SelfCheck::failed(format!("f has {} elements, expected 1", v.len())),
        Ok(Err(e)) => return SelfCheck::failed(format!("f is not f32: {e:?}")),
        Err(e) => return SelfCheck::failed(format!("reading f back failed: {e:?}")),
    };
    match grad.into_data_async().await.map(|d| d.try_to_vec::<f32>()) {
        Ok(Ok(g)) => SelfCheck::from_result(value, g, large_ok),
        Ok(Err(e)) => SelfCheck::failed(format!("the gradient is not f32: {e:?}")),
        Err(e) => SelfCheck::failed(format!("reading the gradient back failed: {e:?}")),
    }
}

/// The large computations of [`SelfCheck`]: whether their results are exact.
async fn large_results(device: &Device) -> Result<bool, String> {
    let n = SelfCheck::LARGE_MATMUL;
    let ones = Tensor::<2>::ones([n, n], device);
    let product = ones.clone().matmul(ones);
    let elementwise = Tensor::<2>::ones(SelfCheck::LARGE_ELEMENTWISE, device)
        .mul_scalar(3.0)
        .sum();
    let read = |what: &'static str| {
        move |r: Result<burn::tensor::TensorData, _>| -> Result<Vec<f32>, String> {
            r.map_err(|e| format!("reading the {what} back failed: {e:?}"))?
                .try_to_vec::<f32>()
                .map_err(|e| format!("the {what} is not f32: {e:?}"))
        }
    };
    let product = read("large matmul")(product.into_data_async().await)?;
    let sum = read("large sum")(elementwise.into_data_async().await)?;
    Ok(SelfCheck::large_results_ok(
        &product,
        sum.first().copied().unwrap_or(f32::NAN),
    ))
}
