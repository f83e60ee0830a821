//! The smoothed landscape `g(y) = E_ω f(y − η ω)` that SGD's auxiliary sequence
//! `y_t = x_t − η∇f(x_t)` follows in expectation (Kleinberg, Li, Yuan, "An Alternative View:
//! When Does SGD Escape Local Minima?", ICML 2018, Section 3).
//!
//! Three evaluations: a closed form for the ripple bowl under Gaussian noise (a quadratic gains
//! `a η²σ² d / 2`, each cosine is damped by `e^{−ω²η²σ²/2}`), quadrature in one dimension for
//! Gaussian and uniform-ball kernels, and Monte Carlo with common random numbers from the
//! counter-based generator for any kernel, including the heavy-tailed step noise;
//! [`smooth_grid_cpu`] is the reference of the WGSL kernel `smooth_grid.wgsl`.

use super::counter_rng::CounterRng;
use super::noise::{Noise, NoiseKind};
use super::surface::{Landscape, PackedLandscape};
use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A regular grid on a line (`ny = 1`, `y = y0`) or in the plane.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Points along x.
    pub nx: u32,
    /// Points along y (1 on a line).
    pub ny: u32,
    /// x range, endpoints included.
    pub x: (f32, f32),
    /// y range, endpoints included.
    pub y: (f32, f32),
}

impl Grid {
    /// A line grid of `n` points on `[a, b]`.
    pub fn line(n: u32, a: f32, b: f32) -> Self {
        Self {
            nx: n,
            ny: 1,
            x: (a, b),
            y: (0.0, 0.0),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.nx as usize * self.ny as usize
    }

    /// Whether the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The coordinates of point `i` (row-major, x fastest), exactly as the kernel computes them.
    pub fn point(&self, i: usize) -> [f32; 2] {
        let i = i as u32;
        [
            grid_coord(i % self.nx, self.nx, self.x.0, self.x.1),
            grid_coord(i / self.nx, self.ny, self.y.0, self.y.1),
        ]
    }
}

fn grid_coord(k: u32, n: u32, a: f32, b: f32) -> f32 {
    if n <= 1 {
        a
    } else {
        a + (b - a) * (k as f32 / (n - 1) as f32)
    }
}

/// How to smooth: the step noise, the learning rate η and the Monte Carlo sample count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Smoothing {
    /// The noise ω.
    pub noise: Noise,
    /// The learning rate η (the kernel's scale is η σ).
    pub lr: f32,
    /// Monte Carlo samples per point.
    pub samples: u32,
    /// Seed of the common random numbers.
    pub seed: u64,
}

/// The largest grid either path evaluates (points × samples), to bound work and memory.
pub const MAX_GRID_WORK: u64 = 1 << 34;

impl Smoothing {
    /// Checks the parameters against a grid; errors name the field and the range.
    pub fn validate(&self, grid: &Grid, field: &str) -> Result<()> {
        self.noise.validate(&format!("{field}.noise"))?;
        check::positive(&format!("{field}.lr"), f64::from(self.lr))?;
        check::count(
            &format!("{field}.samples"),
            self.samples as usize,
            1,
            1 << 20,
        )?;
        check::count(&format!("{field}.grid"), grid.len(), 1, usize::MAX)?;
        let work = grid.len() as u64 * u64::from(self.samples);
        if work > MAX_GRID_WORK {
            return Err(check::expected(
                &format!("{field}.grid"),
                "points x samples at most 2^34",
                &work.to_string(),
            ));
        }
        Ok(())
    }
}

/// `g(y)` by Monte Carlo with common random numbers (sample `s` draws with particle 0, step `s`).
pub fn smoothed_mc(land: &PackedLandscape, s: &Smoothing, dim: u32, y: [f32; 2]) -> f32 {
    let mut acc = 0.0f32;
    for k in 0..s.samples {
        let r = CounterRng {
            seed: s.seed,
            particle: 0,
            step: k,
        };
        let z = s.noise.sample(&r, dim);
        acc += land.value([y[0] - s.lr * z[0], y[1] - s.lr * z[1]]);
    }
    acc / s.samples.max(1) as f32
}

