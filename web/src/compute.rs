//! The page's compute: burn on its CPU backend (flex, inside the wasm module) on both paths, the
//! lab's WGSL kernels (particles, landscapes) on the browser's WebGPU device when it has one, and
//! the renderer eframe uses with each.
//!
//! In a browser burn computes on the CPU whatever the page has: its models read results back
//! synchronously (`sgdlab_ui::Compute::for_tensor_experiments`). The browser build therefore has
//! no burn wgpu backend (cubecl: more than half of the module's code); the WebGPU device is
//! plain wgpu, created here, and shared by the kernels and eframe.

use crate::state::{KernelCheck, SelfCheck};
use burn::tensor::{Device, Tensor};
use sgdlab_engine::device::DeviceInfo;
use sgdlab_engine::gpu::{GpuContext, GpuParticles};
use sgdlab_engine::landscape::{
    Clip, Landscape, Noise, NoiseKind, ParticleState, StepRule, step_particles_cpu,
};

/// The browser's WebGPU handles: the kernels' device and eframe's.
#[derive(Clone)]
pub struct WebGpu {
    /// The WebGPU instance.
    pub instance: wgpu::Instance,
    /// The adapter the device came from.
    pub adapter: wgpu::Adapter,
    /// The device the kernels and eframe share.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
}

/// What eframe draws with.
pub enum Renderer {
    /// The page's WebGPU device, shared: the kernels' buffers and egui's frames on one device.
    SharedWebGpu(WebGpu),
    /// WebGL2 on the canvas's `OffscreenCanvas`, painted in a Worker by [`crate::page_runner`]
    /// (the CPU fallback).
    WebGlWorker,
    /// A WebGL context of eframe's own, on the page (the CPU fallback where a Worker cannot
    /// have WebGL2: no `OffscreenCanvas` or no WebGL2 on it).
    WebGl,
}

impl Renderer {
    /// `webgpu` or `webgl`, for the state hook.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SharedWebGpu(_) => "webgpu",
            Self::WebGlWorker => "webgl-worker",
            Self::WebGl => "webgl",
        }
    }
}

/// The page's compute and how eframe renders with it. Creating it is quick (an adapter and a
/// device); its self-check runs after the lab's first frame ([`self_check`]).
pub struct Compute {
    /// What eframe draws with.
    pub renderer: Renderer,
    /// The lab's compute: burn on its CPU backend, the kernels on the WebGPU device when there is
    /// one; its `info()` is what the state hook reports, its `fallback` why there is no GPU.
    pub lab: sgdlab_ui::Compute,
}

impl Compute {
    /// The kernels on WebGPU, or everything on the CPU when WebGPU is missing or gives no
    /// adapter or device.
    pub async fn init() -> Self {
        match webgpu().await {
            Ok((gpu, info)) => Self {
                lab: sgdlab_ui::Compute::kernels_on(
                    GpuContext::new(gpu.device.clone(), gpu.queue.clone()),
                    info,
                ),
                renderer: Renderer::SharedWebGpu(gpu),
            },
            Err(reason) => {
                log::warn!("running on the CPU: {reason}");
                Self {
                    lab: sgdlab_ui::Compute::cpu(Some(reason)),
                    renderer: if offscreen_webgl2() {
                        Renderer::WebGlWorker
                    } else {
                        Renderer::WebGl
                    },
                }
            }
        }
    }

    /// eframe's options: render on the kernels' WebGPU device, or with glow on WebGL for the CPU
    /// fallback (egui's own WebGL painter: no wgpu GL backend, hence no naga or wgpu-core in the
    /// .wasm, and fewer GL calls a frame).
    pub fn web_options(&self) -> eframe::WebOptions {
        let mut options = eframe::WebOptions::default();
        match &self.renderer {
            Renderer::SharedWebGpu(gpu) => {
                options.renderer = eframe::Renderer::Wgpu;
                options.wgpu_options.wgpu_setup =
                    egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
                        instance: gpu.instance.clone(),
                        adapter: gpu.adapter.clone(),
                        device: gpu.device.clone(),
                        queue: gpu.queue.clone(),
                    });
            }
            // Deterministic: the fallback renders on WebGL even where WebGPU exists but gave no
            // device, so the notice's statement is true.
            Renderer::WebGl | Renderer::WebGlWorker => {
                options.renderer = eframe::Renderer::Glow;
            }
        }
        options
    }
}

