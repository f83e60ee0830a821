//! Bad input to the `sgdlab` binary is refused before any work, with exit code 2 and a message
//! naming the file, field or flag, and never panics, hangs or exhausts memory (issue 27): data
//! files whose headers declare terabytes, devices and FIFOs given as data or config files, seed
//! ranges past `u64::MAX`, configs that are not JSON objects, and repeated `--only` names.
//!
//! Every run here has a deadline: an input that would hang or read without end fails its test
//! instead of stopping the suite.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_tests::{sgdlab_bin, write_config};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a refusal may take: it comes before any work, so seconds; the margin is for a
/// loaded machine.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `sgdlab` with `args`, killing it (and failing the test) past [`DEADLINE`].
fn sgdlab_within_deadline(args: &[&str]) -> Output {
    let mut child = Command::new(sgdlab_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sgdlab");
    // Drain both pipes on threads so that a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "sgdlab {} still running after {DEADLINE:?}: it hangs or reads without end",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

/// Asserts exit code 2 and every one of `needles` in standard error.
fn expect_refused(args: &[&str], needles: &[&str]) {
    let o = sgdlab_within_deadline(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}: {err}", args.join(" "));
    for n in needles {
        assert!(
            err.contains(n),
            "{}: missing `{n}` in: {err}",
            args.join(" ")
        );
    }
}

/// `sgdlab run <experiment> --preset quick --backend cpu --quiet --out <out>` and `extra`.
fn run_args<'a>(experiment: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    sgdlab_tests::quick_args(experiment, out.to_str().unwrap(), extra)
}

/// An IDX header: the magic number and the dimensions, big-endian.
fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

/// Makes a FIFO at `path`; `false` (the test then skips) where `mkfifo` is missing.
fn mkfifo(path: &Path) -> bool {
    let made = Command::new("mkfifo").arg(path).status();
    if made.is_ok_and(|s| s.success()) {
        true
    } else {
        eprintln!("SKIPPED: mkfifo is not available");
        false
    }
}

/// Case 7: a 24 kB gzip whose header declares 127,551,021 images of 28x28 (10^11 bytes), with
/// 24 MiB of zeros behind it (`tests/fuzz-corpus/idx-images-declares-1e11.gz`). The run's memory estimate counts the data set at what the header
/// declares, so `--max-memory 1G` refuses it, naming the file, before a byte of data is
/// decompressed. (The estimate used to count an IDX directory as MNIST's 70,000 images, and the
/// reader then decompressed everything the header allowed.)
#[test]
fn an_idx_header_declaring_terabytes_is_refused_by_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("idx");
    std::fs::create_dir(&data).unwrap();
    let bomb =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/idx-images-declares-1e11.gz");
    std::fs::copy(bomb, data.join("train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        idx_header(0x801, &[127_551_021]),
    )
    .unwrap();
    let dataset = format!("idx:{}", data.display());
    let out = dir.path().join("out");
    let args = run_args(
        "random-labels",
        &out,
        &["--dataset", &dataset, "--max-memory", "1G"],
    );
    let start = Instant::now();
    expect_refused(
        &args,
        &[
            "config field `dataset`",
            "--max-memory",
            "train-images-idx3-ubyte.gz: 127551021 images of 28x28 pixels",
        ],
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the refusal took {:?}",
        start.elapsed()
    );
    assert!(!out.join("random-labels/results.json").exists());
}

/// Case 8: `/dev/zero` is never ending; it is refused as a character device, unread.
#[cfg(target_os = "linux")]
#[test]
fn a_device_as_the_dataset_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    expect_refused(
        &run_args("random-labels", &out, &["--dataset", "digits:/dev/zero"]),
        &["/dev/zero", "a character device, not a regular file"],
    );
}

/// Case 8: opening a FIFO blocks until a writer comes; as a digits CSV, in an IDX directory and
/// in a CIFAR-10 directory it is refused by its type, never opened.
#[cfg(unix)]
#[test]
fn a_fifo_as_a_dataset_file_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let csv = dir.path().join("digits.csv");
    if !mkfifo(&csv) {
        return;
    }
    let spec = format!("digits:{}", csv.display());
    expect_refused(
        &run_args("random-labels", &out, &["--dataset", &spec]),
        &["digits.csv", "a FIFO"],
    );

    let idx = dir.path().join("idx");
    std::fs::create_dir(&idx).unwrap();
    assert!(mkfifo(&idx.join("train-images-idx3-ubyte.gz")));
    std::fs::write(idx.join("train-labels-idx1-ubyte"), idx_header(0x801, &[0])).unwrap();
    let spec = format!("idx:{}", idx.display());
    expect_refused(
        &run_args("random-labels", &out, &["--dataset", &spec]),
        &["train-images-idx3-ubyte.gz", "a FIFO"],
    );

    let cifar = dir.path().join("cifar");
    std::fs::create_dir(&cifar).unwrap();
    assert!(mkfifo(&cifar.join("data_batch_1.bin")));
    let spec = format!("cifar10:{}", cifar.display());
    expect_refused(
        &run_args("random-labels", &out, &["--dataset", &spec]),
        &["data_batch_1.bin", "a FIFO"],
    );
}

