//! Writing a run's outputs, once for every experiment: `config.json`, `results.json` (the
//! experiment's summary plus the `claims` block and a `run` block), `timing.json` (wall-clock
//! time, kept out of `results.json` so reruns compare equal), the experiment's tables and plots,
//! and `report.md`, which opens with the claims table.

use super::{
    CHECKPOINT_FILE, Checkpoint, Claim, Experiment, ExperimentEntry, Preset, too_small_to_decide,
};
use serde::{Deserialize, Serialize};
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::report::{ReportMd, write_json_atomic};
use std::io::Read;
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

/// The marker of an output folder that sgdlab made, in the folder: which experiment's outputs
/// it holds and the files of the last set written (JSON). Only the files it lists are ever
/// replaced or removed; whatever else is in the folder is left as it is.
pub const MARKER_FILE: &str = ".sgdlab";
/// The lock a run holds on its output folder while it runs (with the holder's pid and command).
pub const LOCK_FILE: &str = ".sgdlab.lock";
/// Where a set of outputs is written before it is moved into the folder.
const STAGING_DIR: &str = ".sgdlab.staging";

/// What [`MARKER_FILE`] says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// A line for a person who opens the file.
    about: String,
    /// The experiment whose outputs the folder holds.
    experiment: String,
    /// The files of the last complete set, by name.
    files: Vec<String>,
}

impl Manifest {
    fn new(experiment: &str, files: Vec<String>) -> Self {
        Self {
            about: "sgdlab's output folder: sgdlab replaces or removes only the files listed \
                    here; anything else in the folder is yours and is left alone"
                .into(),
            experiment: experiment.into(),
            files,
        }
    }

    /// Reads a manifest at `path`, `None` when there is none. A listed name that is not a
    /// plain file name in the folder (a path, `..`, one of sgdlab's own names) makes it
    /// unreadable: a manifest never makes sgdlab touch a file outside what it wrote.
    fn read(path: &Path) -> std::result::Result<Option<Self>, String> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {MARKER_FILE}: {e}")),
        };
        if !meta.is_file() {
            return Err(format!("{MARKER_FILE} is not a regular file"));
        }
        let bytes = sgdlab_engine::data::read_data_file(path, MAX_MANIFEST_BYTES)
            .map_err(|e| e.to_string())?;
        let m: Self = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{MARKER_FILE} is not sgdlab's: {e}"))?;
        if let Some(bad) = m.files.iter().find(|f| !own_file_name(f)) {
            return Err(format!(
                "{MARKER_FILE} lists `{}`, not a file name sgdlab writes",
                sgdlab_engine::check::quote(bad)
            ));
        }
        Ok(Some(m))
    }
}

/// The largest marker file read.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Whether `name` is a plain file name that a set of outputs may hold.
fn own_file_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && !name.starts_with(".sgdlab")
        && !name.contains(['/', '\\'])
}

/// Whether a folder entry is one of sgdlab's own (marker, lock, staging, a temporary file).
fn reserved(name: &str) -> bool {
    name.starts_with(".sgdlab")
}

/// A run's output folder, `DIR/<experiment>/`, claimed for one run: sgdlab's (made by it, or
/// empty when the run began), locked against a second run for as long as this value lives, and
/// writable. Claim it before any work.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    experiment: String,
    /// Whether this claim made the folder.
    created: bool,
    /// Holds the lock (released when the file is closed, also when the process is killed).
    _lock: std::fs::File,
}

