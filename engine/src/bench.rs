//! Throughput benchmarks that the CLI (`sgdlab bench`) reports.

use crate::data::{Dataset, DatasetSpec, mnist10k};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::memory::{F32, MemoryEstimate, classifier_memory, dataset_size, product};
use crate::model::{InputStats, MlpConfig, NetworkConfig};
use crate::optim::SgdConfig;
use crate::train::TrainRun;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// The peak memory of `sgdlab bench train-mlp` at `--batch` (MNIST-10k, the MLP 784-512-512-10,
/// one model), estimated as `sgdlab run` estimates its classifiers.
pub fn train_mlp_memory(batch: usize) -> MemoryEstimate {
    let net = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![512, 512]));
    let data = dataset_size(&DatasetSpec::Mnist10k, 0);
    classifier_memory(&net, "network", data, batch as u64, "--batch", 1)
}

/// The peak memory of `sgdlab bench gossip` on the simulator: every node's logistic data (16
/// samples of `--dim` features, generated and then copied into a tensor), the iterates with
/// their gradients, batches and mixing buffers (a few `--nodes` × `--dim` matrices), and the
/// mixing matrix.
pub fn gossip_memory(nodes: usize, dim: usize) -> MemoryEstimate {
    let (n, d) = (nodes as u64, dim as u64);
    MemoryEstimate::new()
        .add(
            "--nodes × --dim (the data)",
            product(&[n, 16, d.saturating_add(1), F32, 2]),
        )
        .add("--nodes × --dim (the iterates)", product(&[n, d, F32, 8]))
        .add("--nodes (the mixing matrix)", product(&[n, n, F32, 4]))
}

/// The peak memory of one process of `sgdlab bench gossip --engine mpi`: its shard (16 samples
/// of `--dim` features), its iterate, gradient and update, and the messages to and from its two
/// neighbours on the ring.
pub fn gossip_rank_memory(dim: usize) -> MemoryEstimate {
    let d = dim as u64;
    MemoryEstimate::new()
        .add(
            "--dim (the shard)",
            product(&[16, d.saturating_add(1), F32, 2]),
        )
        .add("--dim (the iterates and messages)", product(&[d, F32, 12]))
}

/// Bytes per particle: position, bookkeeping and counters (`ParticleState`).
fn particle_bytes() -> u64 {
    8 + 16 + F32 * crate::landscape::STAT_STRIDE as u64
}

/// The peak memory of `sgdlab bench particles`: the particle state and the copy read back to
/// check the counts.
pub fn particles_memory(particles: usize) -> MemoryEstimate {
    MemoryEstimate::new().add(
        "--particles",
        product(&[particles as u64, particle_bytes(), 2]),
    )
}

/// The peak memory of `sgdlab bench ui-frame`: the lab's particle state (with the copies the
/// worker and the painter hold) and the frame (the render target and egui's buffers).
pub fn ui_frame_memory(particles: usize, width: u32, height: u32) -> MemoryEstimate {
    MemoryEstimate::new()
        .add(
            "--particles",
            product(&[particles as u64, particle_bytes(), 3]),
        )
        .add(
            "--width × --height",
            product(&[u64::from(width), u64::from(height), 4, 3]),
        )
}

/// The peak memory of `sgdlab bench smoothing-grid`: the grid's values (and, on the GPU, their
/// upload and read-back buffers).
pub fn smoothing_grid_memory(grid: u32) -> MemoryEstimate {
    MemoryEstimate::new().add(
        "--grid",
        product(&[u64::from(grid), u64::from(grid), F32, 3]),
    )
}

/// The result of [`bench_train_mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainBench {
    /// Training examples processed per second (forward, backward and SGD step).
    pub samples_per_sec: f64,
    /// Timed optimizer steps.
    pub steps: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Seconds the timed steps took.
    pub seconds: f64,
    /// Untimed warm-up steps run first (kernel compilation, allocator warm-up).
    pub warmup_steps: usize,
    /// Backend (`cpu` or `wgpu`).
    pub backend: crate::device::Backend,
    /// Adapter description.
    pub adapter: String,
    /// The device in full.
    pub device: DeviceInfo,
}

