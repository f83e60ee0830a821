//! Checkpoints: what a stopped run needs to continue. An experiment encodes its state on demand
//! (the jobs finished and what they produced, and the job in progress: its model, optimizer
//! state, RNG positions and metrics so far); the output writer saves it beside the outputs of an
//! unfinished run as [`CHECKPOINT_FILE`], and `sgdlab run --resume` builds the experiment from
//! the run's `config.json` and restores it. The job in progress continues where it was, so a
//! resumed run's `results.json` equals an uninterrupted run's (same config, seed and backend).
//!
//! A checkpoint is bound to what made it: it carries the run's whole config (a resume whose
//! config differs in any field is refused, naming the field), the program version and format
//! (another version refuses it), and a SHA-256 of its bytes (a damaged file is refused). The
//! file is `MAGIC`, the format number, the payload's length, the payload (CBOR: floats
//! round-trip exactly, NaN and infinities included, which JSON cannot carry) and the SHA-256 of
//! everything before it.

use super::Preset;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sgdlab_engine::error::{EngineError, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The checkpoint's file name in a run's directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.cbor";

/// The largest checkpoint file read (4 GiB): a bound against a file that is not one.
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// The first bytes of a checkpoint file.
const MAGIC: &[u8; 8] = b"SGDLABCK";

/// The container's format; a checkpoint of another format is refused. Raise it when
/// [`Checkpoint`] or an experiment's state changes shape.
pub const CHECKPOINT_FORMAT: u32 = 2;

/// Bytes before the payload: magic, format (u32 LE), payload length (u64 LE).
const HEADER: usize = 8 + 4 + 8;
/// Bytes after it: the SHA-256 of header and payload.
const DIGEST: usize = 32;

/// A saved run: which experiment, config and preset, how long it had run, and the experiment's
/// state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The experiment's registry name.
    pub experiment: String,
    /// The preset the config started from (it decides whether the quick-preset rule applies).
    pub preset: Preset,
    /// The run's config as `config.json` has it (JSON text); a resume must ask for the same.
    pub config: String,
    /// The sgdlab version that wrote it; a different version refuses to resume it.
    pub sgdlab_version: String,
    /// Wall-clock seconds spent before the checkpoint.
    pub elapsed_s: f64,
    /// Jobs finished.
    pub jobs_finished: usize,
    /// Progress in the experiment's units at the checkpoint (finished jobs and the part of the
    /// job in progress that the state keeps).
    pub units_done: u64,
    /// All the run's work in the same units.
    pub units_total: u64,
    /// The experiment's own encoding of its state.
    pub state: Vec<u8>,
}

/// Encodes `value` (an experiment's state) as CBOR.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out)
        .map_err(|e| EngineError::config("<checkpoint>", format!("cannot encode: {e}")))?;
    Ok(out)
}

/// Decodes what [`encode`] wrote; `what` names it in errors.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    ciborium::from_reader(bytes)
        .map_err(|e| EngineError::config(what, format!("not a readable checkpoint: {e}")))
}

