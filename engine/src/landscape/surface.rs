//! Test landscapes in one or two dimensions, with gradients, minima and basin labels.
//!
//! - [`Landscape::Ripple`]: a convex bowl with high-frequency spikes,
//!   `f(x) = a/2 ‖x‖² + amp Σᵢ (1 − cos(ω xᵢ))`, global minimum x* = 0 and many spurious local
//!   minima (Kleinberg, Li, Yuan, ICML 2018, Figure 1). With `a = 2`, `ω = 2π` it is Rastrigin's
//!   function. Basin label: the ring (Chebyshev distance in cells of width 2π/ω) around x*,
//!   capped at 3.
//! - [`Landscape::BumpWells`]: wells `−h cos²(π‖x − c‖ / 2r)` of chosen radius r and depth h on a
//!   flat floor inside a box with quadratic walls; a well's basin is its disc, so the sharp and
//!   wide minima of Wang, Oh, Rhee (2021) have exactly the radii the theory's `l* = ⌈r/b⌉` uses.
//! - [`Landscape::GaussianWells`]: a Gaussian-mixture potential `−Σ h e^{−‖x−c‖²/2r²}` plus a
//!   weak bowl; basin label: the component with the largest weighted density.
//!
//! Evaluation goes through [`PackedLandscape`], the flat `f32` layout the WGSL kernels read, with
//! the same formulas in the same order as `shaders/src/common.wgsl`, except that the bump wells'
//! gradient takes `sin(π u)` from [`super::sin_pi`] (branch-free, so that the vectorized particle
//! stepper computes the same bits; the kernel keeps the driver's `sin(PI * u)`).

use super::fastmath::sin_pi;
use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

pub use sgdlab_stepper::{MAX_BASINS, NO_BASIN};
/// Header words of the packed layout before the wells.
pub const LAND_HEADER: usize = 12;

/// One well: center, basin radius and depth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Well {
    /// Center (the minimum); `y` is ignored in one dimension.
    pub center: [f32; 2],
    /// Basin radius (bump wells) or Gaussian width (Gaussian wells).
    pub radius: f32,
    /// Depth h (> 0).
    pub depth: f32,
}

/// A test function on R or R².
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Landscape {
    /// `a/2 ‖x‖² + amp Σ (1 − cos ω xᵢ)`.
    Ripple {
        /// 1 or 2.
        dim: u32,
        /// Curvature of the bowl.
        a: f32,
        /// Spike amplitude.
        amp: f32,
        /// Spike angular frequency ω.
        omega: f32,
    },
    /// `−Σ h cos²(π‖x−c‖/2r)` inside each well's disc, 0 between, walls outside `[lo, hi]`.
    BumpWells {
        /// 1 or 2.
        dim: u32,
        /// Up to four wells with disjoint discs.
        wells: Vec<Well>,
        /// Lower corner of the box.
        lo: [f32; 2],
        /// Upper corner of the box.
        hi: [f32; 2],
        /// Stiffness of the quadratic walls outside the box.
        wall: f32,
    },
    /// `−Σ h e^{−‖x−c‖²/2r²} + reg/2 ‖x‖²`, walls outside `[lo, hi]`.
    GaussianWells {
        /// 1 or 2.
        dim: u32,
        /// Up to four components.
        wells: Vec<Well>,
        /// Curvature of the confining bowl.
        reg: f32,
        /// Lower corner of the box.
        lo: [f32; 2],
        /// Upper corner of the box.
        hi: [f32; 2],
        /// Stiffness of the quadratic walls outside the box.
        wall: f32,
    },
}

impl Landscape {
    /// Kleinberg et al.'s spiky bowl in one dimension: `x²/2 + 0.3 (1 − cos 10x)`; spurious
    /// local minima near every `2πk/10` with `|x| ≲ 3`.
    pub fn spiky_bowl_1d() -> Self {
        Self::Ripple {
            dim: 1,
            a: 1.0,
            amp: 0.3,
            omega: 10.0,
        }
    }

    /// The same bowl on R².
    pub fn spiky_bowl_2d() -> Self {
        Self::Ripple {
            dim: 2,
            a: 1.0,
            amp: 0.3,
            omega: 10.0,
        }
    }

    /// Rastrigin's function `10 d + Σ (xᵢ² − 10 cos 2πxᵢ)` (up to the constant).
    pub fn rastrigin(dim: u32) -> Self {
        Self::Ripple {
            dim,
            a: 2.0,
            amp: 10.0,
            omega: TAU,
        }
    }

    /// A wide, a sharp and a second wide well side by side on a line (basins touch), walls
    /// outside: `[wide r_w][sharp r_s][wide r_w]`, all of depth `depth`.
    pub fn sharp_and_wide_1d(sharp_radius: f32, wide_radius: f32, depth: f32) -> Self {
        Self::sharp_and_wide(1, sharp_radius, wide_radius, depth)
    }

