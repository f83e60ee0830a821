//! What a run may touch and what it trusts (issue 27, data loss and silent wrong results): files
//! in `DIR/<experiment>/` that sgdlab did not write are kept or the folder refused before any
//! work; a checkpoint resumes only under the config it was written with and only intact; two
//! runs never share a folder; a folder that cannot take the outputs is refused before any work.
//! Each test runs the real binary.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{sgdlab, sgdlab_bin, stderr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `sgdlab run rnn --preset quick --backend cpu --quiet --out OUT` plus `extra`.
fn run_rnn(out: &Path, extra: &[&str]) -> std::process::Output {
    sgdlab(&sgdlab_tests::quick_args(
        "rnn",
        out.to_str().unwrap(),
        extra,
    ))
}

/// A stopped quick rnn run in `out` (stopped after its second step, as an interrupt would).
fn stopped_rnn(out: &Path, extra: &[&str]) {
    let mut args = vec!["--stop-after-steps", "2"];
    args.extend_from_slice(extra);
    let o = run_rnn(out, &args);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(out.join("rnn/checkpoint.cbor").is_file());
}

/// `sgdlab reproduce --preset quick --only rnn --backend cpu --quiet --out OUT`.
fn reproduce_rnn(out: &Path) -> std::process::Output {
    sgdlab(&[
        "reproduce",
        "--preset",
        "quick",
        "--only",
        "rnn",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
}

fn resume(out: &Path) -> std::process::Output {
    sgdlab(&[
        "run",
        "rnn",
        "--backend",
        "cpu",
        "--quiet",
        "--resume",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_folder_holding_files_sgdlab_did_not_write_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let ud = tmp.path().join("ud");
    std::fs::create_dir_all(ud.join("rnn/mydata")).unwrap();
    std::fs::write(ud.join("rnn/notes.txt"), "x").unwrap();
    std::fs::write(ud.join("rnn/mydata/keep.csv"), "1,2").unwrap();
    let o = run_rnn(&ud, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("notes.txt") && e.contains("mydata") && e.contains("did not write"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(ud.join("rnn/notes.txt")).unwrap(),
        "x"
    );
    assert_eq!(
        std::fs::read_to_string(ud.join("rnn/mydata/keep.csv")).unwrap(),
        "1,2"
    );
    assert!(!ud.join("rnn/results.json").exists(), "no work was done");
}

#[test]
fn files_added_to_an_output_folder_survive_every_save_and_the_end_of_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // A stopped run, then the user's files, then a resume to the end (several saves).
    stopped_rnn(&out, &[]);
    std::fs::create_dir_all(out.join("rnn/mydata")).unwrap();
    std::fs::write(out.join("rnn/notes.txt"), "x").unwrap();
    std::fs::write(out.join("rnn/mydata/keep.csv"), "1,2").unwrap();
    // A file named like the staging folders of earlier versions, beside the run's folder.
    std::fs::write(out.join(".rnn.staging"), "mine").unwrap();
    let o = resume(&out);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("rnn/results.json")).unwrap()).unwrap();
    assert_eq!(v["run"]["complete"], true);
    assert!(
        !out.join("rnn/checkpoint.cbor").exists(),
        "the checkpoint of the unfinished set is removed with it"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("rnn/notes.txt")).unwrap(),
        "x"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("rnn/mydata/keep.csv")).unwrap(),
        "1,2"
    );
    assert_eq!(
        std::fs::read_to_string(out.join(".rnn.staging")).unwrap(),
        "mine"
    );
    // A fresh run into the same folder replaces the set and keeps them too.
    let o = run_rnn(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("rnn/notes.txt")).unwrap(),
        "x"
    );
}

