//! Sharp-minima lab (Wang, Oh, Rhee 2021): particles on a plane with a sharp well between two
//! wide ones, under Gaussian or heavy-tailed noise, with or without truncation. Live bars of the
//! share of particles in each well and a histogram of first exit times.

use super::field::{Field, FieldSnap, exit_times, label_counts, particle_sliders};
use super::finite;
use super::{cached_texture, series};
use crate::compute::Compute;
use crate::gfx::{Gfx, LABEL_COLORS, draw_particles, heatmap_image, limits, viridis};
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range, choices};
use crate::runner::Sim;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotImage, PlotPoint};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::landscape::{
    Clip, Landscape, NEVER, Noise, NoiseKind, PackedLandscape, ParticleState, StepRule,
};
use std::sync::Arc;

/// The noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseChoice {
    /// Light-tailed.
    Gaussian,
    /// Symmetric Pareto (Lomax) with tail index α.
    Pareto,
    /// Symmetric α-stable.
    Stable,
}

/// What the clipping threshold applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClipMode {
    /// Truncate the whole step at norm b (the paper's φ_b).
    Truncate,
    /// Clip the stochastic gradient's norm at b before multiplying by η.
    GradNorm,
}

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharpParams {
    /// Seed.
    pub seed: u64,
    /// Noise distribution.
    pub noise: NoiseChoice,
    /// Tail index α.
    pub alpha: f32,
    /// Noise scale σ.
    pub sigma: f32,
    /// Learning rate η.
    pub eta: f32,
    /// Clipping threshold b; 0 turns clipping off.
    pub clip: f32,
    /// What is clipped: the step or the gradient.
    pub clip_mode: ClipMode,
    /// Radius of the sharp well.
    pub sharp_radius: f32,
    /// Particles.
    pub particles: u32,
    /// Steps per tick.
    pub speed: u32,
    /// Stop after this many steps per particle (0: run until paused).
    pub stop_at: u32,
}

impl LabParams for SharpParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        match self.noise {
            NoiseChoice::Pareto => check_range("alpha", f64::from(self.alpha), 1.01, 4.0)?,
            NoiseChoice::Stable => check_range("alpha", f64::from(self.alpha), 0.1, 2.0)?,
            NoiseChoice::Gaussian => check_range("alpha", f64::from(self.alpha), 0.1, 4.0)?,
        }
        check_range("sigma", f64::from(self.sigma), 0.0, 10.0)?;
        check_range("eta", f64::from(self.eta), 1e-4, 1.0)?;
        if self.clip != 0.0 {
            check_range("clip", f64::from(self.clip), 0.01, 10.0)?;
        }
        check_range("sharp_radius", f64::from(self.sharp_radius), 0.1, 0.9)?;
        check_count("particles", u64::from(self.particles), 3, 4_000_000)?;
        check_count("speed", u64::from(self.speed), 1, 10_000)?;
        check_count("stop_at", u64::from(self.stop_at), 0, 100_000_000)
    }
}

/// Radius of the wide wells.
const WIDE: f32 = 1.0;

