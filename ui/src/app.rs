//! The lab window: a picker of the six labs, each lab's claim, controls and live view, run
//! controls, exports, notices and the backend readout. The same [`LabApp`] runs in the desktop
//! app (labs on worker threads) and in a browser tab (labs stepped inline, a slice per frame).

use crate::compute::Compute;
use crate::export::{Platform, png_bytes};
use crate::fragment::{parse_fragment, to_fragment};
use crate::gfx::{Gfx, Painting};
use crate::lab::{Lab, LabKind, Shell};
use crate::labs::{
    elimination::EliminationSim, gossip::GossipSim, random_labels::RandomLabelsSim, rnn::RnnSim,
    sharp_minima::SharpSim, smoothing::SmoothingSim,
};
use crate::runner::Slice;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Adds DejaVu Sans as the fallback font: egui's default font lacks symbols the labs use
/// (‖ ⌈ ⌉ ω ᵢ …). Call it on every context that draws a [`LabApp`] (`LabApp::new` calls it on
/// the one it is given). In a browser the font is not compiled in: the page fetches it after the
/// first frame and adds it with [`add_fallback_font`] (until then the browser draws the symbols).
pub fn install_fonts(ctx: &egui::Context) {
    #[cfg(not(target_arch = "wasm32"))]
    add_fallback_font(
        ctx,
        "dejavu-sans",
        egui::FontData::from_static(sgdlab_engine::report::DEJAVU_SANS),
    );
    #[cfg(target_arch = "wasm32")]
    let _ = ctx;
}

/// Adds `data` as the lowest-priority font of both families (a fallback for missing glyphs).
pub fn add_fallback_font(ctx: &egui::Context, name: &str, data: egui::FontData) {
    use egui::epaint::text::FontPriority::Lowest;
    add_font(
        ctx,
        name,
        data,
        &[
            (egui::FontFamily::Proportional, Lowest),
            (egui::FontFamily::Monospace, Lowest),
        ],
    );
}

/// Adds `data` as font `name` to `families`, each at its priority.
pub fn add_font(
    ctx: &egui::Context,
    name: &str,
    data: egui::FontData,
    families: &[(egui::FontFamily, egui::epaint::text::FontPriority)],
) {
    let families = families
        .iter()
        .map(|(family, priority)| egui::epaint::text::InsertFontFamily {
            family: family.clone(),
            priority: *priority,
        })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new(name, data, families));
}

/// How the app runs.
pub struct LabOptions {
    /// Step labs on worker threads (native) rather than inline between frames.
    pub threaded: bool,
    /// Who paints the frames: eframe on this thread, or a paint worker (the browser's CPU
    /// fallback), which also splats the particles and leaves this thread to the labs.
    pub painting: Painting,
    /// Saving files and keeping the URL in step.
    pub platform: Box<dyn Platform>,
    /// State to restore (a URL fragment, `lab=…&seed=…&key=value`).
    pub fragment: Option<String>,
    /// Start the first lab running.
    pub autostart: bool,
}

/// A notice on screen (errors, fallbacks, ignored URL parameters, saved files).
#[derive(Clone, Debug)]
pub struct Notice {
    /// What to show.
    pub text: String,
    /// Whether it is a warning (or just information).
    pub warning: bool,
}

/// The lab application.
pub struct LabApp {
    compute: Compute,
    gfx: Gfx,
    ctx: egui::Context,
    threaded: bool,
    slice: Slice,
    platform: Box<dyn Platform>,
    labs: HashMap<LabKind, Box<dyn Lab>>,
    current: LabKind,
    notices: Vec<Notice>,
    config_text: String,
    show_config: bool,
    seed_text: String,
    frames: u64,
    screenshot: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<egui::ColorImage>>>>,
    last_fragment: String,
    /// While the compute device starts (a browser's GPU and its self-check): what the views
    /// say instead of running. The controls and lab tabs work meanwhile.
    starting: Option<String>,
    autostart: bool,
    /// Where the lab tabs were drawn last frame (points), for the test hook.
    tab_rects: Vec<(LabKind, egui::Rect)>,
    /// Where the seed field was drawn last frame (points), for the test hook.
    seed_rect: Option<egui::Rect>,
}

