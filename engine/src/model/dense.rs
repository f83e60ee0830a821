//! A fully connected layer, y = x W + b, with weights stored as (inputs, outputs).

use super::init::uniform_fan_in;
use crate::rng::SplitMix64;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// A fully connected layer.
#[derive(Module, Debug)]
pub struct Dense {
    /// Weights, shape (inputs, outputs).
    pub weight: Param<Tensor<2>>,
    /// Bias, shape (outputs).
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// A layer with PyTorch's default initialization, drawn from `rng`.
    pub fn new(inputs: usize, outputs: usize, rng: &mut SplitMix64, device: &Device) -> Self {
        Self {
            weight: uniform_fan_in([inputs, outputs], inputs, rng, device),
            bias: uniform_fan_in([outputs], inputs, rng, device),
        }
    }

    /// Applies the layer to a batch of shape (batch, inputs).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze_dim(0)
    }
}
