//! The concept class that an Elman RNN provably learns with SGD (Allen-Zhu, Li, "Can SGD Learn
//! Recurrent Neural Networks with Provable Generalization?", NeurIPS 2019, §3): every output
//! token is a sum over **all** earlier positions of smooth two-layer networks, one network for
//! every (source, target) pair,
//!
//! y*_ℓ = s/√n_ℓ · Σ_{i = ℓ−n_ℓ+1}^{ℓ} Φ_{i→ℓ}(x_i),  Φ_{i→ℓ}(x) = Σ_{r=1}^{p} a_{i,ℓ,r} · φ(⟨w_{i,ℓ,r}, x⟩),
//!
//! with n_ℓ = ℓ (all earlier tokens, the paper's class) or min(window, ℓ) when a window is set,
//! inputs x_i uniform on the unit sphere of R^d, and φ(z) = sin(z) + cos(z) = √2·sin(z + π/4):
//! smooth, with an even part (cos) that no linear function of the inputs captures, so a linear
//! fit leaves a measurable share of the variance unexplained ([`RecurrentConcept::linear_unexplained`]).
//! The 1/√n_ℓ keeps every position's variance comparable; the scale s makes the variance at
//! the last position of a probe sequence 1. The weights of Φ_{i→ℓ} are drawn from (seed, i, ℓ),
//! so the concept for a length L is the restriction of the one for any longer length.
//!
//! A control outside the class ([`TargetKind::Parity`]): y_ℓ = Π_{i ≤ ℓ} sign(x_{i,1}), the
//! parity of the signs of all earlier tokens' first coordinates, which no sum of functions of
//! single tokens represents.
//!
//! A control that needs exponentially many samples ([`TargetKind::Lookup`]): the output at the
//! last position L is g_L(sign x_{1,1}, …, sign x_{L,1}) with g_L a random balanced ±1 table of
//! the 2^L sign patterns (drawn from the seed and L, for L ≤ [`LOOKUP_MAX_LEN`]); every other
//! position's target is 0 and only the last position is scored. Any learner must see most of the
//! 2^L patterns to do better than chance on a random table, so the samples needed grow at least
//! like 2^L.

use crate::rng::{SplitMix64, derive_seed};
use burn::config::Config;
use serde::{Deserialize, Serialize};

/// Which target the sequences carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The paper's concept class.
    #[default]
    Concept,
    /// The parity control (outside the class).
    Parity,
    /// The random sign-pattern lookup control (last position only).
    Lookup,
}

/// The longest sequence for which [`TargetKind::Lookup`] tables are drawn.
pub const LOOKUP_MAX_LEN: usize = 16;

impl TargetKind {
    /// `concept` or `parity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Concept => "concept",
            Self::Parity => "parity",
            Self::Lookup => "lookup",
        }
    }

    /// Whether only the last position is scored (the lookup control) rather than 2..=L.
    pub fn last_only(self) -> bool {
        self == Self::Lookup
    }
}

/// Configuration of a [`RecurrentConcept`].
#[derive(Config, Debug, PartialEq)]
pub struct RecurrentConceptConfig {
    /// Input values per token d.
    #[config(default = 4)]
    pub inputs: usize,
    /// How many positions back (including the current one) contribute to an output; `None`
    /// (the paper's class) means all earlier positions.
    #[config(default = "None")]
    pub window: Option<usize>,
    /// Hidden units p of each smooth two-layer network Φ_{i→ℓ}.
    #[config(default = 4)]
    pub neurons: usize,
    /// Standard deviation of the inner weights w (⟨w, x⟩ ~ N(0, scale²) for a unit x; larger
    /// is less linear).
    #[config(default = 1.5)]
    pub weight_scale: f64,
}

/// A drawn concept: the weights of every (source, target, neuron) triple up to `max_len`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentConcept {
    inputs: usize,
    window: Option<usize>,
    neurons: usize,
    max_len: usize,
    /// Inner weights, [pair][neuron][input]; pair (i, ℓ) (0-based, i ≤ ℓ) is ℓ(ℓ+1)/2 + i.
    w: Vec<f32>,
    /// Outer weights, [pair][neuron].
    a: Vec<f32>,
    /// Multiplies the raw target so that its variance at the last position is 1.
    scale: f32,
    /// The lookup tables g_L (±1, balanced), for L = 1..=min(max_len, [`LOOKUP_MAX_LEN`]);
    /// pattern bit i is set when token i's first coordinate is negative.
    lookup: Vec<Vec<f32>>,
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

