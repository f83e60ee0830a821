//! `sgdlab run <experiment>`: one registered experiment, behind a progress bar.

use crate::Failure;
use crate::say::say_err;
use anyhow::anyhow;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sgdlab_engine::data::DatasetSpec;
use sgdlab_engine::device::BackendChoice;
use sgdlab_experiments::{
    CHECKPOINT_FILE, Checkpoint, Claim, Experiment, ExperimentEntry, Preset, REGISTRY, RunDir,
    RunInfo, RunRequest, Verdict, claims_lines, find, parse_bytes, run_claims, write_outputs,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `sgdlab run`.
#[derive(Args, Debug)]
#[command(after_help = experiments_help())]
pub struct RunArgs {
    /// The experiment (see --list).
    #[arg(required_unless_present = "list")]
    experiment: Option<String>,
    /// List the experiments with their papers and exit.
    #[arg(long)]
    list: bool,
    /// Starting configuration: quick (seconds to a minute on 2 CPU cores) or paper (the
    /// paper's protocol at a scale these machines run; minutes).
    #[arg(long, default_value = "paper", value_parser = clap::value_parser!(Preset))]
    preset: Preset,
    /// A JSON config (for example a previous run's config.json); it may be partial, and is
    /// applied over the preset.
    #[arg(long, value_name = "FILE.json")]
    config: Option<PathBuf>,
    /// Seed of the first repetition.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of seeds (repetitions).
    #[arg(long)]
    seeds: Option<usize>,
    /// Dataset: mnist10k, digits, two-clusters, moons, spirals, idx:DIR or cifar10:DIR.
    #[arg(long, value_parser = clap::value_parser!(DatasetSpec))]
    dataset: Option<DatasetSpec>,
    /// Compute backend: auto (a hardware GPU through wgpu, else the CPU), cpu, or wgpu (any
    /// adapter, software ones such as lavapipe included).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Output directory; the run writes into DIR/<experiment>/.
    #[arg(long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Continue the stopped run in DIR/<experiment>/ from its checkpoint (its config.json and
    /// checkpoint.cbor: finished jobs and the job in progress, with its model, optimizer state
    /// and RNG positions, continue where they were). Use the same --backend for the same numbers.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "seed", "seeds", "dataset", "out", "preset"])]
    resume: Option<PathBuf>,
    /// Seconds between checkpoints (outputs so far plus checkpoint.cbor) while running; 0 saves
    /// only when the run stops.
    #[arg(long, default_value_t = 60.0, value_name = "SECS", value_parser = seconds)]
    checkpoint_every: f64,
    /// Exit with code 4 when any claim's verdict is `fails`.
    #[arg(long)]
    strict: bool,
    /// Memory budget (for example 8G or 512M): a config whose estimated peak memory exceeds it
    /// is refused before any work. Default: the machine's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Print results.json to stdout at the end.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Test hook: stop as Ctrl-C would (save, exit 130) after this many calls of the
    /// experiment's step in this process.
    #[arg(long, hide = true, value_name = "N")]
    stop_after_steps: Option<u64>,
    /// Test hook: append a line per step (call, units done, units total, phase) to FILE.
    #[arg(long, hide = true, value_name = "FILE")]
    progress_log: Option<PathBuf>,
}

/// A number of seconds: finite, at least 0, at most a year.
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=3.2e7).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected seconds in [0, 3.2e7], found {s}"))
    }
}

/// The experiments, for `run --help`.
fn experiments_help() -> String {
    let mut s = String::from("Experiments:\n");
    for e in REGISTRY {
        s.push_str(&format!("  {:<14} {} ({})\n", e.name, e.title, e.paper));
    }
    s
}

/// `sgdlab run --list`: one line per experiment; a failed write to stdout is an error (exit 1).
pub fn list() -> Result<(), Failure> {
    for e in REGISTRY {
        crate::say::say!("{:<14} {} — {} ({})", e.name, e.title, e.summary, e.paper)?;
    }
    Ok(())
}

