//! `sgdlab bench …`.
//!
//! Every bench estimates its peak memory from its flags (`sgdlab_engine::bench::*_memory`) and
//! refuses, with exit code 2 and the flags named, before anything is allocated when the
//! estimate exceeds `--max-memory` or else the machine's memory, as `sgdlab run` does.

use crate::Failure;
use crate::say::{say, say_err};
use anyhow::anyhow;
use clap::{Args, Subcommand};
use sgdlab_engine::bench::{
    bench_particles, bench_smoothing_grid, bench_train_mlp, gossip_memory, gossip_rank_memory,
    particles_memory, smoothing_grid_memory, train_mlp_memory, ui_frame_memory,
};
use sgdlab_engine::device::{BackendChoice, resolve_device};
use sgdlab_experiments::{MemoryEstimate, parse_bytes};

/// The most timed (or warm-up) steps and frames a bench takes: hours of work already, and far
/// from the counters' overflow.
const MAX_STEPS: usize = 10_000_000;

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
    /// Memory budget (for example 8G or 512M): flags whose estimated peak memory exceeds it
    /// are refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
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
    /// Memory budget (for example 8G or 512M): flags whose estimated peak memory exceeds it
    /// are refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
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
    /// Memory budget (for example 8G or 512M): flags whose estimated peak memory exceeds it
    /// are refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
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
    /// Memory budget (for example 8G or 512M): flags whose estimated peak memory exceeds it
    /// are refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints `v` as pretty JSON to stdout.
fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failure> {
    say!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| Failure::Other(e.into()))?
    )
}

/// Refuses a bench whose memory estimate exceeds the budget (exit code 2, the flags named).
fn check_memory(estimate: MemoryEstimate, max_memory: Option<u64>) -> Result<(), Failure> {
    Ok(estimate.check_budget(max_memory)?)
}

/// Refuses step and frame counts beyond [`MAX_STEPS`] (each named by its flag).
fn check_counts(counts: &[(&str, usize)]) -> Result<(), Failure> {
    for &(flag, n) in counts {
        if n > MAX_STEPS {
            return Err(Failure::BadInput(anyhow!(
                "{flag}: expected at most {MAX_STEPS}, found {n}"
            )));
        }
    }
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
    /// Memory budget (for example 8G or 512M): flags whose estimated peak memory exceeds it
    /// are refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs one bench and prints its figures (text, or JSON with `--json`) to stdout.
pub fn bench(cmd: BenchCommand) -> Result<(), Failure> {
    match cmd {
        BenchCommand::UiFrame(a) => {
            if a.particles == 0 || a.particles > 4_000_000 || a.frames == 0 {
                return Err(Failure::BadInput(anyhow!(
                    "--particles: expected 1 to 4000000 and --frames at least 1, found {} and {}",
                    a.particles,
                    a.frames
                )));
            }
            check_counts(&[("--frames", a.frames), ("--warmup", a.warmup)])?;
            let size = [a.width.clamp(64, 8192), a.height.clamp(64, 8192)];
            check_memory(ui_frame_memory(a.particles, size[0], size[1]), a.max_memory)?;
            let r = crate::bench_ui::bench_ui_frame(
                a.backend,
                a.particles,
                a.frames,
                a.warmup,
                !a.inline,
                !a.paused,
                size,
            )?;
            if a.json {
                print_json(&r)
            } else {
                say!(
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
                )
            }
        }
        BenchCommand::Gossip(a) if a.engine == "mpi" => {
            check_counts(&[("--steps", a.steps), ("--warmup", a.warmup)])?;
            // Per process: each rank checks its own budget before MPI starts.
            check_memory(gossip_rank_memory(a.dim), a.max_memory)?;
            crate::mpi::bench_gossip(a.backend, a.dim, a.steps, a.warmup, a.json)
        }
        BenchCommand::Gossip(a) => {
            check_counts(&[("--steps", a.steps), ("--warmup", a.warmup)])?;
            check_memory(gossip_memory(a.nodes, a.dim), a.max_memory)?;
            let device = resolve_device(a.backend)?;
            say_err!("sgdlab: {}", device.info);
            let r = sgdlab_engine::optim::gossip::bench_gossip(
                &device, a.nodes, a.dim, a.steps, a.warmup,
            )?;
            if a.json {
                print_json(&r)
            } else {
                say!(
                    "gossip-pga ring, n = {}, d = {}, {} steps on {}: {:.0} node-steps/s",
                    r.nodes,
                    r.dim,
                    r.steps,
                    r.device,
                    r.node_steps_per_sec
                )
            }
        }
        BenchCommand::Particles(a) => {
            check_memory(particles_memory(a.particles), a.max_memory)?;
            let device = resolve_device(a.backend)?;
            say_err!("sgdlab: {}", device.info);
            let r = bench_particles(&device, a.particles, a.steps)?;
            if a.json {
                print_json(&r)
            } else {
                say!(
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
                )
            }
        }
        BenchCommand::SmoothingGrid(a) => {
            check_memory(smoothing_grid_memory(a.grid), a.max_memory)?;
            let device = resolve_device(a.backend)?;
            say_err!("sgdlab: {}", device.info);
            let r = bench_smoothing_grid(&device, a.grid, a.samples)?;
            if a.json {
                print_json(&r)
            } else {
                say!(
                    "smoothing-grid {}x{} with {} samples on the {} engine ({}): {:.3e} grid evals/s",
                    r.grid,
                    r.grid,
                    r.samples,
                    r.engine,
                    r.device,
                    r.grid_evals_per_sec
                )
            }
        }
        BenchCommand::TrainMlp(a) => {
            check_counts(&[("--steps", a.steps), ("--warmup", a.warmup)])?;
            check_memory(train_mlp_memory(a.batch), a.max_memory)?;
            let device = resolve_device(a.backend)?;
            say_err!("sgdlab: {}", device.info);
            let r = bench_train_mlp(&device, a.batch, a.steps, a.warmup)?;
            let peak = peak_rss_bytes();
            if a.json {
                let mut v = serde_json::to_value(&r).map_err(|e| Failure::Other(e.into()))?;
                v["peak_rss_bytes"] = peak.map_or(serde_json::Value::Null, Into::into);
                print_json(&v)
            } else {
                say!(
                    "train-mlp 784-512-512-10, batch {}, {} steps on {}: {:.0} samples/s, peak RSS {}",
                    r.batch,
                    r.steps,
                    r.device,
                    r.samples_per_sec,
                    peak.map_or("unknown".to_string(), |b| format!(
                        "{:.1} MiB",
                        b as f64 / 1048576.0
                    ))
                )
            }
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
