//! Mutation fuzzing of every parser that reads user input: IDX images and labels, CIFAR-10
//! batches, the digits CSV, experiment configs and lab URL fragments.
//!
//! Property: whatever the bytes, a parser returns a value or an error; it never panics. The
//! inputs are the seed corpus in `tests/fuzz-corpus/` mutated by a seeded generator (bit flips,
//! byte insertions and deletions, truncation, header words set to extreme values, splices), so
//! a run is reproducible; a failure prints the mutant in hex. `SGDLAB_FUZZ_CASES` sets the
//! number of mutants per target (default 20,000; CI runs the default).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::data::{
    parse_cifar_batch, parse_digits_csv, parse_idx_images, parse_idx_labels,
};
use sgdlab_engine::rng::SplitMix64;
use sgdlab_experiments::{Checkpoint, Preset, REGISTRY, RunRequest};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

fn corpus(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-corpus")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn cases() -> usize {
    std::env::var("SGDLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// One mutant of `seed`, drawn from `rng`; `other` is spliced in sometimes.
fn mutate(seed: &[u8], other: &[u8], rng: &mut SplitMix64) -> Vec<u8> {
    let mut v = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.below(256) as u8);
            }
            2 if len > 0 => {
                v.remove(rng.below(len));
            }
            3 => v.truncate(rng.below(len + 1)),
            4 if len >= 4 => {
                // A header word (or any aligned word) set to an extreme value.
                let i = 4 * rng.below(len / 4);
                let word: u32 = [0, 1, 2, u32::MAX, u32::MAX / 2][rng.below(5)];
                v[i..i + 4].copy_from_slice(&word.to_be_bytes());
            }
            5 if !other.is_empty() => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from + 1);
                v.splice(at..at, other[from..from + n].iter().copied());
            }
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(64);
                v.splice(i..i, (0..n).map(|_| rng.below(256) as u8));
            }
        }
    }
    v
}

/// Feeds `cases()` mutants of each seed to `parse`; panics listing every input that panicked.
/// Returns (inputs run, inputs accepted).
fn fuzz(target: &str, seeds: &[Vec<u8>], parse: impl Fn(&[u8]) -> bool) -> (usize, usize) {
    fuzz_n(target, seeds, cases(), parse)
}

/// [`fuzz`] with `n` mutants.
fn fuzz_n(
    target: &str,
    seeds: &[Vec<u8>],
    n: usize,
    parse: impl Fn(&[u8]) -> bool,
) -> (usize, usize) {
    let mut rng = SplitMix64::for_purpose(7, target);
    let mut panics = Vec::new();
    let (mut run, mut accepted) = (0, 0);
    // The seeds themselves, then the mutants.
    let mut inputs: Vec<Vec<u8>> = seeds.to_vec();
    for i in 0..n {
        let seed = &seeds[i % seeds.len()];
        let other = &seeds[(i + 1) % seeds.len()];
        inputs.push(mutate(seed, other, &mut rng));
    }
    for input in inputs {
        run += 1;
        match catch_unwind(AssertUnwindSafe(|| parse(&input))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panics.push(input),
        }
    }
    eprintln!(
        "fuzz {target}: {run} inputs, {accepted} accepted, {} panics",
        panics.len()
    );
    assert!(
        panics.is_empty(),
        "{target}: {} inputs panicked; first: {:02x?}",
        panics.len(),
        &panics[0][..panics[0].len().min(256)]
    );
    (run, accepted)
}

#[test]
fn idx_parsers_never_panic() {
    let images = [corpus("idx-images-3x4x4"), corpus("idx-images-3x4x4.gz")];
    let (_, ok) = fuzz("idx images", &images, |b| {
        parse_idx_images(b, "fuzz").is_ok()
    });
    assert!(ok >= 2, "the seeds themselves parse");
    let labels = [corpus("idx-labels-3"), corpus("idx-labels-3.gz")];
    fuzz("idx labels", &labels, |b| {
        parse_idx_labels(b, "fuzz").is_ok()
    });
}

#[test]
fn cifar_and_csv_parsers_never_panic() {
    let cifar = [corpus("cifar-2-records.bin")];
    let (_, ok) = fuzz("cifar", &cifar, |b| parse_cifar_batch(b, "fuzz").is_ok());
    assert!(ok >= 1, "the seed parses");
    let csv = [corpus("digits-3-rows.csv"), corpus("digits-3-rows.csv.gz")];
    let (_, ok) = fuzz("digits csv", &csv, |b| parse_digits_csv(b, "fuzz").is_ok());
    assert!(ok >= 2, "the seeds parse");
}

#[test]
fn config_parsing_never_panics_in_any_experiment() {
    for entry in REGISTRY {
        let quick = RunRequest {
            preset: Preset::Quick,
            ..RunRequest::default()
        };
        let full = serde_json::to_vec(&entry.config(&quick).unwrap()).unwrap();
        let seeds = [full, corpus("config-partial.json")];
        fuzz(&format!("config {}", entry.name), &seeds, |b| {
            let text = String::from_utf8_lossy(b).into_owned();
            let request = RunRequest {
                preset: Preset::Quick,
                config: Some((text, "fuzz.json".into())),
                ..RunRequest::default()
            };
            entry.config(&request).is_ok()
        });
    }
}

