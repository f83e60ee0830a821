//! Elimination of bad local minima with exponential neurons (Kawaguchi, Kaelbling, "Elimination
//! of All Bad Local Minima in Deep Learning", AISTATS 2020, eqs. 1–2).
//!
//! Any model f with outputs k = 1..K gets one special neuron per output,
//! f̃(x)_k = f(x)_k + a_k·exp(w_kᵀx + b_k), and the loss gets (λ/2)·‖a‖² with λ > 0. For a loss
//! convex in the output (squared error, cross-entropy on logits), every local minimum of the
//! wrapped loss has a = 0 and a globally optimal f (Theorem 1); where no such point exists the
//! wrapped loss can only decrease along a path to infinity (b_k → −∞ or ‖w_k‖ → ∞ with
//! a_k·exp(·) bounded), which the experiment reports.
//!
//! The exponent is capped at [`EXPONENT_CAP`] so that a finite input gives a finite output; a
//! cap that is reached is visible in [`ExpNeurons::max_exponent`], and a loss that still
//! overflows is reported by the caller as divergence.

use super::{Cnn, ElmanRnn, Mlp, Network, init::normal};
use crate::rng::SplitMix64;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// Largest exponent w_kᵀx + b_k that is evaluated; larger ones are clamped (exp(30) ≈ 1.1e13,
/// so even a squared error of a·exp(30) with |a| ≤ 1e5 stays finite in f32).
pub const EXPONENT_CAP: f32 = 30.0;

/// A model that maps a batch of flattened inputs (batch, inputs) to outputs (batch, outputs).
/// Every sgdlab model implements it, so [`Eliminated`] can wrap any of them.
pub trait FlatModel: Module {
    /// The model's outputs (logits or regression values) for a batch of flattened inputs.
    fn forward_flat(&self, x: Tensor<2>) -> Tensor<2>;
}

impl FlatModel for Network {
    fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

impl FlatModel for Mlp {
    fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

impl FlatModel for Cnn {
    fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

impl FlatModel for ElmanRnn {
    fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        ElmanRnn::forward_flat(self, x)
    }
}

/// a · exp(min(z, cap)), elementwise: the output of exponential neurons with pre-activation `z`
/// and output weights `a` (broadcast to `z`'s shape). Shared by [`ExpNeurons`] and batched
/// implementations (one tensor over many runs) so both compute the same function.
pub fn exp_neuron_output<const D: usize>(z: Tensor<D>, a: Tensor<D>) -> Tensor<D> {
    a * z.clamp_max(EXPONENT_CAP).exp()
}

/// (λ/2)·Σ a², the regularizer on the exponential neurons' output weights; shape (1).
pub fn exp_neuron_regularizer<const D: usize>(a: Tensor<D>, lambda: f64) -> Tensor<1> {
    a.square().sum().mul_scalar(lambda / 2.0)
}

/// One exponential neuron per output: f_k gets a_k·exp(w_kᵀx + b_k).
#[derive(Module, Debug)]
pub struct ExpNeurons {
    /// Input weights w, shape (inputs, outputs): column k is w_k.
    pub w: Param<Tensor<2>>,
    /// Biases b, shape (outputs).
    pub b: Param<Tensor<1>>,
    /// Output weights a, shape (outputs); 0 at initialization.
    pub a: Param<Tensor<1>>,
}

impl ExpNeurons {
    /// Neurons with a = 0, b = 0 and w drawn from N(0, `w_std`²) (the paper allows any w, b;
    /// with a = 0 the wrapped model starts equal to the original).
    pub fn new(
        inputs: usize,
        outputs: usize,
        w_std: f64,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Self {
        let zeros = |n: usize| {
            Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.0f32; n], [n]),
                device,
            ))
        };
        Self {
            w: normal([inputs, outputs], w_std, rng, device),
            b: zeros(outputs),
            a: zeros(outputs),
        }
    }

    /// Pre-activations wᵀx + b for a batch (batch, inputs), shape (batch, outputs).
    pub fn exponent(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.w.val()) + self.b.val().unsqueeze_dim(0)
    }

    /// The neurons' outputs a_k·exp(w_kᵀx + b_k) for a batch, shape (batch, outputs).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        exp_neuron_output(self.exponent(x), self.a.val().unsqueeze_dim(0))
    }

    /// (λ/2)·‖a‖²; shape (1).
    pub fn regularizer(&self, lambda: f64) -> Tensor<1> {
        exp_neuron_regularizer(self.a.val(), lambda)
    }

    /// The largest exponent over a batch (above [`EXPONENT_CAP`] means the cap was hit).
    pub fn max_exponent(&self, x: Tensor<2>) -> f32 {
        self.exponent(x).max().into_scalar::<f32>()
    }
}

