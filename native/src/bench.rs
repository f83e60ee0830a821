//! `sgdlab bench …`.

use crate::Failure;
use clap::{Args, Subcommand};
use sgdlab_engine::bench::{bench_particles, bench_smoothing_grid, bench_train_mlp};
use sgdlab_engine::device::{BackendChoice, resolve_device};

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Train the MLP 784-512-512-10 with SGD on MNIST-10k; print samples/s and peak memory.
    TrainMlp(TrainMlpArgs),
    /// Gossip-PGA on logistic regression over a ring; print simulated node-steps per second.
    Gossip(GossipArgs),
    /// Particle SGD on the 2-D heavy-tailed clipped workload; print particle steps per second.
    Particles(ParticlesArgs),
    /// The smoothed landscape on a 2-D grid; print landscape evaluations per second.
    SmoothingGrid(SmoothingGridArgs),
    /// Frame time of the lab's sharp-minima view, rendered offscreen with wgpu.
    UiFrame(UiFrameArgs),
}

/// Arguments of `sgdlab bench ui-frame`.
#[derive(Args, Debug)]
pub struct UiFrameArgs {
    /// Compute backend of the particles (auto: the GPU kernel when there is an adapter).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Particles.
    #[arg(long, default_value_t = 100_000)]
    particles: usize,
    /// Timed frames.
    #[arg(long, default_value_t = 120)]
    frames: usize,
    /// Untimed warm-up frames.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Step the lab inline in each frame (as the browser does) instead of on a worker thread
    /// (as the desktop app does).
    #[arg(long)]
    inline: bool,
    /// Draw the particles without stepping them (the cost of drawing alone).
    #[arg(long)]
    paused: bool,
    /// Frame width in pixels.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    /// Frame height in pixels.
    #[arg(long, default_value_t = 800)]
    height: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sgdlab bench gossip`.
#[derive(Args, Debug)]
pub struct GossipArgs {
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Simulated nodes.
    #[arg(long, default_value_t = 64)]
    nodes: usize,
    /// Parameters per node.
    #[arg(long, default_value_t = 10_000)]
    dim: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// sim: all nodes in this process; mpi: one process per node (run under `mpirun -n N`;
    /// Gossip SGD, Gossip-PGA and parallel SGD on a ring; needs the `mpi` feature).
    #[arg(long, default_value = "sim", value_parser = ["sim", "mpi"])]
    engine: String,
}

/// Arguments of `sgdlab bench particles`.
#[derive(Args, Debug)]
pub struct ParticlesArgs {
    /// Compute backend: wgpu runs the WGSL kernel, cpu the vectorized multi-threaded stepper.
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Particles (the default is the workload NumPy is compared on).
    #[arg(long, default_value_t = 1 << 20)]
    particles: usize,
    /// Timed steps per particle.
    #[arg(long, default_value_t = 100)]
    steps: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sgdlab bench smoothing-grid`.
#[derive(Args, Debug)]
pub struct SmoothingGridArgs {
    /// Compute backend: wgpu runs the WGSL kernel, cpu the multi-threaded Rust reference.
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Grid points per side.
    #[arg(long, default_value_t = 256)]
    grid: u32,
    /// Noise samples per grid point.
    #[arg(long, default_value_t = 256)]
    samples: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| Failure::Other(e.into()))?
    );
    Ok(())
}

