//! sgdlab's experiments, a crate above the engine: each is a resumable state machine with a
//! bounded [`Experiment::step`], so the CLI can loop it behind a progress bar, the desktop app can
//! drive it from a worker thread and the browser can interleave it with frames. The engine
//! (`sgdlab-engine`: data, models, optimizers, landscapes, probes, reports) cannot import from
//! here; Cargo refuses it.

mod checkpoint;
mod claims;
mod config_io;
mod elimination;
mod gossip;
mod heavy_tail_net;
mod jobs;
mod output;
mod random_labels;
mod registry;
mod rnn;
mod sharp_minima;
mod smoothing;

pub use checkpoint::*;
pub use claims::*;
pub use config_io::*;
pub use elimination::*;
pub use gossip::*;
pub use heavy_tail_net::*;
pub use jobs::*;
pub use output::*;
pub use random_labels::*;
pub use registry::*;
pub use rnn::*;
pub use sgdlab_engine::memory::*;
pub use sharp_minima::*;
pub use smoothing::*;

use serde::{Deserialize, Serialize};
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::report::{CsvTable, ReportMd};
use std::path::{Path, PathBuf};

/// A named starting configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Small and fast: for tests, demos and a first look (seconds to a minute).
    Quick,
    /// The settings that show the paper's effect (minutes on a CPU).
    #[default]
    Paper,
}

impl Preset {
    /// The name the CLI and configs use: `quick` or `paper`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Paper => "paper",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "quick" => Ok(Self::Quick),
            "paper" => Ok(Self::Paper),
            other => Err(format!("unknown preset `{other}`: expected quick or paper")),
        }
    }
}

/// Where a running experiment stands, for progress bars and status lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// What is being done now (e.g. `seed 1/3 · vanilla · retrain on true labels`).
    pub phase: String,
    /// Units of work done (epochs, across all runs of the experiment).
    pub done: u64,
    /// Units of work in total (an upper bound: runs that finish early skip the rest).
    pub total: u64,
    /// What `done` and `total` count (e.g. `epochs`, `steps`), for progress bars.
    #[serde(default)]
    pub unit: String,
    /// Epoch within the current run.
    pub epoch: usize,
    /// Most recent training loss.
    pub loss: f64,
    /// Most recent training accuracy (on the labels being fit).
    pub accuracy: f64,
}

/// A resumable experiment.
pub trait Experiment {
    /// Does a bounded amount of work (a few mini-batches or one evaluation) and reports progress.
    /// Errors leave what has been computed in place, so [`write_outputs`] still works.
    fn step(&mut self) -> Result<Progress>;

    /// Whether all work is done.
    fn is_done(&self) -> bool;

    /// The current progress without doing work.
    fn progress(&self) -> Progress;

    /// The full config as JSON (loadable with `--config`).
    fn config_json(&self) -> Result<serde_json::Value>;

    /// The typed summary so far as JSON (complete once [`Experiment::is_done`]).
    fn results_json(&self) -> Result<serde_json::Value>;

    /// The paper's claims, tested on the results so far ([`Claim`]).
    fn claims(&self) -> Vec<Claim>;

    /// Writes the experiment's tables (`metrics.csv` and others) and plots into `dir`, each
    /// atomically; works on partial results too. Returns the files written.
    /// [`write_outputs`] adds `config.json`, `results.json` and `report.md`.
    fn write_artifacts(&self, dir: &Path) -> Result<Vec<PathBuf>>;

    /// Appends the report's body (after its title, run line and claims table; the writer closes
    /// it with the `Plots` section, every PNG of the set).
    fn report(&self, md: &mut ReportMd);

    /// The state to resume from, as of now: the jobs finished and the experiment's encoded
    /// state: the finished jobs' results and, where the experiment keeps it, the job in
    /// progress (its model, optimizer state, RNG positions and metrics so far) so that a
    /// resumed run continues it where it was. `None` while there is nothing to keep, or for an
    /// experiment that cannot checkpoint (a resumed run then starts from the beginning).
    fn checkpoint(&self) -> Result<Option<(usize, Vec<u8>)>> {
        Ok(None)
    }

    /// Continues from `state`, a [`Experiment::checkpoint`] of a run of the same config, on a
    /// freshly built experiment: the finished jobs' results are restored, and the job that was
    /// in progress continues from its saved state (or, for an experiment that keeps only job
    /// boundaries, starts from its beginning).
    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let _ = state;
        Err(EngineError::config(
            "<checkpoint>",
            "this experiment keeps no checkpoints",
        ))
    }
}

/// Serializes a config or a summary for [`Experiment::config_json`] and
/// [`Experiment::results_json`].
pub fn to_json_value<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| EngineError::config("<root>", format!("cannot serialize: {e}")))
}

/// A network run that an experiment drives after its particle runs (the one-point check of
/// `smoothing`, the heavy-tailed training of `sharp-minima`): one life cycle, progress and set
/// of outputs for both.
pub trait NetworkPart {
    /// The file [`NetworkPart::metrics_table`] is written to.
    const CSV: &'static str;
    /// Does a bounded amount of work.
    fn step(&mut self) -> Result<()>;
    /// Whether all work is done.
    fn is_done(&self) -> bool;
    /// Units of work in total (optimizer steps and their equivalents).
    fn total_units(&self) -> u64;
    /// Units of work done.
    fn units_done(&self) -> u64;
    /// What is running, for progress lines.
    fn phase(&self) -> String;
    /// The latest training loss and test accuracy, for progress lines.
    fn latest(&self) -> (f64, f64);
    /// Its table: one row per run or per epoch.
    fn metrics_table(&self) -> CsvTable;
    /// Its plots, written into `dir`.
    fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>>;
    /// Its section of report.md.
    fn report(&self, md: &mut ReportMd);
}

/// Writes a part's table ([`NetworkPart::CSV`]) and plots into `dir`; returns the files.
pub fn write_network_part<P: NetworkPart>(part: &P, dir: &Path) -> Result<Vec<PathBuf>> {
    let p = dir.join(P::CSV);
    part.metrics_table().write(&p)?;
    let mut written = vec![p];
    written.extend(part.write_plots(dir)?);
    Ok(written)
}