/// What a finished (or stopped) run hands back.
pub struct RunOutcome {
    /// The claims as reported.
    pub claims: Vec<Claim>,
    /// Wall-clock seconds.
    pub elapsed_s: f64,
    /// The device line.
    pub device: String,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    if args.list {
        return list();
    }
    let name = args
        .experiment
        .as_deref()
        .ok_or_else(|| Failure::BadInput(anyhow!("name an experiment, or use --list")))?;
    let entry = find(name)?;
    let opts = RunOptions {
        quiet: args.quiet,
        checkpoint_every: (args.checkpoint_every > 0.0)
            .then(|| Duration::from_secs_f64(args.checkpoint_every)),
        stop_after_steps: args.stop_after_steps,
        progress_log: args.progress_log.clone(),
    };
    // Bad input is reported before any work: the config, then the output folder (claimed:
    // sgdlab's own or empty, locked against a second run, writable), then the checkpoint.
    let (request, dir, resume) = match &args.resume {
        Some(out) => {
            let dir = RunDir::claim(&out.join(entry.name), entry.name)?;
            let Some(checkpoint) = read_checkpoint(&dir, entry)? else {
                say_err!(
                    "sgdlab: {}: the run in {} is complete; nothing to resume",
                    entry.name,
                    dir.path().display()
                );
                return Ok(());
            };
            let request = RunRequest {
                preset: checkpoint.preset,
                config: read_config(Some(&dir.path().join("config.json")))?,
                backend: args.backend,
                max_memory: args.max_memory,
                ..RunRequest::default()
            };
            (request, dir, Some(checkpoint))
        }
        None => {
            let request = RunRequest {
                preset: args.preset,
                config: read_config(args.config.as_deref())?,
                seed: args.seed,
                seeds: args.seeds,
                dataset: args.dataset.clone(),
                backend: args.backend,
                max_memory: args.max_memory,
            };
            entry.config(&request)?;
            let dir = RunDir::claim(&args.out.join(entry.name), entry.name)?;
            (request, dir, None)
        }
    };
    let outcome = match run_entry(entry, &request, &dir, &opts, None, resume) {
        Ok(o) => o,
        Err(e) => {
            dir.release_unused();
            return Err(e);
        }
    };
    if args.json {
        // The file's bytes as written: a parse and re-print could move a float by one ulp.
        let bytes = std::fs::read(dir.path().join("results.json"))
            .map_err(|e| Failure::Other(anyhow!("cannot read back results.json: {e}")))?;
        crate::say::write_stdout(&bytes)?;
    }
    strict_check(args.strict, &outcome.claims)
}

/// Exit code 4 under `--strict` when a claim fails.
pub fn strict_check(strict: bool, claims: &[Claim]) -> Result<(), Failure> {
    let failed: Vec<&str> = claims
        .iter()
        .filter(|c| c.verdict == Verdict::Fails)
        .map(|c| c.id.as_str())
        .collect();
    if strict && !failed.is_empty() {
        return Err(Failure::ClaimFailed(format!(
            "--strict: {} claim(s) fail: {}",
            failed.len(),
            failed.join(", ")
        )));
    }
    Ok(())
}

