//! Step-noise models for particle SGD, each drawn from the counter-based generator so that the
//! Rust reference and the WGSL kernel (`shaders/src/common.wgsl`, `noise`) produce the same draws.
//!
//! - Gaussian and uniform-ball noise: the smoothing kernels of Kleinberg, Li, Yuan (ICML 2018).
//! - Symmetric Pareto (Lomax, `sign · (U^{-1/α} − 1)`, regularly varying with index α) and
//!   symmetric α-stable (Chambers, Mallows, Stuck 1976, β = 0): the heavy-tailed noise of Wang,
//!   Oh, Rhee, "Eliminating Sharp Minima from SGD with Truncated Heavy-tailed Noise" (2021).

use super::counter_rng::CounterRng;
use super::fastmath::pow_unit;
use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

/// The distribution of the noise added to each gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// No noise (gradient descent).
    None,
    /// Independent N(0, σ²) per coordinate.
    #[default]
    Gaussian,
    /// Uniform in the ball of radius σ.
    UniformBall,
    /// σ times an independent symmetric Lomax draw per coordinate, tail index α (> 1 here, so the
    /// mean exists).
    Pareto,
    /// σ times an independent standard symmetric α-stable draw per coordinate, α in (0, 2].
    Stable,
}

impl NoiseKind {
    /// The code the WGSL kernels use.
    pub fn code(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Gaussian => 1,
            Self::UniformBall => 2,
            Self::Pareto => 3,
            Self::Stable => 4,
        }
    }

    /// Short name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gaussian => "gaussian",
            Self::UniformBall => "uniform-ball",
            Self::Pareto => "pareto",
            Self::Stable => "stable",
        }
    }
}

/// A noise model: kind, scale σ and tail index α (used by the heavy-tailed kinds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// The distribution.
    pub kind: NoiseKind,
    /// Scale σ (standard deviation per coordinate for Gaussian, radius for the ball).
    pub sigma: f32,
    /// Tail index α (Pareto: > 1; stable: in (0, 2]); ignored by the other kinds.
    pub alpha: f32,
}

impl Noise {
    /// No noise.
    pub const NONE: Self = Self {
        kind: NoiseKind::None,
        sigma: 0.0,
        alpha: 2.0,
    };

    /// A noise model of `kind` with scale `sigma` and tail index `alpha`.
    pub fn new(kind: NoiseKind, sigma: f32, alpha: f32) -> Self {
        Self { kind, sigma, alpha }
    }

    /// Checks σ and α; errors name `field.sigma` / `field.alpha` and the accepted range.
    pub fn validate(&self, field: &str) -> Result<()> {
        check::non_negative(&format!("{field}.sigma"), f64::from(self.sigma))?;
        let alpha = format!("{field}.alpha");
        match self.kind {
            NoiseKind::Pareto if !(self.alpha > 1.0 && self.alpha.is_finite()) => {
                Err(check::expected(
                    &alpha,
                    "a tail index in (1, inf) (Pareto noise needs a mean)",
                    &self.alpha.to_string(),
                ))
            }
            NoiseKind::Stable => check::range_open_low(&alpha, f64::from(self.alpha), 0.0, 2.0),
            _ => Ok(()),
        }
    }

    /// The noise vector for one step (`y` is 0 when `dim == 1`), as the kernel draws it.
    #[inline]
    pub fn sample(&self, r: &CounterRng, dim: u32) -> [f32; 2] {
        let mut z = [0.0f32, 0.0];
        match self.kind {
            NoiseKind::None => {}
            NoiseKind::Gaussian => {
                let rad = (-2.0 * r.unit(0).ln()).sqrt();
                let th = TAU * r.unit(1);
                z = [rad * th.cos(), rad * th.sin()];
            }
            NoiseKind::UniformBall => {
                if dim == 1 {
                    z = [2.0 * r.unit(0) - 1.0, 0.0];
                } else {
                    let rad = r.unit(0).sqrt();
                    let th = TAU * r.unit(1);
                    z = [rad * th.cos(), rad * th.sin()];
                }
            }
            NoiseKind::Pareto => {
                z = [pareto_draw(r, 0, self.alpha), pareto_draw(r, 2, self.alpha)];
            }
            NoiseKind::Stable => {
                z = [stable_draw(r, 0, self.alpha), stable_draw(r, 2, self.alpha)];
            }
        }
        if dim == 1 {
            z[1] = 0.0;
        }
        [self.sigma * z[0], self.sigma * z[1]]
    }
}

