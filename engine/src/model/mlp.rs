//! A multilayer perceptron classifier.

use super::Activation;
use super::dense::Dense;
use crate::rng::SplitMix64;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of an [`Mlp`]: input size, hidden widths, classes, activation.
#[derive(Config, Debug, PartialEq)]
pub struct MlpConfig {
    /// Hidden layer widths, input side first (e.g. `[512, 512]`).
    #[config(default = "vec![512, 512]")]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

impl MlpConfig {
    /// Builds the network for `inputs` features and `classes` outputs with weights from `rng`.
    pub fn init(
        &self,
        inputs: usize,
        classes: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Mlp {
        let mut layers = Vec::with_capacity(self.hidden.len() + 1);
        let mut width = inputs;
        for &h in &self.hidden {
            layers.push(Dense::new(width, h, rng, device));
            width = h;
        }
        layers.push(Dense::new(width, classes, rng, device));
        Mlp {
            layers,
            activation: self.activation,
        }
    }
}

/// A multilayer perceptron: dense layers with an activation between them, logits out.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, input side first; the last one produces logits.
    pub layers: Vec<Dense>,
    /// Hidden activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// Logits for a batch of flattened inputs, shape (batch, inputs) to (batch, classes).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = x;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.apply(x);
            }
        }
        x
    }
}