fn pair(i: usize, l: usize) -> usize {
    l * (l + 1) / 2 + i
}

/// φ(z) = sin z + cos z.
fn phi(z: f64) -> f64 {
    z.sin() + z.cos()
}

impl RecurrentConceptConfig {
    /// Draws the concept from `seed` for sequences up to `max_len` tokens; its scale is fixed on
    /// 4096 probe sequences of length `max_len` so that the last position has unit variance.
    pub fn init(&self, seed: u64, max_len: usize) -> RecurrentConcept {
        let (d, p, max_len) = (self.inputs.max(1), self.neurons.max(1), max_len.max(1));
        let pairs = pair(0, max_len);
        let mut w = Vec::with_capacity(pairs * p * d);
        let mut a = Vec::with_capacity(pairs * p);
        for l in 0..max_len {
            for i in 0..=l {
                let mut rng = SplitMix64::new(derive_seed(
                    seed,
                    &format!("recurrent concept pair {i}->{l}"),
                ));
                w.extend((0..p * d).map(|_| (rng.normal() * self.weight_scale) as f32));
                a.extend((0..p).map(|_| rng.normal() as f32));
            }
        }
        let lookup = (1..=max_len.min(LOOKUP_MAX_LEN))
            .map(|l| {
                let size = 1usize << l;
                let mut table: Vec<f32> = (0..size)
                    .map(|k| if k < size / 2 { 1.0 } else { -1.0 })
                    .collect();
                SplitMix64::new(derive_seed(seed, &format!("lookup table L={l}")))
                    .shuffle(&mut table);
                table
            })
            .collect();
        let mut concept = RecurrentConcept {
            inputs: d,
            window: self.window,
            neurons: p,
            max_len,
            w,
            a,
            scale: 1.0,
            lookup,
        };
        let probe = concept.sample(4096, max_len, TargetKind::Concept, seed ^ 0x5ca1e);
        let last: Vec<f64> = probe
            .y
            .chunks_exact(max_len)
            .map(|row| f64::from(row[max_len - 1]))
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

    /// The longest sequence the concept is drawn for.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The targets of one sequence of `seq_len` tokens (`x` holds seq_len·d values).
    pub fn target(&self, x: &[f32], seq_len: usize, kind: TargetKind) -> Vec<f32> {
        match kind {
            TargetKind::Concept => self.concept_target(x, seq_len),
            TargetKind::Parity => {
                let d = self.inputs;
                let mut sign = 1.0f32;
                (0..seq_len)
                    .map(|l| {
                        if x[l * d] < 0.0 {
                            sign = -sign;
                        }
                        sign
                    })
                    .collect()
            }
            TargetKind::Lookup => {
                let d = self.inputs;
                let mut y = vec![0.0f32; seq_len];
                if let Some(table) = seq_len.checked_sub(1).and_then(|i| self.lookup.get(i)) {
                    let pattern = (0..seq_len)
                        .filter(|&i| x[i * d] < 0.0)
                        .fold(0usize, |k, i| k | (1 << i));
                    y[seq_len - 1] = table[pattern];
                }
                y
            }
        }
    }

    fn concept_target(&self, x: &[f32], seq_len: usize) -> Vec<f32> {
        let (d, p) = (self.inputs, self.neurons);
        let seq_len = seq_len.min(self.max_len);
        (0..seq_len)
            .map(|l| {
                let terms = self.window.map_or(l + 1, |k| k.min(l + 1));
                let mut y = 0.0f64;
                for i in l + 1 - terms..=l {
                    let token = &x[i * d..(i + 1) * d];
                    let base = pair(i, l) * p;
                    for r in 0..p {
                        let w = &self.w[(base + r) * d..(base + r + 1) * d];
                        let z: f64 = w
                            .iter()
                            .zip(token)
                            .map(|(&wi, &xi)| f64::from(wi) * f64::from(xi))
                            .sum();
                        y += f64::from(self.a[base + r]) * phi(z);
                    }
                }
                (y * f64::from(self.scale) / (terms as f64).sqrt()) as f32
            })
            .collect()
    }

    /// `n` sequences of length `seq_len` (at most [`Self::max_len`]) with unit-norm tokens drawn
    /// from `seed`, and their targets of `kind`.
    pub fn sample(&self, n: usize, seq_len: usize, kind: TargetKind, seed: u64) -> SequenceData {
        let seq_len = seq_len.min(self.max_len);
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
            y.extend(self.target(&x[start..], seq_len, kind));
        }
        SequenceData {
            n,
            seq_len,
            inputs: d,
            x,
            y,
        }
    }