/// One symmetric Lomax draw `± (U^{-1/α} − 1)`; the power is [`pow_unit`] (within 3e-7 of
/// `powf`), the function the vectorized stepper uses, so both give the same bits.
#[inline]
fn pareto_draw(r: &CounterRng, draw: u32, alpha: f32) -> f32 {
    let m = pow_unit(r.unit(draw), -1.0 / alpha) - 1.0;
    if r.unit(draw + 1) < 0.5 { -m } else { m }
}

/// One standard symmetric α-stable draw by Chambers–Mallows–Stuck.
#[inline]
fn stable_draw(r: &CounterRng, draw: u32, alpha: f32) -> f32 {
    let v = PI * (r.unit(draw) - 0.5);
    let w = -r.unit(draw + 1).ln();
    if (alpha - 1.0).abs() < 1e-6 {
        return v.tan();
    }
    let cv = v.cos().max(1e-30);
    let a = (alpha * v).sin() / cv.powf(1.0 / alpha);
    let b = ((v - alpha * v).cos().max(1e-30) / w).powf((1.0 - alpha) / alpha);
    a * b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(noise: Noise, n: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                noise.sample(
                    &CounterRng {
                        seed: 11,
                        particle: i,
                        step: 0,
                    },
                    2,
                )[0]
            })
            .collect()
    }

    #[test]
    fn gaussian_has_unit_variance_times_sigma_squared() {
        let xs = draws(Noise::new(NoiseKind::Gaussian, 2.0, 2.0), 100_000);
        let m = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(m.abs() < 0.03, "mean {m}");
        assert!((v - 4.0).abs() < 0.08, "variance {v}");
    }

    #[test]
    fn ball_stays_in_the_ball() {
        let n = Noise::new(NoiseKind::UniformBall, 0.5, 2.0);
        for i in 0..10_000 {
            let z = n.sample(
                &CounterRng {
                    seed: 1,
                    particle: i,
                    step: 2,
                },
                2,
            );
            assert!(z[0].hypot(z[1]) <= 0.5 + 1e-6);
        }
    }

    #[test]
    fn pareto_tail_has_index_alpha() {
        // P(|Z| > t) = (1 + t)^{-alpha}: at t = 9 and alpha = 1.5 that is 10^{-1.5} = 0.0316.
        let xs = draws(Noise::new(NoiseKind::Pareto, 1.0, 1.5), 200_000);
        let p = xs.iter().filter(|x| x.abs() > 9.0).count() as f64 / xs.len() as f64;
        assert!((p - 0.031_62).abs() < 0.002, "tail {p}");
        let neg = xs.iter().filter(|&&x| x < 0.0).count() as f64 / xs.len() as f64;
        assert!((neg - 0.5).abs() < 0.01);
    }

    #[test]
    fn stable_with_alpha_two_is_gaussian_with_variance_two() {
        // S(2) = N(0, 2) in the standard parametrization.
        let xs = draws(Noise::new(NoiseKind::Stable, 1.0, 2.0), 100_000);
        let v = xs.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!((v - 2.0).abs() < 0.06, "variance {v}");
        // alpha = 1 is Cauchy: P(|Z| > 1) = 1/2.
        let xs = draws(Noise::new(NoiseKind::Stable, 1.0, 1.0), 100_000);
        let p = xs.iter().filter(|x| x.abs() > 1.0).count() as f64 / xs.len() as f64;
        assert!((p - 0.5).abs() < 0.01, "cauchy {p}");
    }

    #[test]
    fn bad_alpha_is_rejected_with_the_range() {
        let e = Noise::new(NoiseKind::Pareto, 1.0, 1.0)
            .validate("noise")
            .unwrap_err();
        assert!(e.to_string().contains("noise.alpha") && e.to_string().contains("(1, inf)"));
        let e = Noise::new(NoiseKind::Stable, 1.0, 2.5)
            .validate("n")
            .unwrap_err();
        assert!(e.to_string().contains("(0, 2]"));
        assert!(
            Noise::new(NoiseKind::Stable, 1.0, 2.0)
                .validate("n")
                .is_ok()
        );
        assert!(
            Noise::new(NoiseKind::Gaussian, -1.0, 2.0)
                .validate("n")
                .is_err()
        );
    }
}
