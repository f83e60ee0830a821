//! Writing a run's outputs, once for every experiment: `config.json`, `results.json` (the
//! experiment's summary plus the `claims` block and a `run` block), `timing.json` (wall-clock
//! time, kept out of `results.json` so reruns compare equal), the experiment's tables and plots,
//! and `report.md`, which opens with the claims table.

use super::{
    CHECKPOINT_FILE, Checkpoint, Claim, Experiment, ExperimentEntry, Preset, too_small_to_decide,
};
use crate::error::Result;
use crate::report::{ReportMd, write_json_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How a run was made, written as `run` in `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The experiment's name.
    pub experiment: String,
    /// The preset the config started from.
    pub preset: Preset,
    /// Whether every job of the run finished.
    pub complete: bool,
    /// Wall-clock seconds spent computing: written to `timing.json`, not `results.json`, so that
    /// two runs of the same config, seed and backend give the same `results.json`.
    #[serde(skip)]
    pub elapsed_s: f64,
    /// The sgdlab version that made it.
    pub sgdlab_version: String,
}

impl RunInfo {
    /// The info of a run of `entry` from `preset`, so far.
    pub fn new(entry: &ExperimentEntry, preset: Preset) -> Self {
        Self {
            experiment: entry.name.to_string(),
            preset,
            complete: false,
            elapsed_s: 0.0,
            sgdlab_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The experiment's claims as this run reports them: a quick preset too small to decide
/// reports each as `inconclusive` ([`super::QUICK_TOO_SMALL`]), and an unfinished run cannot
/// confirm or refute anything either.
pub fn run_claims(exp: &dyn Experiment, entry: &ExperimentEntry, run: &RunInfo) -> Vec<Claim> {
    let mut claims = exp.claims();
    if run.preset == Preset::Quick && !entry.quick_decides {
        too_small_to_decide(&mut claims);
    }
    if !run.complete {
        for c in &mut claims {
            if c.verdict != super::Verdict::Inconclusive {
                c.reason = format!(
                    "the run did not finish (at this point the rule gives `{}`: {})",
                    c.verdict, c.reason
                );
                c.verdict = super::Verdict::Inconclusive;
            }
        }
    }
    claims
}

/// `results.json`'s content: the experiment's summary with `claims` and `run` added.
pub fn results_with_claims(
    exp: &dyn Experiment,
    claims: &[Claim],
    run: &RunInfo,
) -> Result<serde_json::Value> {
    let mut results = exp.results_json()?;
    if let Some(obj) = results.as_object_mut() {
        if !run.complete && obj.get("status").and_then(|s| s.as_str()) == Some("running") {
            obj.insert("status".into(), "interrupted".into());
        }
        obj.insert("claims".into(), super::to_json_value(&claims)?);
        obj.insert("run".into(), super::to_json_value(run)?);
    }
    Ok(results)
}

/// Writes every output of a run into `dir`; works on partial results too. Returns the files
/// written (their paths in `dir`).
///
/// The files are written into a staging directory beside `dir` which then replaces `dir` whole,
/// so a reader never sees one run's `results.json` beside another run's plots, and a write
/// killed halfway leaves the previous set in place (and the staging directory, which the next
/// write removes).
pub fn write_outputs(
    exp: &dyn Experiment,
    entry: &ExperimentEntry,
    run: &RunInfo,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    recover_outputs(dir)?;
    let (staging, old) = swap_paths(dir);
    for leftover in [&staging, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(io(leftover))?;
        }
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let staged = write_set(exp, entry, run, &staging)?;
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(staged
        .iter()
        .filter_map(|p| p.file_name().map(|f| dir.join(f)))
        .collect())
}

/// The staging and the previous-set directories beside `dir` that [`write_outputs`] swaps
/// through: `.<name>.staging` and `.<name>.old`.
fn swap_paths(dir: &Path) -> (PathBuf, PathBuf) {
    let name = dir
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let parent = dir.parent().unwrap_or_else(|| Path::new("."));
    (
        parent.join(format!(".{name}.staging")),
        parent.join(format!(".{name}.old")),
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> crate::error::EngineError {
    let path = path.to_path_buf();
    move |source| crate::error::EngineError::Io { path, source }
}

/// Finishes a swap that a kill interrupted, so `dir` holds the newest complete set: when `dir`
/// is missing while the previous set waits in `.<name>.old`, the staging directory was complete
/// (it is filled before the old set moves) and becomes `dir`; a leftover `.<name>.old` beside
/// `dir` is removed. Anything else (an unfinished staging directory) is left for the next write
/// to clear.
pub fn recover_outputs(dir: &Path) -> Result<()> {
    let (staging, old) = swap_paths(dir);
    if !old.exists() {
        return Ok(());
    }
    if !dir.exists() {
        // The newest complete set: the staging one when it is there, else the previous one.
        let newest = if staging.is_dir() { &staging } else { &old };
        std::fs::rename(newest, dir).map_err(io(dir))?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// Writes the set of files of a run into `dir` (the staging directory).
fn write_set(
    exp: &dyn Experiment,
    entry: &ExperimentEntry,
    run: &RunInfo,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let claims = run_claims(exp, entry, run);
    let config_path = dir.join("config.json");
    write_json_atomic(&config_path, &exp.config_json()?)?;
    let results_path = dir.join("results.json");
    write_json_atomic(&results_path, &results_with_claims(exp, &claims, run)?)?;
    let progress = exp.progress();
    let timing_path = dir.join("timing.json");
    write_json_atomic(
        &timing_path,
        &serde_json::json!({
            "elapsed_s": run.elapsed_s,
            "complete": run.complete,
            "progress": {"done": progress.done, "total": progress.total, "unit": progress.unit},
        }),
    )?;
    let mut written = vec![config_path, results_path, timing_path];
    if !run.complete
        && let Some((jobs_finished, state)) = exp.checkpoint()?
    {
        let path = dir.join(CHECKPOINT_FILE);
        Checkpoint {
            experiment: entry.name.to_string(),
            preset: run.preset,
            sgdlab_version: run.sgdlab_version.clone(),
            elapsed_s: run.elapsed_s,
            jobs_finished,
            units_done: progress.done,
            units_total: progress.total,
            state,
        }
        .write(&path)?;
        written.push(path);
    }
    written.extend(exp.write_artifacts(dir)?);
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .collect();
    let mut md = ReportMd::new(entry.title);
    md.paragraph(&format!(
        "{} — `sgdlab run {}` from the `{}` preset; {}.",
        entry.paper,
        entry.name,
        match run.preset {
            Preset::Quick => "quick",
            Preset::Paper => "paper",
        },
        if run.complete {
            format!("complete in {:.1} s", run.elapsed_s)
        } else {
            format!(
                "**not finished** (stopped after {:.1} s, {} of {} {})",
                run.elapsed_s, progress.done, progress.total, progress.unit
            )
        }
    ));
    super::claims_section(&mut md, &claims);
    exp.report(&mut md, &names);
    let p = dir.join("report.md");
    md.write(&p)?;
    written.push(p);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dir: &Path, tag: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("results.json"), tag).unwrap();
    }

    fn tag(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("results.json")).unwrap()
    }

    /// Each point where a kill can interrupt the swap leaves the newest complete set in place.
    #[test]
    fn recovery_keeps_the_newest_complete_set() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("smoothing");
        let (staging, old) = swap_paths(&dir);
        // Killed after the old set moved aside, before the staged one moved in.
        set(&old, "old");
        set(&staging, "new");
        recover_outputs(&dir).unwrap();
        assert_eq!(tag(&dir), "new");
        assert!(!old.exists() && !staging.exists());
        // Killed after the staged set moved in, before the old one was removed.
        set(&old, "old");
        recover_outputs(&dir).unwrap();
        assert_eq!((tag(&dir), old.exists()), ("new".into(), false));
        // Killed while staging (the staged set may be incomplete): the current set stays.
        set(&staging, "partial");
        recover_outputs(&dir).unwrap();
        assert_eq!(tag(&dir), "new");
        // Only the previous set is left.
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&staging).unwrap();
        set(&old, "old");
        recover_outputs(&dir).unwrap();
        assert_eq!(tag(&dir), "old");
    }
}