impl RunDir {
    /// Claims `path` for a run of `experiment`. Refuses (a bad-input error naming the folder):
    /// a path that is not a folder; a folder that holds files sgdlab did not write (no marker
    /// and not empty); the folder of another experiment; a folder another run holds (naming
    /// it); a folder that cannot be written. Finishes a save that a kill interrupted.
    pub fn claim(path: &Path, experiment: &str) -> Result<Self> {
        let bad = |detail: String| EngineError::Output {
            path: path.to_path_buf(),
            detail,
        };
        let created = match std::fs::metadata(path) {
            Ok(m) if !m.is_dir() => return Err(bad("exists and is not a folder".into())),
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(path).map_err(|e| bad(format!("cannot create it: {e}")))?;
                true
            }
            Err(e) => return Err(bad(format!("cannot read it: {e}"))),
        };
        let marker = path.join(MARKER_FILE);
        match Manifest::read(&marker).map_err(&bad)? {
            Some(m) if m.experiment != experiment => {
                return Err(bad(format!(
                    "holds the outputs of `{}`, not `{experiment}`; choose another --out",
                    m.experiment
                )));
            }
            Some(_) => {}
            None => {
                let mut theirs: Vec<String> = std::fs::read_dir(path)
                    .map_err(|e| bad(format!("cannot list it: {e}")))?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !reserved(n))
                    .collect();
                if !theirs.is_empty() {
                    theirs.sort();
                    let n = theirs.len();
                    theirs.truncate(4);
                    return Err(bad(format!(
                        "holds files sgdlab did not write ({}{}); sgdlab writes only into a \
                         folder it made or an empty one: choose another --out, or move them",
                        theirs.join(", "),
                        if n > 4 {
                            format!(" and {} more", n - 4)
                        } else {
                            String::new()
                        }
                    )));
                }
            }
        }
        let lock = lock(path).map_err(&bad)?;
        // Ours and locked: finish a save a kill interrupted, then prove the folder writable
        // (the marker is rewritten and a staging folder made and removed) before any work.
        recover_outputs(path)?;
        let manifest = Manifest::read(&marker)
            .map_err(&bad)?
            .unwrap_or_else(|| Manifest::new(experiment, Vec::new()));
        write_json_atomic(&marker, &manifest).map_err(|e| bad(format!("cannot write it: {e}")))?;
        let staging = path.join(STAGING_DIR);
        std::fs::create_dir(&staging)
            .and_then(|()| std::fs::remove_dir(&staging))
            .map_err(|e| bad(format!("cannot write it: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            experiment: experiment.into(),
            created,
            _lock: lock,
        })
    }

    /// For a run that stopped before it wrote anything (bad data found while loading, say):
    /// removes the marker and the lock when no set was ever written here, and the folder when
    /// this claim made it and nothing else is in it, so a refused run leaves nothing behind.
    pub fn release_unused(self) {
        let marker = self.path.join(MARKER_FILE);
        let unused = Manifest::read(&marker).is_ok_and(|m| m.is_some_and(|m| m.files.is_empty()));
        if !unused {
            return;
        }
        std::fs::remove_file(&marker).ok();
        std::fs::remove_file(self.path.join(LOCK_FILE)).ok();
        if self.created {
            // Fails, and so keeps the folder, when anything else is in it.
            std::fs::remove_dir(&self.path).ok();
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the folder's lock and writes the holder into it; a folder another run holds is
/// refused, naming that run.
fn lock(dir: &Path) -> std::result::Result<std::fs::File, String> {
    use std::io::{Seek, Write};
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot write it ({LOCK_FILE}: {e})"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = (&file).take(4096).read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(format!(
                "in use by another sgdlab run ({}); wait for it to finish, or choose another --out",
                if holder.is_empty() {
                    "starting"
                } else {
                    holder
                }
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock it ({LOCK_FILE}: {e})"));
        }
    }
    let args: Vec<String> = std::env::args().collect();
    let holder = format!("pid {}: {}\n", std::process::id(), args.join(" "));
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(holder.as_bytes()))
        .map_err(|e| format!("cannot write it ({LOCK_FILE}: {e})"))?;
    Ok(file)
}