#[test]
fn a_checkpoint_resumes_only_under_the_config_it_was_written_with() {
    for (field, pointer) in [
        ("seed", "/seed"),
        ("max_samples", "/max_samples"),
        ("optim.lr", "/optim/lr"),
        ("seq_lens[0]", "/seq_lens/0"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        stopped_rnn(&out, &[]);
        let config = out.join("rnn/config.json");
        let text = std::fs::read_to_string(&config).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let slot = v
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{field} in {text}"));
        *slot = match slot.as_u64() {
            Some(n) => serde_json::json!(n + 1),
            None => serde_json::json!(slot.as_f64().unwrap() * 2.0),
        };
        std::fs::write(&config, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let o = resume(&out);
        assert_eq!(o.status.code(), Some(2), "{field}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(field) && e.contains("checkpoint.cbor") && e.contains("another config"),
            "{field}: {e}"
        );
        // Put back, it resumes.
        std::fs::write(&config, &text).unwrap();
        let o = resume(&out);
        assert!(o.status.success(), "{field}: {}", stderr(&o));
    }
}

#[test]
fn reproduce_does_not_resume_a_checkpoint_of_another_config_as_its_preset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    stopped_rnn(&out, &["--seed", "5"]);
    let o = reproduce_rnn(&out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("seed"), "{}", stderr(&o));
    assert!(
        out.join("rnn/checkpoint.cbor").is_file(),
        "the checkpoint is kept"
    );
}

#[test]
fn a_damaged_checkpoint_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    stopped_rnn(&out, &[]);
    let path = out.join("rnn/checkpoint.cbor");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() * 9 / 10;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let o = resume(&out);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("checkpoint.cbor") && e.contains("damaged"),
        "{e}"
    );
}

/// A child process killed when the test ends, also when an assertion fails first.
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_run_into_the_same_folder_exits_2_at_once_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // The paper preset runs for long enough to be the holder.
    let mut first = Holder(
        Command::new(sgdlab_bin())
            .args(["run", "rnn", "--backend", "cpu", "--quiet", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first = &mut first.0;
    let lock = out.join("rnn/.sgdlab.lock");
    let pid = format!("pid {}", first.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&pid)) {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        assert!(first.try_wait().unwrap().is_none(), "the first run ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = run_rnn(&out, &[]);
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("in use") && e.contains(&pid), "{e}");
    // Once the holder is gone (killed: the kernel drops its lock), the folder is free again.
    let o = run_rnn(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_output_folder_that_cannot_be_written_is_refused_before_any_work() {
    // /proc refuses new entries to root too.
    let o = run_rnn(Path::new("/proc/sgdlab-no-such-folder"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("output folder"), "{}", stderr(&o));
    // A file where the folder would be.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("rnn"), "mine").unwrap();
    let o = run_rnn(tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a folder"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("rnn")).unwrap(),
        "mine"
    );
}

/// `DIR/<experiment>` as a mount point: the outputs are staged inside it, so nothing needs to
/// rename the mount point. Needs a tmpfs mount (root in a sandbox that allows it); where the
/// mount is refused the test says so and checks nothing else.
#[test]
fn an_output_folder_that_is_a_mount_point_takes_the_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rnn");
    std::fs::create_dir(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs is not permitted here");
        return;
    }
    let o = run_rnn(tmp.path(), &[]);
    let _ = Command::new("umount").arg(&dir).status();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn reproduce_keeps_an_index_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("index.html"), "my page").unwrap();
    let o = reproduce_rnn(tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("index.html"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("index.html")).unwrap(),
        "my page"
    );
    assert!(!tmp.path().join("rnn").exists(), "no work was done");
}

#[test]
fn a_run_refused_while_loading_its_data_leaves_no_folder_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such.csv");
    let spec = format!("digits:{}", missing.display());
    let out = tmp.path().join("out");
    let o = sgdlab(&sgdlab_tests::quick_args(
        "random-labels",
        out.to_str().unwrap(),
        &["--dataset", &spec],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        !out.join("random-labels").exists(),
        "the claimed folder is released: {:?}",
        std::fs::read_dir(out.join("random-labels")).map(|d| d.count())
    );
    // A folder the user made stays, empty as it was.
    std::fs::create_dir_all(out.join("random-labels")).unwrap();
    let o = sgdlab(&sgdlab_tests::quick_args(
        "random-labels",
        out.to_str().unwrap(),
        &["--dataset", &spec],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(out.join("random-labels"))
            .unwrap()
            .count(),
        0
    );
}