#[test]
fn url_fragments_never_panic() {
    let seeds = [
        corpus("fragment-sharp-minima.txt"),
        corpus("fragment-gossip.txt"),
    ];
    fuzz("url fragment", &seeds, |b| {
        let text = String::from_utf8_lossy(b);
        let (pairs, _problems) = sgdlab_ui::fragment::parse_fragment(&text);
        !pairs.is_empty()
    });
}

/// A checkpoint file's bytes around `payload` (a CBOR `Checkpoint`), with a valid header and
/// checksum: what a crafted file, or a bug in the writer, would hand the decoder.
fn checkpoint_file(payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = b"SGDLABCK".to_vec();
    out.extend_from_slice(&sgdlab_experiments::CHECKPOINT_FORMAT.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let digest = sha2::Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// A real checkpoint of each experiment's quick preset, taken after two steps.
fn real_checkpoints() -> Vec<(&'static str, Checkpoint)> {
    let quick = RunRequest {
        preset: Preset::Quick,
        backend: sgdlab_engine::device::BackendChoice::Cpu,
        ..RunRequest::default()
    };
    REGISTRY
        .iter()
        .filter_map(|entry| {
            let mut exp = entry.build(&quick, &mut |_| {}).unwrap();
            exp.step().unwrap();
            exp.step().unwrap();
            let (jobs_finished, state) = exp.checkpoint().unwrap()?;
            let p = exp.progress();
            Some((
                entry.name,
                Checkpoint {
                    experiment: entry.name.into(),
                    preset: Preset::Quick,
                    config: exp.config_json().unwrap().to_string(),
                    sgdlab_version: env!("CARGO_PKG_VERSION").into(),
                    elapsed_s: 1.0,
                    jobs_finished,
                    units_done: p.done,
                    units_total: p.total,
                    state,
                },
            ))
        })
        .collect()
}

/// The checkpoint decoder: a mutant of a real checkpoint file is refused (header, length or
/// checksum), never accepted and never a panic; and a mutant of the CBOR inside, wrapped with
/// a valid checksum (a crafted file), is decoded or refused without a panic, and so is each
/// experiment's `restore` of a mutated state.
#[test]
fn the_checkpoint_decoder_refuses_every_mutant_and_never_panics() {
    let checkpoints = real_checkpoints();
    assert_eq!(
        checkpoints.len(),
        REGISTRY.len(),
        "every experiment checkpoints"
    );
    let files: Vec<Vec<u8>> = checkpoints
        .iter()
        .map(|(_, c)| c.to_bytes().unwrap())
        .collect();
    for f in &files {
        assert!(Checkpoint::from_bytes(f).is_ok(), "the real files decode");
    }
    // A tenth of the cases: each mutant is hashed whole (a checkpoint is up to megabytes), and
    // the checksum refuses any change, so more mutants only repeat that.
    let (_, accepted) = fuzz_n("checkpoint file", &files, cases() / 10, |b| {
        let ok = Checkpoint::from_bytes(b).is_ok();
        assert!(!ok || files.iter().any(|f| f == b), "a mutant was accepted");
        ok
    });
    assert!(accepted >= files.len(), "the unmutated files decode");
    // Inside a valid checksum: the CBOR decoder.
    let payloads: Vec<Vec<u8>> = files.iter().map(|f| f[20..f.len() - 32].to_vec()).collect();
    fuzz_n("checkpoint payload", &payloads, cases() / 10, |b| {
        Checkpoint::from_bytes(&checkpoint_file(b)).is_ok()
    });
    // Each experiment's restore of a mutated state (fewer cases: each builds nothing but
    // decodes and loads tensors).
    let quick = RunRequest {
        preset: Preset::Quick,
        backend: sgdlab_engine::device::BackendChoice::Cpu,
        ..RunRequest::default()
    };
    for (name, c) in &checkpoints {
        let entry = sgdlab_experiments::find(name).unwrap();
        let mut exp = entry.build(&quick, &mut |_| {}).unwrap();
        exp.restore(&c.state).unwrap();
        let seeds = [c.state.clone()];
        let mut rng = SplitMix64::for_purpose(11, name);
        let mut panics = 0;
        for _ in 0..cases() / 400 {
            let m = mutate(&seeds[0], &seeds[0], &mut rng);
            let mut fresh = entry.build(&quick, &mut |_| {}).unwrap();
            if catch_unwind(AssertUnwindSafe(|| fresh.restore(&m).is_ok())).is_err() {
                panics += 1;
            }
        }
        assert_eq!(
            panics, 0,
            "{name}: restore panicked on {panics} mutated states"
        );
    }
}