impl LabApp {
    /// A lab app computing on `compute`, drawing with `render` (eframe's wgpu state, when the
    /// renderer is wgpu).
    pub fn new(
        ctx: &egui::Context,
        render: Option<egui_wgpu::RenderState>,
        compute: Compute,
        options: LabOptions,
    ) -> Self {
        if let Some(r) = &render {
            crate::gfx::register(r);
        }
        install_fonts(ctx);
        let mut app = Self {
            gfx: Gfx {
                render,
                splat_in_painter: options.painting == Painting::InAWorker,
            },
            ctx: ctx.clone(),
            threaded: options.threaded,
            slice: match options.painting {
                Painting::OnThisThread => Slice::GrowsWithFrame,
                Painting::InAWorker => Slice::Fixed,
            },
            platform: options.platform,
            labs: HashMap::new(),
            current: LabKind::Smoothing,
            notices: Vec::new(),
            config_text: String::new(),
            show_config: false,
            seed_text: "0".into(),
            frames: 0,
            screenshot: Default::default(),
            last_fragment: String::new(),
            starting: None,
            autostart: options.autostart,
            tab_rects: Vec::new(),
            seed_rect: None,
            compute,
        };
        if let Some(f) = options
            .fragment
            .filter(|f| !f.trim_start_matches('#').is_empty())
        {
            app.apply_fragment(&f);
        }
        app.lab_mut();
        if options.autostart {
            app.lab_mut().set_running(true);
        }
        app.seed_text = app.lab().seed().to_string();
        app
    }

    fn make_lab(&self, kind: LabKind) -> Box<dyn Lab> {
        let (c, t, x) = (&self.compute, self.threaded, &self.ctx);
        match kind {
            LabKind::Smoothing => Box::new(Shell::<SmoothingSim>::new(c, t, x)),
            LabKind::SharpMinima => Box::new(Shell::<SharpSim>::new(c, t, x)),
            LabKind::RandomLabels => Box::new(Shell::<RandomLabelsSim>::new(c, t, x)),
            LabKind::Elimination => Box::new(Shell::<EliminationSim>::new(c, t, x)),
            LabKind::Gossip => Box::new(Shell::<GossipSim>::new(c, t, x)),
            LabKind::Rnn => Box::new(Shell::<RnnSim>::new(c, t, x)),
        }
    }

    /// The current lab (created on first use).
    pub fn lab_mut(&mut self) -> &mut dyn Lab {
        if !self.labs.contains_key(&self.current) {
            let lab = self.make_lab(self.current);
            self.labs.insert(self.current, lab);
        }
        self.labs
            .get_mut(&self.current)
            .map(|b| &mut **b)
            .expect("inserted above")
    }

    fn lab(&self) -> &dyn Lab {
        self.labs
            .get(&self.current)
            .map(|b| &**b)
            .expect("the current lab exists once the app is built")
    }

    /// Switches to `kind`.
    pub fn select(&mut self, kind: LabKind) {
        self.current = kind;
        self.lab_mut();
        self.seed_text = self.lab().seed().to_string();
    }

    /// Which lab is shown.
    pub fn current(&self) -> LabKind {
        self.current
    }

    /// Notices on screen now.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Frames drawn.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Starts or pauses the current lab.
    pub fn set_running(&mut self, running: bool) {
        self.lab_mut().set_running(running);
    }

    /// One step of the current lab.
    pub fn step_once(&mut self) {
        self.lab_mut().step_once();
    }

    /// Picks up the current lab's progress (what each frame does first); nothing while the
    /// compute device is starting.
    pub fn poll(&mut self) -> bool {
        if self.starting.is_some() {
            return false;
        }
        let slice = self.slice;
        self.lab_mut().poll(slice)
    }

    /// Shows `message` in the views (e.g. "Starting the GPU…") and runs nothing until
    /// [`LabApp::set_compute`] hands over the device; tabs, controls and links work meanwhile.
    pub fn hold_until_compute(&mut self, message: impl Into<String>) {
        self.starting = Some(message.into());
    }

    /// Whether the app waits for its compute device.
    pub fn is_starting(&self) -> bool {
        self.starting.is_some()
    }