    /// The share of the target's variance that the best linear function of all inputs up to
    /// each position leaves unexplained, averaged over the scored positions (2..=L, or the last
    /// only for [`TargetKind::Lookup`]; least squares on `n` sequences from `seed`, scored on
    /// `n` more).
    pub fn linear_unexplained(&self, seq_len: usize, kind: TargetKind, n: usize, seed: u64) -> f64 {
        let train = self.sample(n, seq_len, kind, derive_seed(seed, "linear fit"));
        let test = self.sample(n, seq_len, kind, derive_seed(seed, "linear check"));
        let d = self.inputs;
        let l_max = train.seq_len;
        let mut shares = Vec::new();
        let first = if kind.last_only() {
            l_max - 1
        } else {
            1.min(l_max - 1)
        };
        for l in first..l_max {
            let k = (l + 1) * d + 1;
            let features = |data: &SequenceData, s: usize| -> Vec<f64> {
                let row = &data.x[s * l_max * d..s * l_max * d + (l + 1) * d];
                row.iter().map(|&v| f64::from(v)).chain([1.0]).collect()
            };
            let mut xtx = vec![0.0; k * k];
            let mut xty = vec![0.0; k];
            for s in 0..train.n {
                let f = features(&train, s);
                let y = f64::from(train.y[s * l_max + l]);
                for r in 0..k {
                    xty[r] += f[r] * y;
                    for c in 0..k {
                        xtx[r * k + c] += f[r] * f[c];
                    }
                }
            }
            for r in 0..k {
                xtx[r * k + r] += 1e-6 * train.n as f64;
            }
            let beta = solve(xtx, xty, k);
            let (mut sse, mut ys) = (0.0, Vec::with_capacity(test.n));
            for s in 0..test.n {
                let f = features(&test, s);
                let y = f64::from(test.y[s * l_max + l]);
                let pred: f64 = f.iter().zip(&beta).map(|(a, b)| a * b).sum();
                sse += (y - pred).powi(2);
                ys.push(y);
            }
            let mean = ys.iter().sum::<f64>() / ys.len().max(1) as f64;
            let sst: f64 = ys.iter().map(|y| (y - mean).powi(2)).sum();
            if sst > 0.0 {
                shares.push((sse / sst).min(1.0));
            }
        }
        shares.iter().sum::<f64>() / shares.len().max(1) as f64
    }
}

