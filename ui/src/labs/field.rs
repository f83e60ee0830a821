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
/// In a browser, the GPU tick's steps scale with the time since the previous one (in 60 Hz
/// frames, up to this factor), so the dynamics advance at `speed` steps per 1/60 s whatever the
/// renderer's frame rate (GPU work completes between frames, one or two ticks per frame); only
/// while the GPU is idle at tick time. 1 means no catch-up: on SwiftShader (the GPU on the
/// CPU) 16 made frames take ~10 s, and 4 gave 11.5 steps/s at 1.9 s frames under load, where 1
/// gave 33 steps/s at 533 ms frames on a quiet machine (web/README.md). A real GPU would
/// afford more; not measured.
const MAX_GPU_CATCH_UP: f64 = 1.0;

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
    /// The pacing of ticks in a browser (see [`Field::paced`]).
    pace: Pace,
}

/// How a field paces its ticks in a browser: the measured cost of a CPU step and when the last
/// GPU tick was queued.
#[derive(Default)]
struct Pace {
    /// Seconds per step on the CPU (an exponential average; 0 before the first tick).
    cpu_step_secs: f64,
    /// When the last GPU tick was queued.
    last_gpu_tick: Option<web_time::Instant>,
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
            pace: Pace::default(),
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

    /// The steps the next tick should take for a lab that asks for `speed` steps per tick.
    /// Natively: `speed`. In a browser the rate is set by time, not by frames: on the CPU a tick
    /// is cut to what fits in [`CPU_TICK_TARGET_SECS`] (the runner fits several in its frame
    /// budget); on the GPU it grows with the time since the previous tick (a slow renderer's
    /// frames no longer slow the dynamics down).
    pub fn paced(&self, speed: u32) -> u32 {
        if cfg!(target_arch = "wasm32") {
            self.paced_by_time(speed)
        } else {
            speed
        }
    }

    /// [`Field::paced`] in a browser.
    fn paced_by_time(&self, speed: u32) -> u32 {
        let speed = f64::from(speed.max(1));
        let steps = if self.ctx.is_some() {
            // Catch up only while the GPU has finished what it was given (a software GPU that
            // shares the CPU with the renderer stays at `speed` a tick: more work per tick would
            // only make its frames slower).
            let idle = self.submitted == self.completed.load(Ordering::Acquire);
            let frames = self
                .pace
                .last_gpu_tick
                .map_or(1.0, |t| t.elapsed().as_secs_f64() * 60.0);
            if idle {
                speed * frames.clamp(1.0, MAX_GPU_CATCH_UP)
            } else {
                speed
            }
        } else if self.pace.cpu_step_secs > 0.0 {
            speed.min(CPU_TICK_TARGET_SECS / self.pace.cpu_step_secs)
        } else {
            1.0
        };
        steps.max(1.0) as u32
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
            self.pace.last_gpu_tick = Some(web_time::Instant::now());
            let done = self.completed.clone();
            ctx.queue.on_submitted_work_done(move || {
                done.fetch_add(1, Ordering::AcqRel);
            });
            self.submitted += 1;
        } else {
            let t0 = web_time::Instant::now();
            self.runner.step(steps);
            let per_step = t0.elapsed().as_secs_f64() / f64::from(steps.max(1));
            self.pace.cpu_step_secs = if self.pace.cpu_step_secs > 0.0 {
                0.7 * self.pace.cpu_step_secs + 0.3 * per_step
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