/// `g(y)` in one dimension by the midpoint rule over the kernel's density (Gaussian: ±8 standard
/// deviations; uniform ball: the interval), `n` nodes. `None` for other kernels or in 2-D.
pub fn smoothed_quadrature_1d(
    land: &PackedLandscape,
    noise: &Noise,
    lr: f32,
    y: f64,
    n: usize,
) -> Option<f64> {
    let s = f64::from(lr) * f64::from(noise.sigma);
    let (lo, hi, density): (f64, f64, Box<dyn Fn(f64) -> f64>) = match noise.kind {
        NoiseKind::None => return Some(f64::from(land.value([y as f32, 0.0]))),
        NoiseKind::Gaussian => (
            -8.0 * s,
            8.0 * s,
            Box::new(move |t: f64| {
                (-0.5 * (t / s).powi(2)).exp() / (s * (std::f64::consts::TAU).sqrt())
            }),
        ),
        NoiseKind::UniformBall => (-s, s, Box::new(move |_| 0.5 / s)),
        _ => return None,
    };
    if s == 0.0 {
        return Some(f64::from(land.value([y as f32, 0.0])));
    }
    let h = (hi - lo) / n as f64;
    let mut acc = 0.0;
    for k in 0..n {
        let t = lo + (k as f64 + 0.5) * h;
        acc += density(t) * f64::from(land.value([(y - t) as f32, 0.0])) * h;
    }
    Some(acc)
}

/// The closed form of `g` for a ripple bowl under Gaussian noise of scale σ:
/// `a/2 (‖y‖² + d η²σ²) + amp Σ (1 − cos(ω yᵢ) e^{−ω²η²σ²/2})`. `None` for other cases.
pub fn smoothed_closed_form(land: &Landscape, noise: &Noise, lr: f32, y: [f64; 2]) -> Option<f64> {
    match (land, noise.kind) {
        (Landscape::Ripple { dim, a, amp, omega }, NoiseKind::Gaussian) => {
            let s2 = (f64::from(lr) * f64::from(noise.sigma)).powi(2);
            let (a, amp, w) = (f64::from(*a), f64::from(*amp), f64::from(*omega));
            let damp = (-0.5 * w * w * s2).exp();
            let mut g = 0.0;
            for yi in y.iter().take(*dim as usize) {
                g += 0.5 * a * (yi * yi + s2) + amp * (1.0 - (w * yi).cos() * damp);
            }
            Some(g)
        }
        _ => None,
    }
}

/// The gradient of the closed form ([`smoothed_closed_form`]): `∂g/∂yᵢ = a yᵢ + amp ω sin(ω yᵢ)
/// e^{−ω²η²σ²/2}`. `None` outside a ripple bowl under Gaussian noise (or none).
pub fn smoothed_grad_closed_form(
    land: &Landscape,
    noise: &Noise,
    lr: f32,
    y: [f64; 2],
) -> Option<[f64; 2]> {
    let Landscape::Ripple { dim, a, amp, omega } = land else {
        return None;
    };
    let s2 = match noise.kind {
        NoiseKind::None => 0.0,
        NoiseKind::Gaussian => (f64::from(lr) * f64::from(noise.sigma)).powi(2),
        _ => return None,
    };
    let (a, amp, w) = (f64::from(*a), f64::from(*amp), f64::from(*omega));
    let damp = (-0.5 * w * w * s2).exp();
    let mut g = [0.0; 2];
    for i in 0..*dim as usize {
        g[i] = a * y[i] + amp * w * (w * y[i]).sin() * damp;
    }
    Some(g)
}