/// The checkpoint of the stopped run of `entry` in `dir`; `None` when the run there is complete.
/// A missing, damaged or foreign checkpoint of an unfinished run is bad input.
pub fn read_checkpoint(
    dir: &RunDir,
    entry: &ExperimentEntry,
) -> Result<Option<Checkpoint>, Failure> {
    let path = dir.path().join(CHECKPOINT_FILE);
    if !path.exists() {
        let complete = std::fs::read(dir.path().join("results.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["run"]["complete"] == serde_json::Value::Bool(true));
        if complete {
            return Ok(None);
        }
        return Err(Failure::BadInput(anyhow!(
            "--resume: no checkpoint at {} (the run stopped before it saved one, or never ran \
             there): start it again without --resume",
            path.display()
        )));
    }
    let c = Checkpoint::read(&path).map_err(|e| Failure::BadInput(anyhow!("--resume: {e}")))?;
    if c.experiment != entry.name {
        return Err(Failure::BadInput(anyhow!(
            "--resume: {} is a checkpoint of `{}`, not `{}`",
            path.display(),
            c.experiment,
            entry.name
        )));
    }
    Ok(Some(c))
}

/// How a run reports and saves.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// No progress bar and no claim lines.
    pub quiet: bool,
    /// Interval between checkpoints while running (`None`: only when the run stops).
    pub checkpoint_every: Option<Duration>,
    /// Test hook: stop as an interrupt would after this many step calls.
    pub stop_after_steps: Option<u64>,
    /// Test hook: a line per step appended to this file.
    pub progress_log: Option<PathBuf>,
}

/// Reads a `--config` file (at most [`MAX_CONFIG_BYTES`]) with its path for messages.
pub fn read_config(path: Option<&Path>) -> Result<Option<(String, String)>, Failure> {
    let Some(path) = path else {
        return Ok(None);
    };
    let bad = |what: String| Failure::BadInput(anyhow!("config file {}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_CONFIG_BYTES} a config may have",
            meta.len()
        )));
    }
    // The size on record can be 0 for a file that reads on without end (`/proc/self/pagemap`):
    // the read itself is bounded too.
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mut bytes = Vec::new();
    let read = file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes);
    // Also too long when the read of the byte beyond the limit fails (pagemap refuses reads
    // of fewer than 8 bytes).
    let len = bytes.len() as u64;
    if len > MAX_CONFIG_BYTES || (len == MAX_CONFIG_BYTES && read.is_err()) {
        return Err(bad(format!(
            "more than the {MAX_CONFIG_BYTES} bytes a config may have; stopped reading there"
        )));
    }
    read.map_err(|e| bad(format!("cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    Ok(Some((text, path.display().to_string())))
}

/// The largest config file read (16 MiB): a config is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Checks that `dir` can take a run's outputs before anything is computed: created if missing,
/// a directory, writable.
pub fn check_out_dir(dir: &Path) -> Result<(), Failure> {
    let bad =
        |what: String| Failure::BadInput(anyhow!("output directory {}: {what}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
    let probe = dir.join(".sgdlab-write-check");
    std::fs::write(&probe, b"ok").map_err(|e| bad(format!("not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// An outer progress bar (`reproduce`) that a run advances from `base` by up to
/// [`OUTER_UNITS`] instead of drawing its own.
#[derive(Clone, Copy)]
pub struct Outer<'a> {
    /// The bar.
    pub bar: &'a ProgressBar,
    /// Its position when this run starts.
    pub base: u64,
}

/// The share of an outer bar one run takes.
pub const OUTER_UNITS: u64 = 1000;

/// Builds and runs one registered experiment into `dir`, printing its claims at the end. A
/// checkpoint to `resume` must have been written with the config `request` resolves to.
pub fn run_entry(
    entry: &ExperimentEntry,
    request: &RunRequest,
    dir: &RunDir,
    opts: &RunOptions,
    bar: Option<Outer<'_>>,
    resume: Option<Checkpoint>,
) -> Result<RunOutcome, Failure> {
    let quiet = opts.quiet;
    // Bad input is reported before any work: the config, and whether the checkpoint is its.
    let config = entry.config(request)?;
    if let Some(c) = &resume {
        c.check_config(&config, &dir.path().join(CHECKPOINT_FILE))
            .map_err(|e| Failure::BadInput(anyhow!("--resume: {e}")))?;
    }
    let mut device = String::new();
    let mut experiment = entry.build(request, &mut |d| {
        device = format!("{} on {}", d.info.backend, d.info.adapter);
        say_err!("sgdlab: {}: {}", entry.name, d.reason_line());
    })?;
    let mut run = RunInfo::new(entry, request.preset);
    let mut started = Instant::now();
    if let Some(c) = resume {
        experiment
            .restore(&c.state)
            .map_err(|e| Failure::BadInput(anyhow!("--resume: {e}")))?;
        let progress = experiment.progress();
        // The time already spent counts in timing.json.
        started = started
            .checked_sub(Duration::from_secs_f64(c.elapsed_s.max(0.0)))
            .unwrap_or(started);
        if !quiet {
            say_err!(
                "sgdlab: {}: resumed at {} of {} {} done, {} jobs finished ({:.1} s of earlier \
                 work kept)",
                entry.name,
                progress.done,
                progress.total,
                progress.unit,
                c.jobs_finished,
                c.elapsed_s
            );
        }
    }
    drive(
        experiment.as_mut(),
        entry,
        &mut run,
        started,
        dir,
        opts,
        bar,
    )?;
    let claims = run_claims(experiment.as_ref(), entry, &run);
    if !quiet {
        for line in claims_lines(&claims) {
            say_err!("  {line}");
        }
    }
    Ok(RunOutcome {
        claims,
        elapsed_s: run.elapsed_s,
        device,
    })
}

/// Steps the experiment to completion behind a progress bar, writing outputs at the end, on
/// divergence and on Ctrl-C.
fn drive(
    experiment: &mut dyn Experiment,
    entry: &ExperimentEntry,
    run: &mut RunInfo,
    started: Instant,
    dir: &RunDir,
    opts: &RunOptions,
    outer: Option<Outer<'_>>,
) -> Result<(), Failure> {
    let quiet = opts.quiet;
    let interrupted = interrupt_flag();
    let mut last_save = Instant::now();
    let own;
    let bar = match outer {
        Some(o) => o.bar,
        None => {
            own = if quiet {
                ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
            } else {
                let bar = ProgressBar::new(experiment.progress().total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {prefix} (eta {eta}) {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            };
            &own
        }
    };
    let save = |experiment: &dyn Experiment, run: &mut RunInfo| {
        run.elapsed_s = started.elapsed().as_secs_f64();
        run.complete = experiment.is_done();
        write_outputs(experiment, entry, run, dir)
    };
    let mut progress_log = match &opts.progress_log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Failure::BadInput(anyhow!("--progress-log {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let mut calls = 0u64;
    while !experiment.is_done() {
        let stop_now = opts.stop_after_steps.is_some_and(|n| calls >= n);
        if stop_now || interrupted.load(Ordering::SeqCst) {
            if outer.is_none() {
                bar.abandon();
            }
            let files = save(experiment, run)?;
            return Err(Failure::Interrupted(format!(
                "partial results ({} files) written to {}; continue with `sgdlab run {} \
                 --resume {}`",
                files.len(),
                dir.path().display(),
                entry.name,
                dir.path().parent().unwrap_or(dir.path()).display()
            )));
        }
        if opts
            .checkpoint_every
            .is_some_and(|every| last_save.elapsed() >= every)
        {
            save(experiment, run)?;
            last_save = Instant::now();
        }
        calls += 1;
        match experiment.step() {
            Ok(p) => {
                if let Some(f) = progress_log.as_mut() {
                    writeln!(f, "{calls}\t{}\t{}\t{}", p.done, p.total, p.phase)
                        .map_err(|e| Failure::Other(anyhow!("--progress-log: {e}")))?;
                }
                match outer {
                    Some(o) => bar
                        .set_position(o.base + OUTER_UNITS * p.done.min(p.total) / p.total.max(1)),
                    None => {
                        bar.set_length(p.total);
                        bar.set_prefix(p.unit.clone());
                        bar.set_position(p.done);
                    }
                }
                bar.set_message(format!(
                    "{} · {} · loss {:.4} · acc {:.2}%",
                    entry.name,
                    p.phase,
                    p.loss,
                    p.accuracy * 100.0
                ));
            }
            Err(e) => {
                if outer.is_none() {
                    bar.abandon();
                }
                let note = match save(experiment, run) {
                    Ok(files) => format!(
                        "results so far ({} files) written to {}",
                        files.len(),
                        dir.path().display()
                    ),
                    Err(w) => format!("and saving the results so far failed too: {w:#}"),
                };
                return Err(match Failure::from(e) {
                    Failure::Diverged(e) => Failure::Diverged(e.context(note)),
                    Failure::BadInput(e) => Failure::BadInput(e.context(note)),
                    Failure::Other(e) => Failure::Other(e.context(note)),
                    f => f,
                });
            }
        }
    }
    if outer.is_none() {
        bar.finish_and_clear();
    }
    let files = save(experiment, run)?;
    if !quiet {
        say_err!(
            "sgdlab: {}: wrote {} files to {} in {:.1} s",
            entry.name,
            files.len(),
            dir.path().display(),
            run.elapsed_s
        );
    }
    Ok(())
}

/// The process's Ctrl-C flag, installed once (a second `set_handler` would fail).
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // Without a handler Ctrl-C still stops the run, only without saving; not fatal.
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}
