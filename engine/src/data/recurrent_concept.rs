//! The concept class that an Elman RNN provably learns with SGD (Allen-Zhu, Li, "Can SGD Learn
//! Recurrent Neural Networks with Provable Generalization?", NeurIPS 2019, §3): every output
//! token is a sum over earlier positions of smooth two-layer networks of the inputs,
//!
//! y*_ℓ = Σ_{j=0}^{min(window, ℓ)−1} Σ_{r=1}^{p} a_{j,r} · tanh(⟨w_{j,r}, x_{ℓ−j}⟩),
//!
//! with inputs x_ℓ uniform on the unit sphere of R^d ("inputs normalized"). The target is
//! rescaled so that its variance (over positions and inputs) is 1. The concept is drawn from a
//! seed; train and test sets are drawn independently from their own seeds.

use crate::rng::SplitMix64;
use burn::config::Config;

/// Configuration of a [`RecurrentConcept`].
#[derive(Config, Debug, PartialEq)]
pub struct RecurrentConceptConfig {
    /// Input values per token d.
    #[config(default = 8)]
    pub inputs: usize,
    /// How many positions back (including the current one) contribute to an output.
    #[config(default = 3)]
    pub window: usize,
    /// Hidden units p of each smooth two-layer network.
    #[config(default = 4)]
    pub neurons: usize,
    /// Scale of the inner weights w (larger is less linear).
    #[config(default = 1.5)]
    pub weight_scale: f64,
}

/// A drawn concept: the weights of every (lag, neuron) pair and the output scale.
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentConcept {
    inputs: usize,
    window: usize,
    neurons: usize,
    /// Inner weights, [lag][neuron][input].
    w: Vec<f32>,
    /// Outer weights, [lag][neuron].
    a: Vec<f32>,
    /// Multiplies the raw target so that its variance is 1.
    scale: f32,
}

/// Sequences and their targets: `x` is (n, L, d) and `y` is (n, L) row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceData {
    /// Number of sequences.
    pub n: usize,
    /// Sequence length L.
    pub seq_len: usize,
    /// Input values per token d.
    pub inputs: usize,
    /// Inputs, n·L·d values.
    pub x: Vec<f32>,
    /// Targets, n·L values (one output per position).
    pub y: Vec<f32>,
}

impl SequenceData {
    /// The variance of the targets over all sequences and positions.
    pub fn target_variance(&self) -> f64 {
        let n = self.y.len().max(1) as f64;
        let mean = self.y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        self.y
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n
    }

    /// The first `count` sequences.
    pub fn take(&self, count: usize) -> Self {
        let count = count.min(self.n);
        let per_x = self.seq_len * self.inputs;
        Self {
            n: count,
            seq_len: self.seq_len,
            inputs: self.inputs,
            x: self.x[..count * per_x].to_vec(),
            y: self.y[..count * self.seq_len].to_vec(),
        }
    }
}

impl RecurrentConceptConfig {
    /// Draws the concept from `seed`; its scale is fixed on 4096 sequences of length `window`
    /// so that the target at positions ℓ ≥ window has unit variance.
    pub fn init(&self, seed: u64) -> RecurrentConcept {
        let mut rng = SplitMix64::for_purpose(seed, "recurrent concept");
        let (d, k, p) = (self.inputs.max(1), self.window.max(1), self.neurons.max(1));
        let w_std = self.weight_scale; // ⟨w, x⟩ ~ N(0, scale²) for unit x
        let w = (0..k * p * d)
            .map(|_| (rng.normal() * w_std) as f32)
            .collect();
        let a = (0..k * p).map(|_| rng.normal() as f32).collect();
        let mut concept = RecurrentConcept {
            inputs: d,
            window: k,
            neurons: p,
            w,
            a,
            scale: 1.0,
        };
        let probe = concept.sample(4096, k, seed ^ 0x5ca1e);
        let last: Vec<f64> = probe
            .y
            .chunks_exact(k)
            .map(|row| f64::from(row[k - 1]))
            .collect();
        let mean = last.iter().sum::<f64>() / last.len() as f64;
        let var = last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / last.len() as f64;
        concept.scale = (1.0 / var.max(1e-12).sqrt()) as f32;
        concept
    }
}

