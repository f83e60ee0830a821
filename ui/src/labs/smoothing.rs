//! Smoothing lab (Kleinberg, Li, Yuan 2018): f and the smoothed g_η = E f(· − ηω) on a line or
//! a plane, and a cloud of SGD particles that settles where g, not f, has its minimum.

use super::field::{Field, FieldSnap, cloud, particle_sliders, spread};
use super::{cached_texture, finite, plot_click, series};
use crate::compute::Compute;
use crate::gfx::{Gfx, draw_particles, heatmap_image, limits_q, viridis};
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range, choices};
use crate::runner::Sim;
use egui_plot::{Legend, Line, Plot, PlotImage, PlotPoint};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::landscape::{
    Clip, Grid, Landscape, Noise, NoiseKind, PackedLandscape, Smoothing, StepRule, smooth_grid_cpu,
};
use std::sync::Arc;

/// The test function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    /// `x²/2 + 0.3 (1 − cos 10x)` per coordinate: a bowl covered in spikes.
    SpikyBowl,
    /// Rastrigin's function.
    Rastrigin,
}

/// The smoothing kernel (the distribution of the SGD noise ω).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernel {
    /// N(0, σ²) per coordinate.
    Gaussian,
    /// Uniform in the ball of radius σ.
    UniformBall,
}

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothingParams {
    /// Seed of the noise and the starts.
    pub seed: u64,
    /// 1 (a line) or 2 (a plane).
    pub dim: u32,
    /// The test function.
    pub surface: Surface,
    /// The kernel.
    pub kernel: Kernel,
    /// Noise scale σ.
    pub sigma: f32,
    /// Learning rate η (the kernel's width is ησ).
    pub eta: f32,
    /// Particles.
    pub particles: u32,
    /// SGD steps per tick.
    pub speed: u32,
}

impl LabParams for SmoothingParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        check_count("dim", u64::from(self.dim), 1, 2)?;
        check_range("sigma", f64::from(self.sigma), 0.0, 20.0)?;
        check_range("eta", f64::from(self.eta), 1e-4, 1.0)?;
        check_count("particles", u64::from(self.particles), 1, 4_000_000)?;
        check_count("speed", u64::from(self.speed), 1, 10_000)
    }
}

impl SmoothingParams {
    fn landscape(&self) -> Landscape {
        match (self.surface, self.dim) {
            (Surface::SpikyBowl, 1) => Landscape::spiky_bowl_1d(),
            (Surface::SpikyBowl, _) => Landscape::spiky_bowl_2d(),
            (Surface::Rastrigin, d) => Landscape::rastrigin(d),
        }
    }
    fn rule(&self) -> StepRule {
        StepRule {
            lr: self.eta,
            noise: self.noise(),
            clip: Clip::None,
            diverge_radius: 1e3,
            seed: self.seed,
        }
    }
    fn noise(&self) -> Noise {
        let kind = match self.kernel {
            Kernel::Gaussian => NoiseKind::Gaussian,
            Kernel::UniformBall => NoiseKind::UniformBall,
        };
        Noise::new(kind, self.sigma, 2.0)
    }
    /// The half-width of the plotted box.
    fn half_width(&self) -> f32 {
        match self.surface {
            Surface::SpikyBowl => 3.0,
            Surface::Rastrigin => 3.0,
        }
    }
    /// Radius around the global minimum (0) that counts as having found it: half a spike.
    fn basin_radius(&self) -> f32 {
        match self.surface {
            Surface::SpikyBowl => std::f32::consts::PI / 10.0,
            Surface::Rastrigin => 0.5,
        }
    }
}