/// Whether a Worker can paint the canvas: `transferControlToOffscreen` exists and an
/// `OffscreenCanvas` gives a WebGL2 context (asked here, on the page: browsers that have it in
/// one place have it in the other).
fn offscreen_webgl2() -> bool {
    let has_transfer = js_sys::Reflect::get(&js_sys::global(), &"HTMLCanvasElement".into())
        .and_then(|c| js_sys::Reflect::get(&c, &"prototype".into()))
        .and_then(|p| js_sys::Reflect::has(&p, &"transferControlToOffscreen".into()))
        .unwrap_or(false);
    has_transfer
        && web_sys::OffscreenCanvas::new(1, 1)
            .ok()
            .and_then(|c| c.get_context("webgl2").ok().flatten())
            .is_some()
}

/// A WebGPU device on the browser's adapter (high performance, the adapter's limits, no optional
/// features: the kernels and egui need none), described, or why not.
async fn webgpu() -> Result<(WebGpu, DeviceInfo), String> {
    if !navigator_has_gpu() {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    }
    let unusable = |e: String| format!("WebGPU is present but unusable: {e}");
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..wgpu::RequestAdapterOptions::default()
        })
        .await
        .map_err(|e| unusable(format!("no adapter ({e})")))?;
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("sgdlab"),
            required_limits: adapter.limits(),
            ..wgpu::DeviceDescriptor::default()
        })
        .await
        .map_err(|e| unusable(format!("no device ({e})")))?;
    let a = adapter.get_info();
    // wgpu names a browser adapter by `GPUAdapterInfo.description` alone, which browsers leave
    // empty; the rest comes from the browser.
    let name = if a.name.is_empty() {
        browser_adapter_label()
            .await
            .unwrap_or_else(|| "unnamed WebGPU adapter".into())
    } else {
        a.name.clone()
    };
    let info = DeviceInfo {
        backend: sgdlab_engine::device::Backend::Wgpu,
        adapter: format!("{name} ({:?})", a.device_type),
        driver: if a.driver.is_empty() {
            "unknown".into()
        } else {
            a.driver.clone()
        },
        api: format!("{:?}", a.backend),
    };
    Ok((
        WebGpu {
            instance,
            adapter,
            device,
            queue,
        },
        info,
    ))
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

/// The page's self-check: [`SelfCheck`]'s hand-worked results with burn on `device`, and, with a
/// WebGPU device `gpu`, the particle kernel against the CPU stepper ([`KernelCheck`]).
pub async fn self_check(device: &Device, gpu: Option<GpuContext>) -> SelfCheck {
    let check = burn_check(device).await;
    match gpu {
        None => check,
        Some(ctx) => match kernel_check(&ctx).await {
            Ok(kernel) => check.with_kernel(kernel),
            Err(e) => SelfCheck::failed(format!("the particle kernel's check failed: {e}")),
        },
    }
}

/// [`KernelCheck`]: the sharp-minima lab's dynamics (1-D sharp and wide wells, Pareto noise
/// truncated at b = 0.4; Wang, Oh, Rhee 2021) from the same starts, [`KernelCheck::STEPS`] steps
/// of the WGSL kernel on `ctx` and of the CPU stepper, read back asynchronously.
async fn kernel_check(ctx: &GpuContext) -> Result<KernelCheck, String> {
    let packed = Landscape::sharp_and_wide_1d(0.5, 1.0, 1.0).packed();
    let rule = StepRule {
        lr: 0.05,
        noise: Noise::new(NoiseKind::Pareto, 1.0, 1.5),
        clip: Clip::Truncate { b: 0.4 },
        diverge_radius: 1e6,
        seed: KernelCheck::SEED,
    };
    let mut rng = sgdlab_engine::rng::SplitMix64::new(KernelCheck::SEED);
    let starts = (0..KernelCheck::PARTICLES)
        .map(|_| [(2.0 * rng.next_f32() - 1.0) * 2.0, 0.0])
        .collect();
    let mut cpu = ParticleState::new(&packed, starts);
    let mut gpu = GpuParticles::new(ctx, &packed, &rule, &cpu).map_err(|e| format!("{e:#}"))?;
    gpu.step(KernelCheck::STEPS);
    step_particles_cpu(&packed, &rule, &mut cpu, KernelCheck::STEPS, 1);
    let g = gpu.read_async().await.map_err(|e| format!("{e:#}"))?;
    Ok(KernelCheck::from_counts(
        cpu.pos.len(),
        cpu.agreeing(&g),
        g.steps_done,
    ))
}

/// The hand-worked results of [`SelfCheck`], computed with burn on `device` (the gradient with
/// autodiff) and read back asynchronously.
async fn burn_check(device: &Device) -> SelfCheck {
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