impl SharpParams {
    fn landscape(&self) -> Landscape {
        Landscape::sharp_and_wide_2d(self.sharp_radius, WIDE, 1.0)
    }
    fn rule(&self) -> StepRule {
        let kind = match self.noise {
            NoiseChoice::Gaussian => NoiseKind::Gaussian,
            NoiseChoice::Pareto => NoiseKind::Pareto,
            NoiseChoice::Stable => NoiseKind::Stable,
        };
        StepRule {
            lr: self.eta,
            noise: Noise::new(kind, self.sigma, self.alpha),
            clip: match self.clip_mode {
                _ if self.clip == 0.0 => Clip::None,
                ClipMode::Truncate => Clip::Truncate { b: self.clip },
                ClipMode::GradNorm => Clip::GradNorm { c: self.clip },
            },
            diverge_radius: 1e4,
            seed: self.seed,
        }
    }
    fn bounds(&self) -> ([f32; 2], [f32; 2]) {
        let s = self.sharp_radius;
        ([-s - 2.0 * WIDE, -WIDE - 0.3], [s + 2.0 * WIDE, WIDE + 0.3])
    }
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct SharpSnap {
    /// f on the grid (nx × ny).
    pub f: Arc<Vec<f32>>,
    /// Grid size.
    pub nx: usize,
    /// Grid size.
    pub ny: usize,
    /// Box.
    pub lo: [f32; 2],
    /// Box.
    pub hi: [f32; 2],
    /// Texture version.
    pub version: u64,
    /// The particles.
    pub field: Option<FieldSnap>,
    /// Share of particles per label now (wide left, sharp, wide right, -, between, diverged).
    pub shares: [f64; 6],
    /// `[step, sharp share, wide share]` over time.
    pub history: Arc<Vec<[f64; 3]>>,
    /// First exit times of particles that started in the sharp well.
    pub exits_sharp: Arc<Vec<u32>>,
    /// First exit times of particles that started in a wide well.
    pub exits_wide: Arc<Vec<u32>>,
    /// Censoring-corrected mean exit time from the sharp well and from the wide wells.
    pub mean_exit: [f64; 2],
    /// Steps per particle.
    pub steps: u32,
}

/// The live experiment.
pub struct SharpSim {
    params: SharpParams,
    field: Field,
    f: Arc<Vec<f32>>,
    nx: usize,
    ny: usize,
    history: Vec<[f64; 3]>,
    last: SharpSnap,
    last_light_steps: u32,
    ticks: u64,
}

fn starts(p: &SharpParams) -> Vec<[f32; 2]> {
    // Half at the sharp well's center, a quarter at each wide well's center.
    let n = p.particles as usize;
    let s = p.sharp_radius;
    (0..n)
        .map(|i| match i % 4 {
            0 => [-s - WIDE, 0.0],
            1 | 3 => [0.0, 0.0],
            _ => [s + WIDE, 0.0],
        })
        .collect()
}

/// Censoring-corrected mean exit time (Σ min(τ, T) / exits) of particles that started at `k`.
fn mean_exit(state: &ParticleState, starts: &[u32]) -> f64 {
    let (mut sum, mut exits, mut started) = (0u64, 0u64, 0u64);
    for m in &state.meta {
        if starts.contains(&m[2]) {
            started += 1;
            if m[1] == NEVER {
                sum += u64::from(state.steps_done);
            } else {
                exits += 1;
                sum += u64::from(m[1]);
            }
        }
    }
    if started == 0 {
        f64::NAN
    } else if exits == 0 {
        f64::INFINITY
    } else {
        sum as f64 / exits as f64
    }
}

impl Sim for SharpSim {
    type Params = SharpParams;
    type Snap = SharpSnap;
    type Action = ();

    fn new(p: &SharpParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let land: PackedLandscape = p.landscape().packed();
        let (lo, hi) = p.bounds();
        let (nx, ny) = (160usize, 64usize);
        let mut f = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            for i in 0..nx {
                let x = lo[0] + (hi[0] - lo[0]) * (i as f32 + 0.5) / nx as f32;
                let y = lo[1] + (hi[1] - lo[1]) * (j as f32 + 0.5) / ny as f32;
                f.push(land.value([x, y]));
            }
        }
        // The shares at step 0, from the starting positions (statistics of later steps come
        // from readbacks).
        let start = ParticleState::new(&land, starts(p));
        let c0 = label_counts(&start);
        let n0 = start.len().max(1) as f64;
        let history = vec![[0.0, c0[1] as f64 / n0, (c0[0] + c0[2]) as f64 / n0]];
        let field = Field::new(land, p.rule(), start.pos, compute)?;
        Ok(Self {
            params: p.clone(),
            field,
            f: Arc::new(f),
            nx,
            ny,
            history,
            last: SharpSnap::default(),
            last_light_steps: 0,
            ticks: 0,
        })
    }