    /// The compute device is ready: rebuilds the labs on it with the state chosen meanwhile
    /// (the current lab's parameters and seed, as its link spells them) and starts the current
    /// lab if the app autostarts.
    pub fn set_compute(&mut self, compute: Compute) {
        let fragment = self.fragment();
        self.compute = compute;
        self.labs.clear();
        self.starting = None;
        self.apply_fragment(&fragment);
        if self.autostart {
            self.lab_mut().set_running(true);
        }
        self.seed_text = self.lab().seed().to_string();
    }

    /// Restores state from a URL fragment, parameter by parameter; anything malformed or out of
    /// range is ignored with a notice.
    pub fn apply_fragment(&mut self, fragment: &str) {
        let (pairs, mut problems) = parse_fragment(fragment);
        let mut rest = Vec::new();
        let mut lab = None;
        let mut seed = None;
        for (k, v) in pairs {
            match k.as_str() {
                "lab" => match LabKind::from_name(&v) {
                    Some(kind) => lab = Some(kind),
                    None => problems.push(format!(
                        "ignored `lab={v}`: expected one of {}",
                        LabKind::ALL.map(LabKind::name).join(", ")
                    )),
                },
                "seed" => match v.parse::<u64>() {
                    Ok(s) => seed = Some(s),
                    Err(_) => problems.push(format!(
                        "ignored `seed={v}`: expected a whole number from 0 to {}",
                        u64::MAX
                    )),
                },
                _ => rest.push((k, v)),
            }
        }
        if let Some(kind) = lab {
            self.select(kind);
        }
        let l = self.lab_mut();
        if let Some(s) = seed {
            l.set_seed(s);
        }
        problems.extend(l.set_kv(&rest));
        self.seed_text = self.lab().seed().to_string();
        for p in problems {
            self.notices.push(Notice {
                text: format!("link: {p}"),
                warning: true,
            });
        }
    }

    /// The current state as a URL fragment (`lab=…&seed=…&key=value…`).
    pub fn fragment(&self) -> String {
        to_fragment(self.current.name(), &self.lab().params_json())
    }

    /// The test hook's view of the app: lab, backend, adapter, seed, steps, parameters, metrics.
    pub fn state_json(&self) -> Value {
        let lab = self.lab();
        let st = lab.status();
        json!({
            "lab": self.current.name(),
            "backend": self.compute.info().backend,
            "adapter": self.compute.info().adapter,
            "api": self.compute.info().api,
            "renderer": if self.gfx.render.is_some() { "wgpu" } else { "other" },
            "fallback": self.compute.fallback,
            "seed": lab.seed(),
            "steps": st.steps,
            "running": st.running,
            "done": st.done,
            "error": st.error,
            "params": lab.params_json(),
            "metrics": Value::Object(lab.metrics()),
            "notices": self.notices.iter().map(|n| n.text.clone()).collect::<Vec<_>>(),
            "frames": self.frames,
            "fragment": self.fragment(),
            "fallback_notice": self.compute.fallback.as_deref().map(fallback_notice),
            "tabs": self.tab_rects.iter().map(|(k, r)| json!({
                "lab": k.name(),
                "x": r.min.x,
                "y": r.min.y,
                "w": r.width(),
                "h": r.height(),
            })).collect::<Vec<_>>(),
            "seed_field": self.seed_rect.map(|r| json!({
                "x": r.min.x,
                "y": r.min.y,
                "w": r.width(),
                "h": r.height(),
            })),
        })
    }

    fn save(&mut self, name: &str, mime: &str, bytes: Vec<u8>) {
        let n = match self.platform.save(name, mime, bytes) {
            Ok(where_) => Notice {
                text: format!("saved {where_}"),
                warning: false,
            },
            Err(e) => Notice {
                text: format!("could not save {name}: {e}"),
                warning: true,
            },
        };
        self.notices.push(n);
    }

    fn export_base(&self) -> String {
        format!(
            "sgdlab-{}-seed{}-step{}",
            self.current.name(),
            self.lab().seed(),
            self.lab().status().steps
        )
    }