/// Trains the MLP 784-512-512-10 with plain SGD on MNIST-10k for `steps` timed steps.
pub fn bench_train_mlp(
    device: &ComputeDevice,
    batch: usize,
    steps: usize,
    warmup_steps: usize,
) -> Result<TrainBench> {
    if batch == 0 || batch > 10_000 {
        return Err(EngineError::config(
            "--batch",
            format!("expected 1 to 10000, found {batch}"),
        ));
    }
    if steps == 0 {
        return Err(EngineError::config(
            "--steps",
            "expected at least 1 step, found 0",
        ));
    }
    let full = mnist10k()?;
    // Whole batches only, so that every timed step processes exactly `batch` examples.
    let n = (full.len() / batch).max(1) * batch;
    let data: Arc<Dataset> = Arc::new(full.take(n));
    let net = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![512, 512]));
    let stats = InputStats::of(&data.features);
    let model = net.init(
        data.shape,
        data.num_classes,
        stats,
        0,
        &device.device.clone().autodiff(),
    );
    let labels = Arc::new(data.labels.clone());
    let mut run = TrainRun::new(
        model,
        &SgdConfig::new().with_lr(0.01),
        data,
        labels,
        &device.device,
        batch,
        None,
        0,
        "bench train-mlp",
    );
    let mut left = warmup_steps;
    while left > 0 {
        left -= run.train_batches(left)?.batches;
    }
    let start = Instant::now();
    let mut left = steps;
    while left > 0 {
        left -= run.train_batches(left)?.batches;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TrainBench {
        samples_per_sec: (steps * batch) as f64 / seconds,
        steps,
        batch,
        seconds,
        warmup_steps,
        backend: device.info.backend,
        adapter: device.info.adapter.clone(),
        device: device.info.clone(),
    })
}

/// The result of [`bench_particles`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParticleBench {
    /// Particle steps per second (one step of one particle: gradient, noise, clip, bookkeeping).
    pub particle_steps_per_sec: f64,
    /// Particles.
    pub particles: usize,
    /// Timed steps per particle.
    pub steps: u32,
    /// Seconds the timed steps took (including waiting for the GPU to finish).
    pub seconds: f64,
    /// `gpu` (the WGSL kernel) or `cpu` (the Rust reference on all cores).
    pub engine: String,
    /// CPU threads (the CPU stepper only).
    pub threads: usize,
    /// The CPU stepper's instruction set (`avx2`: 8 f32 lanes; `baseline`: SSE2 on x86-64);
    /// empty on the GPU.
    pub simd: String,
    /// What is counted every step besides the move.
    pub bookkeeping: String,
    /// The workload.
    pub workload: String,
    /// The device in full.
    pub device: DeviceInfo,
}

/// Steps `particles` particles `steps` times on the 2-D heavy-tailed clipped workload (three
/// wells, Pareto noise α = 1.5, truncation b = 0.4, η = 0.01), on the kernel for a wgpu device and
/// on the vectorized multi-threaded CPU stepper otherwise.
pub fn bench_particles(
    device: &ComputeDevice,
    particles: usize,
    steps: u32,
) -> Result<ParticleBench> {
    use crate::gpu::ParticleRunner;
    use crate::landscape::{
        Clip, Landscape, Noise, NoiseKind, ParticleState, StepRule, validate_particles,
    };
    validate_particles(particles, "--particles")?;
    if steps == 0 || steps > 1_000_000 {
        return Err(EngineError::config(
            "--steps",
            format!("expected 1 to 1000000 steps, found {steps}"),
        ));
    }
    let land = Landscape::sharp_and_wide_2d(0.5, 1.0, 1.0).packed();
    let rule = StepRule {
        lr: 0.01,
        noise: Noise::new(NoiseKind::Pareto, 1.0, 1.5),
        clip: Clip::Truncate { b: 0.4 },
        diverge_radius: 1e6,
        seed: 1,
    };
    let pos = (0..particles)
        .map(|i| [(i % 3) as f32 * 1.5 - 1.5, 0.0])
        .collect();
    let state = ParticleState::new(&land, pos);
    let mut runner = ParticleRunner::new(device, land, rule, state)?;
    // Warm-up: pipeline compilation and first dispatch.
    runner.step(1);
    runner.wait()?;
    let start = Instant::now();
    runner.step(steps);
    runner.wait()?;
    let seconds = start.elapsed().as_secs_f64();
    // Read back once so that a broken kernel cannot pass for a fast one.
    let s = runner.read()?.summary();
    if s.occupation.iter().sum::<u64>() != particles as u64 * u64::from(steps + 1) {
        return Err(EngineError::Device(
            "particle benchmark: the occupation counts do not add up".into(),
        ));
    }
    let gpu = matches!(runner, ParticleRunner::Gpu(_));
    Ok(ParticleBench {
        particle_steps_per_sec: particles as f64 * f64::from(steps) / seconds,
        particles,
        steps,
        seconds,
        engine: if gpu { "gpu" } else { "cpu" }.into(),
        threads: if gpu {
            0
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        },
        simd: if gpu {
            String::new()
        } else {
            crate::landscape::simd_level()
        },
        bookkeeping: "every step: basin label, first exit, occupation counts, 4x4 transitions"
            .into(),
        workload: "2-D three wells, Pareto alpha 1.5, truncation b 0.4, lr 0.01".into(),
        device: device.info.clone(),
    })
}