/// User actions.
pub enum SmoothingAction {
    /// Restart every particle in a small cloud at this point.
    DropAt([f32; 2]),
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct SmoothingSnap {
    /// 1 or 2.
    pub dim: u32,
    /// Grid points per side.
    pub n: usize,
    /// Half-width of the box.
    pub half: f32,
    /// f on the grid.
    pub f: Arc<Vec<f32>>,
    /// g_η on the grid.
    pub g: Arc<Vec<f32>>,
    /// Changes whenever f or g change (for texture caching).
    pub version: u64,
    /// The particles.
    pub field: Option<FieldSnap>,
    /// `[step, mean f(x), fraction within the global basin, mean |x|]` over time.
    pub history: Arc<Vec<[f64; 4]>>,
}

/// The live experiment.
pub struct SmoothingSim {
    params: SmoothingParams,
    land: PackedLandscape,
    field: Field,
    compute: Compute,
    f: Arc<Vec<f32>>,
    g: Arc<Vec<f32>>,
    grid: Grid,
    version: u64,
    dirty_g: bool,
    history: Vec<[f64; 4]>,
    last_light_steps: u32,
    ticks: u64,
}

fn grid_for(p: &SmoothingParams) -> Grid {
    let h = p.half_width();
    if p.dim == 1 {
        Grid::line(401, -h, h)
    } else {
        Grid {
            nx: 96,
            ny: 96,
            x: (-h, h),
            y: (-h, h),
        }
    }
}

impl SmoothingSim {
    fn smooth(&mut self) {
        let s = Smoothing {
            noise: self.params.noise(),
            lr: self.params.eta,
            samples: if self.params.dim == 1 { 512 } else { 96 },
            seed: self.params.seed,
        };
        self.g = Arc::new(smooth_grid_cpu(
            &self.land,
            &s,
            self.params.dim,
            &self.grid,
            self.compute.threads,
        ));
        self.version += 1;
        self.dirty_g = false;
    }
}

impl Sim for SmoothingSim {
    type Params = SmoothingParams;
    type Snap = SmoothingSnap;
    type Action = SmoothingAction;

    fn new(p: &SmoothingParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let land = p.landscape().packed();
        let grid = grid_for(p);
        let f: Vec<f32> = (0..grid.len()).map(|i| land.value(grid.point(i))).collect();
        let h = p.half_width();
        let start = spread(p.particles as usize, [-h, -h], [h, h], p.dim, p.seed);
        let history = vec![cloud_stats(&land, &start, p.basin_radius(), 0)];
        let field = Field::new(land.clone(), p.rule(), start, compute)?;
        let mut s = Self {
            params: p.clone(),
            land,
            field,
            compute: compute.clone(),
            f: Arc::new(f),
            g: Arc::new(Vec::new()),
            grid,
            version: 0,
            dirty_g: true,
            history,
            last_light_steps: 0,
            ticks: 0,
        };
        s.smooth();
        Ok(s)
    }

    fn set_params(&mut self, p: &SmoothingParams) {
        if p.sigma != self.params.sigma
            || p.eta != self.params.eta
            || p.kernel != self.params.kernel
        {
            self.dirty_g = true;
        }
        self.params = p.clone();
        self.field.set_rule(p.rule());
        if self.dirty_g {
            self.smooth();
        }
    }

    fn act(&mut self, a: SmoothingAction) {
        let SmoothingAction::DropAt(c) = a;
        self.ticks += 1;
        let pts = cloud(
            self.params.particles as usize,
            c,
            0.05,
            self.params.dim,
            self.params.seed ^ self.ticks,
        );
        let first = cloud_stats(&self.land, &pts, self.params.basin_radius(), 0);
        if let Ok(f) = Field::new(self.land.clone(), self.params.rule(), pts, &self.compute) {
            self.field = f;
            self.history = vec![first];
            self.last_light_steps = 0;
        }
    }

    fn step(&mut self) -> Result<(), String> {
        if self.field.tick(self.field.paced(self.params.speed)) {
            self.ticks += 1;
        }
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.ticks
    }

    fn pending(&self) -> bool {
        self.field.pending()
    }

    fn snapshot(&mut self) -> SmoothingSnap {
        let field = self.field.snapshot();
        if let Some(light) = &field.light
            && light.steps_done != self.last_light_steps
        {
            self.last_light_steps = light.steps_done;
            self.history.push(cloud_stats(
                &self.land,
                &light.pos,
                self.params.basin_radius(),
                light.steps_done,
            ));
            if self.history.len() > 4000 {
                // Keep the curve bounded: drop every other early point.
                let keep: Vec<[f64; 4]> = self
                    .history
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 0 || *i >= 2000)
                    .map(|(_, v)| *v)
                    .collect();
                self.history = keep;
            }
        }
        SmoothingSnap {
            dim: self.params.dim,
            n: self.grid.nx as usize,
            half: self.params.half_width(),
            f: self.f.clone(),
            g: self.g.clone(),
            version: self.version,
            field: Some(field),
            history: Arc::new(self.history.clone()),
        }
    }
}

impl LabSpec for SmoothingSim {
    const KIND: LabKind = LabKind::Smoothing;
    const CLAIM: &'static str = "SGD with step noise ω behaves like gradient descent on the smoothed \
        loss g(y) = E f(y − ηω). Spikes narrower than ησ vanish from g, so particles that get \
        stuck in f's spurious minima at small ησ reach the global basin once ησ is large enough \
        (g is one-point convex there).";
    const PAPER: &'static str =
        "Kleinberg, Li, Yuan: An Alternative View: When Does SGD Escape Local Minima? (ICML 2018)";

