//! The engine's error type: every variant says what went wrong and where.

use std::path::PathBuf;

/// Errors the engine reports to its callers (the CLI maps them to exit codes).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A data file could not be read or is malformed.
    #[error("data file {path}: {detail}")]
    DataFile {
        /// The file (or directory) that was being read.
        path: PathBuf,
        /// What was wrong, with the byte offset or line where that helps.
        detail: String,
    },
    /// Embedded or in-memory data is malformed.
    #[error("data {source_name}: {detail}")]
    Data {
        /// A name for where the data came from (e.g. `embedded mnist10k`).
        source_name: String,
        /// What was wrong.
        detail: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("config field `{field}`: {detail}")]
    Config {
        /// The field, as a dotted path into the config (e.g. `optim.lr`).
        field: String,
        /// What was expected and what was found.
        detail: String,
    },
    /// Training produced a NaN or infinite loss.
    #[error("training diverged at step {step} ({phase}): loss is {loss}")]
    Diverged {
        /// The optimizer step at which the loss stopped being finite.
        step: u64,
        /// The phase of the experiment (e.g. `vanilla/seed 0/random labels`).
        phase: String,
        /// The non-finite loss value that was observed.
        loss: f64,
    },
    /// The requested compute device is not available.
    #[error("device: {0}")]
    Device(String),
    /// Writing results failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// An output folder cannot take a run's outputs (exists as a file, holds files sgdlab did
    /// not write, is in use by another run, cannot be written).
    #[error("output folder {path}: {detail}")]
    Output {
        /// The folder.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A checkpoint cannot be resumed (damaged, of another config or program version).
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Drawing a plot failed.
    #[error("plot {name}: {detail}")]
    Plot {
        /// The plot's file name.
        name: String,
        /// What the plotting library reported.
        detail: String,
    },
}

impl EngineError {
    /// A config error for `field` with a message.
    pub fn config(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Config {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// Whether this error is the user's input (exit code 2) rather than a failure of the run.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::DataFile { .. }
                | Self::Data { .. }
                | Self::Config { .. }
                | Self::Device(_)
                | Self::Output { .. }
                | Self::Checkpoint { .. }
        )
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