/// The result of [`bench_smoothing_grid`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmoothingGridBench {
    /// Landscape evaluations per second (grid points × noise samples / seconds).
    pub grid_evals_per_sec: f64,
    /// Points per side.
    pub grid: u32,
    /// Noise samples per point.
    pub samples: u32,
    /// Seconds (including upload and readback on the GPU).
    pub seconds: f64,
    /// `gpu` or `cpu`.
    pub engine: String,
    /// The device in full.
    pub device: DeviceInfo,
}

/// The smoothed 2-D spiky bowl (Gaussian noise) on a `grid`×`grid` grid with `samples` samples
/// per point, on the kernel for a wgpu device and on the multi-threaded CPU reference otherwise.
pub fn bench_smoothing_grid(
    device: &ComputeDevice,
    grid: u32,
    samples: u32,
) -> Result<SmoothingGridBench> {
    use crate::gpu::{GpuContext, smooth_grid_gpu};
    use crate::landscape::{Grid, Landscape, Noise, NoiseKind, Smoothing, smooth_grid_cpu};
    if grid == 0 || grid > 16_384 {
        return Err(EngineError::config(
            "--grid",
            format!("expected 1 to 16384 points per side, found {grid}"),
        ));
    }
    if samples == 0 || samples > 65_536 {
        return Err(EngineError::config(
            "--samples",
            format!("expected 1 to 65536 samples, found {samples}"),
        ));
    }
    let land = Landscape::spiky_bowl_2d().packed();
    let g = Grid {
        nx: grid,
        ny: grid,
        x: (-3.0, 3.0),
        y: (-3.0, 3.0),
    };
    let s = Smoothing {
        noise: Noise::new(NoiseKind::Gaussian, 4.0, 2.0),
        lr: 0.05,
        samples,
        seed: 1,
    };
    let gpu = device.info.backend == crate::device::Backend::Wgpu;
    let start;
    if gpu {
        let ctx = GpuContext::shared()?;
        ctx.check_storage("--grid", g.len(), 4)?;
        // Warm-up: pipeline compilation.
        smooth_grid_gpu(&ctx, &land, &s, &Grid::line(64, -1.0, 1.0))?;
        start = Instant::now();
        smooth_grid_gpu(&ctx, &land, &s, &g)?;
    } else {
        start = Instant::now();
        smooth_grid_cpu(
            &land,
            &s,
            2,
            &g,
            std::thread::available_parallelism().map_or(1, usize::from),
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(SmoothingGridBench {
        grid_evals_per_sec: g.len() as f64 * f64::from(samples) / seconds,
        grid,
        samples,
        seconds,
        engine: if gpu { "gpu" } else { "cpu" }.into(),
        device: device.info.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_benches_fit_in_a_gigabyte_and_the_largest_flags_do_not() {
        let gib = 1 << 30;
        for e in [
            train_mlp_memory(128),
            gossip_memory(64, 10_000),
            gossip_rank_memory(10_000),
            particles_memory(1 << 20),
            ui_frame_memory(100_000, 1280, 800),
            smoothing_grid_memory(256),
        ] {
            assert!(e.total() < gib, "{:?}", e.parts());
        }
        // The case: 4096 nodes of 10^7 parameters would allocate terabytes.
        let e = gossip_memory(4096, 10_000_000);
        assert!(e.total() > 2_000 * gib, "{:?}", e.parts());
        let msg = e.check_budget(Some(64 * gib)).unwrap_err().to_string();
        assert!(
            msg.contains("--nodes × --dim") && msg.contains("--max-memory"),
            "{msg}"
        );
        assert!(particles_memory(crate::landscape::MAX_PARTICLES).total() > 8 * gib);
        assert!(smoothing_grid_memory(16_384).total() >= 3 * gib);
    }
}
