//! A live cloud of SGD particles on a test landscape, on the GPU kernel or the CPU reference,
//! shared by the smoothing and sharp-minima labs. GPU particles are drawn from their buffers;
//! statistics come from a light asynchronous readback a few times a second.

use crate::compute::Compute;
use crate::gfx::ParticleSource;
use sgdlab_engine::EngineError;
use sgdlab_engine::gpu::{GpuContext, ParticleRunner};
use sgdlab_engine::landscape::{NEVER, PackedLandscape, ParticleState, StepRule};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

type Pending = Pin<Box<dyn Future<Output = Result<ParticleState, EngineError>> + Send>>;

/// Ticks that may be queued on the GPU before the field waits for them.
const MAX_IN_FLIGHT: u64 = 2;

/// In a browser, how long one CPU tick may take: a tick is cut to the steps that fit, so the
/// inline runner's frame budget (several ticks) holds however many particles there are.
const CPU_TICK_TARGET_SECS: f64 = 0.002;
/// N particles stepping on a landscape.
pub struct Field {
    /// The landscape.
    pub land: PackedLandscape,
    runner: ParticleRunner,
    ctx: Option<GpuContext>,
    pending: Option<Pending>,
    light: Option<ParticleState>,
    submitted: u64,
    completed: Arc<AtomicU64>,
    ticks_since_read: u32,
    ticks: u64,
    ticks_at_snapshot: u64,
    /// Seconds per step on the CPU (an exponential average; 0 before the first tick), which
    /// paces CPU ticks in a browser (see [`Field::paced`]).
    cpu_step_secs: f64,
}

/// What a view needs of a field.
#[derive(Clone)]
pub struct FieldSnap {
    /// What to draw.
    pub source: ParticleSource,
    /// Positions and labels on the CPU (the GPU path's latest readback), for statistics.
    pub light: Option<Arc<ParticleState>>,
    /// Steps each particle has taken.
    pub steps: u32,
}

impl Field {
    /// Particles at `start` on `compute` (the GPU kernel when it has one).
    pub fn new(
        land: PackedLandscape,
        rule: StepRule,
        start: Vec<[f32; 2]>,
        compute: &Compute,
    ) -> Result<Self, String> {
        let state = ParticleState::new(&land, start);
        let runner = ParticleRunner::with_context(
            compute.gpu.as_ref(),
            land.clone(),
            rule,
            state,
            compute.threads,
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            land,
            runner,
            ctx: compute.gpu.clone(),
            pending: None,
            light: None,
            submitted: 0,
            completed: Arc::new(AtomicU64::new(0)),
            ticks_since_read: u32::MAX,
            ticks: 0,
            ticks_at_snapshot: 0,
            cpu_step_secs: 0.0,
        })
    }

    /// Whether the statistics lag the particles (a readback in flight or still to start).
    pub fn pending(&self) -> bool {
        self.pending.is_some()
            || self
                .runner
                .gpu()
                .is_some_and(|g| self.light.as_ref().map(|l| l.steps_done) != Some(g.steps_done()))
    }

    /// Changes η, noise or clipping from the next step on.
    pub fn set_rule(&mut self, rule: StepRule) {
        self.runner.set_rule(rule);
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.runner.len()
    }

    /// Whether there are no particles.
    pub fn is_empty(&self) -> bool {
        self.runner.is_empty()
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.runner.steps_done()
    }

    /// The steps the next tick should take for a lab that asks for `speed` steps per tick:
    /// `speed`, except on the CPU in a browser, where a tick is cut to what fits in
    /// [`CPU_TICK_TARGET_SECS`] (the runner fits several in its frame budget). A GPU tick does
    /// not catch up on slow frames: on SwiftShader (the GPU on the CPU) catching up made frames
    /// slower and the dynamics too (4x: 11.5 steps/s, none: 33; web/README.md).
    pub fn paced(&self, speed: u32) -> u32 {
        if !cfg!(target_arch = "wasm32") {
            return speed;
        }
        let speed = speed.max(1);
        if self.ctx.is_some() {
            speed
        } else if self.cpu_step_secs > 0.0 {
            let fit = CPU_TICK_TARGET_SECS / self.cpu_step_secs;
            f64::from(speed).min(fit).max(1.0) as u32
        } else {
            1
        }
    }

    /// Queues `steps` steps. On the GPU at most [`MAX_IN_FLIGHT`] ticks wait in the queue:
    /// natively the field then waits for the oldest, in a browser it returns `false` (no work
    /// done this time; the next frame tries again).
    pub fn tick(&mut self, steps: u32) -> bool {
        if let Some(ctx) = &self.ctx {
            let _ = ctx.device.poll(wgpu_poll());
            if self.submitted - self.completed.load(Ordering::Acquire) >= MAX_IN_FLIGHT {
                #[cfg(target_arch = "wasm32")]
                return false;
                #[cfg(not(target_arch = "wasm32"))]
                {
                    let _ = ctx.device.poll(wgpu_wait());
                }
            }
            self.runner.step(steps);
            let done = self.completed.clone();
            ctx.queue.on_submitted_work_done(move || {
                done.fetch_add(1, Ordering::AcqRel);
            });
            self.submitted += 1;
        } else {
            let t0 = web_time::Instant::now();
            self.runner.step(steps);
            let per_step = t0.elapsed().as_secs_f64() / f64::from(steps.max(1));
            self.cpu_step_secs = if self.cpu_step_secs > 0.0 {
                0.7 * self.cpu_step_secs + 0.3 * per_step
            } else {
                per_step
            };
        }
        self.ticks_since_read = self.ticks_since_read.saturating_add(1);
        self.ticks += 1;
        true
    }

    /// The latest state to draw; on the GPU also starts or polls the light readback.
    pub fn snapshot(&mut self) -> FieldSnap {
        if let Some(state) = self.runner.cpu_state() {
            let light = Arc::new(ParticleState {
                pos: state.pos.clone(),
                meta: state.meta.clone(),
                stats: Vec::new(),
                steps_done: state.steps_done,
            });
            return FieldSnap {
                source: ParticleSource::Cpu(light.clone()),
                light: Some(light),
                steps: state.steps_done,
            };
        }
        let Some(g) = self.runner.gpu() else {
            return FieldSnap {
                source: ParticleSource::Cpu(Arc::new(ParticleState {
                    pos: Vec::new(),
                    meta: Vec::new(),
                    stats: Vec::new(),
                    steps_done: 0,
                })),
                light: None,
                steps: 0,
            };
        };
        if let Some(ctx) = &self.ctx {
            let _ = ctx.device.poll(wgpu_poll());
        }
        if let Some(p) = self.pending.as_mut() {
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(r) = p.as_mut().poll(&mut cx) {
                self.pending = None;
                if let Ok(s) = r {
                    self.light = Some(s);
                }
            }
        }
        // Read back a few times a second while running, and once more when paused so the
        // statistics catch up with the last step.
        let paused = self.ticks == self.ticks_at_snapshot;
        self.ticks_at_snapshot = self.ticks;
        let stale = self.light.as_ref().map(|l| l.steps_done) != Some(g.steps_done());
        if self.pending.is_none() && stale && (self.ticks_since_read >= 4 || paused) {
            self.pending = Some(Box::pin(g.read_light_async()));
            self.ticks_since_read = 0;
        }
        FieldSnap {
            source: ParticleSource::Gpu {
                pos: g.positions().clone(),
                meta: g.meta().clone(),
                n: g.len() as u32,
            },
            light: self.light.clone().map(Arc::new),
            steps: g.steps_done(),
        }
    }
}

