//! The classifier an experiment trains, chosen by config.

use super::{Cnn, CnnConfig, Mlp, MlpConfig, Resnet, ResnetConfig};
use crate::data::InputShape;
use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The widest [`ResnetConfig::width`] accepted (ResNet-18 is 64).
pub const MAX_RESNET_WIDTH: usize = 1024;

/// Which network to build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NetworkConfig {
    /// A multilayer perceptron on flattened inputs.
    Mlp(MlpConfig),
    /// A LeNet-like CNN (image inputs only).
    Cnn(CnnConfig),
    /// A ResNet-18-style network with batch normalization (image inputs only).
    Resnet(ResnetConfig),
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self::Mlp(MlpConfig::new())
    }
}

impl NetworkConfig {
    /// Checks the config against the data it will see.
    pub fn validate(&self, shape: InputShape, field: &str) -> Result<()> {
        match self {
            Self::Mlp(c) => {
                if let Some(i) = c.hidden.iter().position(|&h| h == 0) {
                    return Err(EngineError::config(
                        format!("{field}.hidden[{i}]"),
                        "expected a positive layer width, found 0",
                    ));
                }
            }
            Self::Cnn(c) => {
                let InputShape::Image { height, width, .. } = shape else {
                    return Err(EngineError::config(
                        format!("{field}.kind"),
                        "a cnn needs image data; use `mlp` for vector data such as the 2-D sets",
                    ));
                };
                if height < 4 || width < 4 {
                    return Err(EngineError::config(
                        format!("{field}.kind"),
                        format!("a cnn needs images of at least 4x4, found {height}x{width}"),
                    ));
                }
                for (name, v) in [
                    ("conv1_channels", c.conv1_channels),
                    ("conv2_channels", c.conv2_channels),
                    ("hidden", c.hidden),
                ] {
                    if v == 0 {
                        return Err(EngineError::config(
                            format!("{field}.{name}"),
                            "expected a positive size, found 0",
                        ));
                    }
                }
            }
            Self::Resnet(c) => {
                if !matches!(shape, InputShape::Image { .. }) {
                    return Err(EngineError::config(
                        format!("{field}.kind"),
                        "a resnet needs image data; use `mlp` for vector data such as the 2-D sets",
                    ));
                }
                if !(1..=MAX_RESNET_WIDTH).contains(&c.width) {
                    return Err(EngineError::config(
                        format!("{field}.width"),
                        format!(
                            "expected a width in [1, {MAX_RESNET_WIDTH}] (64 is ResNet-18), found {}",
                            c.width
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds the network with weights drawn from `seed` (the same on every backend).
    /// Inputs are standardized inside the network as `(x - mean) / std` with `input_stats`
    /// (from the training set), so data stays in its raw range for augmentation and plots.
    pub fn init(
        &self,
        shape: InputShape,
        classes: usize,
        input_stats: InputStats,
        seed: u64,
        device: &Device,
    ) -> Network {
        let mut rng = SplitMix64::for_purpose(seed, "weights");
        let input = match shape {
            InputShape::Image {
                channels,
                height,
                width,
            } => [channels, height, width],
            InputShape::Vector { dim } => [1, 1, dim],
        };
        let body = match self {
            Self::Mlp(c) => Body::Mlp(c.init(shape.numel(), classes, &mut rng, device)),
            Self::Cnn(c) => Body::Cnn(c.init(input, classes, &mut rng, device)),
            Self::Resnet(c) => Body::Resnet(c.init(input, classes, &mut rng, device)),
        };
        Network {
            body,
            input_mean: input_stats.mean,
            input_inv_std: 1.0 / input_stats.std.max(1e-6),
        }
    }

    /// A short description, e.g. `mlp 784-512-512-10`.
    pub fn describe(&self, inputs: usize, classes: usize) -> String {
        match self {
            Self::Mlp(c) => {
                let widths: Vec<String> = std::iter::once(inputs)
                    .chain(c.hidden.iter().copied())
                    .chain(std::iter::once(classes))
                    .map(|w| w.to_string())
                    .collect();
                format!("mlp {} ({:?})", widths.join("-"), c.activation)
            }
            Self::Cnn(c) => format!(
                "cnn conv5x5({})-pool-conv5x5({})-pool-fc({})-{classes}",
                c.conv1_channels, c.conv2_channels, c.hidden
            ),
            Self::Resnet(c) => {
                let [a, b, d, e] = c.stage_widths();
                format!(
                    "resnet-18 width {} (stages {a}-{b}-{d}-{e}, batch norm)-{classes}",
                    c.width
                )
            }
        }
    }
}

/// Mean and standard deviation of the input values (over all examples and coordinates).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputStats {
    /// Mean input value.
    pub mean: f32,
    /// Standard deviation of the input values.
    pub std: f32,
}

impl InputStats {
    /// No standardization.
    pub const IDENTITY: Self = Self {
        mean: 0.0,
        std: 1.0,
    };

    /// The statistics of a flat array of input values.
    pub fn of(values: &[f32]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        Self {
            mean: mean as f32,
            std: var.sqrt().max(1e-6) as f32,
        }
    }
}

/// The trainable part of a classifier.
// One Body exists per model and its variants are parameter handles, not data; boxing would only
// complicate burn's Module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Body {
    /// A multilayer perceptron.
    Mlp(Mlp),
    /// A convolutional network.
    Cnn(Cnn),
    /// A residual network with batch normalization.
    Resnet(Resnet),
}

/// A classifier network: input standardization, then an MLP or a CNN.
#[derive(Module, Debug)]
pub struct Network {
    /// The layers.
    pub body: Body,
    /// Subtracted from every input value.
    #[module(skip)]
    pub input_mean: f32,
    /// Multiplies every input value after the shift.
    #[module(skip)]
    pub input_inv_std: f32,
}

impl Network {
    /// Logits for a batch of flattened examples.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = x.sub_scalar(self.input_mean).mul_scalar(self.input_inv_std);
        match &self.body {
            Body::Mlp(m) => m.forward(x),
            Body::Cnn(m) => m.forward(x),
            Body::Resnet(m) => m.forward(x),
        }
    }
}