    fn set_params(&mut self, p: &SharpParams) {
        self.params = p.clone();
        self.field.set_rule(p.rule());
    }

    fn act(&mut self, (): ()) {}

    fn step(&mut self) -> Result<(), String> {
        let mut k = self.field.paced(self.params.speed);
        if self.params.stop_at > 0 {
            k = k.min(self.params.stop_at.saturating_sub(self.field.steps()));
        }
        if k > 0 && self.field.tick(k) {
            self.ticks += 1;
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.params.stop_at > 0 && self.field.steps() >= self.params.stop_at
    }

    fn steps(&self) -> u64 {
        self.ticks
    }

    fn pending(&self) -> bool {
        self.field.pending()
    }

    fn snapshot(&mut self) -> SharpSnap {
        let field = self.field.snapshot();
        let (lo, hi) = self.params.bounds();
        let mut snap = SharpSnap {
            f: self.f.clone(),
            nx: self.nx,
            ny: self.ny,
            lo,
            hi,
            version: 1,
            steps: field.steps,
            ..self.last.clone()
        };
        if let Some(light) = &field.light
            && light.steps_done != self.last_light_steps
        {
            self.last_light_steps = light.steps_done;
            let c = label_counts(light);
            let n = light.meta.len().max(1) as f64;
            for (k, v) in c.iter().enumerate() {
                snap.shares[k] = *v as f64 / n;
            }
            self.history.push([
                f64::from(light.steps_done),
                snap.shares[1],
                snap.shares[0] + snap.shares[2],
            ]);
            snap.history = Arc::new(self.history.clone());
            snap.exits_sharp = Arc::new(exit_times(light, 1));
            let mut wide = exit_times(light, 0);
            wide.extend(exit_times(light, 2));
            snap.exits_wide = Arc::new(wide);
            snap.mean_exit = [mean_exit(light, &[1]), mean_exit(light, &[0, 2])];
        }
        snap.field = Some(field);
        self.last = SharpSnap {
            field: None,
            ..snap.clone()
        };
        snap
    }
}

fn log_histogram(times: &[u32], bins_per_decade: usize, max_decades: usize) -> Vec<(f64, usize)> {
    let nb = bins_per_decade * max_decades;
    let mut counts = vec![0usize; nb];
    for &t in times {
        let l = f64::from(t.max(1)).log10();
        let b = ((l * bins_per_decade as f64) as usize).min(nb - 1);
        counts[b] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| ((i as f64 + 0.5) / bins_per_decade as f64, c))
        .collect()
}

impl LabSpec for SharpSim {
    const KIND: LabKind = LabKind::SharpMinima;
    const CLAIM: &'static str = "With heavy-tailed noise and truncated steps, leaving a basin takes \
        ⌈r/b⌉ large jumps, so exit times scale like η^−(1+l*(α−1)): as η shrinks the narrow \
        (sharp) well is left ever faster than the wide ones and empties. Without truncation every \
        well is left on the same η^−α scale and the shares stay put.";
    const PAPER: &'static str = "Wang, Oh, Rhee: Eliminating Sharp Minima from SGD with Truncated Heavy-tailed Noise (2021)";

    fn default_params() -> SharpParams {
        SharpParams {
            seed: 0,
            noise: NoiseChoice::Pareto,
            alpha: 1.5,
            sigma: 1.0,
            eta: 0.04,
            clip: 0.4,
            clip_mode: ClipMode::Truncate,
            sharp_radius: 0.5,
            particles: 16_384,
            speed: 20,
            stop_at: 0,
        }
    }

    fn presets() -> Vec<(&'static str, SharpParams)> {
        let d = Self::default_params();
        vec![
            (
                "heavy tails + truncation: the sharp well empties",
                d.clone(),
            ),
            (
                "heavy tails, no clipping",
                SharpParams {
                    clip: 0.0,
                    ..d.clone()
                },
            ),
            (
                "Gaussian noise + truncation",
                SharpParams {
                    noise: NoiseChoice::Gaussian,
                    sigma: 3.0,
                    ..d.clone()
                },
            ),
            (
                "100,000 particles",
                SharpParams {
                    particles: 100_000,
                    ..d
                },
            ),
        ]
    }