/// Writes every output of a run into its folder; works on partial results too. Returns the
/// files written (their paths in the folder).
///
/// The set is written into a staging folder inside the run's folder, then moved in file by
/// file; the marker, written into the staging folder last, is the commit point: a kill before
/// it leaves the previous set as it was, a kill after it is finished by the next claim or save
/// ([`recover_outputs`]), so the folder always ends with one whole set. Files of the previous
/// set that the new one lacks (a checkpoint once the run is complete) are removed; files
/// sgdlab did not write are never touched.
pub fn write_outputs(
    exp: &dyn Experiment,
    entry: &ExperimentEntry,
    run: &RunInfo,
    dir: &RunDir,
) -> Result<Vec<PathBuf>> {
    let path = dir.path();
    recover_outputs(path)?;
    let staging = path.join(STAGING_DIR);
    std::fs::create_dir(&staging).map_err(io(&staging))?;
    write_set(exp, entry, run, &staging)?;
    // What is in the staging folder is the set, whether or not a writer reported its file.
    let mut names = Vec::new();
    for e in std::fs::read_dir(&staging).map_err(io(&staging))? {
        let e = e.map_err(io(&staging))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !own_file_name(&name) || !e.file_type().map_err(io(&staging))?.is_file() {
            return Err(EngineError::Output {
                path: e.path(),
                detail: "an output that is not a plain file of the set".into(),
            });
        }
        names.push(name);
    }
    names.sort();
    write_json_atomic(
        &staging.join(MARKER_FILE),
        &Manifest::new(&dir.experiment, names.clone()),
    )?;
    commit(path)?;
    Ok(names.iter().map(|n| path.join(n)).collect())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> sgdlab_engine::error::EngineError {
    let path = path.to_path_buf();
    move |source| sgdlab_engine::error::EngineError::Io { path, source }
}

/// Moves a complete staged set (its marker written) into `dir`: each listed file (results.json
/// last), then removes the previous set's files that the new one lacks, then the marker, then
/// the staging folder. Every step can be repeated, so a kill at any point is finished by
/// running it again.
fn commit(dir: &Path) -> Result<()> {
    let staging = dir.join(STAGING_DIR);
    let bad = |detail: String| EngineError::Output {
        path: dir.to_path_buf(),
        detail,
    };
    let new = Manifest::read(&staging.join(MARKER_FILE))
        .map_err(&bad)?
        .ok_or_else(|| bad("the staged set has no marker".into()))?;
    let old = Manifest::read(&dir.join(MARKER_FILE))
        .map_err(&bad)?
        .unwrap_or_default();
    let mut order: Vec<&String> = new.files.iter().collect();
    order.sort_by_key(|n| n.as_str() == "results.json");
    for name in order {
        let from = staging.join(name);
        if from.exists() {
            std::fs::rename(&from, dir.join(name)).map_err(io(&dir.join(name)))?;
        }
    }
    for name in old.files.iter().filter(|n| !new.files.contains(n)) {
        let stale = dir.join(name);
        match std::fs::symlink_metadata(&stale) {
            Ok(m) if m.is_file() => std::fs::remove_file(&stale).map_err(io(&stale))?,
            _ => {}
        }
    }
    std::fs::rename(staging.join(MARKER_FILE), dir.join(MARKER_FILE))
        .map_err(io(&dir.join(MARKER_FILE)))?;
    std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Finishes a save that a kill interrupted, so `dir` holds the newest complete set: a staged
/// set whose marker was written is moved in ([`commit`]); a staging folder without one (the
/// kill came while it was written) is removed. Call it only on a folder sgdlab made (a
/// [`RunDir`] does).
pub fn recover_outputs(dir: &Path) -> Result<()> {
    let staging = dir.join(STAGING_DIR);
    match std::fs::symlink_metadata(&staging) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() && staging.join(MARKER_FILE).is_file() => commit(dir),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&staging).map_err(io(&staging)),
        Ok(_) => std::fs::remove_file(&staging).map_err(io(&staging)),
    }
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
            config: serde_json::to_string(&exp.config_json()?)
                .map_err(|e| EngineError::config("<checkpoint>", e.to_string()))?,
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
        run.preset.name(),
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
    exp.report(&mut md);
    plots_section(&mut md, &names);
    let p = dir.join("report.md");
    md.write(&p)?;
    written.push(p);
    Ok(written)
}

