//! `sgdlab run <experiment>`.

use crate::Failure;
use anyhow::anyhow;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sgdlab_engine::data::DatasetSpec;
use sgdlab_engine::device::{BackendChoice, resolve_device};
use sgdlab_engine::experiments::{
    EXPERIMENT_NAMES, Experiment, Preset, RandomLabels, RandomLabelsConfig, parse_config_over,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `sgdlab run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The experiment: random-labels, elimination, smoothing, sharp-minima, gossip or rnn.
    experiment: String,
    /// Starting configuration.
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
    /// Compute backend.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Output directory; the run writes into DIR/<experiment>/.
    #[arg(long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Print results.json to stdout at the end.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    if !EXPERIMENT_NAMES.contains(&args.experiment.as_str()) {
        return Err(Failure::BadInput(anyhow!(
            "unknown experiment `{}`: expected one of {}",
            args.experiment,
            EXPERIMENT_NAMES.join(", ")
        )));
    }
    let mut experiment: Box<dyn Experiment> = match args.experiment.as_str() {
        "random-labels" => {
            let mut config = RandomLabelsConfig::preset(args.preset);
            if let Some(path) = &args.config {
                config = read_config(path, &config)?;
            }
            if let Some(s) = args.seed {
                config.seed = s;
            }
            if let Some(n) = args.seeds {
                config.seeds = n;
            }
            if let Some(d) = &args.dataset {
                config.dataset = d.clone();
            }
            config.validate()?;
            let device = resolve_device(args.backend)?;
            eprintln!("sgdlab: {}", device.info);
            Box::new(RandomLabels::new(config, device)?)
        }
        other => {
            return Err(Failure::BadInput(anyhow!(
                "experiment `{other}` is not available in this build yet; available: random-labels"
            )));
        }
    };
    let dir = args.out.join(experiment.name());
    drive(experiment.as_mut(), &dir, args.quiet)?;
    if args.json {
        let results = experiment.results_json()?;
        println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| Failure::Other(e.into()))?
        );
    }
    Ok(())
}

fn read_config<T>(path: &Path, base: &T) -> Result<T, Failure>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::BadInput(anyhow!("cannot read config file {}: {e}", path.display()))
    })?;
    Ok(parse_config_over(
        &text,
        &path.display().to_string(),
        Some(base),
    )?)
}

/// Steps the experiment to completion behind a progress bar, writing outputs at the end, on
/// divergence and on Ctrl-C.
fn drive(experiment: &mut dyn Experiment, dir: &Path, quiet: bool) -> Result<(), Failure> {
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // Without a handler Ctrl-C still stops the run, only without saving; not fatal.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let bar = if quiet {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        let bar = ProgressBar::new(experiment.progress().total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} epochs (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    while !experiment.is_done() {
        if interrupted.load(Ordering::SeqCst) {
            bar.abandon();
            let files = experiment.write_outputs(dir)?;
            return Err(Failure::Interrupted(format!(
                "partial results ({} files) written to {}",
                files.len(),
                dir.display()
            )));
        }
        match experiment.step() {
            Ok(p) => {
                bar.set_length(p.total);
                bar.set_position(p.done);
                bar.set_message(format!(
                    "{} · epoch {} · loss {:.4} · acc {:.2}%",
                    p.phase,
                    p.epoch,
                    p.loss,
                    p.accuracy * 100.0
                ));
            }
            Err(e) => {
                bar.abandon();
                let saved = experiment.write_outputs(dir);
                let note = match saved {
                    Ok(files) => format!(
                        "results so far ({} files) written to {}",
                        files.len(),
                        dir.display()
                    ),
                    Err(w) => format!("and saving the results so far failed too: {w:#}"),
                };
                let failure = Failure::from(e);
                return Err(match failure {
                    Failure::Diverged(e) => Failure::Diverged(e.context(note)),
                    Failure::BadInput(e) => Failure::BadInput(e.context(note)),
                    Failure::Other(e) => Failure::Other(e.context(note)),
                    f => f,
                });
            }
        }
    }
    bar.finish_and_clear();
    let files = experiment.write_outputs(dir)?;
    if !quiet {
        eprintln!("sgdlab: wrote {} files to {}", files.len(), dir.display());
    }
    Ok(())
}