    fn default_params() -> SmoothingParams {
        SmoothingParams {
            seed: 0,
            dim: 2,
            surface: Surface::SpikyBowl,
            kernel: Kernel::Gaussian,
            sigma: 2.0,
            eta: 0.05,
            particles: 4096,
            speed: 4,
        }
    }

    fn presets() -> Vec<(&'static str, SmoothingParams)> {
        let d = Self::default_params();
        vec![
            (
                "stuck: little noise (ησ = 0.02)",
                SmoothingParams {
                    sigma: 0.4,
                    ..d.clone()
                },
            ),
            ("escapes: ησ = 0.1", d.clone()),
            (
                "over-smoothed: ησ = 0.5",
                SmoothingParams {
                    sigma: 10.0,
                    ..d.clone()
                },
            ),
            (
                "1-D spiky bowl",
                SmoothingParams {
                    dim: 1,
                    ..d.clone()
                },
            ),
            (
                "Rastrigin",
                SmoothingParams {
                    surface: Surface::Rastrigin,
                    sigma: 4.0,
                    ..d
                },
            ),
        ]
    }

    fn controls(p: &mut SmoothingParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.reset(choices(
            ui,
            "surface",
            &mut p.surface,
            &[
                (Surface::SpikyBowl, "spiky bowl"),
                (Surface::Rastrigin, "Rastrigin"),
            ],
        ));
        c = c.reset(choices(
            ui,
            "dimension",
            &mut p.dim,
            &[(1, "1-D"), (2, "2-D")],
        ));
        c = c.live(choices(
            ui,
            "kernel",
            &mut p.kernel,
            &[
                (Kernel::Gaussian, "Gaussian"),
                (Kernel::UniformBall, "uniform ball"),
            ],
        ));
        c = c.live(
            ui.add(egui::Slider::new(&mut p.sigma, 0.0..=20.0).text("noise σ"))
                .on_hover_text("scale of the gradient noise ω")
                .changed(),
        );
        c = c.live(
            ui.add(
                egui::Slider::new(&mut p.eta, 0.001..=0.5)
                    .logarithmic(true)
                    .text("η"),
            )
            .changed(),
        );
        ui.label(format!("kernel width ησ = {:.3}", p.eta * p.sigma));
        c.max(particle_sliders(ui, &mut p.particles, 1, &mut p.speed, 500))
    }

