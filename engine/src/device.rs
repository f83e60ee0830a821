//! Compute devices: burn's CPU backend (`flex`) and wgpu (Vulkan, Metal, DX12, GL or WebGPU on
//! any vendor's GPU, or Mesa's lavapipe on a CPU).
//!
//! `auto` takes wgpu when a hardware adapter exists and the CPU otherwise, and says which it took
//! and why: software adapters (llvmpipe/lavapipe, SwiftShader, WARP) run the small networks here
//! 10–66× slower than burn's CPU backend, so they compute only when `--backend wgpu` asks.

use crate::error::{EngineError, Result};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
#[cfg(feature = "burn-wgpu")]
use std::sync::OnceLock;

/// Which backend a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// wgpu on a hardware adapter, else the CPU (software adapters are skipped).
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (flex, multi-threaded with SIMD).
    Cpu,
    /// burn on wgpu compute shaders, on any adapter (software ones included).
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

/// The backend a run computes on, once resolved (`auto` is not one): written `cpu` or `wgpu`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's CPU backend (flex).
    #[default]
    Cpu,
    /// burn on wgpu, or the WGSL kernels on a wgpu device.
    Wgpu,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        })
    }
}

/// The backend a run actually uses, and the adapter behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The backend.
    pub backend: Backend,
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
    /// Why this device was chosen (for the backend line of a run).
    pub reason: String,
}

impl ComputeDevice {
    /// The backend line a run prints: what and why.
    pub fn reason_line(&self) -> String {
        format!("{} — {}", self.info, self.reason)
    }

    fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }
}

/// The CPU device.
pub fn cpu_device() -> ComputeDevice {
    ComputeDevice {
        device: Device::flex(),
        info: DeviceInfo {
            backend: Backend::Cpu,
            // A browser has one thread for the page (the build has no rayon there).
            adapter: if cfg!(target_family = "wasm") {
                "burn-flex (WebAssembly, one thread)".into()
            } else {
                format!(
                    "burn-flex ({} threads, SIMD)",
                    std::thread::available_parallelism().map_or(1, usize::from)
                )
            },
            driver: "-".into(),
            api: "-".into(),
        },
        reason: "requested with --backend cpu".into(),
    }
}

/// burn's wgpu runtime can be initialized once per process; the outcome is kept here.
#[cfg(feature = "burn-wgpu")]
static WGPU: OnceLock<std::result::Result<ComputeDevice, String>> = OnceLock::new();

/// The wgpu instance, adapter, device and queue burn's runtime uses, kept so that hand-written
/// kernels (`crate::gpu`) run on the same device without a second wgpu setup.
#[cfg(feature = "burn-wgpu")]
static WGPU_SETUP: OnceLock<burn::tensor::wgpu::WgpuSetup> = OnceLock::new();

/// The wgpu handles behind [`wgpu_device`] (initializing it on first use).
#[cfg(feature = "burn-wgpu")]
pub fn wgpu_setup() -> Result<burn::tensor::wgpu::WgpuSetup> {
    wgpu_device()?;
    WGPU_SETUP
        .get()
        .cloned()
        .ok_or_else(|| EngineError::Device("the wgpu runtime started without its setup".into()))
}

/// The wgpu device, initialized on first use. Fails with a message when no adapter exists.
#[cfg(feature = "burn-wgpu")]
pub fn wgpu_device() -> Result<ComputeDevice> {
    WGPU.get_or_init(init_wgpu)
        .clone()
        .map_err(EngineError::Device)
}

/// Without burn's wgpu backend (the browser build) burn computes on the CPU only.
#[cfg(not(feature = "burn-wgpu"))]
pub fn wgpu_device() -> Result<ComputeDevice> {
    Err(EngineError::Device(
        "this build has no burn wgpu backend (built without the engine's `burn-wgpu` feature)"
            .into(),
    ))
}

#[cfg(all(feature = "burn-wgpu", not(target_family = "wasm")))]
fn init_wgpu() -> std::result::Result<ComputeDevice, String> {
    // Adapter acquisition can panic inside drivers on broken installs; keep that a clean error.
    let outcome = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    match outcome {
        Ok(Ok((device, setup))) => Ok(adopt_wgpu(device, setup)),
        Ok(Err(e)) => Err(format!("no usable wgpu adapter: {e}")),
        Err(_) => Err("no usable wgpu adapter: the wgpu runtime panicked while starting".into()),
    }
}

#[cfg(all(feature = "burn-wgpu", target_family = "wasm"))]
fn init_wgpu() -> std::result::Result<ComputeDevice, String> {
    Err("in a browser, initialize wgpu asynchronously first (`wgpu_device_async`)".into())
}

/// Keeps the handles of a freshly initialized wgpu runtime for [`wgpu_setup`] and describes it.
#[cfg(feature = "burn-wgpu")]
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
            backend: Backend::Wgpu,
            adapter: format!("{} ({:?})", a.name, a.device_type),
            driver,
            api: format!("{:?}", a.backend),
        },
        reason: "requested with --backend wgpu".into(),
    }
}