/// A model with the exponential neurons added: f̃(x) = f(x) + a ⊙ exp(Wᵀx + b).
#[derive(Module, Debug)]
pub struct Eliminated<M> {
    /// The original model f.
    pub inner: M,
    /// The added neurons.
    pub neurons: ExpNeurons,
    /// The regularization strength λ > 0 on a.
    #[module(skip)]
    pub lambda: f64,
}

impl<M: FlatModel> Eliminated<M> {
    /// Wraps `inner` with neurons whose a = 0, so the wrapped model starts equal to `inner`.
    /// `inputs` and `outputs` are the flattened input size and the output size of `inner`.
    pub fn new(
        inner: M,
        inputs: usize,
        outputs: usize,
        lambda: f64,
        w_std: f64,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Self {
        Self {
            inner,
            neurons: ExpNeurons::new(inputs, outputs, w_std, rng, device),
            lambda,
        }
    }

    /// f̃(x) for a batch of flattened inputs.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.inner.forward_flat(x.clone()) + self.neurons.forward(x)
    }

    /// The term (λ/2)·‖a‖² to add to the loss; shape (1).
    pub fn regularizer(&self) -> Tensor<1> {
        self.neurons.regularizer(self.lambda)
    }

    /// The original model with the added neurons removed.
    pub fn into_inner(self) -> M {
        self.inner
    }
}