impl Checkpoint {
    /// The file's bytes: header, CBOR payload, SHA-256.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = encode(self)?;
        let mut out = Vec::with_capacity(HEADER + payload.len() + DIGEST);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CHECKPOINT_FORMAT.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Reads what [`Checkpoint::to_bytes`] wrote; the error says what is wrong (damaged,
    /// truncated, another format or version). Never panics, whatever the bytes.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.len() < HEADER + DIGEST || &bytes[..8] != MAGIC {
            return Err("not an sgdlab checkpoint (no header)".into());
        }
        let word = |at: usize, n: usize| {
            bytes[at..at + n]
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
        };
        let format = word(8, 4);
        if format != u64::from(CHECKPOINT_FORMAT) {
            return Err(format!(
                "checkpoint format {format}, this sgdlab reads format {CHECKPOINT_FORMAT}: \
                 rerun from the start"
            ));
        }
        let len = word(12, 8);
        let expected = (HEADER + DIGEST) as u64;
        if len.checked_add(expected) != Some(bytes.len() as u64) {
            return Err(format!(
                "{} bytes where its header promises {}: truncated or damaged",
                bytes.len(),
                len.saturating_add(expected)
            ));
        }
        let body = bytes.len() - DIGEST;
        if Sha256::digest(&bytes[..body]).as_slice() != &bytes[body..] {
            return Err("checksum mismatch: the file is damaged".into());
        }
        let c: Self = ciborium::from_reader(&bytes[HEADER..body])
            .map_err(|e| format!("checksum matches but the content is unreadable: {e}"))?;
        let version = env!("CARGO_PKG_VERSION");
        if c.sgdlab_version != version {
            return Err(format!(
                "written by sgdlab {}, this is {version}: rerun from the start",
                c.sgdlab_version
            ));
        }
        Ok(c)
    }

    /// Reads the checkpoint at `path`: a regular file of at most [`MAX_CHECKPOINT_BYTES`],
    /// intact, of this format and version.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |detail: String| EngineError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        };
        // A regular file (a FIFO is refused unopened), read through a bound.
        let bytes = sgdlab_engine::data::read_data_file(path, MAX_CHECKPOINT_BYTES)?;
        Self::from_bytes(&bytes).map_err(bad)
    }

    /// Writes it to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        sgdlab_engine::report::write_atomic(path, &self.to_bytes()?)
    }

    /// Refuses to continue this checkpoint under `config` (the config a resume resolved) when
    /// any field differs from the config it was written with, naming the fields; `path` is the
    /// checkpoint's, for the message.
    pub fn check_config(&self, config: &serde_json::Value, path: &Path) -> Result<()> {
        let saved: serde_json::Value =
            serde_json::from_str(&self.config).map_err(|e| EngineError::Checkpoint {
                path: path.to_path_buf(),
                detail: format!("its config is unreadable: {e}"),
            })?;
        let mut fields = Vec::new();
        differences(&saved, config, "", &mut fields);
        if fields.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = fields.iter().take(5).cloned().collect();
        Err(EngineError::Checkpoint {
            path: path.to_path_buf(),
            detail: format!(
                "written with another config: {} differ{} ({}); resume with the config it was \
                 written with, or start a new run in another --out",
                shown.join(", "),
                if fields.len() == 1 { "s" } else { "" },
                if fields.len() > shown.len() {
                    format!("{} fields in all", fields.len())
                } else {
                    match fields.first().map(|f| field_values(&saved, config, f)) {
                        Some((a, b)) if fields.len() == 1 => format!("checkpoint {a}, now {b}"),
                        _ => "see config.json".into(),
                    }
                }
            ),
        })
    }
}

/// The dotted paths (`optim.lr`, `seq_lens[2]`) at which `a` and `b` differ, into `out`.
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value as V;
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (a, b) {
        (V::Object(x), V::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => differences(p, q, &join(k), out),
                    _ => out.push(join(k)),
                }
            }
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{at}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(if at.is_empty() {
            "<config>".into()
        } else {
            at.into()
        }),
    }
}

