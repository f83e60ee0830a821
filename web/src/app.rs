//! The placeholder app: what runs, a startup self-check, and a small engine computation stepped
//! in bounded slices between frames. `sgdlab_ui::LabApp` replaces it in [`make_app`].

use crate::compute::Compute;
use crate::hook::StateHook;
use crate::state::LabState;
use egui::{Color32, Pos2, Rect, Sense, Shape, Stroke, Vec2};
use sgdlab_engine::landscape::{
    Clip, Landscape, Noise, NoiseKind, PackedLandscape, ParticleState, StepRule, step_particles_cpu,
};

/// Builds the app eframe runs on the page.
pub fn make_app(
    cc: &eframe::CreationContext<'_>,
    compute: Compute,
    hook: StateHook,
) -> Box<dyn eframe::App> {
    Box::new(Placeholder::new(cc, compute, hook))
}

/// Particles of the demo: few enough that a frame's slice stays well under a frame's budget on
/// one wasm thread.
const PARTICLES: usize = 2048;
/// Steps of every particle per frame (the bounded slice of work between two frames).
const STEPS_PER_FRAME: u32 = 16;
/// Index of the sharp well in [`Landscape::sharp_and_wide_1d`] (wide, sharp, wide).
const SHARP_WELL: u32 = 1;
/// Histogram bins over the landscape's domain.
const BINS: usize = 60;

struct Placeholder {
    compute: Compute,
    hook: StateHook,
    land: Landscape,
    packed: PackedLandscape,
    rule: StepRule,
    particles: ParticleState,
    state: LabState,
}

impl Placeholder {
    fn new(cc: &eframe::CreationContext<'_>, compute: Compute, hook: StateHook) -> Self {
        cc.egui_ctx.set_theme(egui::Theme::Dark);
        // The sharp-minima setting of `sgdlab run sharp-minima` (one η, truncated), with every
        // particle started in the sharp well: truncated heavy-tailed SGD empties it.
        let land = Landscape::sharp_and_wide_1d(0.5, 1.0, 1.0);
        let packed = land.packed();
        let rule = StepRule {
            lr: 0.04,
            noise: Noise::new(NoiseKind::Pareto, 1.0, 1.5),
            clip: Clip::Truncate { b: 0.4 },
            diverge_radius: 1e6,
            seed: 7,
        };
        let start = (0..PARTICLES)
            .map(|i| [-0.4 + 0.8 * (i as f32 + 0.5) / PARTICLES as f32, 0.0])
            .collect();
        let particles = ParticleState::new(&packed, start);
        let mut params = serde_json::Map::new();
        params.insert("eta".into(), f64::from(rule.lr).into());
        params.insert("alpha".into(), 1.5.into());
        params.insert("clip".into(), 0.4.into());
        params.insert("particles".into(), PARTICLES.into());
        let state = LabState {
            lab: "placeholder".into(),
            backend: compute.device.info.backend.clone(),
            adapter: compute.device.info.adapter.clone(),
            renderer: compute.renderer_name().into(),
            fallback_reason: compute.fallback_reason.clone(),
            seed: rule.seed,
            params,
            self_check: compute.self_check.clone(),
            rayon_threads: rayon::current_num_threads(),
            ..LabState::default()
        };
        hook.publish(state.to_json());
        Self {
            compute,
            hook,
            land,
            packed,
            rule,
            particles,
            state,
        }
    }

    /// One bounded slice of work, then the record for the hook.
    fn step(&mut self) {
        let started = now_ms();
        step_particles_cpu(
            &self.packed,
            &self.rule,
            &mut self.particles,
            STEPS_PER_FRAME,
            1,
        );
        let in_sharp = self
            .particles
            .meta
            .iter()
            .filter(|m| m[0] == SHARP_WELL)
            .count();
        let s = &mut self.state;
        s.steps = u64::from(self.particles.steps_done);
        s.metrics.insert(
            "sharp_fraction".into(),
            (in_sharp as f64 / PARTICLES as f64).into(),
        );
        s.frames += 1;
        if s.first_frame_ms.is_none() {
            s.first_frame_ms = started;
        }
        if let (Some(a), Some(b)) = (started, now_ms()) {
            s.metrics.insert("step_ms".into(), (b - a).into());
        }
        self.hook.publish(s.to_json());
    }