/// The wgpu device, initialized asynchronously on first use: the only way in a browser, where
/// burn acquires a WebGPU adapter with `await`. Afterwards [`wgpu_device`] and [`wgpu_setup`]
/// return the same device on every target. Natively this is [`wgpu_device`].
#[cfg(feature = "burn-wgpu")]
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

/// Whether an adapter is a software rasterizer (a CPU pretending to be a GPU).
pub fn is_software_adapter(name: &str, device_type: wgpu::DeviceType) -> bool {
    let name = name.to_lowercase();
    device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "swiftshader",
            "warp",
            "microsoft basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

/// The first hardware adapter on the native compute APIs (Vulkan, Metal, DX12; not GL, whose
/// probe prints to stderr and which burn does not compute on well), or why there is none.
#[cfg(not(target_family = "wasm"))]
fn hardware_adapter() -> std::result::Result<String, String> {
    #[cfg(target_os = "linux")]
    if !linux_gpu_device_node() {
        // Without a GPU device node no hardware adapter can exist, and creating a Vulkan
        // instance only to find a software one prints the window-system probe's complaints.
        return Err("no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg)".into());
    }
    use std::task::{Context, Poll, Waker};
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends &= wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    let instance = wgpu::Instance::new(desc);
    let future = instance.enumerate_adapters(wgpu::Backends::all());
    // Natively the enumeration is synchronous: the future is ready on its first poll.
    let adapters = match std::pin::pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(a) => a,
        Poll::Pending => return Err("adapter enumeration did not complete".into()),
    };
    let infos: Vec<_> = adapters.iter().map(|a| a.get_info()).collect();
    match infos
        .iter()
        .find(|i| !is_software_adapter(&i.name, i.device_type))
    {
        Some(i) => Ok(format!("{} ({:?})", i.name, i.device_type)),
        None if infos.is_empty() => Err("no wgpu adapter".into()),
        None => Err(format!(
            "only software adapters ({})",
            infos
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether Linux exposes a GPU to this process: a DRM render node, NVIDIA's device or WSL's.
#[cfg(target_os = "linux")]
fn linux_gpu_device_node() -> bool {
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node
        || ["/dev/nvidia0", "/dev/nvidiactl", "/dev/dxg"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
}

#[cfg(target_family = "wasm")]
fn hardware_adapter() -> std::result::Result<String, String> {
    Err("in a browser the lab chooses the device".into())
}

/// Resolves a backend choice to a device. `auto` computes on a hardware GPU or the CPU, never
/// on a software adapter, and says why in [`ComputeDevice::reason`].
pub fn resolve_device(choice: BackendChoice) -> Result<ComputeDevice> {
    match choice {
        BackendChoice::Cpu => Ok(cpu_device()),
        BackendChoice::Wgpu => wgpu_device().map_err(|e| {
            EngineError::Device(format!(
                "--backend wgpu was requested but {e:#}; use --backend cpu (or auto) instead"
            ))
        }),
        BackendChoice::Auto => Ok(match hardware_adapter() {
            Err(why) => cpu_device().because(format!(
                "auto: {why}, so the CPU (software adapters compute only with --backend wgpu)"
            )),
            Ok(found) => match wgpu_device() {
                Ok(d) if is_software_adapter(&d.info.adapter, software_type_of(&d)) => cpu_device()
                    .because(format!(
                        "auto: wgpu chose the software adapter {} although {found} exists, so \
                         the CPU",
                        d.info.adapter
                    )),
                Ok(d) => d.because(format!("auto: hardware adapter {found}")),
                Err(e) => cpu_device().because(format!(
                    "auto: {found} exists but wgpu failed to start ({e:#}), so the CPU"
                )),
            },
        }),
    }
}

/// The adapter type of a wgpu device, read from its description (`name (Type)`).
fn software_type_of(d: &ComputeDevice) -> wgpu::DeviceType {
    use wgpu::DeviceType;
    if d.info.adapter.ends_with("(Cpu)") {
        DeviceType::Cpu
    } else {
        DeviceType::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::DeviceType;

    #[test]
    fn software_adapters_are_recognized() {
        for name in [
            "llvmpipe (LLVM 19.1.7, 256 bits)",
            "SwiftShader Device (Subzero)",
            "Microsoft Basic Render Driver",
        ] {
            assert!(is_software_adapter(name, DeviceType::Other), "{name}");
        }
        assert!(is_software_adapter("anything", DeviceType::Cpu));
        assert!(!is_software_adapter("NVIDIA H200", DeviceType::DiscreteGpu));
        assert!(!is_software_adapter(
            "AMD Radeon 780M",
            DeviceType::IntegratedGpu
        ));
    }

    #[test]
    fn cpu_and_auto_say_why() {
        assert!(
            resolve_device(BackendChoice::Cpu)
                .unwrap()
                .reason
                .contains("--backend cpu")
        );
        let auto = resolve_device(BackendChoice::Auto).unwrap();
        assert!(auto.reason.starts_with("auto: "), "{}", auto.reason);
    }
}
