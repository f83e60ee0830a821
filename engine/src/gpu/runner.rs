//! A particle run on either backend: the CPU reference ([`step_particles_cpu`], multi-threaded)
//! or the WGSL kernel ([`GpuParticles`]), chosen from the experiment's compute device.

use super::context::GpuContext;
use super::particles::GpuParticles;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::landscape::{PackedLandscape, ParticleState, StepRule, step_particles_cpu};

/// N particles on the CPU or the GPU.
pub enum ParticleRunner {
    /// The Rust reference on `threads` threads.
    Cpu {
        /// The landscape.
        land: PackedLandscape,
        /// The step rule.
        rule: StepRule,
        /// The particles.
        state: ParticleState,
        /// Worker threads.
        threads: usize,
    },
    /// The WGSL kernel on burn's wgpu device.
    Gpu(Box<GpuParticles>),
}

impl ParticleRunner {
    /// Starts particles at `state` on `device` (`wgpu` → the kernel, otherwise the CPU).
    pub fn new(
        device: &ComputeDevice,
        land: PackedLandscape,
        rule: StepRule,
        state: ParticleState,
    ) -> Result<Self> {
        if device.info.backend == crate::device::Backend::Wgpu {
            let ctx = GpuContext::shared()?;
            Ok(Self::Gpu(Box::new(GpuParticles::new(
                &ctx, &land, &rule, &state,
            )?)))
        } else {
            Ok(Self::Cpu {
                land,
                rule,
                state,
                threads: std::thread::available_parallelism().map_or(1, usize::from),
            })
        }
    }

    /// Starts particles on an explicit GPU context, or on the CPU with `threads` threads when
    /// `ctx` is `None` (the browser passes 1: no threads there).
    pub fn with_context(
        ctx: Option<&GpuContext>,
        land: PackedLandscape,
        rule: StepRule,
        state: ParticleState,
        threads: usize,
    ) -> Result<Self> {
        match ctx {
            Some(ctx) => Ok(Self::Gpu(Box::new(GpuParticles::new(
                ctx, &land, &rule, &state,
            )?))),
            None => Ok(Self::Cpu {
                land,
                rule,
                state,
                threads: threads.max(1),
            }),
        }
    }

    /// Changes the step rule from the next step on.
    pub fn set_rule(&mut self, new: StepRule) {
        match self {
            Self::Cpu { rule, .. } => *rule = new,
            Self::Gpu(g) => g.set_rule(new),
        }
    }

    /// The particles themselves on the CPU path (no copy); `None` on the GPU.
    pub fn cpu_state(&self) -> Option<&ParticleState> {
        match self {
            Self::Cpu { state, .. } => Some(state),
            Self::Gpu(_) => None,
        }
    }

    /// The GPU particles, on the GPU path.
    pub fn gpu(&self) -> Option<&GpuParticles> {
        match self {
            Self::Cpu { .. } => None,
            Self::Gpu(g) => Some(g),
        }
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        match self {
            Self::Cpu { state, .. } => state.len(),
            Self::Gpu(g) => g.len(),
        }
    }

    /// Whether there are no particles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps every particle `steps` times (the GPU path queues the work and returns).
    pub fn step(&mut self, steps: u32) {
        match self {
            Self::Cpu {
                land,
                rule,
                state,
                threads,
            } => step_particles_cpu(land, rule, state, steps, *threads),
            Self::Gpu(g) => g.step(steps),
        }
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> u32 {
        match self {
            Self::Cpu { state, .. } => state.steps_done,
            Self::Gpu(g) => g.steps_done(),
        }
    }

    /// The particles now (a readback on the GPU path).
    pub fn read(&self) -> Result<ParticleState> {
        match self {
            Self::Cpu { state, .. } => Ok(state.clone()),
            Self::Gpu(g) => g.read(),
        }
    }

    /// Waits for queued work (a no-op on the CPU).
    pub fn wait(&self) -> Result<()> {
        match self {
            Self::Cpu { .. } => Ok(()),
            Self::Gpu(g) => g.wait(),
        }
    }
}