    fn controls(p: &mut SharpParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.live(choices(
            ui,
            "noise",
            &mut p.noise,
            &[
                (NoiseChoice::Gaussian, "Gaussian"),
                (NoiseChoice::Pareto, "Pareto"),
                (NoiseChoice::Stable, "α-stable"),
            ],
        ));
        ui.horizontal(|ui| {
            ui.label("clipping");
            let mut on = p.clip > 0.0;
            if ui.checkbox(&mut on, "on").changed() {
                p.clip = if on { 0.4 } else { 0.0 };
                c = c.live(true);
            }
            c = c.live(
                ui.selectable_value(&mut p.clip_mode, ClipMode::Truncate, "truncate step")
                    .changed(),
            );
            c = c.live(
                ui.selectable_value(&mut p.clip_mode, ClipMode::GradNorm, "clip gradient")
                    .changed(),
            );
        });
        let amax = if p.noise == NoiseChoice::Stable {
            2.0
        } else {
            3.0
        };
        let amin = if p.noise == NoiseChoice::Pareto {
            1.05
        } else {
            0.5
        };
        p.alpha = p.alpha.clamp(amin, amax);
        c = c.live(
            ui.add(egui::Slider::new(&mut p.alpha, amin..=amax).text("tail index α"))
                .changed(),
        );
        c = c.live(
            ui.add(egui::Slider::new(&mut p.sigma, 0.0..=5.0).text("noise σ"))
                .changed(),
        );
        c = c.live(
            ui.add(
                egui::Slider::new(&mut p.eta, 0.002..=0.3)
                    .logarithmic(true)
                    .text("η"),
            )
            .changed(),
        );
        if p.clip > 0.0 {
            c = c.live(
                ui.add(egui::Slider::new(&mut p.clip, 0.05..=2.0).text("clip b"))
                    .changed(),
            );
            ui.label(format!(
                "jumps to leave: sharp ⌈r/b⌉ = {}, wide ⌈R/b⌉ = {}",
                (p.sharp_radius / p.clip).ceil(),
                (WIDE / p.clip).ceil()
            ));
        }
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.sharp_radius, 0.2..=0.8).text("sharp radius r"))
                .changed(),
        );
        c.max(particle_sliders(
            ui,
            &mut p.particles,
            3,
            &mut p.speed,
            2000,
        ))
    }

    fn view(s: &SharpSnap, _p: &SharpParams, ui: &mut egui::Ui, gfx: &Gfx, _a: &mut Vec<()>) {
        if s.f.is_empty() {
            ui.label("starting…");
            return;
        }
        let avail = ui.available_size();
        let (lo, hi) = limits(&s.f);
        let tex = cached_texture(ui, "sharp-f", s.version, || {
            heatmap_image(&s.f, s.nx, s.ny, lo, hi, viridis)
        });
        let (x0, x1) = (f64::from(s.lo[0]), f64::from(s.hi[0]));
        let (y0, y1) = (f64::from(s.lo[1]), f64::from(s.hi[1]));
        ui.label(format!(
            "the landscape: wide well · sharp well · wide well (particles coloured by well; {} steps)",
            s.steps
        ));
        let resp = Plot::new("sharp-landscape")
            .height((avail.y * 0.42).max(160.0))
            .data_aspect(1.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .allow_double_click_reset(false)
            .default_x_bounds(x0, x1)
            .default_y_bounds(y0, y1)
            .show(ui, |pu| {
                pu.image(PlotImage::new(
                    "f",
                    tex.id(),
                    PlotPoint::new((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                    [(x1 - x0) as f32, (y1 - y0) as f32],
                ));
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
                2.5,
            );
        }
        let h = ui.available_height().max(150.0);
        let w = (ui.available_width() / 3.0 - 8.0).max(120.0);
        ui.horizontal(|ui| {
            let names = [
                "wide (left)",
                "sharp",
                "wide (right)",
                "",
                "between",
                "diverged",
            ];
            Plot::new("sharp-shares")
                .width(w)
                .height(h)
                .include_y(0.0)
                .include_y(0.6)
                .show_x(false)
                .legend(Legend::default())
                .y_axis_label("share of particles now")
                .show(ui, |pu| {
                    for (i, &k) in [0usize, 1, 2, 4, 5].iter().enumerate() {
                        pu.bar_chart(
                            BarChart::new(
                                format!("{} {:.1}%", names[k], 100.0 * s.shares[k]),
                                vec![Bar::new(i as f64, s.shares[k]).width(0.7)],
                            )
                            .color(LABEL_COLORS[k]),
                        );
                    }
                });
            Plot::new("sharp-history")
                .width(w)
                .height(h)
                .legend(Legend::default())
                .include_y(0.0)
                .x_axis_label("step")
                .show(ui, |pu| {
                    pu.line(
                        Line::new(
                            "in the sharp well",
                            series(s.history.iter().map(|r| [r[0], r[1]])),
                        )
                        .color(LABEL_COLORS[1]),
                    );
                    pu.line(
                        Line::new(
                            "in the wide wells",
                            series(s.history.iter().map(|r| [r[0], r[2]])),
                        )
                        .color(LABEL_COLORS[0]),
                    );
                });
            let hs = log_histogram(&s.exits_sharp, 4, 7);
            let hw = log_histogram(&s.exits_wide, 4, 7);
            Plot::new("sharp-exits")
                .width(w)
                .height(h)
                .legend(Legend::default())
                .x_axis_label("log10 first exit step")
                .show(ui, |pu| {
                    pu.bar_chart(
                        BarChart::new(
                            format!("from sharp (mean {:.0})", s.mean_exit[0]),
                            hs.iter()
                                .map(|(x, c)| Bar::new(*x, *c as f64).width(0.22))
                                .collect(),
                        )
                        .color(LABEL_COLORS[1]),
                    );
                    pu.bar_chart(
                        BarChart::new(
                            format!("from wide (mean {:.0})", s.mean_exit[1]),
                            hw.iter()
                                .map(|(x, c)| Bar::new(*x + 0.02, *c as f64).width(0.22))
                                .collect(),
                        )
                        .color(LABEL_COLORS[0]),
                    );
                });
        });
    }

    fn csv(s: &SharpSnap) -> String {
        let mut out = String::from("step,share_sharp,share_wide\n");
        for r in s.history.iter() {
            out.push_str(&format!("{},{},{}\n", r[0], r[1], r[2]));
        }
        out
    }

    fn metrics(s: &SharpSnap) -> Map<String, Value> {
        let first = s
            .history
            .first()
            .copied()
            .unwrap_or([0.0, f64::NAN, f64::NAN]);
        let mut m = Map::new();
        m.insert("sgd_steps".into(), json!(s.steps));
        // The statistics below are of this step (on the GPU they lag by a readback).
        m.insert(
            "stats_steps".into(),
            json!(s.history.last().map_or(0.0, |r| r[0])),
        );
        m.insert("sharp_share".into(), json!(finite(s.shares[1])));
        m.insert(
            "wide_share".into(),
            json!(finite(s.shares[0] + s.shares[2])),
        );
        m.insert("initial_sharp_share".into(), json!(finite(first[1])));
        m.insert("diverged_share".into(), json!(finite(s.shares[5])));
        m.insert("mean_exit_sharp".into(), json!(finite(s.mean_exit[0])));
        m.insert("mean_exit_wide".into(), json!(finite(s.mean_exit[1])));
        m.insert("exited_sharp".into(), json!(s.exits_sharp.len()));
        m
    }
}