/// Solves the symmetric positive definite system `a x = b` (k × k, row-major) by Gaussian
/// elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, k: usize) -> Vec<f64> {
    for col in 0..k {
        let piv = (col..k)
            .max_by(|&i, &j| a[i * k + col].abs().total_cmp(&a[j * k + col].abs()))
            .unwrap_or(col);
        if piv != col {
            for c in 0..k {
                a.swap(col * k + c, piv * k + c);
            }
            b.swap(col, piv);
        }
        let d = a[col * k + col];
        if d.abs() < 1e-300 {
            continue;
        }
        for r in col + 1..k {
            let f = a[r * k + col] / d;
            if f != 0.0 {
                for c in col..k {
                    a[r * k + c] -= f * a[col * k + c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; k];
    for r in (0..k).rev() {
        let s: f64 = (r + 1..k).map(|c| a[r * k + c] * x[c]).sum();
        let d = a[r * k + r];
        x[r] = if d.abs() < 1e-300 {
            0.0
        } else {
            (b[r] - s) / d
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_the_generator() {
        let concept = RecurrentConceptConfig::new().init(1, 6);
        let data = concept.sample(2000, 6, TargetKind::Concept, 2);
        // Tokens have unit norm.
        for token in data.x.chunks_exact(4) {
            let n: f32 = token.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4, "{n}");
        }
        // The last position has unit variance (margin 0.1 on 2000 draws: the standard error of
        // a variance estimate is about sqrt(2/2000) = 3%).
        let last: Vec<f64> = data.y.chunks_exact(6).map(|r| f64::from(r[5])).collect();
        let mean = last.iter().sum::<f64>() / 2000.0;
        let var = last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2000.0;
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
    }

    #[test]
    fn every_output_depends_on_every_earlier_token_with_its_own_network() {
        let concept = RecurrentConceptConfig::new().init(3, 5);
        let data = concept.sample(1, 5, TargetKind::Concept, 4);
        let mut x = data.x.clone();
        // Change token 1: outputs 1..5 change, output 0 does not.
        for v in &mut x[4..8] {
            *v = -*v;
        }
        let y = concept.target(&x, 5, TargetKind::Concept);
        for (l, (a, b)) in data.y.iter().zip(&y).enumerate() {
            let changed = (a - b).abs() > 1e-6;
            assert_eq!(changed, l >= 1, "position {l}: {a} vs {b}");
        }
        // Different (source, target) pairs have different weights.
        let p = 4 * 4;
        assert_ne!(
            concept.w[pair(0, 1) * p..][..p],
            concept.w[pair(0, 2) * p..][..p]
        );
        // A window limits the dependence.
        let windowed = RecurrentConceptConfig::new()
            .with_window(Some(2))
            .init(3, 5);
        let d0 = windowed.sample(1, 5, TargetKind::Concept, 4);
        let y = windowed.target(&x, 5, TargetKind::Concept);
        for (l, (a, b)) in d0.y.iter().zip(&y).enumerate() {
            let changed = (a - b).abs() > 1e-6;
            assert_eq!(changed, l == 1 || l == 2, "position {l}: {a} vs {b}");
        }
    }

    #[test]
    fn prefixes_agree_and_parity_is_a_product_of_signs() {
        let long = RecurrentConceptConfig::new().init(7, 8);
        let short = RecurrentConceptConfig::new().init(7, 4);
        let x = long.sample(1, 8, TargetKind::Concept, 1).x;
        let (yl, ys) = (
            long.target(&x, 4, TargetKind::Concept),
            short.target(&x[..16], 4, TargetKind::Concept),
        );
        // Same weights, different scales (fixed at each max length): proportional outputs.
        let ratio = yl[3] / ys[3];
        for (a, b) in yl.iter().zip(&ys) {
            assert!((a - ratio * b).abs() < 1e-4, "{yl:?} {ys:?}");
        }
        let p = long.target(&x, 8, TargetKind::Parity);
        let mut s = 1.0;
        for l in 0..8 {
            s *= x[l * 4].signum();
            assert_eq!(p[l], s);
        }
    }

    #[test]
    fn a_linear_fit_leaves_the_even_part_unexplained() {
        let c = RecurrentConceptConfig::new().init(2, 4);
        let share = c.linear_unexplained(4, TargetKind::Concept, 2000, 9);
        assert!(share > 0.2 && share < 0.95, "{share}");
        // A purely linear target (weight scale → 0 makes φ ≈ 1 + z) is explained.
        let lin = RecurrentConceptConfig::new()
            .with_weight_scale(1e-3)
            .init(2, 4);
        let share = lin.linear_unexplained(4, TargetKind::Concept, 2000, 9);
        assert!(share < 0.05, "{share}");
        let parity = c.linear_unexplained(4, TargetKind::Parity, 2000, 9);
        assert!(parity > 0.8, "{parity}");
    }

    #[test]
    fn the_lookup_control_is_a_balanced_table_of_sign_patterns_at_the_last_position() {
        let c = RecurrentConceptConfig::new().init(5, 6);
        for l in 1..=6 {
            let table = &c.lookup[l - 1];
            assert_eq!(table.len(), 1 << l);
            assert_eq!(table.iter().sum::<f32>(), 0.0);
        }
        let data = c.sample(200, 6, TargetKind::Lookup, 3);
        for (s, row) in data.y.chunks_exact(6).enumerate() {
            assert!(row[..5].iter().all(|&v| v == 0.0));
            let x = &data.x[s * 24..(s + 1) * 24];
            let k = (0..6)
                .filter(|&i| x[i * 4] < 0.0)
                .fold(0, |k, i| k | (1 << i));
            assert_eq!(row[5], c.lookup[5][k]);
            // Flipping a token's sign pattern away from its first coordinate keeps the target.
            let mut x2 = x.to_vec();
            x2[1] = -x2[1];
            assert_eq!(c.target(&x2, 6, TargetKind::Lookup)[5], row[5]);
        }
        // Far from linear at L = 6 (a random table of 64 patterns).
        let share = c.linear_unexplained(6, TargetKind::Lookup, 2000, 9);
        assert!(share > 0.5, "{share}");
    }
}