impl RecurrentConcept {
    /// Input values per token.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The targets of one sequence of `seq_len` tokens (`x` holds seq_len·d values).
    pub fn target(&self, x: &[f32], seq_len: usize) -> Vec<f32> {
        let (d, p) = (self.inputs, self.neurons);
        (0..seq_len)
            .map(|l| {
                let mut y = 0.0f64;
                for j in 0..self.window.min(l + 1) {
                    let token = &x[(l - j) * d..(l - j + 1) * d];
                    for r in 0..p {
                        let w = &self.w[(j * p + r) * d..(j * p + r + 1) * d];
                        let z: f64 = w
                            .iter()
                            .zip(token)
                            .map(|(&wi, &xi)| f64::from(wi) * f64::from(xi))
                            .sum();
                        y += f64::from(self.a[j * p + r]) * z.tanh();
                    }
                }
                (y * f64::from(self.scale)) as f32
            })
            .collect()
    }

    /// `n` sequences of length `seq_len` with unit-norm tokens drawn from `seed`, and targets.
    pub fn sample(&self, n: usize, seq_len: usize, seed: u64) -> SequenceData {
        let mut rng = SplitMix64::for_purpose(seed, "recurrent concept inputs");
        let d = self.inputs;
        let mut x = Vec::with_capacity(n * seq_len * d);
        let mut y = Vec::with_capacity(n * seq_len);
        for _ in 0..n {
            let start = x.len();
            for _ in 0..seq_len {
                let token: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                let norm = token.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                x.extend(token.iter().map(|v| (v / norm) as f32));
            }
            y.extend(self.target(&x[start..], seq_len));
        }
        SequenceData {
            n,
            seq_len,
            inputs: d,
            x,
            y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_the_generator() {
        let concept = RecurrentConceptConfig::new().init(1);
        let data = concept.sample(2000, 6, 2);
        // Tokens have unit norm.
        for token in data.x.chunks_exact(8) {
            let n: f32 = token.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4, "{n}");
        }
        // Positions at or past the window have unit variance and mean near 0 (4% margin on
        // 2000 draws: the standard error of a variance estimate is about sqrt(2/2000) = 3%).
        let last: Vec<f64> = data.y.chunks_exact(6).map(|r| f64::from(r[5])).collect();
        let mean = last.iter().sum::<f64>() / 2000.0;
        let var = last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2000.0;
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
        assert!(mean.abs() < 0.1, "mean {mean}");
        // The first position sees one token only, so it varies less.
        let first: Vec<f64> = data.y.chunks_exact(6).map(|r| f64::from(r[0])).collect();
        let v0 = first.iter().map(|v| v * v).sum::<f64>() / 2000.0;
        assert!(v0 < 0.8 * var, "{v0} vs {var}");
    }

    #[test]
    fn outputs_depend_only_on_the_window() {
        let concept = RecurrentConceptConfig::new().with_window(2).init(3);
        let data = concept.sample(1, 5, 4);
        let mut x = data.x.clone();
        // Change token 1: outputs 1 and 2 change, 0, 3, 4 do not.
        for v in &mut x[8..16] {
            *v = -*v;
        }
        let y = concept.target(&x, 5);
        for (l, (a, b)) in data.y.iter().zip(&y).enumerate() {
            let changed = (a - b).abs() > 1e-6;
            assert_eq!(changed, l == 1 || l == 2, "position {l}: {a} vs {b}");
        }
    }

    #[test]
    fn seeded_and_independent_sets() {
        let concept = RecurrentConceptConfig::new().init(5);
        let a = concept.sample(10, 4, 100);
        assert_eq!(a, concept.sample(10, 4, 100));
        let b = concept.sample(10, 4, 101);
        assert_ne!(a.x, b.x);
        assert_eq!(a.take(3).y, a.y[..12].to_vec());
    }
}
