//! `sgdlab reproduce`: every registered experiment in turn behind one progress bar, then
//! `index.md` and a self-contained `index.html` with all claims and verdicts.
//!
//! An experiment whose `results.json` in the output directory is already complete (same preset)
//! is skipped, so a rerun after Ctrl-C continues where it stopped.

use crate::Failure;
use crate::run::{OUTER_UNITS, Outer, RunOptions, check_out_dir, run_entry, strict_check};
use crate::say::say_err;
use base64::Engine as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sgdlab_engine::device::BackendChoice;
use sgdlab_engine::report::{ReportMd, write_atomic};
use sgdlab_experiments::{
    CHECKPOINT_FILE, Checkpoint, Claim, ExperimentEntry, Preset, REGISTRY, RunDir, RunRequest, find,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `sgdlab reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Preset of every experiment.
    #[arg(long, default_value = "quick", value_parser = clap::value_parser!(Preset))]
    preset: Preset,
    /// Output directory: DIR/<experiment>/ per experiment, DIR/index.md and DIR/index.html.
    #[arg(long, default_value = "reproduce", value_name = "DIR")]
    out: PathBuf,
    /// Only these experiments (comma-separated names; see `sgdlab run --list`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    only: Vec<String>,
    /// Compute backend (as for `sgdlab run`).
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(BackendChoice))]
    backend: BackendChoice,
    /// Exit with code 4 when any claim's verdict is `fails`.
    #[arg(long)]
    strict: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// One experiment's line in the index.
struct Row {
    entry: &'static ExperimentEntry,
    status: String,
    elapsed_s: f64,
    device: String,
    claims: Vec<Claim>,
}

pub fn reproduce(args: ReproduceArgs) -> Result<(), Failure> {
    let entries: Vec<&'static ExperimentEntry> = if args.only.is_empty() {
        REGISTRY.iter().collect()
    } else {
        let entries: Vec<&'static ExperimentEntry> = args
            .only
            .iter()
            .map(|n| find(n.trim()))
            .collect::<Result<_, _>>()?;
        // A name twice would run that experiment twice into the same directory.
        for (i, e) in entries.iter().enumerate() {
            if entries[..i].iter().any(|d| d.name == e.name) {
                return Err(Failure::BadInput(anyhow::anyhow!(
                    "--only: `{}` is listed twice; list each experiment once",
                    e.name
                )));
            }
        }
        entries
    };
    let request = RunRequest {
        preset: args.preset,
        backend: args.backend,
        ..RunRequest::default()
    };
    // Every config, output folder and checkpoint is checked before any work: each folder is
    // claimed (sgdlab's own or empty, locked against a second run, writable) for the whole
    // reproduction, and a checkpoint there must be intact and of this preset (its config is
    // checked against the preset's when its run starts).
    for e in &entries {
        e.config(&request)?;
    }
    check_out_dir(&args.out)?;
    claim_index(&args.out)?;
    let mut claimed = Vec::with_capacity(entries.len());
    for e in &entries {
        let dir = RunDir::claim(&args.out.join(e.name), e.name)?;
        let path = dir.path().join(CHECKPOINT_FILE);
        let resume = if path.exists() && completed(dir.path(), args.preset).is_none() {
            let c = Checkpoint::read(&path)?;
            if c.preset != args.preset || c.experiment != e.name {
                return Err(Failure::BadInput(anyhow::anyhow!(
                    "{}: a checkpoint of a `{}` run of the {} preset, not of this reproduction \
                     ({} preset); resume it with `sgdlab run {} --resume {}`, or choose \
                     another --out",
                    path.display(),
                    c.experiment,
                    c.preset.name(),
                    args.preset.name(),
                    c.experiment,
                    args.out.display()
                )));
            }
            Some(c)
        } else {
            None
        };
        claimed.push((dir, resume));
    }
    let bar = if args.quiet {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(OUTER_UNITS * entries.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% {prefix} (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    let mut claimed = claimed.into_iter();
    for (i, entry) in entries.iter().enumerate() {
        let Some((dir, resume)) = claimed.next() else {
            break;
        };
        let base = OUTER_UNITS * i as u64;
        bar.set_position(base);
        bar.set_prefix(format!("{}/{} {}", i + 1, entries.len(), entry.name));
        if let Some(done) = completed(dir.path(), args.preset) {
            bar.suspend(|| {
                say_err!(
                    "sgdlab: {}: complete in {} already, skipped",
                    entry.name,
                    dir.path().display()
                );
            });
            rows.push(Row { entry, ..done });
            continue;
        }
        // A run stopped earlier in DIR with the same preset continues from its checkpoint.
        let opts = RunOptions {
            quiet: args.quiet,
            checkpoint_every: Some(Duration::from_secs(60)),
            ..RunOptions::default()
        };
        let outcome = run_entry(
            entry,
            &request,
            &dir,
            &opts,
            Some(Outer { bar: &bar, base }),
            resume,
        );
        match outcome {
            Ok(o) => rows.push(Row {
                entry,
                status: "complete".into(),
                elapsed_s: o.elapsed_s,
                device: o.device,
                claims: o.claims,
            }),
            Err(Failure::Interrupted(msg)) => {
                bar.abandon();
                write_index(&args.out, args.preset, &rows)?;
                return Err(Failure::Interrupted(format!(
                    "{msg}; rerun the same command to continue"
                )));
            }
            Err(e) => {
                bar.abandon();
                // The folders of this run and of the runs not reached keep nothing unused.
                dir.release_unused();
                claimed.for_each(|(d, _)| d.release_unused());
                write_index(&args.out, args.preset, &rows)?;
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    let (md, html) = write_index(&args.out, args.preset, &rows)?;
    if !args.quiet {
        say_err!("sgdlab: wrote {} and {}", md.display(), html.display());
    }
    let all: Vec<Claim> = rows.into_iter().flat_map(|r| r.claims).collect();
    strict_check(args.strict, &all)
}

/// The row of an experiment whose results in `dir` are complete for `preset`.
fn completed(dir: &Path, preset: Preset) -> Option<Row> {
    let bytes = std::fs::read(dir.join("results.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let run = v.get("run")?;
    let same_preset = serde_json::to_value(preset).ok()? == run["preset"];
    if run["complete"] != serde_json::Value::Bool(true) || !same_preset {
        return None;
    }
    let claims: Vec<Claim> = serde_json::from_value(v.get("claims")?.clone()).ok()?;
    Some(Row {
        entry: REGISTRY.first()?,
        status: "complete (earlier run)".into(),
        elapsed_s: std::fs::read(dir.join("timing.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|t| t["elapsed_s"].as_f64())
            .unwrap_or(f64::NAN),
        device: v
            .get("device")
            .map(|d| {
                format!(
                    "{} on {}",
                    d["backend"].as_str().unwrap_or("?"),
                    d["adapter"].as_str().unwrap_or("?")
                )
            })
            .unwrap_or_default(),
        claims,
    })
}

/// The machine, in one line: CPU model, cores, memory.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!(", {:.0} GiB memory", kb / (1024.0 * 1024.0)))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{mem} ({})", std::env::consts::OS)
}

fn verdict_counts(claims: &[Claim]) -> String {
    use sgdlab_experiments::Verdict::{Fails, Holds, Inconclusive};
    let n = |v| claims.iter().filter(|c| c.verdict == v).count();
    format!(
        "{} holds, {} fails, {} inconclusive",
        n(Holds),
        n(Fails),
        n(Inconclusive)
    )
}

/// Writes `index.md` and `index.html` into `out`; returns their paths.
fn write_index(out: &Path, preset: Preset, rows: &[Row]) -> Result<(PathBuf, PathBuf), Failure> {
    let preset_name = serde_json::to_value(preset)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut md = ReportMd::new("sgdlab reproduce");
    md.paragraph(&format!(
        "Preset `{preset_name}`, sgdlab {}, machine: {}. {} of {} experiments.",
        env!("CARGO_PKG_VERSION"),
        machine(),
        rows.len(),
        REGISTRY.len()
    ));
    let summary: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("[{}]({}/report.md)", r.entry.name, r.entry.name),
                r.entry.paper.to_string(),
                r.status.clone(),
                format!("{:.1}", r.elapsed_s),
                r.device.clone(),
                verdict_counts(&r.claims),
            ]
        })
        .collect();
    md.table(
        &[
            "experiment",
            "paper",
            "status",
            "time (s)",
            "backend",
            "claims",
        ],
        &summary,
    );
    for r in rows {
        md.heading(2, &format!("{}: {}", r.entry.name, r.entry.title));
        sgdlab_experiments::claims_table(&mut md, &r.claims);
    }
    let md_path = out.join("index.md");
    md.write(&md_path)?;
    let html_path = out.join("index.html");
    write_atomic(&html_path, html(out, &preset_name, rows).as_bytes())?;
    Ok((md_path, html_path))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown of claim cells (`**bold**`, `` `code` ``) as HTML, escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split("**").enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<b>{part}</b>"));
        } else {
            for (j, p) in part.split('`').enumerate() {
                if j % 2 == 1 {
                    out.push_str(&format!("<code>{p}</code>"));
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

/// The self-contained page: summary, each experiment's claims and its plots (PNG, embedded).
fn html(out: &Path, preset: &str, rows: &[Row]) -> String {
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sgdlab \
         reproduce</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;\
         padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;\
         padding:4px 8px;vertical-align:top;font-size:14px}th{background:#f3f3f3}\
         .holds{color:#1a7f37;font-weight:bold}.fails{color:#c62828;font-weight:bold}\
         .inconclusive{color:#8a6d00;font-weight:bold}img{max-width:100%;border:1px solid #eee;\
         margin:4px 0}</style></head><body>\n",
    );
    h.push_str(&format!(
        "<h1>sgdlab reproduce</h1><p>Preset <code>{}</code>, sgdlab {}, machine: {}.</p>\n",
        esc(preset),
        env!("CARGO_PKG_VERSION"),
        esc(&machine())
    ));
    h.push_str("<table><tr><th>experiment</th><th>paper</th><th>status</th><th>time (s)</th><th>backend</th><th>claims</th></tr>\n");
    for r in rows {
        h.push_str(&format!(
            "<tr><td><a href=\"#{n}\">{n}</a> (<a href=\"{n}/report.md\">report</a>)</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>\n",
            esc(r.entry.paper),
            esc(&r.status),
            r.elapsed_s,
            esc(&r.device),
            esc(&verdict_counts(&r.claims)),
            n = r.entry.name
        ));
    }
    h.push_str("</table>\n");
    for r in rows {
        h.push_str(&format!(
            "<h2 id=\"{n}\">{n}: {}</h2><p>{} · <a href=\"{n}/report.md\">report.md</a></p>\n",
            esc(r.entry.title),
            esc(r.entry.paper),
            n = r.entry.name
        ));
        h.push_str("<table><tr><th>claim</th><th>verdict</th><th>measured</th><th>test</th><th>reason</th></tr>\n");
        for c in &r.claims {
            h.push_str(&format!(
                "<tr><td><b>{}</b>: {}</td><td class=\"{v}\">{v}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&c.id),
                inline(&c.statement),
                inline(&c.measured),
                inline(&c.test),
                inline(&c.reason),
                v = c.verdict
            ));
        }
        h.push_str("</table>\n");
        let mut pngs: Vec<PathBuf> = std::fs::read_dir(out.join(r.entry.name))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "png"))
                    .collect()
            })
            .unwrap_or_default();
        pngs.sort();
        for p in pngs {
            if let Ok(bytes) = std::fs::read(&p) {
                let name = p
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                h.push_str(&format!(
                    "<figure><img alt=\"{a}\" src=\"data:image/png;base64,{}\"><figcaption>{a}</figcaption></figure>\n",
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                    a = esc(&name)
                ));
            }
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// The marker beside the index files that says sgdlab wrote them.
const INDEX_MARKER: &str = ".sgdlab-index";

/// Refuses an `--out` whose `index.md` or `index.html` sgdlab did not write (no marker beside
/// them), before any work; marks the folder otherwise.
fn claim_index(out: &Path) -> Result<(), Failure> {
    let marker = out.join(INDEX_MARKER);
    if !marker.is_file() {
        for name in ["index.md", "index.html"] {
            let p = out.join(name);
            if std::fs::symlink_metadata(&p).is_ok() {
                return Err(Failure::BadInput(anyhow::anyhow!(
                    "output folder {}: {name} is there and sgdlab did not write it (reproduce \
                     writes index.md and index.html into --out): choose another --out, or move \
                     it",
                    out.display()
                )));
            }
        }
    }
    write_atomic(
        &marker,
        b"sgdlab reproduce writes index.md and index.html in this folder\n",
    )?;
    Ok(())
}
