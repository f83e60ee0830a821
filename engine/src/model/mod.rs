//! Models: an MLP and a small CNN, both with configs, behind one [`Network`] enum.

mod activation;
mod cnn;
mod dense;
mod init;
mod mlp;
mod network;

pub use activation::*;
pub use cnn::*;
pub use dense::*;
pub use init::*;
pub use mlp::*;
pub use network::*;