/// The share of a grid of `n` points per side over `[-range, range]^d` where the smoothed loss
/// `g_η` is one-point convex toward `x* = 0` with constant `c` (Kleinberg, Li, Yuan 2018,
/// Definition 1): `⟨−∇g(y), x* − y⟩ ≥ c ‖x* − y‖²`. Computed from the closed form; `None`
/// where there is none (see [`smoothed_grad_closed_form`]).
pub fn one_point_convex_share(
    land: &Landscape,
    noise: &Noise,
    lr: f32,
    c: f64,
    range: f64,
    n: u32,
) -> Option<f64> {
    let dim = land.dim();
    let coord = |k: u32| -range + 2.0 * range * f64::from(k) / f64::from(n.max(2) - 1);
    let (mut ok, mut total) = (0usize, 0usize);
    let ny = if dim == 2 { n } else { 1 };
    for i in 0..n {
        for j in 0..ny {
            let y = [coord(i), if dim == 2 { coord(j) } else { 0.0 }];
            let g = smoothed_grad_closed_form(land, noise, lr, y)?;
            let r2 = y[0] * y[0] + y[1] * y[1];
            total += 1;
            if g[0] * y[0] + g[1] * y[1] >= c * r2 {
                ok += 1;
            }
        }
    }
    Some(ok as f64 / total.max(1) as f64)
}

