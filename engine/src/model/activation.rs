//! Hidden-layer activations.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// A pointwise nonlinearity for hidden layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// tanh(x).
    Tanh,
    /// x·σ(1.702x)-free smooth ReLU: ln(1 + eˣ).
    Softplus,
    /// The identity (a deep linear network).
    Linear,
}

impl Activation {
    /// Applies the activation.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Relu => activation::relu(x),
            Self::Tanh => x.tanh(),
            Self::Softplus => activation::softplus(x, 1.0),
            Self::Linear => x,
        }
    }
}
