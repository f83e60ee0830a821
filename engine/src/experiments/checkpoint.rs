//! Checkpoints: what a stopped run needs to continue. An experiment that runs jobs in turn keeps
//! an encoded snapshot of its state at the last job boundary (the jobs finished and what they
//! produced); the output writer saves it beside the outputs of an unfinished run as
//! [`CHECKPOINT_FILE`], and `sgdlab run --resume` builds the experiment from the run's
//! `config.json` and restores it. A job that was in progress starts over, so a resumed run's
//! `results.json` equals an uninterrupted run's (same config, seed and backend).
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
    /// The experiment's own encoding of its state at that job boundary.
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

/// The state an experiment keeps at its last job boundary: the jobs finished then and the
/// encoded state. Experiments hold one and refresh it each time a job finishes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Boundary {
    /// Jobs finished at the boundary.
    pub jobs_finished: usize,
    /// The encoded state then; empty before the first job finishes.
    pub state: Vec<u8>,
}

impl Boundary {
    /// Takes a snapshot of `state` after `jobs_finished` jobs.
    pub fn take<T: Serialize>(&mut self, jobs_finished: usize, state: &T) -> Result<()> {
        self.state = encode(state)?;
        self.jobs_finished = jobs_finished;
        Ok(())
    }

    /// Keeps `state` as it is, already encoded (a restored checkpoint: no need to encode the
    /// state just decoded from it again).
    pub fn keep(&mut self, jobs_finished: usize, state: &[u8]) {
        self.state = state.to_vec();
        self.jobs_finished = jobs_finished;
    }

    /// The snapshot, once a job has finished.
    pub fn get(&self) -> Option<(usize, &[u8])> {
        (!self.state.is_empty()).then_some((self.jobs_finished, self.state.as_slice()))
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

    #[test]
    fn a_boundary_is_empty_until_a_job_finishes() {
        let mut b = Boundary::default();
        assert!(b.get().is_none());
        b.take(2, &vec![1u32, 2]).unwrap();
        let (n, bytes) = b.get().unwrap();
        assert_eq!(n, 2);
        assert_eq!(decode::<Vec<u32>>(bytes, "x").unwrap(), [1, 2]);
    }
}
