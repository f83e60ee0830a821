//! Models: an MLP, a small CNN, a ResNet-18-style network with batch normalization and an Elman
//! RNN with configs, the [`Network`] enum, and the exponential-neuron wrapper that eliminates bad
//! local minima.

mod activation;
mod cnn;
mod dense;
mod exp_neurons;
mod init;
mod mlp;
mod network;
mod resnet;
mod rnn;

pub use activation::*;
pub use cnn::*;
pub use dense::*;
pub use exp_neurons::*;
pub use init::*;
pub use mlp::*;
pub use network::*;
pub use resnet::*;
pub use rnn::*;
