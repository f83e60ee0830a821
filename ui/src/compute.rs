//! What the lab computes on: burn's device (CPU or wgpu), the wgpu handles the WGSL kernels run
//! on (burn's natively, the page's WebGPU device in a browser), and why the lab fell back to the
//! CPU when it did.

use sgdlab_engine::device::{ComputeDevice, DeviceInfo, cpu_device};
use sgdlab_engine::gpu::GpuContext;

/// The compute side of the lab, cloned into every experiment's worker.
#[derive(Clone, Debug)]
pub struct Compute {
    /// burn's device for the experiments' models (natively the wgpu one when there is a GPU; in
    /// a browser always burn's CPU backend).
    pub device: ComputeDevice,
    /// The wgpu handles of the particle and landscape kernels; `None` on the CPU.
    pub gpu: Option<GpuContext>,
    /// What `gpu` is, where it is not burn's device (the browser's WebGPU).
    pub gpu_info: Option<DeviceInfo>,
    /// Threads the CPU reference kernels may use (1 in a browser: no threads there).
    pub threads: usize,
    /// Why the lab runs on the CPU although a GPU was wanted (shown as a banner).
    pub fallback: Option<String>,
}

impl Compute {
    /// burn's CPU backend; `fallback` says why, when it is one.
    pub fn cpu(fallback: Option<String>) -> Self {
        #[cfg(target_arch = "wasm32")]
        let threads = 1;
        #[cfg(not(target_arch = "wasm32"))]
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            device: cpu_device(),
            gpu: None,
            gpu_info: None,
            threads,
            fallback,
        }
    }

    /// burn's wgpu device with the handles of its setup.
    pub fn wgpu(device: ComputeDevice, gpu: GpuContext) -> Self {
        Self {
            device,
            gpu: Some(gpu),
            gpu_info: None,
            threads: 1,
            fallback: None,
        }
    }

    /// The browser's WebGPU: the particle and landscape kernels on `gpu` (described by `info`),
    /// burn's models on its CPU backend, where they run in a browser anyway (they read results
    /// back synchronously; [`Self::for_tensor_experiments`]).
    pub fn kernels_on(gpu: GpuContext, info: DeviceInfo) -> Self {
        Self {
            gpu: Some(gpu),
            gpu_info: Some(info),
            ..Self::cpu(None)
        }
    }

    /// What the lab computes on, for the readout: the kernels' GPU where there is one, else
    /// burn's device.
    pub fn info(&self) -> &DeviceInfo {
        self.gpu_info.as_ref().unwrap_or(&self.device.info)
    }

    /// A CPU twin of this compute, for the small models whose per-step kernel launches would
    /// cost more than their arithmetic on a GPU (the 2-D toy network) and, in a browser, for
    /// experiments that read results back synchronously.
    pub fn cpu_twin(&self) -> Self {
        Self::cpu(None)
    }

    /// Whether the GPU is a software rasterizer on the CPU (lavapipe, llvmpipe, SwiftShader):
    /// burn's CPU backend beats it on anything but the particle kernels.
    pub fn is_software_gpu(&self) -> bool {
        self.gpu.is_some() && self.info().adapter.ends_with("(Cpu)")
    }

    /// The device of the larger tensor experiments (MNIST random labels): natively the lab's
    /// GPU when it is a real one; the CPU in a browser (those experiments read results back
    /// synchronously) and on software GPUs.
    pub fn for_tensor_experiments(&self) -> Self {
        if cfg!(target_arch = "wasm32") || self.is_software_gpu() {
            self.cpu_twin()
        } else {
            self.clone()
        }
    }
}