fn wgpu_poll() -> egui_wgpu::wgpu::PollType {
    egui_wgpu::wgpu::PollType::Poll
}

#[cfg(not(target_arch = "wasm32"))]
fn wgpu_wait() -> egui_wgpu::wgpu::PollType {
    egui_wgpu::wgpu::PollType::wait_indefinitely()
}

/// The particle-count slider (rebuilds the run) and the steps-per-tick slider (applies live).
pub fn particle_sliders(
    ui: &mut egui::Ui,
    particles: &mut u32,
    min_particles: u32,
    speed: &mut u32,
    max_speed: u32,
) -> crate::lab::Change {
    let c = crate::lab::Change::None.reset(
        ui.add(
            egui::Slider::new(particles, min_particles..=1_000_000)
                .logarithmic(true)
                .text("particles"),
        )
        .changed(),
    );
    c.live(
        ui.add(
            egui::Slider::new(speed, 1..=max_speed)
                .logarithmic(true)
                .text("steps/tick"),
        )
        .changed(),
    )
}

/// Particles per label (basins 0..3, no basin, diverged).
pub fn label_counts(s: &ParticleState) -> [usize; 6] {
    let mut c = [0usize; 6];
    for m in &s.meta {
        c[(m[0] as usize).min(5)] += 1;
    }
    c
}

/// First exit steps of the particles that started in `start` and have left it.
pub fn exit_times(s: &ParticleState, start: u32) -> Vec<u32> {
    s.meta
        .iter()
        .filter(|m| m[2] == start && m[1] != NEVER)
        .map(|m| m[1])
        .collect()
}

/// `n` starting points spread evenly (a deterministic lattice with jitter from `seed`) in a box.
pub fn spread(n: usize, lo: [f32; 2], hi: [f32; 2], dim: u32, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = sgdlab_engine::rng::SplitMix64::for_purpose(seed, "lab particle starts");
    (0..n)
        .map(|_| {
            let x = lo[0] + (hi[0] - lo[0]) * rng.next_f32();
            let y = if dim == 1 {
                0.0
            } else {
                lo[1] + (hi[1] - lo[1]) * rng.next_f32()
            };
            [x, y]
        })
        .collect()
}

/// `n` points in a small Gaussian cloud of radius `r` around `c`.
pub fn cloud(n: usize, c: [f32; 2], r: f32, dim: u32, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = sgdlab_engine::rng::SplitMix64::for_purpose(seed, "lab particle drop");
    (0..n)
        .map(|_| {
            let x = c[0] + r * rng.normal() as f32;
            let y = if dim == 1 {
                0.0
            } else {
                c[1] + r * rng.normal() as f32
            };
            [x, y]
        })
        .collect()
}