/// The two values at the dotted path `field` (as [`differences`] writes it), as JSON text.
fn field_values(a: &serde_json::Value, b: &serde_json::Value, field: &str) -> (String, String) {
    let pointer = format!("/{}", field.replace(['.', '['], "/").replace(']', ""));
    let show = |v: &serde_json::Value| {
        v.pointer(&pointer)
            .map_or_else(|| "absent".to_string(), |x| x.to_string())
    };
    (show(a), show(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_exactly_nan_and_infinity_included() {
        let v = vec![
            0.1f64,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-310,
            -0.0,
            1.0 / 3.0,
        ];
        let back: Vec<f64> = decode(&encode(&v).unwrap(), "x").unwrap();
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let nan: f64 = decode(&encode(&f64::NAN).unwrap(), "x").unwrap();
        assert!(nan.is_nan());
    }

    #[test]
    fn a_checkpoint_round_trips_through_a_file_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CHECKPOINT_FILE);
        let c = Checkpoint {
            experiment: "smoothing".into(),
            preset: Preset::Quick,
            config: r#"{"seed": 1, "optim": {"lr": 0.1}, "seq_lens": [2, 4]}"#.into(),
            sgdlab_version: env!("CARGO_PKG_VERSION").into(),
            elapsed_s: 1.5,
            jobs_finished: 3,
            units_done: 42,
            units_total: 100,
            state: vec![1, 2, 3],
        };
        c.write(&path).unwrap();
        assert_eq!(Checkpoint::read(&path).unwrap(), c);
        std::fs::write(&path, b"not cbor at all").unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.contains("not an sgdlab checkpoint"), "{e}");
        let old = Checkpoint {
            sgdlab_version: "0.0.0-old".into(),
            ..c
        };
        old.write(&path).unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.contains("0.0.0-old"), "{e}");
    }

    fn sample() -> Checkpoint {
        Checkpoint {
            experiment: "rnn".into(),
            preset: Preset::Quick,
            config: r#"{"seed": 1, "optim": {"lr": 0.1}, "seq_lens": [2, 4]}"#.into(),
            sgdlab_version: env!("CARGO_PKG_VERSION").into(),
            elapsed_s: 1.5,
            jobs_finished: 3,
            units_done: 42,
            units_total: 100,
            state: (0..=255).collect(),
        }
    }

    /// Every single flipped bit, every truncation and every appended byte is refused.
    #[test]
    fn any_damage_is_refused_by_the_checksum_or_the_header() {
        let good = sample().to_bytes().unwrap();
        assert_eq!(Checkpoint::from_bytes(&good).unwrap(), sample());
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                assert!(Checkpoint::from_bytes(&b).is_err(), "bit {bit} of byte {i}");
            }
        }
        for n in 0..good.len() {
            assert!(
                Checkpoint::from_bytes(&good[..n]).is_err(),
                "truncated to {n}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Checkpoint::from_bytes(&longer).is_err());
        // A flip inside the payload is caught by the checksum, not by chance in the CBOR.
        let mut b = good.clone();
        b[HEADER + 40] ^= 1;
        let e = Checkpoint::from_bytes(&b).unwrap_err();
        assert!(e.contains("checksum"), "{e}");
    }

    #[test]
    fn a_different_config_is_refused_naming_each_field() {
        let c = sample();
        let path = Path::new("out/rnn/checkpoint.cbor");
        let same: serde_json::Value = serde_json::from_str(&c.config).unwrap();
        c.check_config(&same, path).unwrap();
        for (edited, field) in [
            (
                r#"{"seed": 5, "optim": {"lr": 0.1}, "seq_lens": [2, 4]}"#,
                "`seed`",
            ),
            (
                r#"{"seed": 1, "optim": {"lr": 0.2}, "seq_lens": [2, 4]}"#,
                "optim.lr",
            ),
            (
                r#"{"seed": 1, "optim": {"lr": 0.1}, "seq_lens": [2, 8]}"#,
                "seq_lens[1]",
            ),
            (
                r#"{"seed": 1, "optim": {"lr": 0.1}, "seq_lens": [2]}"#,
                "seq_lens",
            ),
            (r#"{"seed": 1, "optim": {"lr": 0.1}}"#, "seq_lens"),
        ] {
            let v: serde_json::Value = serde_json::from_str(edited).unwrap();
            let e = c.check_config(&v, path).unwrap_err().to_string();
            let bare = field.trim_matches('`');
            assert!(
                e.contains(bare) && e.contains("checkpoint.cbor"),
                "{edited}: {e}"
            );
        }
        let v: serde_json::Value =
            serde_json::from_str(r#"{"seed": 5, "optim": {"lr": 0.1}, "seq_lens": [2, 4]}"#)
                .unwrap();
        let e = c.check_config(&v, path).unwrap_err().to_string();
        assert!(e.contains("checkpoint 1, now 5"), "{e}");
    }
}
