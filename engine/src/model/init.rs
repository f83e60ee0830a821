//! Parameter initialization drawn on the CPU from the run's seed, so that every backend starts
//! from exactly the same weights.

use crate::rng::SplitMix64;
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

/// PyTorch's default for linear and convolution layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
/// weights and biases alike (kaiming_uniform with a = sqrt(5)).
pub fn uniform_fan_in<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    rng: &mut SplitMix64,
    device: &Device,
) -> Param<Tensor<D>> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| (2.0 * rng.next_f32() - 1.0) * bound)
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// Gaussian N(0, std²) values.
pub fn normal<const D: usize>(
    shape: [usize; D],
    std: f64,
    rng: &mut SplitMix64,
    device: &Device,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}
