//! The classifier an experiment trains, chosen by config.

use super::{Cnn, CnnConfig, Mlp, MlpConfig};
use crate::data::InputShape;
use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which network to build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NetworkConfig {
    /// A multilayer perceptron on flattened inputs.
    Mlp(MlpConfig),
    /// A LeNet-like CNN (image inputs only).
    Cnn(CnnConfig),
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
        }
        Ok(())
    }

    /// Builds the network with weights drawn from `seed` (the same on every backend).
    pub fn init(
        &self,
        shape: InputShape,
        classes: usize,
        seed: u64,
        device: &Device,
    ) -> Network {
        let mut rng = SplitMix64::for_purpose(seed, "weights");
        match self {
            Self::Mlp(c) => Network::Mlp(c.init(shape.numel(), classes, &mut rng, device)),
            Self::Cnn(c) => {
                let input = match shape {
                    InputShape::Image {
                        channels,
                        height,
                        width,
                    } => [channels, height, width],
                    InputShape::Vector { dim } => [1, 1, dim],
                };
                Network::Cnn(c.init(input, classes, &mut rng, device))
            }
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
        }
    }
}

/// A classifier network.
#[derive(Module, Debug)]
pub enum Network {
    /// A multilayer perceptron.
    Mlp(Mlp),
    /// A convolutional network.
    Cnn(Cnn),
}

impl Network {
    /// Logits for a batch of flattened examples.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(x),
            Self::Cnn(m) => m.forward(x),
        }
    }
}