    /// Two wide wells and a sharp one in the plane.
    pub fn sharp_and_wide_2d(sharp_radius: f32, wide_radius: f32, depth: f32) -> Self {
        Self::sharp_and_wide(2, sharp_radius, wide_radius, depth)
    }

    /// The three wells of [`Self::sharp_and_wide_1d`] along x, in `dim` dimensions (in the
    /// plane the box reaches one wide radius above and below the line).
    fn sharp_and_wide(dim: u32, sharp_radius: f32, wide_radius: f32, depth: f32) -> Self {
        let (s, w) = (sharp_radius, wide_radius);
        let well = |x: f32, radius: f32| Well {
            center: [x, 0.0],
            radius,
            depth,
        };
        // 0.0 on the line, not -0.0: the box is written into configs and reports.
        let (y_lo, y_hi) = if dim == 2 { (-w, w) } else { (0.0, 0.0) };
        Self::BumpWells {
            dim,
            wells: vec![well(-s - w, w), well(0.0, s), well(s + w, w)],
            lo: [-s - 2.0 * w, y_lo],
            hi: [s + 2.0 * w, y_hi],
            wall: 4.0,
        }
    }

    /// A Gaussian mixture of one narrow deep and two wide shallow components in the plane.
    pub fn gaussian_mixture_2d() -> Self {
        Self::GaussianWells {
            dim: 2,
            wells: vec![
                Well {
                    center: [0.0, 0.0],
                    radius: 0.15,
                    depth: 1.2,
                },
                Well {
                    center: [-1.5, 0.5],
                    radius: 0.7,
                    depth: 1.0,
                },
                Well {
                    center: [1.5, -0.5],
                    radius: 0.7,
                    depth: 1.0,
                },
            ],
            reg: 0.05,
            lo: [-3.0, -3.0],
            hi: [3.0, 3.0],
            wall: 4.0,
        }
    }

    /// 1 or 2.
    pub fn dim(&self) -> u32 {
        match self {
            Self::Ripple { dim, .. }
            | Self::BumpWells { dim, .. }
            | Self::GaussianWells { dim, .. } => *dim,
        }
    }

    /// The wells (empty for a ripple bowl).
    pub fn wells(&self) -> &[Well] {
        match self {
            Self::Ripple { .. } => &[],
            Self::BumpWells { wells, .. } | Self::GaussianWells { wells, .. } => wells,
        }
    }

