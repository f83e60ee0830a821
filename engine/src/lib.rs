//! sgdlab's engine: compute devices, datasets, models, optimizers and the experiments that
//! reproduce six results on the dynamics of stochastic gradient descent. Nothing here knows about
//! a UI; the CLI, the desktop app and the browser drive the same experiment state machines.

pub mod bench;
pub mod check;
pub mod data;
pub mod device;
pub mod error;
pub mod experiments;
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
