//! n copies of a one-hidden-layer MLP trained side by side as batched tensors, for decentralized
//! SGD on real data (the MNIST part of the gossip experiment; Chen et al., ICML 2021, §7 train
//! deep networks the same way, one model per node).
//!
//! Parameters are stacked along a leading node dimension, W1 (n, in, h), b1 (n, 1, h),
//! W2 (n, h, c), b2 (n, 1, c), so one forward pass is two batched matmuls and the summed loss
//! gives every node exactly its own gradient. Mixing works on each tensor reshaped to (n, k).

use crate::rng::SplitMix64;
use burn::tensor::{Device, Tensor, TensorData, activation};

/// Stacked parameters of n MLPs `in → hidden (ReLU) → classes`.
#[derive(Clone, Debug)]
pub struct BatchedMlp {
    /// Node count.
    pub n: usize,
    /// Input width.
    pub inputs: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Classes.
    pub classes: usize,
    /// W1, b1, W2, b2, each (n, k) with k the per-node size of that tensor.
    pub params: Vec<Tensor<2>>,
}

impl BatchedMlp {
    /// n identical copies of one He-initialized MLP drawn from `seed` (every node starts equal,
    /// as in the paper's setting).
    pub fn init(
        n: usize,
        inputs: usize,
        hidden: usize,
        classes: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let mut rng = SplitMix64::for_purpose(seed, "gossip mlp weights");
        let mut draw = |count: usize, fan_in: usize| -> Vec<f32> {
            let s = (2.0 / fan_in as f64).sqrt();
            (0..count).map(|_| (rng.normal() * s) as f32).collect()
        };
        let shapes = [inputs * hidden, hidden, hidden * classes, classes];
        let one = [
            draw(shapes[0], inputs),
            vec![0.0; hidden],
            draw(shapes[2], hidden),
            vec![0.0; classes],
        ];
        let params = one
            .into_iter()
            .zip(shapes)
            .map(|(v, k)| {
                let rows: Vec<f32> = (0..n).flat_map(|_| v.iter().copied()).collect();
                Tensor::from_data(TensorData::new(rows, [n, k]), device)
            })
            .collect();
        Self {
            n,
            inputs,
            hidden,
            classes,
            params,
        }
    }

    /// Parameters per node.
    pub fn params_per_node(&self) -> usize {
        self.inputs * self.hidden + self.hidden + self.hidden * self.classes + self.classes
    }

    /// Summed (over nodes) mean cross-entropy of node i's model on its batch x (n, b, in) with
    /// one-hot targets (n, b, c); `params` may carry autodiff.
    pub fn loss(&self, params: &[Tensor<2>], x: Tensor<3>, targets: Tensor<3>) -> Tensor<1> {
        let n = params[0].dims()[0];
        let b = x.dims()[1];
        let w1 = params[0].clone().reshape([n, self.inputs, self.hidden]);
        let b1 = params[1].clone().reshape([n, 1, self.hidden]);
        let w2 = params[2].clone().reshape([n, self.hidden, self.classes]);
        let b2 = params[3].clone().reshape([n, 1, self.classes]);
        let h = activation::relu(x.matmul(w1) + b1);
        let logits = h.matmul(w2) + b2;
        let logp = activation::log_softmax(logits, 2);
        (logp * targets).sum().mul_scalar(-1.0 / b as f64)
    }

    /// Per-node gradients of [`BatchedMlp::loss`] at the current parameters, and the loss.
    pub fn grads(&self, x: Tensor<3>, targets: Tensor<3>) -> (Vec<Tensor<2>>, Tensor<1>) {
        let tracked: Vec<Tensor<2>> = self
            .params
            .iter()
            .map(|p| p.clone().autodiff().require_grad())
            .collect();
        let loss = self.loss(&tracked, x.autodiff(), targets.autodiff());
        let grads = loss.backward();
        let g = tracked
            .iter()
            .map(|p| {
                p.grad(&grads)
                    .unwrap_or_else(|| p.clone().inner().zeros_like())
            })
            .collect();
        (g, loss.inner())
    }

    /// The average model as a one-node MLP.
    pub fn average(&self) -> Self {
        Self {
            n: 1,
            params: self.params.iter().map(|p| p.clone().mean_dim(0)).collect(),
            ..self.clone()
        }
    }
}