/// `g` on every point of `grid` by Monte Carlo: the reference of the WGSL `smooth_grid` kernel
/// (same draws, same summation order), split over `threads` threads.
pub fn smooth_grid_cpu(
    land: &PackedLandscape,
    s: &Smoothing,
    dim: u32,
    grid: &Grid,
    threads: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; grid.len()];
    let threads = threads.max(1);
    let chunk = out.len().div_ceil(threads).max(1);
    if threads == 1 {
        // No thread at all (the only option on wasm32).
        for (i, o) in out.iter_mut().enumerate() {
            let mut p = grid.point(i);
            if dim == 1 {
                p[1] = grid.y.0;
            }
            *o = smoothed_mc(land, s, dim, p);
        }
        return out;
    }
    std::thread::scope(|scope| {
        for (c, part) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                for (j, o) in part.iter_mut().enumerate() {
                    let mut p = grid.point(c * chunk + j);
                    if dim == 1 {
                        p[1] = grid.y.0;
                    }
                    *o = smoothed_mc(land, s, dim, p);
                }
            });
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_gains_eta_sigma_squared_d_over_two() {
        // a = 1, amp = 0: f = ‖x‖²/2, so g = f + η²σ² d / 2 exactly.
        let land = Landscape::Ripple {
            dim: 1,
            a: 1.0,
            amp: 0.0,
            omega: 1.0,
        };
        let noise = Noise::new(NoiseKind::Gaussian, 2.0, 2.0);
        let lr = 0.1;
        let p = land.packed();
        for y in [-1.0, 0.0, 0.7] {
            let exact = 0.5 * y * y + 0.5 * 0.04;
            let cf = smoothed_closed_form(&land, &noise, lr, [y, 0.0]).unwrap();
            let q = smoothed_quadrature_1d(&p, &noise, lr, y, 4000).unwrap();
            assert!((cf - exact).abs() < 1e-8, "closed form {cf} vs {exact}");
            assert!((q - exact).abs() < 1e-5, "quadrature {q} vs {exact}");
        }
    }

    #[test]
    fn quadrature_and_monte_carlo_match_the_closed_form_on_the_spiky_bowl() {
        let land = Landscape::spiky_bowl_1d();
        let p = land.packed();
        let noise = Noise::new(NoiseKind::Gaussian, 3.0, 2.0);
        let lr = 0.05;
        let s = Smoothing {
            noise,
            lr,
            samples: 20_000,
            seed: 3,
        };
        for y in [-1.3f32, -0.2, 0.0, 0.5, 2.0] {
            let cf = smoothed_closed_form(&land, &noise, lr, [f64::from(y), 0.0]).unwrap();
            let q = smoothed_quadrature_1d(&p, &noise, lr, f64::from(y), 4000).unwrap();
            let mc = f64::from(smoothed_mc(&p, &s, 1, [y, 0.0]));
            assert!(
                (q - cf).abs() < 1e-5,
                "y {y}: quadrature {q} vs closed form {cf}"
            );
            // Monte Carlo standard error here is below 0.005.
            assert!(
                (mc - cf).abs() < 0.02,
                "y {y}: Monte Carlo {mc} vs closed form {cf}"
            );
        }
    }

    #[test]
    fn enough_noise_removes_the_spurious_minima() {
        let land = Landscape::spiky_bowl_1d();
        let gd = Noise::NONE;
        let heavy = Noise::new(NoiseKind::Gaussian, 6.0, 2.0);
        let count_minima = |noise: &Noise| {
            let ys: Vec<f64> = (0..=600).map(|i| -3.0 + 0.01 * f64::from(i)).collect();
            let g: Vec<f64> = ys
                .iter()
                .map(|&y| smoothed_closed_form(&land, noise, 0.05, [y, 0.0]).unwrap())
                .collect();
            (1..g.len() - 1)
                .filter(|&i| g[i] < g[i - 1] && g[i] < g[i + 1])
                .count()
        };
        let none = Noise::new(NoiseKind::Gaussian, 0.0, 2.0);
        assert!(count_minima(&none) >= 7, "f itself is spiky");
        assert_eq!(count_minima(&heavy), 1, "g is one-point convex");
        assert_eq!(gd.kind, NoiseKind::None);
    }

    #[test]
    fn closed_form_gradient_matches_finite_differences() {
        let land = Landscape::spiky_bowl_2d();
        let noise = Noise::new(NoiseKind::Gaussian, 2.0, 2.0);
        for y in [[0.3, -1.1], [2.0, 0.05]] {
            let g = smoothed_grad_closed_form(&land, &noise, 0.05, y).unwrap();
            for i in 0..2 {
                let (mut a, mut b) = (y, y);
                a[i] += 1e-5;
                b[i] -= 1e-5;
                let fd = (smoothed_closed_form(&land, &noise, 0.05, a).unwrap()
                    - smoothed_closed_form(&land, &noise, 0.05, b).unwrap())
                    / 2e-5;
                assert!((fd - g[i]).abs() < 1e-5, "{y:?} {i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn one_point_convexity_needs_the_smoothing_on_a_spiky_bowl_only() {
        let spiky = Landscape::spiky_bowl_1d();
        let smooth = Landscape::Ripple {
            dim: 1,
            a: 1.0,
            amp: 0.0,
            omega: 10.0,
        };
        let share = |l: &Landscape, sigma: f32| {
            let noise = if sigma == 0.0 {
                Noise::NONE
            } else {
                Noise::new(NoiseKind::Gaussian, sigma, 2.0)
            };
            one_point_convex_share(l, &noise, 0.05, 0.25, 3.0, 601).unwrap()
        };
        // f = x²/2 + 0.3(1 − cos 10x): x·f'(x) = x² + 3x sin 10x < x²/4 on much of |x| < 4.
        assert!(share(&spiky, 0.0) < 0.8, "{}", share(&spiky, 0.0));
        // At ησ = 0.3 the spikes are damped by e^{-4.5}: convex outside |x| < 0.05.
        assert!(share(&spiky, 6.0) > 0.95, "{}", share(&spiky, 6.0));
        assert_eq!(share(&smooth, 0.0), 1.0);
        assert!(
            one_point_convex_share(
                &spiky,
                &Noise::new(NoiseKind::Pareto, 1.0, 1.5),
                0.1,
                0.25,
                1.0,
                5
            )
            .is_none()
        );
    }

    #[test]
    fn threaded_grid_equals_pointwise() {
        let land = Landscape::gaussian_mixture_2d();
        let p = land.packed();
        let s = Smoothing {
            noise: Noise::new(NoiseKind::Pareto, 0.3, 1.5),
            lr: 0.5,
            samples: 64,
            seed: 9,
        };
        let grid = Grid {
            nx: 7,
            ny: 5,
            x: (-2.0, 2.0),
            y: (-1.0, 1.0),
        };
        let a = smooth_grid_cpu(&p, &s, 2, &grid, 3);
        assert_eq!(a, smooth_grid_cpu(&p, &s, 2, &grid, 1));
        for (i, v) in a.iter().enumerate() {
            assert_eq!(*v, smoothed_mc(&p, &s, 2, grid.point(i)));
        }
        assert!(s.validate(&grid, "smoothing").is_ok());
        let zero = Grid { nx: 0, ..grid };
        assert!(
            s.validate(&zero, "smoothing")
                .unwrap_err()
                .to_string()
                .contains("grid")
        );
    }
}
