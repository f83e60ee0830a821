//! `sgdlab run <experiment>`.

use crate::Failure;
use anyhow::anyhow;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sgdlab_engine::data::DatasetSpec;
use sgdlab_engine::device::{BackendChoice, ComputeDevice, resolve_device};
use sgdlab_engine::experiments::{
    EXPERIMENT_NAMES, Elimination, EliminationConfig, Experiment, Gossip, GossipConfig, Preset,
    RandomLabels, RandomLabelsConfig, Rnn, RnnConfig, SharpMinima, SharpMinimaConfig,
    SmoothingConfig, SmoothingExperiment, parse_config_over,
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
    let mut experiment = build_experiment(&args)?;
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

/// Builds the named experiment from its preset, the `--config` file and the flags, then
/// resolves the device (after validation, so bad input is reported before any device work).
fn build_experiment(args: &RunArgs) -> Result<Box<dyn Experiment>, Failure> {
    match args.experiment.as_str() {
        "random-labels" => {
            // The 2-D toy sets start from their own preset (the paper's toy figure).
            let preset = match &args.dataset {
                Some(d) if d.is_two_d() => RandomLabelsConfig::toy_preset(args.preset, d.clone()),
                _ => RandomLabelsConfig::preset(args.preset),
            };
            let config: RandomLabelsConfig = configure(preset, args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(RandomLabels::new(config, device)?))
        }
        "elimination" => {
            let config: EliminationConfig =
                configure(EliminationConfig::preset(args.preset), args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(Elimination::new(config, device)?))
        }
        "rnn" => {
            let config: RnnConfig = configure(RnnConfig::preset(args.preset), args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(Rnn::new(config, device)?))
        }
        "gossip" => {
            let config: GossipConfig = configure(GossipConfig::preset(args.preset), args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(Gossip::new(config, device)?))
        }
        "smoothing" => {
            let config: SmoothingConfig = configure(SmoothingConfig::preset(args.preset), args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(SmoothingExperiment::new(config, device)?))
        }
        "sharp-minima" => {
            let config: SharpMinimaConfig =
                configure(SharpMinimaConfig::preset(args.preset), args)?;
            config.validate()?;
            let device = announce(resolve_device(args.backend)?);
            Ok(Box::new(SharpMinima::new(config, device)?))
        }
        other if EXPERIMENT_NAMES.contains(&other) => Err(Failure::BadInput(anyhow!(
            "experiment `{other}` is not available in this build yet"
        ))),
        other => Err(Failure::BadInput(anyhow!(
            "unknown experiment `{other}`: expected one of {}",
            EXPERIMENT_NAMES.join(", ")
        ))),
    }
}

fn announce(device: ComputeDevice) -> ComputeDevice {
    eprintln!("sgdlab: {}", device.info);
    device
}

/// The preset, with the `--config` file merged over it and then the `--seed`, `--seeds` and
/// `--dataset` flags, each applied only where the experiment's config has that field.
fn configure<T>(preset: T, args: &RunArgs) -> Result<T, Failure>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::BadInput(anyhow!("cannot read config file {}: {e}", path.display()))
            })?;
            parse_config_over(&text, &path.display().to_string(), Some(&preset))?
        }
        None => preset,
    };
    let mut overrides = serde_json::Map::new();
    if let Some(s) = args.seed {
        overrides.insert("seed".into(), s.into());
    }
    if let Some(n) = args.seeds {
        overrides.insert("seeds".into(), n.into());
    }
    if let Some(d) = &args.dataset {
        overrides.insert("dataset".into(), d.to_string().into());
    }
    if !overrides.is_empty() {
        let current = serde_json::to_value(&config).map_err(|e| Failure::Other(e.into()))?;
        for key in overrides.keys() {
            if current.get(key).is_none() {
                return Err(Failure::BadInput(anyhow!(
                    "--{key} does not apply to experiment `{}`",
                    args.experiment
                )));
            }
        }
        let text = serde_json::Value::Object(overrides).to_string();
        config = parse_config_over(&text, "command-line flags", Some(&config))?;
    }
    Ok(config)
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
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {prefix} (eta {eta}) {msg}",
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
                bar.set_prefix(p.unit.clone());
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