/// Arguments of `sgdlab bench train-mlp`.
#[derive(Args, Debug)]
pub struct TrainMlpArgs {
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Timed optimizer steps.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn bench(cmd: BenchCommand) -> Result<(), Failure> {
    match cmd {
        BenchCommand::UiFrame(a) => {
            if a.particles == 0 || a.particles > 4_000_000 || a.frames == 0 {
                return Err(Failure::BadInput(anyhow::anyhow!(
                    "--particles: expected 1 to 4000000 and --frames at least 1, found {} and {}",
                    a.particles,
                    a.frames
                )));
            }
            let r = crate::bench_ui::bench_ui_frame(
                a.backend,
                a.particles,
                a.frames,
                a.warmup,
                !a.inline,
                !a.paused,
                [a.width.clamp(64, 8192), a.height.clamp(64, 8192)],
            )?;
            if a.json {
                print_json(&r)
            } else {
                println!(
                    "ui-frame {} with {} particles, {}x{} px, {} ({}), rendered on {}: p50 {:.2} ms, p95 {:.2} ms, mean {:.2} ms; {} SGD steps while timed",
                    r.lab,
                    r.particles,
                    r.size[0],
                    r.size[1],
                    r.backend,
                    if r.threaded {
                        "worker thread"
                    } else {
                        "inline"
                    },
                    r.render_adapter,
                    r.frame_ms_p50,
                    r.frame_ms_p95,
                    r.frame_ms_mean,
                    r.sgd_steps
                );
                Ok(())
            }
        }
        BenchCommand::Gossip(a) if a.engine == "mpi" => {
            crate::mpi::bench_gossip(a.backend, a.dim, a.steps, a.warmup, a.json)
        }
        BenchCommand::Gossip(a) => {
            let device = resolve_device(a.backend)?;
            eprintln!("sgdlab: {}", device.info);
            let r = sgdlab_engine::optim::gossip::bench_gossip(
                &device, a.nodes, a.dim, a.steps, a.warmup,
            )?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| Failure::Other(e.into()))?
                );
            } else {
                println!(
                    "gossip-pga ring, n = {}, d = {}, {} steps on {}: {:.0} node-steps/s",
                    r.nodes, r.dim, r.steps, r.device, r.node_steps_per_sec
                );
            }
            Ok(())
        }
        BenchCommand::Particles(a) => {
            let device = resolve_device(a.backend)?;
            eprintln!("sgdlab: {}", device.info);
            let r = bench_particles(&device, a.particles, a.steps)?;
            if a.json {
                print_json(&r)
            } else {
                println!(
                    "particles ({}), {} particles x {} steps on the {} engine ({}{}), bookkeeping {}: {:.3e} particle steps/s",
                    r.workload,
                    r.particles,
                    r.steps,
                    r.engine,
                    r.device,
                    if r.simd.is_empty() {
                        String::new()
                    } else {
                        format!(", {} threads, SIMD {}", r.threads, r.simd)
                    },
                    r.bookkeeping,
                    r.particle_steps_per_sec
                );
                Ok(())
            }
        }
        BenchCommand::SmoothingGrid(a) => {
            let device = resolve_device(a.backend)?;
            eprintln!("sgdlab: {}", device.info);
            let r = bench_smoothing_grid(&device, a.grid, a.samples)?;
            if a.json {
                print_json(&r)
            } else {
                println!(
                    "smoothing-grid {}x{} with {} samples on the {} engine ({}): {:.3e} grid evals/s",
                    r.grid, r.grid, r.samples, r.engine, r.device, r.grid_evals_per_sec
                );
                Ok(())
            }
        }
        BenchCommand::TrainMlp(a) => {
            let device = resolve_device(a.backend)?;
            eprintln!("sgdlab: {}", device.info);
            let r = bench_train_mlp(&device, a.batch, a.steps, a.warmup)?;
            let peak = peak_rss_bytes();
            if a.json {
                let mut v = serde_json::to_value(&r).map_err(|e| Failure::Other(e.into()))?;
                v["peak_rss_bytes"] = peak.map_or(serde_json::Value::Null, Into::into);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| Failure::Other(e.into()))?
                );
            } else {
                println!(
                    "train-mlp 784-512-512-10, batch {}, {} steps on {}: {:.0} samples/s, peak RSS {}",
                    r.batch,
                    r.steps,
                    r.device,
                    r.samples_per_sec,
                    peak.map_or("unknown".to_string(), |b| format!(
                        "{:.1} MiB",
                        b as f64 / 1048576.0
                    ))
                );
            }
            Ok(())
        }
    }
}

/// Peak resident set size of this process (Linux: VmHWM in /proc/self/status).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