    /// Draws the whole app into `ui` (the root of the window or of a test harness).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.frames += 1;
        let running = self.poll();
        // A screenshot for the PNG export arrives through its callback.
        let shot = self.screenshot.lock().ok().and_then(|mut g| g.take());
        if let Some(img) = shot {
            {
                match png_bytes(&img) {
                    Ok(bytes) => {
                        let name = format!("{}.png", self.export_base());
                        self.save(&name, "image/png", bytes);
                    }
                    Err(e) => self.notices.push(Notice {
                        text: format!("PNG export failed: {e}"),
                        warning: true,
                    }),
                }
            }
        }
        egui::Panel::top("sgdlab-top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("sgdlab-notices")
            .resizable(false)
            .show(ui, |ui| self.notice_bar(ui));
        egui::Panel::left("sgdlab-controls")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.side(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(message) = &self.starting {
                ui.vertical_centered(|ui| {
                    ui.add_space(ui.available_height() / 3.0);
                    ui.heading(message);
                    ui.label(
                        "The lab's view appears once the device is ready; the tabs and controls \
                         work now.",
                    );
                });
                return;
            }
            let gfx = self.gfx.clone();
            self.lab_mut().view(ui, &gfx);
        });
        let frag = self.fragment();
        if frag != self.last_fragment {
            self.platform.set_fragment(&frag);
            self.last_fragment = frag;
        }
        if running {
            ui.ctx().request_repaint();
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("sgdlab");
            ui.separator();
            let mut pick = None;
            self.tab_rects.clear();
            for k in LabKind::ALL {
                let tab = ui.selectable_label(self.current == k, k.label());
                self.tab_rects.push((k, tab.rect));
                if tab.clicked() {
                    pick = Some(k);
                }
            }
            if let Some(k) = pick {
                self.select(k);
            }
            ui.separator();
            let info = self.compute.info();
            let badge = format!(
                "{} · {}{}",
                info.backend,
                info.adapter,
                if info.api == "-" {
                    String::new()
                } else {
                    format!(" · {}", info.api)
                }
            );
            ui.label(egui::RichText::new(badge).small())
                .on_hover_text(format!("{info}"));
        });
        // The one place the fallback is announced: what happened and what the user can do.
        if let Some(reason) = &self.compute.fallback {
            ui.colored_label(
                egui::Color32::from_rgb(230, 160, 40),
                fallback_notice(reason),
            );
        }
    }

    fn notice_bar(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = None;
        let start = self.notices.len().saturating_sub(4);
        for (i, n) in self.notices.iter().enumerate().skip(start) {
            ui.horizontal(|ui| {
                if ui.small_button("×").on_hover_text("dismiss").clicked() {
                    dismiss = Some(i);
                }
                if n.warning {
                    ui.colored_label(egui::Color32::from_rgb(230, 160, 40), &n.text);
                } else {
                    ui.label(&n.text);
                }
            });
        }
        if let Some(i) = dismiss {
            self.notices.remove(i);
        }
        if let Some(e) = self.lab().status().error.clone() {
            ui.colored_label(
                egui::Color32::from_rgb(230, 80, 60),
                format!("stopped: {e}"),
            );
        }
    }

    fn side(&mut self, ui: &mut egui::Ui) {
        let (claim, paper) = (self.lab().claim(), self.lab().paper());
        ui.label(egui::RichText::new(claim).italics());
        ui.label(egui::RichText::new(paper).small().weak());
        ui.separator();
        let st = self.lab().status().clone();
        ui.horizontal(|ui| {
            let label = if st.running { "Pause" } else { "Start" };
            if ui.button(label).clicked() {
                self.lab_mut().set_running(!st.running);
            }
            if ui.button("Step").clicked() {
                self.lab_mut().step_once();
            }
            if ui.button("Reset").clicked() {
                self.lab_mut().reset();
            }
        });
        ui.label(format!(
            "{} · {} ticks{}",
            if st.running {
                "running"
            } else if st.done {
                "finished"
            } else {
                "paused"
            },
            st.steps,
            if self.threaded {
                " · worker thread"
            } else {
                ""
            }
        ));
        ui.horizontal(|ui| {
            let label = ui.label("seed");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.seed_text).desired_width(90.0))
                .labelled_by(label.id);
            self.seed_rect = Some(r.rect);
            if r.lost_focus() || ui.button("apply").clicked() {
                match self.seed_text.trim().parse::<u64>() {
                    Ok(s) if s != self.lab().seed() => self.lab_mut().set_seed(s),
                    Ok(_) => {}
                    Err(_) => {
                        self.notices.push(Notice {
                            text: format!("seed `{}`: expected a whole number", self.seed_text),
                            warning: true,
                        });
                        self.seed_text = self.lab().seed().to_string();
                    }
                }
            }
        });
        let names = self.lab().preset_names();
        if names.len() > 1 {
            ui.horizontal_wrapped(|ui| {
                ui.label("presets:");
                for n in names {
                    if ui.small_button(n).clicked() {
                        self.lab_mut().load_preset(n);
                    }
                }
            });
        }
        ui.separator();
        self.lab_mut().controls(ui);
        ui.separator();
        ui.label("export");
        ui.horizontal_wrapped(|ui| {
            if ui.button("CSV").clicked() {
                let csv = self.lab().csv();
                self.save(&format!("{}.csv", self.export_base()), "text/csv", csv.into_bytes());
            }
            if ui.button("JSON").clicked() {
                let v = json!({
                    "lab": self.current.name(),
                    "device": self.compute.info(),
                    "params": self.lab().params_json(),
                    "status": { "steps": self.lab().status().steps, "done": self.lab().status().done },
                    "metrics": Value::Object(self.lab().metrics()),
                    "link": format!("#{}", self.fragment()),
                });
                let text = serde_json::to_string_pretty(&v).unwrap_or_default();
                self.save(&format!("{}.json", self.export_base()), "application/json", text.into_bytes());
            }
            if ui.button("PNG").clicked() {
                let slot = self.screenshot.clone();
                let ctx = ui.ctx().clone();
                ui.ctx().request_screenshot(move |img| {
                    if let Ok(mut g) = slot.lock() {
                        *g = Some(img);
                    }
                    ctx.request_repaint();
                });
            }
            if ui.button("config…").clicked() {
                self.show_config = !self.show_config;
                self.config_text =
                    serde_json::to_string_pretty(&self.lab().params_json()).unwrap_or_default();
            }
        });
        if self.show_config {
            let label = ui.label("The lab's config as JSON: edit or paste one, then load it.");
            ui.add(
                egui::TextEdit::multiline(&mut self.config_text)
                    .code_editor()
                    .desired_rows(8),
            )
            .labelled_by(label.id);
            ui.horizontal(|ui| {
                if ui.button("load").clicked() {
                    let outcome = serde_json::from_str::<Value>(&self.config_text)
                        .map_err(|e| format!("not JSON: {e}"))
                        .and_then(|v| self.lab_mut().load_params_json(&v));
                    let n = match outcome {
                        Ok(()) => Notice {
                            text: "config loaded".into(),
                            warning: false,
                        },
                        Err(e) => Notice {
                            text: format!("config not loaded: {e}"),
                            warning: true,
                        },
                    };
                    self.notices.push(n);
                }
                if ui.button("save").clicked() {
                    let text = self.config_text.clone();
                    self.save(
                        &format!("sgdlab-{}-config.json", self.current.name()),
                        "application/json",
                        text.into_bytes(),
                    );
                }
            });
        }
        ui.separator();
        ui.label(
            egui::RichText::new(format!("link: #{}", self.fragment()))
                .small()
                .monospace(),
        );
    }
}

/// The fallback's one notice: why the lab runs on the CPU and what to do about it.
pub fn fallback_notice(reason: &str) -> String {
    if cfg!(target_arch = "wasm32") {
        format!(
            "Running on the CPU, more slowly: {reason}. For the GPU, open this page in a browser \
             with WebGPU (a current Chrome or Edge; Safari 26; Firefox 141+ on Windows)."
        )
    } else {
        format!("Running on the CPU: {reason}")
    }
}

impl eframe::App for LabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        LabApp::ui(self, ui);
    }

    #[cfg(target_arch = "wasm32")]
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(&mut *self)
    }
}