    fn view(
        s: &SmoothingSnap,
        p: &SmoothingParams,
        ui: &mut egui::Ui,
        gfx: &Gfx,
        actions: &mut Vec<SmoothingAction>,
    ) {
        if s.f.is_empty() {
            ui.label("starting…");
            return;
        }
        let h = f64::from(s.half);
        let avail = ui.available_size();
        let top_h = (avail.y * 0.62).max(200.0);
        if s.dim == 1 {
            let xs = |i: usize| -h + 2.0 * h * i as f64 / (s.f.len() - 1) as f64;
            let resp = Plot::new("smoothing-1d")
                .height(top_h)
                .legend(Legend::default())
                .x_axis_label("x")
                .show(ui, |pu| {
                    pu.line(Line::new(
                        "f (the loss)",
                        series(s.f.iter().enumerate().map(|(i, v)| [xs(i), f64::from(*v)])),
                    ));
                    pu.line(
                        Line::new(
                            format!("g (smoothed, ησ = {:.3})", p.eta * p.sigma),
                            series(s.g.iter().enumerate().map(|(i, v)| [xs(i), f64::from(*v)])),
                        )
                        .width(2.5),
                    );
                    if let Some(light) = s.field.as_ref().and_then(|f| f.light.as_ref()) {
                        // Particle density as a histogram under the curves.
                        let bins = 120;
                        let mut counts = vec![0usize; bins];
                        for x in &light.pos {
                            let t = (f64::from(x[0]) + h) / (2.0 * h);
                            if (0.0..1.0).contains(&t) {
                                counts[(t * bins as f64) as usize] += 1;
                            }
                        }
                        let maxc = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
                        let fmax = s.f.iter().copied().fold(0.0f32, f32::max) as f64;
                        let bars: Vec<egui_plot::Bar> = counts
                            .iter()
                            .enumerate()
                            .map(|(i, &c)| {
                                egui_plot::Bar::new(
                                    -h + 2.0 * h * (i as f64 + 0.5) / bins as f64,
                                    c as f64 / maxc * fmax * 0.5,
                                )
                                .width(2.0 * h / bins as f64)
                            })
                            .collect();
                        pu.bar_chart(
                            egui_plot::BarChart::new("particles (density)", bars)
                                .color(egui::Color32::from_rgba_unmultiplied(230, 80, 60, 120)),
                        );
                    }
                    pu.pointer_coordinate()
                });
            if let Some(pt) = plot_click(&resp) {
                actions.push(SmoothingAction::DropAt([pt.x as f32, 0.0]));
            }
        } else {
            // The low half of f's values: the bowl's floor with its spikes, where SGD lives.
            let (lo, hi) = limits_q(&s.f, 0.0, 0.45);
            let w = (avail.x / 2.0 - 8.0).max(150.0);
            ui.horizontal(|ui| {
                for (name, values, id) in [("f", &s.f, "smoothing-f"), ("g_η", &s.g, "smoothing-g")]
                {
                    ui.vertical(|ui| {
                        ui.label(if name == "f" {
                            "f: the loss (click to drop particles)".to_string()
                        } else {
                            format!("g_η: f smoothed at width ησ = {:.3}", p.eta * p.sigma)
                        });
                        let tex = cached_texture(ui, id, s.version, || {
                            heatmap_image(values, s.n, s.n, lo, hi, viridis)
                        });
                        let resp = Plot::new(id)
                            .width(w)
                            .height(top_h - 20.0)
                            .data_aspect(1.0)
                            .allow_drag(false)
                            .allow_zoom(false)
                            .allow_scroll(false)
                            .allow_double_click_reset(false)
                            .allow_boxed_zoom(false)
                            .default_x_bounds(-h, h)
                            .default_y_bounds(-h, h)
                            .show(ui, |pu| {
                                pu.image(PlotImage::new(
                                    name,
                                    tex.id(),
                                    PlotPoint::new(0.0, 0.0),
                                    [2.0 * h as f32, 2.0 * h as f32],
                                ));
                                pu.pointer_coordinate()
                            });
                        if let Some(field) = &s.field {
                            let b = resp.transform.bounds();
                            draw_particles(
                                ui,
                                gfx,
                                resp.response.id,
                                *resp.transform.frame(),
                                (b.min()[0], b.max()[0]),
                                (b.min()[1], b.max()[1]),
                                &field.source,
                                3.0,
                            );
                        }
                        if let Some(pt) = plot_click(&resp) {
                            actions.push(SmoothingAction::DropAt([pt.x as f32, pt.y as f32]));
                        }
                    });
                }
            });
        }
        Plot::new("smoothing-history")
            .height(ui.available_height().max(120.0))
            .legend(Legend::default())
            .x_axis_label("SGD step")
            .show(ui, |pu| {
                pu.line(Line::new(
                    "fraction in the global basin",
                    series(s.history.iter().map(|r| [r[0], r[2]])),
                ));
                pu.line(Line::new(
                    "mean distance to the global minimum",
                    series(s.history.iter().map(|r| [r[0], r[3]])),
                ));
                pu.line(Line::new(
                    "mean f(x)",
                    series(s.history.iter().map(|r| [r[0], r[1]])),
                ));
            });
    }

    fn csv(s: &SmoothingSnap) -> String {
        let mut out = String::from("step,mean_f,frac_global_basin,mean_dist\n");
        for r in s.history.iter() {
            out.push_str(&format!("{},{},{},{}\n", r[0], r[1], r[2], r[3]));
        }
        out
    }

    fn metrics(s: &SmoothingSnap) -> Map<String, Value> {
        let last = s
            .history
            .last()
            .copied()
            .unwrap_or([0.0, f64::NAN, f64::NAN, f64::NAN]);
        let first = s.history.first().copied().unwrap_or(last);
        let mut m = Map::new();
        m.insert("sgd_steps".into(), json!(last[0]));
        m.insert("mean_f".into(), json!(finite(last[1])));
        m.insert("frac_global_basin".into(), json!(finite(last[2])));
        m.insert("initial_frac_global_basin".into(), json!(finite(first[2])));
        m.insert("mean_dist".into(), json!(finite(last[3])));
        m
    }
}

/// `[step, mean f(x), fraction within r of the global minimum (0), mean |x|]` of a cloud.
fn cloud_stats(land: &PackedLandscape, pos: &[[f32; 2]], r: f32, step: u32) -> [f64; 4] {
    let n = pos.len().max(1) as f64;
    let (mut sf, mut inside, mut sr) = (0.0f64, 0usize, 0.0f64);
    for &x in pos {
        sf += f64::from(land.value(x));
        let d = (x[0] * x[0] + x[1] * x[1]).sqrt();
        inside += usize::from(d < r);
        sr += f64::from(d);
    }
    [f64::from(step), sf / n, inside as f64 / n, sr / n]
}