/// Case 8: `/proc/self/pagemap` reports size 0 but reads on for hundreds of gigabytes; as a
/// config it is read through the 16 MiB bound and refused there.
#[cfg(target_os = "linux")]
#[test]
fn a_config_file_that_reads_without_end_is_refused_at_the_bound() {
    let pagemap = Path::new("/proc/self/pagemap");
    if !pagemap.is_file() {
        eprintln!("SKIPPED: no {}", pagemap.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    expect_refused(
        &run_args("elimination", &out, &["--config", "/proc/self/pagemap"]),
        &[
            "config file /proc/self/pagemap",
            "more than the 16777216 bytes",
        ],
    );
}

/// Case 13: seed `u64::MAX` with a second repetition would wrap to seed 0 (a debug build
/// panics); every experiment that derives seed + i refuses it, naming the field.
#[test]
fn a_seed_range_past_u64_max_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let max = u64::MAX.to_string();
    for (experiment, extra) in [
        ("random-labels", vec!["--seed", &max, "--seeds", "2"]),
        ("rnn", vec!["--seed", &max, "--seeds", "2"]),
        // 100 initializations, init i from seed + i.
        ("elimination", vec!["--seed", &max]),
    ] {
        expect_refused(
            &run_args(experiment, &out, &extra),
            &["`seed`", "overflows a 64-bit seed"],
        );
    }
    // One seed at u64::MAX is fine for the config (it is refused for nothing else).
    let o = sgdlab_within_deadline(&run_args(
        "random-labels",
        &out,
        &["--seed", &max, "--seeds", "1", "--max-memory", "1"],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("overflows") && err.contains("of memory"),
        "{err}"
    );
    // rnn's batch orders count on from each seed by the job's index.
    let rnn_max = (u64::MAX - 1).to_string();
    expect_refused(
        &run_args("rnn", &out, &["--seed", &rnn_max, "--seeds", "1"]),
        &["`seed`", "overflows a 64-bit seed"],
    );
    // The network part of sharp-minima runs `seeds` seeds from `network.seed`.
    let cfg = write_config(dir.path(), &format!(r#"{{"network": {{"seed": {max}}}}}"#));
    expect_refused(
        &run_args("sharp-minima", &out, &["--config", &cfg]),
        &["`network.seed`", "overflows a 64-bit seed"],
    );
}

/// Case 14: an array of field values used to deserialize as the config (skipping the check of
/// unknown keys), and `[]` named an internal type; only a JSON object is a config.
#[test]
fn a_config_that_is_not_a_json_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (text, kind) in [
        ("[]", "an array"),
        ("[0, 100, 9, 1]", "an array"),
        ("7", "a number"),
    ] {
        let path = dir.path().join("array.json");
        std::fs::write(&path, text).unwrap();
        let o = sgdlab_within_deadline(&run_args(
            "elimination",
            &out,
            &["--config", path.to_str().unwrap()],
        ));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains("array.json")
                && err.contains("a config is a JSON object")
                && err.contains(kind)
                && !err.contains("struct"),
            "{text}: {err}"
        );
    }
}

/// Case 15: `--only rnn,rnn` ran rnn twice ("2 of 6"); a repeated name is refused before any
/// work.
#[test]
fn a_name_repeated_in_only_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    expect_refused(
        &[
            "reproduce",
            "--only",
            "rnn,elimination,rnn",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &["--only", "`rnn` is listed twice"],
    );
    assert!(!out.join("rnn").exists());
}

/// Case 15: `digits:` takes a CSV file; its hint said a directory.
#[test]
fn the_digits_hint_asks_for_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    expect_refused(
        &run_args("random-labels", &out, &["--dataset", "digits:"]),
        &["`digits:` needs a file, as in digits:data/digits.csv"],
    );
}