/// Half the mean squared error, Σ (out − target)² / (2·batch); shape (1).
pub fn half_squared_error(out: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let n = out.dims()[0].max(1) as f64;
    (out - target).square().sum().mul_scalar(0.5 / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dense, ElmanRnnConfig, MlpConfig};

    fn t2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    fn p1(v: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
        let n = v.len();
        Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), device))
    }

    /// f(x) = 0.5·x₁ − x₂ + 0.25 wrapped with w = (0.1, 0.2), b = −0.3, a = 2, λ = 0.5.
    fn hand_model(device: &Device) -> Eliminated<Mlp> {
        let inner = Mlp {
            layers: vec![Dense {
                weight: Param::from_tensor(t2(vec![0.5, -1.0], [2, 1], device)),
                bias: p1(vec![0.25], device),
            }],
            activation: crate::model::Activation::Relu,
        };
        Eliminated {
            inner,
            neurons: ExpNeurons {
                w: Param::from_tensor(t2(vec![0.1, 0.2], [2, 1], device)),
                b: p1(vec![-0.3], device),
                a: p1(vec![2.0], device),
            },
            lambda: 0.5,
        }
    }

    fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn output_and_gradient_match_hand_computation() {
        let device = Device::flex().autodiff();
        let m = hand_model(&device);
        let x = t2(vec![1.0, 2.0], [1, 2], &device);
        let y = t2(vec![1.0], [1, 1], &device);
        let out = m.forward(x.clone());
        // z = 0.1 + 0.4 − 0.3 = 0.2; f = 0.5 − 2 + 0.25 = −1.25; f̃ = −1.25 + 2·e^0.2.
        let ez = 0.2f64.exp();
        let want = -1.25 + 2.0 * ez;
        let got = f64::from(vec_of(out.clone())[0]);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let loss = half_squared_error(out, y) + m.regularizer();
        let grads = loss.backward();
        // L = ½ r² + ¼ a², r = f̃ − 1: ∂L/∂a = r e^z + λa, ∂L/∂w = r a e^z x, ∂L/∂b = r a e^z.
        let r = want - 1.0;
        let ga = f64::from(vec_of(m.neurons.a.val().grad(&grads).unwrap())[0]);
        assert!((ga - (r * ez + 0.5 * 2.0)).abs() < 1e-5, "da {ga}");
        let gb = f64::from(vec_of(m.neurons.b.val().grad(&grads).unwrap())[0]);
        assert!((gb - r * 2.0 * ez).abs() < 1e-5, "db {gb}");
        let gw = vec_of(m.neurons.w.val().grad(&grads).unwrap());
        for (i, xi) in [1.0, 2.0].into_iter().enumerate() {
            let want = r * 2.0 * ez * xi;
            assert!((f64::from(gw[i]) - want).abs() < 1e-5, "dw{i} {gw:?}");
        }
        // The inner model's gradient is the plain residual times its input.
        let gi = vec_of(m.inner.layers[0].weight.val().grad(&grads).unwrap());
        assert!((f64::from(gi[1]) - r * 2.0).abs() < 1e-5, "{gi:?}");
    }

    #[test]
    fn regularizer_gradient_is_lambda_a() {
        let device = Device::flex().autodiff();
        let a = Param::from_tensor(Tensor::<1>::from_data(
            TensorData::new(vec![1.5f32, -2.0, 0.0], [3]),
            &device,
        ));
        let r = exp_neuron_regularizer(a.val(), 0.3);
        // (0.3/2)(2.25 + 4) = 0.9375
        assert!((f64::from(r.clone().into_scalar::<f32>()) - 0.9375).abs() < 1e-6);
        let g = vec_of(a.val().grad(&r.backward()).unwrap());
        for (gi, ai) in g.iter().zip([1.5f32, -2.0, 0.0]) {
            assert!((gi - 0.3 * ai).abs() < 1e-6, "{g:?}");
        }
    }

    #[test]
    fn with_a_zero_the_wrapped_model_equals_the_original() {
        let device = Device::flex();
        let mut rng = SplitMix64::new(4);
        let mlp = MlpConfig::new()
            .with_hidden(vec![7])
            .init(3, 2, &mut rng, &device);
        let wrapped = Eliminated::new(mlp.clone(), 3, 2, 0.1, 1.0, &mut rng, &device);
        let x: Vec<f32> = (0..15).map(|_| rng.normal() as f32).collect();
        let x = t2(x, [5, 3], &device);
        let (a, b) = (vec_of(mlp.forward(x.clone())), vec_of(wrapped.forward(x)));
        assert_eq!(a.len(), b.len());
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-6, "{a:?} vs {b:?}");
        }
        // The same for the recurrent network (flattened sequences).
        let rnn = ElmanRnnConfig::new()
            .with_width(4)
            .init(2, 3, &mut rng, &device);
        let wrapped = Eliminated::new(rnn.clone(), 6, 9, 0.1, 1.0, &mut rng, &device);
        let x: Vec<f32> = (0..12).map(|_| rng.normal() as f32).collect();
        let x = t2(x, [2, 6], &device);
        let (a, b) = (
            vec_of(rnn.forward_flat(x.clone())),
            vec_of(wrapped.forward(x)),
        );
        assert_eq!(a.len(), 18);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn huge_inputs_give_a_finite_output() {
        let device = Device::flex();
        let mut m = hand_model(&device);
        m.neurons.a = p1(vec![1e-3], &device);
        let x = t2(vec![1e6, 1e6], [1, 2], &device);
        let out = vec_of(m.forward(x.clone()));
        assert!(out[0].is_finite(), "{out:?}");
        assert!(m.neurons.max_exponent(x) > EXPONENT_CAP);
    }
}