/// The `Plots` section that closes every report: each PNG of the set, in name order.
fn plots_section(md: &mut ReportMd, files: &[String]) {
    md.heading(2, "Plots");
    for f in files.iter().filter(|f| f.ends_with(".png")) {
        md.image(f, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_set(dir: &Path, files: &[(&str, &str)]) {
        let staging = dir.join(STAGING_DIR);
        std::fs::create_dir_all(&staging).unwrap();
        for (name, text) in files {
            std::fs::write(staging.join(name), text).unwrap();
        }
        let names = files.iter().map(|(n, _)| n.to_string()).collect();
        write_json_atomic(&staging.join(MARKER_FILE), &Manifest::new("rnn", names)).unwrap();
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| "<none>".into())
    }

    /// Each point where a kill can interrupt a save leaves, after recovery, one whole set, and
    /// never touches a file the set did not list.
    #[test]
    fn recovery_finishes_a_committed_set_and_drops_an_unfinished_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("rnn");
        let claimed = RunDir::claim(&dir, "rnn").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        staged_set(&dir, &[("results.json", "1"), ("checkpoint.cbor", "c1")]);
        recover_outputs(&dir).unwrap();
        assert_eq!(read(&dir, "results.json"), "1");
        assert_eq!(read(&dir, "checkpoint.cbor"), "c1");
        // Killed halfway through moving the second set in: report.md moved, results.json not.
        staged_set(&dir, &[("results.json", "2"), ("report.md", "r2")]);
        std::fs::rename(
            dir.join(STAGING_DIR).join("report.md"),
            dir.join("report.md"),
        )
        .unwrap();
        recover_outputs(&dir).unwrap();
        assert_eq!(read(&dir, "results.json"), "2");
        assert_eq!(read(&dir, "report.md"), "r2");
        // The first set's checkpoint is gone (the second set has none); the user's file stays.
        assert_eq!(read(&dir, "checkpoint.cbor"), "<none>");
        assert_eq!(read(&dir, "notes.txt"), "mine");
        // Killed while staging (no marker yet): the staged files go, the current set stays.
        std::fs::create_dir_all(dir.join(STAGING_DIR)).unwrap();
        std::fs::write(dir.join(STAGING_DIR).join("results.json"), "partial").unwrap();
        recover_outputs(&dir).unwrap();
        assert_eq!(read(&dir, "results.json"), "2");
        assert!(!dir.join(STAGING_DIR).exists());
        drop(claimed);
    }

    #[test]
    fn a_folder_with_files_sgdlab_did_not_write_is_refused_and_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("rnn");
        std::fs::create_dir_all(dir.join("mydata")).unwrap();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let e = RunDir::claim(&dir, "rnn").unwrap_err().to_string();
        assert!(e.contains("mydata") && e.contains("notes.txt"), "{e}");
        assert!(e.contains("did not write"), "{e}");
        assert_eq!(read(&dir, "notes.txt"), "x");
        assert!(!dir.join(MARKER_FILE).exists() && !dir.join(LOCK_FILE).exists());
        // An empty folder, or a file in the way, or another experiment's folder.
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        drop(RunDir::claim(&empty, "rnn").unwrap());
        let e = RunDir::claim(&empty, "gossip").unwrap_err().to_string();
        assert!(e.contains("outputs of `rnn`"), "{e}");
        let file = root.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = RunDir::claim(&file, "rnn").unwrap_err().to_string();
        assert!(e.contains("not a folder"), "{e}");
    }

    #[test]
    fn a_second_claim_is_refused_while_the_first_holds_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("rnn");
        let first = RunDir::claim(&dir, "rnn").unwrap();
        let e = RunDir::claim(&dir, "rnn").unwrap_err().to_string();
        assert!(
            e.contains("in use") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        drop(RunDir::claim(&dir, "rnn").unwrap());
    }

    #[test]
    fn a_tampered_marker_never_points_outside_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("rnn");
        drop(RunDir::claim(&dir, "rnn").unwrap());
        std::fs::write(root.path().join("precious"), "x").unwrap();
        for name in ["../precious", "/etc/passwd", ".sgdlab.lock", ".."] {
            let m = Manifest {
                files: vec![name.into()],
                ..Manifest::new("rnn", vec![])
            };
            write_json_atomic(&dir.join(MARKER_FILE), &m).unwrap();
            let e = RunDir::claim(&dir, "rnn").unwrap_err().to_string();
            assert!(e.contains("not a file name sgdlab writes"), "{name}: {e}");
        }
        assert_eq!(read(root.path(), "precious"), "x");
    }
}
