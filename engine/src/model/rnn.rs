//! The Elman recurrent network of Allen-Zhu, Li, "Can SGD Learn Recurrent Neural Networks with
//! Provable Generalization?" (NeurIPS 2019, §2): h₀ = 0, h_ℓ = ReLU(W h_{ℓ−1} + A x_ℓ),
//! y_ℓ = B h_ℓ, where x_ℓ carries an extra constant coordinate (the bias), W and A are drawn from
//! N(0, 2/m) and B from N(0, 1/d) (d the output size). The paper trains W only; as an option all
//! of W, A, B are trained.
//!
//! Weights are stored input-major like [`super::Dense`]: the code computes h W + x A, which is
//! the paper's W h + A x with W and A transposed (the same Gaussian distribution).

use super::init::normal;
use crate::rng::SplitMix64;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, activation};
use serde::{Deserialize, Serialize};

/// Which weights of the RNN are trained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RnnTrainable {
    /// Only the recurrent matrix W (the paper's setting).
    #[default]
    Recurrent,
    /// W, A and B.
    All,
}

/// Configuration of an [`ElmanRnn`].
#[derive(Config, Debug, PartialEq)]
pub struct ElmanRnnConfig {
    /// Hidden width m.
    #[config(default = 256)]
    pub width: usize,
    /// The value of the constant (bias) coordinate appended to every input.
    #[config(default = 1.0)]
    pub bias_input: f64,
    /// Which weights are trained.
    #[config(default = "RnnTrainable::Recurrent")]
    pub trainable: RnnTrainable,
}

impl ElmanRnnConfig {
    /// Builds the network for tokens of `inputs` values and `outputs` values per position, with
    /// weights from `rng`: W, A ~ N(0, 2/m), B ~ N(0, 1/outputs). Weights that are not trained
    /// do not require gradients, so the optimizer leaves them alone.
    pub fn init(
        &self,
        inputs: usize,
        outputs: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> ElmanRnn {
        let m = self.width.max(1);
        let std_wa = (2.0 / m as f64).sqrt();
        let std_b = (1.0 / outputs.max(1) as f64).sqrt();
        let w = normal([m, m], std_wa, rng, device);
        let a = normal([inputs + 1, m], std_wa, rng, device);
        let b = normal([m, outputs], std_b, rng, device);
        let all = self.trainable == RnnTrainable::All;
        ElmanRnn {
            w,
            a: a.set_require_grad(all),
            b: b.set_require_grad(all),
            bias_input: self.bias_input as f32,
        }
    }
}

/// An Elman RNN with ReLU hidden units and a linear read-out at every position.
#[derive(Module, Debug)]
pub struct ElmanRnn {
    /// Recurrent weights, shape (m, m): h_ℓ = ReLU(h_{ℓ−1} W + x_ℓ A).
    pub w: Param<Tensor<2>>,
    /// Input weights, shape (inputs + 1, m); the last row multiplies the bias coordinate.
    pub a: Param<Tensor<2>>,
    /// Read-out, shape (m, outputs).
    pub b: Param<Tensor<2>>,
    /// The constant appended to every input token.
    #[module(skip)]
    pub bias_input: f32,
}

impl ElmanRnn {
    /// Values per input token (without the bias coordinate).
    pub fn inputs(&self) -> usize {
        self.a.dims()[0] - 1
    }

    /// Hidden width m.
    pub fn width(&self) -> usize {
        self.w.dims()[0]
    }

    /// Values per output position.
    pub fn outputs(&self) -> usize {
        self.b.dims()[1]
    }