    fn histogram_ui(&self, ui: &mut egui::Ui) {
        let size = Vec2::new(ui.available_width(), ui.available_height().max(120.0));
        let (response, painter) = ui.allocate_painter(size, Sense::hover());
        let rect = response.rect;
        painter.rect_filled(rect, 4.0, Color32::from_gray(24));
        let (lo, hi) = domain(&self.land);
        let mut counts = [0usize; BINS];
        for p in &self.particles.pos {
            let t = (p[0] - lo) / (hi - lo);
            if (0.0..1.0).contains(&t) {
                counts[(t * BINS as f32) as usize] += 1;
            }
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1) as f32;
        let bar_w = rect.width() / BINS as f32;
        for (i, &c) in counts.iter().enumerate() {
            let h = rect.height() * 0.8 * c as f32 / max;
            let x0 = rect.left() + i as f32 * bar_w;
            let bar = Rect::from_min_max(
                Pos2::new(x0 + 1.0, rect.bottom() - h),
                Pos2::new(x0 + bar_w - 1.0, rect.bottom()),
            );
            painter.rect_filled(bar, 0.0, Color32::from_rgb(90, 160, 230));
        }
        // The landscape f over the same domain, scaled into the panel.
        let xs: Vec<f32> = (0..=200)
            .map(|i| lo + (hi - lo) * i as f32 / 200.0)
            .collect();
        let fs: Vec<f32> = xs.iter().map(|&x| self.packed.value([x, 0.0])).collect();
        let (fmin, fmax) = fs
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &f| (a.min(f), b.max(f)));
        let span = (fmax - fmin).max(1e-6);
        let points = xs
            .iter()
            .zip(&fs)
            .map(|(&x, &f)| {
                Pos2::new(
                    rect.left() + rect.width() * (x - lo) / (hi - lo),
                    rect.top() + 8.0 + (rect.height() - 16.0) * (1.0 - (f - fmin) / span),
                )
            })
            .collect();
        painter.add(Shape::line(
            points,
            Stroke::new(2.0, Color32::from_rgb(240, 180, 60)),
        ));
    }
}

impl eframe::App for Placeholder {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.step();
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("sgdlab in the browser");
            let info = &self.compute.device.info;
            ui.label(format!(
                "compute: {} on {} · drawing: {}",
                info.backend,
                info.adapter,
                self.compute.renderer_name()
            ));
            let check = &self.compute.self_check;
            if check.ok {
                ui.label(format!(
                    "self-check passed: f = {}, ∂f/∂X = {:?}",
                    check.value.unwrap_or(f32::NAN),
                    check.grad
                ));
            } else {
                ui.colored_label(
                    Color32::from_rgb(240, 90, 90),
                    format!("self-check FAILED: {check:?}"),
                );
            }
            ui.label(format!(
                "{} particles of truncated heavy-tailed SGD, started in the sharp well: \
                 {} steps, {:.1}% still in it",
                PARTICLES,
                self.state.steps,
                100.0
                    * self.state.metrics["sharp_fraction"]
                        .as_f64()
                        .unwrap_or(f64::NAN)
            ));
            self.histogram_ui(ui);
        });
        ui.ctx().request_repaint();
    }
}

/// The landscape's domain along x.
fn domain(land: &Landscape) -> (f32, f32) {
    match land {
        Landscape::BumpWells { lo, hi, .. } => (lo[0], hi[0]),
        _ => (-2.5, 2.5),
    }
}

/// `performance.now()`: milliseconds since navigation start.
fn now_ms() -> Option<f64> {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
}
