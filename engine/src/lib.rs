//! sgdlab's engine: compute devices, datasets, models, optimizers, loss landscapes, probes,
//! reports, memory budgets and config checks: the substrate the experiments (`sgdlab-experiments`,
//! a crate above this one) are built on. Nothing here knows about a UI or an experiment.

pub mod bench;
pub mod check;
pub mod data;
pub mod device;
pub mod error;
pub mod gpu;
pub mod landscape;
pub mod memory;
pub mod model;
pub mod optim;
pub mod probe;
pub mod report;
pub mod rng;
pub mod snapshot;
pub mod train;

pub use error::{EngineError, Result};
