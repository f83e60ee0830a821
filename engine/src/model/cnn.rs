//! A small LeNet-like convolutional classifier: two 5×5 convolutions with max pooling, then two
//! dense layers.

use super::Activation;
use super::dense::Dense;
use super::init::uniform_fan_in;
use crate::rng::SplitMix64;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`Cnn`].
#[derive(Config, Debug, PartialEq)]
pub struct CnnConfig {
    /// Channels of the first convolution.
    #[config(default = 16)]
    pub conv1_channels: usize,
    /// Channels of the second convolution.
    #[config(default = 32)]
    pub conv2_channels: usize,
    /// Width of the hidden dense layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Activation after every layer but the last.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

/// A 2-D convolution layer with "same" padding.
#[derive(Module, Debug)]
pub struct Conv {
    /// Kernel, shape (out, in, k, k).
    pub weight: Param<Tensor<4>>,
    /// Bias, shape (out).
    pub bias: Param<Tensor<1>>,
}

impl Conv {
    fn new(inputs: usize, outputs: usize, k: usize, rng: &mut SplitMix64, device: &Device) -> Self {
        let fan_in = inputs * k * k;
        Self {
            weight: uniform_fan_in([outputs, inputs, k, k], fan_in, rng, device),
            bias: uniform_fan_in([outputs], fan_in, rng, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let options = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// The LeNet-like network.
#[derive(Module, Debug)]
pub struct Cnn {
    /// First convolution.
    pub conv1: Conv,
    /// Second convolution.
    pub conv2: Conv,
    /// Hidden dense layer.
    pub fc1: Dense,
    /// Output layer (logits).
    pub fc2: Dense,
    /// Activation.
    #[module(skip)]
    pub activation: Activation,
    /// Input (channels, height, width).
    #[module(skip)]
    pub input: [usize; 3],
}

impl CnnConfig {
    /// Builds the network for images of `(channels, height, width)` and `classes` outputs.
    /// Height and width must be at least 4 (two 2×2 poolings).
    pub fn init(
        &self,
        input: [usize; 3],
        classes: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Cnn {
        let [c, h, w] = input;
        let flat = self.conv2_channels * (h / 4) * (w / 4);
        Cnn {
            conv1: Conv::new(c, self.conv1_channels, 5, rng, device),
            conv2: Conv::new(self.conv1_channels, self.conv2_channels, 5, rng, device),
            fc1: Dense::new(flat, self.hidden, rng, device),
            fc2: Dense::new(self.hidden, classes, rng, device),
            activation: self.activation,
            input,
        }
    }
}

impl Cnn {
    /// Logits for a batch of flattened images, shape (batch, c·h·w) to (batch, classes).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [c, h, w] = self.input;
        let batch = x.dims()[0];
        let x = x.reshape([batch, c, h, w]);
        let pool = MaxPoolOptions::new([2, 2]);
        let x = max_pool2d(self.activation.apply(self.conv1.forward(x)), pool.clone());
        let x = max_pool2d(self.activation.apply(self.conv2.forward(x)), pool);
        let x = x.flatten::<2>(1, 3);
        let x = self.activation.apply(self.fc1.forward(x));
        self.fc2.forward(x)
    }
}
