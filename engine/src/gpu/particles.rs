//! Particle SGD on the GPU: the WGSL kernel `particle_sgd.wgsl` over N particles, M steps at a
//! time in chunks (one dispatch per chunk, no per-step readback), mirroring
//! [`crate::landscape::step_particles_cpu`].

use super::context::{GpuContext, bytes_to_f32, bytes_to_u32};
use crate::error::Result;
use crate::landscape::{PackedLandscape, ParticleState, STAT_STRIDE, StepRule, split_seed};

/// Steps per dispatch: long enough to amortize a submit, short enough to stay well under driver
/// watchdogs on real GPUs.
pub const STEPS_PER_DISPATCH: u32 = 256;

/// N particles resident on the GPU.
pub struct GpuParticles {
    ctx: GpuContext,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    params: wgpu::Buffer,
    pos: wgpu::Buffer,
    meta: wgpu::Buffer,
    stats: wgpu::Buffer,
    rule: StepRule,
    dim: u32,
    n: usize,
    steps_done: u32,
    dispatch: (u32, u32, u32),
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

impl GpuParticles {
    /// Uploads `state` and builds the kernel. Fails (naming `particles`) when the buffers exceed
    /// the device's limits.
    pub fn new(
        ctx: &GpuContext,
        land: &PackedLandscape,
        rule: &StepRule,
        state: &ParticleState,
    ) -> Result<Self> {
        let n = state.len();
        ctx.check_storage("particles", n, (STAT_STRIDE * 4) as u64)?;
        let dispatch = ctx.dispatch_2d(n, sgdlab_shaders::WORKGROUP_SIZE)?;
        let pipeline = ctx.pipeline("particle_sgd", &sgdlab_shaders::particle_sgd_source());
        let land_buf = ctx.storage("landscape", &f32_bytes(&land.0));
        let pos_words: Vec<f32> = state.pos.iter().flat_map(|p| [p[0], p[1]]).collect();
        let pos = ctx.storage_vertex("positions", &f32_bytes(&pos_words));
        let meta_words: Vec<u32> = state.meta.iter().flatten().copied().collect();
        let meta = ctx.storage_vertex("meta", &u32_bytes(&meta_words));
        let stats = ctx.storage("stats", &u32_bytes(&state.stats));
        let params = ctx.uniform("particle params", 64);
        let layout = pipeline.get_bind_group_layout(0);
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("particle_sgd"),
            layout: &layout,
            entries: &[
                entry(0, &params),
                entry(1, &land_buf),
                entry(2, &pos),
                entry(3, &meta),
                entry(4, &stats),
            ],
        });
        Ok(Self {
            ctx: ctx.clone(),
            pipeline,
            bind_group,
            params,
            pos,
            meta,
            stats,
            rule: *rule,
            dim: land.0[1] as u32,
            n,
            steps_done: state.steps_done,
            dispatch,
        })
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> u32 {
        self.steps_done
    }

    /// Changes the step rule from the next step on (η, noise, clipping, seed).
    pub fn set_rule(&mut self, rule: StepRule) {
        self.rule = rule;
    }

    /// The positions buffer (`[f32; 2]` per particle; also a vertex buffer), for drawing the
    /// particles where they are instead of reading them back.
    pub fn positions(&self) -> &wgpu::Buffer {
        &self.pos
    }

    /// The per-particle `[label, first_exit, start_label, last_basin]` buffer (also a vertex
    /// buffer).
    pub fn meta(&self) -> &wgpu::Buffer {
        &self.meta
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no particles.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Reads only positions and per-particle bookkeeping back (not the per-particle counters):
    /// 24 bytes a particle, for live views. `stats` of the result is empty.
    pub fn read_light_async(
        &self,
    ) -> impl std::future::Future<Output = Result<ParticleState>> + use<> {
        let n = self.n as u64;
        let pos = self.ctx.read_bytes(&self.pos, n * 8);
        let meta = self.ctx.read_bytes(&self.meta, n * 16);
        let steps_done = self.steps_done;
        async move {
            Ok(particle_state(
                &pos.await?,
                &meta.await?,
                Vec::new(),
                steps_done,
            ))
        }
    }

    /// The device context the particles live on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Queues `steps` more steps (in dispatches of at most [`STEPS_PER_DISPATCH`]); returns at
    /// once, the GPU works asynchronously.
    pub fn step(&mut self, steps: u32) {
        let mut left = steps;
        while left > 0 {
            let k = left.min(STEPS_PER_DISPATCH);
            self.ctx
                .queue
                .write_buffer(&self.params, 0, &self.params_bytes(k));
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("particle_sgd"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("particle_sgd"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &self.bind_group, &[]);
                pass.dispatch_workgroups(self.dispatch.0, self.dispatch.1, 1);
            }
            self.ctx.queue.submit([enc.finish()]);
            self.steps_done += k;
            left -= k;
        }
    }

    fn params_bytes(&self, steps: u32) -> Vec<u8> {
        let (lo, hi) = split_seed(self.rule.seed);
        let (clip_kind, clip) = self.rule.clip.code();
        let mut b = Vec::with_capacity(64);
        for w in [
            self.n as u32,
            steps,
            self.steps_done,
            self.dim,
            lo,
            hi,
            self.rule.noise.kind.code(),
            clip_kind,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        for f in [
            self.rule.lr,
            self.rule.noise.sigma,
            self.rule.noise.alpha,
            clip,
            self.rule.diverge_radius,
        ] {
            b.extend_from_slice(&f.to_le_bytes());
        }
        for w in [self.dispatch.2, 0, 0] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// Reads the particles back (asynchronously: await it in a browser, or use [`Self::read`]).
    pub async fn read_async(&self) -> Result<ParticleState> {
        let n = self.n as u64;
        let pos = self.ctx.read_bytes(&self.pos, n * 8);
        let meta = self.ctx.read_bytes(&self.meta, n * 16);
        let stats = self.ctx.read_bytes(&self.stats, n * STAT_STRIDE as u64 * 4);
        let (pos, meta) = (pos.await?, meta.await?);
        let stats = bytes_to_u32(&stats.await?);
        Ok(particle_state(&pos, &meta, stats, self.steps_done))
    }

    /// Reads the particles back, blocking on a device-poll loop (native).
    pub fn read(&self) -> Result<ParticleState> {
        self.ctx.block_on(self.read_async())
    }

    /// Blocks until all queued work is done (for benchmarks).
    pub fn wait(&self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| crate::EngineError::Device(format!("waiting for the GPU: {e}")))
    }
}

/// Particles from the bytes of the positions and meta buffers.
fn particle_state(pos: &[u8], meta: &[u8], stats: Vec<u32>, steps_done: u32) -> ParticleState {
    let pos = bytes_to_f32(pos);
    let meta = bytes_to_u32(meta);
    ParticleState {
        pos: pos.chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
        meta: meta
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
        stats,
        steps_done,
    }
}

pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