    /// Checks the parameters; errors name `field.<name>` and the accepted range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let dim = self.dim();
        check::count(&format!("{field}.dim"), dim as usize, 1, 2)?;
        let positive =
            |name: &str, v: f32| check::positive(&format!("{field}.{name}"), f64::from(v));
        match self {
            Self::Ripple { a, amp, omega, .. } => {
                positive("a", *a)?;
                positive("omega", *omega)?;
                check::non_negative(&format!("{field}.amp"), f64::from(*amp))?;
            }
            Self::BumpWells {
                wells,
                lo,
                hi,
                wall,
                ..
            }
            | Self::GaussianWells {
                wells,
                lo,
                hi,
                wall,
                ..
            } => {
                check::list_len(&format!("{field}.wells"), wells.len(), 1, MAX_BASINS)?;
                for (k, w) in wells.iter().enumerate() {
                    positive(&format!("wells[{k}].radius"), w.radius)?;
                    positive(&format!("wells[{k}].depth"), w.depth)?;
                }
                positive("wall", *wall)?;
                for i in 0..dim as usize {
                    if lo[i].partial_cmp(&hi[i]) != Some(std::cmp::Ordering::Less) {
                        return Err(check::expected(
                            &format!("{field}.lo"),
                            "lo < hi in every coordinate",
                            &format!("{lo:?} and {hi:?}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The flat layout the kernels read (see `shaders/src/common.wgsl`).
    pub fn packed(&self) -> PackedLandscape {
        let mut p = vec![0.0f32; LAND_HEADER];
        p[1] = self.dim() as f32;
        match self {
            Self::Ripple { a, amp, omega, .. } => {
                p[0] = 0.0;
                p[3] = *a;
                p[4] = *amp;
                p[5] = *omega;
            }
            Self::BumpWells { lo, hi, wall, .. } | Self::GaussianWells { lo, hi, wall, .. } => {
                p[0] = if matches!(self, Self::BumpWells { .. }) {
                    1.0
                } else {
                    2.0
                };
                p[6] = *wall;
                p[7] = lo[0];
                p[8] = hi[0];
                p[9] = lo[1];
                p[10] = hi[1];
                if let Self::GaussianWells { reg, .. } = self {
                    p[11] = *reg;
                }
            }
        }
        p[2] = self.wells().len() as f32;
        for w in self.wells() {
            p.extend_from_slice(&[w.center[0], w.center[1], w.radius, w.depth]);
        }
        PackedLandscape(p)
    }
}

/// A landscape in the kernels' flat layout, evaluated exactly as the WGSL does.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedLandscape(pub Vec<f32>);

impl PackedLandscape {
    fn kind(&self) -> u32 {
        self.0[0] as u32
    }
    fn dim(&self) -> u32 {
        self.0[1] as u32
    }
    fn wells(&self) -> usize {
        self.0[2] as usize
    }
    fn well(&self, k: usize) -> ([f32; 2], f32, f32) {
        let b = LAND_HEADER + 4 * k;
        ([self.0[b], self.0[b + 1]], self.0[b + 2], self.0[b + 3])
    }

    fn wall_value(&self, x: [f32; 2]) -> f32 {
        let l = &self.0;
        let dx = (l[7] - x[0]).max(0.0) + (x[0] - l[8]).max(0.0);
        let mut dy = (l[9] - x[1]).max(0.0) + (x[1] - l[10]).max(0.0);
        if self.dim() == 1 {
            dy = 0.0;
        }
        0.5 * l[6] * (dx * dx + dy * dy)
    }

    fn wall_grad(&self, x: [f32; 2]) -> [f32; 2] {
        let l = &self.0;
        let gx = l[6] * ((x[0] - l[8]).max(0.0) - (l[7] - x[0]).max(0.0));
        let mut gy = l[6] * ((x[1] - l[10]).max(0.0) - (l[9] - x[1]).max(0.0));
        if self.dim() == 1 {
            gy = 0.0;
        }
        [gx, gy]
    }

    /// f(x).
    pub fn value(&self, x: [f32; 2]) -> f32 {
        let l = &self.0;
        if self.kind() == 0 {
            let omega = l[5];
            let mut f =
                0.5 * l[3] * (x[0] * x[0] + x[1] * x[1]) + l[4] * (1.0 - (omega * x[0]).cos());
            if self.dim() == 2 {
                f += l[4] * (1.0 - (omega * x[1]).cos());
            }
            return f;
        }
        let mut f = self.wall_value(x);
        if self.kind() == 2 {
            f += 0.5 * l[11] * (x[0] * x[0] + x[1] * x[1]);
        }
        for k in 0..self.wells() {
            let (c, r, h) = self.well(k);
            let (vx, vy) = (x[0] - c[0], x[1] - c[1]);
            let d = (vx * vx + vy * vy).sqrt();
            if self.kind() == 1 {
                let u = d / r;
                if u < 1.0 {
                    let cu = (0.5 * PI * u).cos();
                    f -= h * cu * cu;
                }
            } else {
                f -= h * (-0.5 * d * d / (r * r)).exp();
            }
        }
        f
    }

    /// ∇f(x) (`y` is 0 in one dimension).
    pub fn grad(&self, x: [f32; 2]) -> [f32; 2] {
        let l = &self.0;
        let mut g;
        if self.kind() == 0 {
            let omega = l[5];
            g = [
                l[3] * x[0] + l[4] * omega * (omega * x[0]).sin(),
                l[3] * x[1] + l[4] * omega * (omega * x[1]).sin(),
            ];
        } else {
            g = self.wall_grad(x);
            if self.kind() == 2 {
                g = [g[0] + l[11] * x[0], g[1] + l[11] * x[1]];
            }
            for k in 0..self.wells() {
                let (c, r, h) = self.well(k);
                let v = [x[0] - c[0], x[1] - c[1]];
                let d = (v[0] * v[0] + v[1] * v[1]).sqrt();
                if self.kind() == 1 {
                    let u = d / r;
                    if u < 1.0 {
                        let mut s = PI / (r * r);
                        if d > 1e-6 * r {
                            s = sin_pi(u) / (d * r);
                        }
                        let coef = 0.5 * PI * h * s;
                        g = [g[0] + coef * v[0], g[1] + coef * v[1]];
                    }
                } else {
                    let coef = h * (-0.5 * d * d / (r * r)).exp() / (r * r);
                    g = [g[0] + coef * v[0], g[1] + coef * v[1]];
                }
            }
        }
        if self.dim() == 1 {
            g[1] = 0.0;
        }
        g
    }

    /// The basin label of x: `0..MAX_BASINS`, or [`NO_BASIN`].
    pub fn label(&self, x: [f32; 2]) -> u32 {
        let l = &self.0;
        if self.kind() == 0 {
            let s = l[5] / TAU;
            let cx = (x[0] * s).round_ties_even().abs();
            let cy = (x[1] * s).round_ties_even().abs();
            let ring = if self.dim() == 2 { cx.max(cy) } else { cx };
            return ring.min(3.0) as u32;
        }
        let mut best = NO_BASIN;
        let mut best_w = -1.0f32;
        for k in 0..self.wells() {
            let (c, r, h) = self.well(k);
            let (vx, vy) = (x[0] - c[0], x[1] - c[1]);
            let d = (vx * vx + vy * vy).sqrt();
            if self.kind() == 1 {
                if d < r {
                    return k as u32;
                }
            } else {
                let w = h * (-0.5 * d * d / (r * r)).exp();
                if w > best_w {
                    best_w = w;
                    best = k as u32;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_grad(l: &Landscape, points: &[[f32; 2]]) {
        let p = l.packed();
        let h = 1e-3f64;
        for &x in points {
            let g = p.grad(x);
            for i in 0..l.dim() as usize {
                let mut a = [f64::from(x[0]), f64::from(x[1])];
                let mut b = a;
                a[i] += h;
                b[i] -= h;
                let fa = f64::from(p.value([a[0] as f32, a[1] as f32]));
                let fb = f64::from(p.value([b[0] as f32, b[1] as f32]));
                let fd = (fa - fb) / (2.0 * h);
                assert!(
                    (fd - f64::from(g[i])).abs() < 2e-2 * (1.0 + fd.abs()),
                    "{l:?} at {x:?} coord {i}: finite difference {fd} vs gradient {}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let pts = [
            [0.37, -0.21],
            [1.1, 0.4],
            [-2.3, 0.05],
            [0.02, 0.9],
            [-0.6, -0.6],
        ];
        for l in [
            Landscape::spiky_bowl_1d(),
            Landscape::spiky_bowl_2d(),
            Landscape::rastrigin(2),
            Landscape::sharp_and_wide_1d(0.5, 2.0, 1.0),
            Landscape::sharp_and_wide_2d(0.5, 2.0, 1.0),
            Landscape::gaussian_mixture_2d(),
        ] {
            l.validate("landscape").unwrap();
            let pts: Vec<[f32; 2]> = pts
                .iter()
                .map(|p| if l.dim() == 1 { [p[0], 0.0] } else { *p })
                .collect();
            check_grad(&l, &pts);
        }
    }

    #[test]
    fn spiky_bowl_has_spurious_minima_and_global_minimum_at_zero() {
        let p = Landscape::spiky_bowl_1d().packed();
        assert!(p.value([0.0, 0.0]).abs() < 1e-7);
        // A spurious minimum near 2π/10: gradient changes sign from - to + around it.
        let x1 = TAU / 10.0;
        assert!(p.grad([x1 - 0.1, 0.0])[0] < 0.0 && p.grad([x1 + 0.1, 0.0])[0] > 0.0);
        assert!(p.value([x1 * 0.95, 0.0]) > 0.0);
        assert_eq!(p.label([0.1, 0.0]), 0);
        assert_eq!(p.label([x1, 0.0]), 1);
        assert_eq!(p.label([-10.0, 0.0]), 3);
    }

    #[test]
    fn wells_label_their_discs() {
        let l = Landscape::sharp_and_wide_1d(0.5, 2.0, 1.0);
        let p = l.packed();
        assert_eq!(p.label([0.0, 0.0]), 1);
        assert_eq!(p.label([0.49, 0.0]), 1);
        assert_eq!(p.label([0.51, 0.0]), 2);
        assert_eq!(p.label([-2.5, 0.0]), 0);
        assert_eq!(p.label([4.6, 0.0]), NO_BASIN);
        assert!((p.value([0.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(p.grad([4.5, 0.0]), [0.0, 0.0]);
        assert!(p.grad([5.0, 0.0])[0] > 0.0, "the wall pushes back");
        let p2 = Landscape::sharp_and_wide_2d(0.5, 2.0, 1.0).packed();
        assert_eq!(p2.label([0.0, 0.4]), 1);
        assert_eq!(p2.label([0.0, 1.9]), NO_BASIN);
    }

    #[test]
    fn bad_landscapes_name_the_field() {
        let mut l = Landscape::sharp_and_wide_1d(0.5, 2.0, 1.0);
        if let Landscape::BumpWells { wells, .. } = &mut l {
            wells[1].radius = -1.0;
        }
        let e = l.validate("landscape").unwrap_err().to_string();
        assert!(e.contains("landscape.wells[1].radius"), "{e}");
        let l = Landscape::Ripple {
            dim: 3,
            a: 1.0,
            amp: 0.1,
            omega: 1.0,
        };
        assert!(
            l.validate("landscape")
                .unwrap_err()
                .to_string()
                .contains("dim")
        );
    }
}