    /// Outputs for a batch of sequences (batch, L, inputs) → (batch, L, outputs).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [n, l, d] = x.dims();
        let m = self.width();
        let device = x.device();
        let bias = Tensor::<3>::ones([n, l, 1], &device).mul_scalar(self.bias_input);
        let x = Tensor::cat(vec![x, bias], 2);
        // Input projections of all positions at once: (n·L, d+1)·(d+1, m).
        let u = x
            .reshape([n * l, d + 1])
            .matmul(self.a.val())
            .reshape([n, l, m]);
        let w = self.w.val();
        let mut hidden = Vec::with_capacity(l);
        let mut h: Option<Tensor<2>> = None;
        for t in 0..l {
            let ut: Tensor<2> = u.clone().narrow(1, t, 1).reshape([n, m]);
            let pre = match h {
                // h₀ = 0, so the first position has no recurrent term.
                None => ut,
                Some(prev) => prev.matmul(w.clone()) + ut,
            };
            let next = activation::relu(pre);
            hidden.push(next.clone());
            h = Some(next);
        }
        let hs: Tensor<3> = Tensor::stack(hidden, 1);
        hs.reshape([n * l, m])
            .matmul(self.b.val())
            .reshape([n, l, self.outputs()])
    }

    /// [`Self::forward`] on flattened sequences: (batch, L·inputs) → (batch, L·outputs).
    pub fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, flat] = x.dims();
        let d = self.inputs().max(1);
        let l = flat / d;
        let y = self.forward(x.reshape([n, l, d]));
        y.reshape([n, l * self.outputs()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn param(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Param<Tensor<2>> {
        Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
    }

    #[test]
    fn forward_matches_hand_unrolled_computation() {
        let device = Device::flex();
        // m = 2, one input value plus the bias coordinate (0.5), one output.
        let w = [[0.5, -1.0], [0.25, 0.75]]; // (m, m), h W
        let a = [[1.0, -0.5], [0.2, 0.3]]; // (d+1, m), row 1 multiplies the bias
        let b = [2.0, -1.0];
        let rnn = ElmanRnn {
            w: param(vec![0.5, -1.0, 0.25, 0.75], [2, 2], &device),
            a: param(vec![1.0, -0.5, 0.2, 0.3], [2, 2], &device),
            b: param(vec![2.0, -1.0], [2, 1], &device),
            bias_input: 0.5,
        };
        let xs = [0.8f64, -0.6, 1.2];
        let x = Tensor::<3>::from_data(
            TensorData::new(xs.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, 3, 1]),
            &device,
        );
        let got = rnn.forward(x).into_data().try_to_vec::<f32>().unwrap();
        let mut h = [0.0f64; 2];
        for (t, &xt) in xs.iter().enumerate() {
            let mut next = [0.0; 2];
            for (j, nj) in next.iter_mut().enumerate() {
                let rec = h[0] * w[0][j] + h[1] * w[1][j];
                let inp = xt * a[0][j] + 0.5 * a[1][j];
                *nj = (rec + inp).max(0.0);
            }
            h = next;
            let y = h[0] * b[0] + h[1] * b[1];
            assert!(
                (f64::from(got[t]) - y).abs() < 1e-5,
                "t {t}: {got:?} vs {y}"
            );
        }
    }

    #[test]
    fn init_scales_and_trainable_flags() {
        let device = Device::flex().autodiff();
        let mut rng = SplitMix64::new(9);
        let rnn = ElmanRnnConfig::new()
            .with_width(200)
            .init(3, 2, &mut rng, &device);
        let var = |p: &Param<Tensor<2>>| {
            let v = p.val().into_data().try_to_vec::<f32>().unwrap();
            v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64
        };
        // Var W = 2/m = 0.01 over 40000 draws; Var B = 1/2 over 400 draws.
        assert!((var(&rnn.w) - 0.01).abs() < 0.0005, "{}", var(&rnn.w));
        assert!((var(&rnn.b) - 0.5).abs() < 0.1, "{}", var(&rnn.b));
        assert!(rnn.w.val().is_require_grad());
        assert!(!rnn.a.val().is_require_grad() && !rnn.b.val().is_require_grad());
        let all = ElmanRnnConfig::new()
            .with_width(8)
            .with_trainable(RnnTrainable::All)
            .init(3, 2, &mut rng, &device);
        assert!(all.a.val().is_require_grad() && all.b.val().is_require_grad());
    }
}
