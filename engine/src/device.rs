//! Compute devices: burn's CPU backend (`flex`) and wgpu (Vulkan, Metal, DX12, GL or WebGPU on
//! any vendor's GPU, or Mesa's lavapipe on a CPU).
//!
//! `auto` takes wgpu when an adapter exists and the CPU otherwise, and says which it took.

use crate::error::{EngineError, Result};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Which backend a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// wgpu when an adapter exists, else the CPU.
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (flex, multi-threaded with SIMD).
    Cpu,
    /// burn on wgpu compute shaders.
    Wgpu,
}

impl FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            other => Err(format!(
                "unknown backend `{other}`: expected one of auto, cpu, wgpu"
            )),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        })
    }
}

/// The backend a run actually uses, and the adapter behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `cpu` or `wgpu`.
    pub backend: String,
    /// Adapter name (for wgpu) or a description of the CPU backend.
    pub adapter: String,
    /// Driver name and version, where the adapter reports them.
    pub driver: String,
    /// Graphics API (Vulkan, Metal, Dx12, Gl, BrowserWebGpu) or `-` for the CPU.
    pub api: String,
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backend {} on {} (driver: {}, api: {})",
            self.backend, self.adapter, self.driver, self.api
        )
    }
}

/// A device ready for tensors, with what it is.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    /// The burn device (without autodiff; call `.autodiff()` for training).
    pub device: Device,
    /// What the device is, for logs and results.
    pub info: DeviceInfo,
}

/// The CPU device.
pub fn cpu_device() -> ComputeDevice {
    ComputeDevice {
        device: Device::flex(),
        info: DeviceInfo {
            backend: "cpu".into(),
            adapter: format!(
                "burn-flex ({} threads, SIMD)",
                std::thread::available_parallelism().map_or(1, usize::from)
            ),
            driver: "-".into(),
            api: "-".into(),
        },
    }
}

/// burn's wgpu runtime can be initialized once per process; the outcome is kept here.
static WGPU: OnceLock<std::result::Result<ComputeDevice, String>> = OnceLock::new();

/// The wgpu instance, adapter, device and queue burn's runtime uses, kept so that hand-written
/// kernels (`crate::gpu`) run on the same device without a second wgpu setup.
static WGPU_SETUP: OnceLock<burn::tensor::wgpu::WgpuSetup> = OnceLock::new();

/// The wgpu handles behind [`wgpu_device`] (initializing it on first use).
pub fn wgpu_setup() -> Result<burn::tensor::wgpu::WgpuSetup> {
    wgpu_device()?;
    WGPU_SETUP
        .get()
        .cloned()
        .ok_or_else(|| EngineError::Device("the wgpu runtime started without its setup".into()))
}

/// The wgpu device, initialized on first use. Fails with a message when no adapter exists.
pub fn wgpu_device() -> Result<ComputeDevice> {
    WGPU.get_or_init(init_wgpu)
        .clone()
        .map_err(EngineError::Device)
}

#[cfg(not(target_family = "wasm"))]
fn init_wgpu() -> std::result::Result<ComputeDevice, String> {
    // Adapter acquisition can panic inside drivers on broken installs; keep that a clean error.
    let outcome = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    match outcome {
        Ok(Ok((device, setup))) => Ok(adopt_wgpu(device, setup)),
        Ok(Err(e)) => Err(format!("no usable wgpu adapter: {e}")),
        Err(_) => Err("no usable wgpu adapter: the wgpu runtime panicked while starting".into()),
    }
}

#[cfg(target_family = "wasm")]
fn init_wgpu() -> std::result::Result<ComputeDevice, String> {
    Err("in a browser, initialize wgpu asynchronously first (`wgpu_device_async`)".into())
}

/// Keeps the handles of a freshly initialized wgpu runtime for [`wgpu_setup`] and describes it.
fn adopt_wgpu(device: Device, setup: burn::tensor::wgpu::WgpuSetup) -> ComputeDevice {
    let a = setup.adapter.get_info();
    // Set once: callers run inside WGPU's initialization, which succeeds at most once.
    let _ = WGPU_SETUP.set(setup);
    let driver = match (a.driver.is_empty(), a.driver_info.is_empty()) {
        (true, _) => "unknown".to_string(),
        (false, true) => a.driver.clone(),
        (false, false) => format!("{} {}", a.driver, a.driver_info),
    };
    ComputeDevice {
        device,
        info: DeviceInfo {
            backend: "wgpu".into(),
            adapter: format!("{} ({:?})", a.name, a.device_type),
            driver,
            api: format!("{:?}", a.backend),
        },
    }
}

/// The wgpu device, initialized asynchronously on first use: the only way in a browser, where
/// burn acquires a WebGPU adapter with `await`. Afterwards [`wgpu_device`] and [`wgpu_setup`]
/// return the same device on every target. Natively this is [`wgpu_device`].
pub async fn wgpu_device_async() -> Result<ComputeDevice> {
    #[cfg(target_family = "wasm")]
    if WGPU.get().is_none() {
        let outcome = match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => Ok(adopt_wgpu(device, setup)),
            Err(e) => Err(format!("no usable wgpu adapter: {e}")),
        };
        // A browser page has one thread: nothing initialized WGPU during the await.
        let _ = WGPU.set(outcome);
    }
    wgpu_device()
}

/// Resolves a backend choice to a device. `auto` falls back to the CPU without an adapter.
pub fn resolve_device(choice: BackendChoice) -> Result<ComputeDevice> {
    match choice {
        BackendChoice::Cpu => Ok(cpu_device()),
        BackendChoice::Wgpu => wgpu_device().map_err(|e| {
            EngineError::Device(format!(
                "--backend wgpu was requested but {e:#}; use --backend cpu (or auto) instead"
            ))
        }),
        BackendChoice::Auto => Ok(wgpu_device().unwrap_or_else(|_| cpu_device())),
    }
}
