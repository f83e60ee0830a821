//! `sgdlab app` (and `sgdlab` with no subcommand): the desktop lab window. eframe renders with
//! wgpu on the very device burn computes on (Vulkan, Metal, DX12 or GL, any vendor); without
//! a GPU adapter the lab computes on the CPU and says so on screen.

use crate::Failure;
use anyhow::anyhow;
use clap::Args;
use sgdlab_engine::device::{BackendChoice, wgpu_device, wgpu_setup};
use sgdlab_engine::gpu::GpuContext;
use sgdlab_ui::export::FolderPlatform;
use sgdlab_ui::{Compute, LabApp, LabKind, LabOptions, Painting};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Options of `sgdlab app`.
#[derive(Args, Debug, Default)]
pub struct AppArgs {
    /// The lab to open: smoothing, sharp-minima, random-labels, elimination, gossip or rnn.
    #[arg(long)]
    pub lab: Option<String>,
    /// A shared link's state, e.g. '#lab=sharp-minima&seed=7&eta=0.01'.
    #[arg(long)]
    pub link: Option<String>,
    /// Where exports (CSV, JSON, PNG, configs) are saved.
    #[arg(long, default_value = "sgdlab-exports")]
    pub exports: PathBuf,
    /// auto (a GPU when there is one), cpu or wgpu.
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// Start the lab running at once.
    #[arg(long)]
    pub autostart: bool,
    /// Save a PNG of the window to this path after `--screenshot-after` seconds, then quit
    /// (for tests and documentation).
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Seconds to run before the screenshot.
    #[arg(long, default_value_t = 5.0)]
    pub screenshot_after: f64,
}

/// Picks the compute device: burn's wgpu device when asked or available, else the CPU.
pub(crate) fn compute_for(choice: BackendChoice) -> Result<Compute, Failure> {
    let gpu = || -> Result<Compute, String> {
        let dev = wgpu_device().map_err(|e| e.to_string())?;
        let ctx = GpuContext::shared().map_err(|e| e.to_string())?;
        Ok(Compute::wgpu(dev, ctx))
    };
    match choice {
        BackendChoice::Cpu => Ok(Compute::cpu(None)),
        BackendChoice::Wgpu => gpu().map_err(|e| {
            Failure::BadInput(anyhow!(
                "--backend wgpu was requested but {e}; use --backend cpu (or auto) instead"
            ))
        }),
        BackendChoice::Auto => Ok(gpu().unwrap_or_else(|e| {
            Compute::cpu(Some(format!(
                "no usable GPU adapter ({e}); every lab computes on burn's CPU backend"
            )))
        })),
    }
}

/// Whether a display server is reachable (Linux and BSDs: X11 or Wayland).
fn display_problem() -> Option<String> {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return None;
    }
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        None
    } else {
        Some(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the lab window cannot \
             open. Run an experiment headless with `sgdlab run <experiment>` (see `sgdlab run \
             --help`), or start a display (e.g. `xvfb-run sgdlab app`)."
                .into(),
        )
    }
}

/// Opens the lab window.
pub fn app(args: AppArgs) -> Result<(), Failure> {
    if let Some(p) = display_problem() {
        return Err(Failure::BadInput(anyhow!(p)));
    }
    let mut fragment = args.link.clone().unwrap_or_default();
    if let Some(lab) = &args.lab {
        if LabKind::from_name(lab).is_none() {
            return Err(Failure::BadInput(anyhow!(
                "--lab {lab}: expected one of {}",
                LabKind::ALL.map(LabKind::name).join(", ")
            )));
        }
        fragment = format!("lab={lab}&{}", fragment.trim_start_matches('#'));
    }
    let mut compute = compute_for(args.backend)?;
    if compute.info().api == "Gl" {
        // wgpu's GL backend cannot share a device made without the window's display with
        // eframe's surface: compute on the CPU and let eframe open GL on its own.
        compute = Compute::cpu(Some(format!(
            "the only GPU adapter is OpenGL ({}); the lab computes on the CPU and draws with OpenGL",
            compute.info().adapter
        )));
    }
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("sgdlab")
            .with_inner_size([1360.0, 860.0]),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    if compute.gpu.is_some()
        && let Ok(s) = wgpu_setup()
    {
        // eframe draws on burn's device, so particle buffers are drawn where they are.
        options.wgpu_options.wgpu_setup =
            egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
                instance: s.instance,
                adapter: s.adapter,
                device: s.device,
                queue: s.queue,
            });
    }
    let shot = args.screenshot.clone();
    let after = args.screenshot_after;
    let shot_error: Arc<Mutex<Option<String>>> = Arc::default();
    let shot_error_app = shot_error.clone();
    let outcome = eframe::run_native(
        "sgdlab",
        options,
        Box::new(move |cc| {
            let lab = LabApp::new(
                &cc.egui_ctx,
                cc.wgpu_render_state.clone(),
                compute,
                LabOptions {
                    threaded: true,
                    painting: Painting::OnThisThread,
                    platform: Box::new(FolderPlatform { dir: args.exports }),
                    fragment: Some(fragment),
                    autostart: args.autostart,
                },
            );
            Ok(Box::new(DesktopApp {
                lab,
                shot,
                after,
                started: None,
                requested: false,
                image: Arc::default(),
                error: shot_error_app,
            }))
        }),
    );
    if let Err(e) = outcome {
        return Err(Failure::Other(anyhow!(
            "the lab window could not start: {e}. Without a usable display or GPU, run \
             experiments headless with `sgdlab run <experiment>`"
        )));
    }
    if let Some(e) = shot_error.lock().ok().and_then(|mut g| g.take()) {
        return Err(Failure::Other(anyhow!(e)));
    }
    Ok(())
}

/// The lab plus the desktop-only screenshot-and-quit option.
struct DesktopApp {
    lab: LabApp,
    shot: Option<PathBuf>,
    after: f64,
    started: Option<f64>,
    requested: bool,
    image: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
    error: Arc<Mutex<Option<String>>>,
}

impl eframe::App for DesktopApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        eframe::App::ui(&mut self.lab, ui, frame);
        let Some(path) = self.shot.clone() else {
            return;
        };
        let now = ui.input(|i| i.time);
        let started = *self.started.get_or_insert(now);
        let image = self.image.lock().ok().and_then(|mut g| g.take());
        if let Some(img) = image {
            let outcome = sgdlab_ui::export::png_bytes(&img)
                .and_then(|b| std::fs::write(&path, b).map_err(|e| e.to_string()))
                .map_err(|e| format!("writing the screenshot {}: {e}", path.display()));
            if let Err(e) = outcome
                && let Ok(mut g) = self.error.lock()
            {
                *g = Some(e);
            }
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        } else if !self.requested && now - started >= self.after {
            self.requested = true;
            let slot = self.image.clone();
            let ctx = ui.ctx().clone();
            ui.ctx().request_screenshot(move |img| {
                if let Ok(mut g) = slot.lock() {
                    *g = Some(img);
                }
                ctx.request_repaint();
            });
        }
        ui.ctx().request_repaint();
    }
}
