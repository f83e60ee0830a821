//! The optimizer core: SGD with momentum, weight decay and learning-rate schedules.

pub mod gossip;
mod schedule;
mod sgd;

pub use schedule::*;
pub use sgd::*;
