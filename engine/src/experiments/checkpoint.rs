//! Checkpoints: what a stopped run needs to continue. An experiment encodes its state on demand
//! (the jobs finished and what they produced, and the job in progress: its model, optimizer
//! state, RNG positions and metrics so far); the output writer saves it beside the outputs of an
//! unfinished run as [`CHECKPOINT_FILE`], and `sgdlab run --resume` builds the experiment from
//! the run's `config.json` and restores it. The job in progress continues where it was, so a
//! resumed run's `results.json` equals an uninterrupted run's (same config, seed and backend).
//!
//! The encoding is CBOR (`ciborium`): floats round-trip exactly, NaN and infinities included,
//! which JSON cannot carry.

use super::Preset;
use crate::error::{EngineError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The checkpoint's file name in a run's directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.cbor";

/// The largest checkpoint file read (4 GiB): a bound against a file that is not one.
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// A saved run: which experiment and preset, how long it had run, and the experiment's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The experiment's registry name.
    pub experiment: String,
    /// The preset the config started from (it decides whether the quick-preset rule applies).
    pub preset: Preset,
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
    /// Reads the checkpoint at `path`, refusing files too large or written by another version.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |detail: String| EngineError::DataFile {
            path: path.to_path_buf(),
            detail,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        if meta.len() > MAX_CHECKPOINT_BYTES {
            return Err(bad(format!(
                "{} bytes, more than a checkpoint may have ({MAX_CHECKPOINT_BYTES})",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let c: Self = ciborium::from_reader(bytes.as_slice())
            .map_err(|e| bad(format!("not a checkpoint: {e}")))?;
        let version = env!("CARGO_PKG_VERSION");
        if c.sgdlab_version != version {
            return Err(bad(format!(
                "written by sgdlab {}, this is {version}: rerun from the start",
                c.sgdlab_version
            )));
        }
        Ok(c)
    }

    /// Writes it to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::report::write_atomic(path, &encode(self)?)
    }
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
        assert!(e.contains("not a checkpoint"), "{e}");
        let old = Checkpoint {
            sgdlab_version: "0.0.0-old".into(),
            ..c
        };
        old.write(&path).unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.contains("0.0.0-old"), "{e}");
    }
}
