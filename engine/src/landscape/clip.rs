//! Clipping of an SGD step: none, truncation of the whole step `φ_b(w) = w · min(1, b/‖w‖)`
//! (Wang, Oh, Rhee 2021, eq. 1.3), or clipping of the stochastic gradient's norm before the
//! learning rate multiplies it (so the step is bounded by `lr · c`, which shrinks with `lr`).

use crate::check;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// How a step is clipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Clip {
    /// No clipping.
    #[default]
    None,
    /// Truncate the whole step `-lr (∇f + noise)` to norm at most `b`.
    Truncate {
        /// The truncation threshold b (> 0).
        b: f32,
    },
    /// Clip the stochastic gradient `∇f + noise` to norm at most `c`, then multiply by `lr`.
    GradNorm {
        /// The gradient-norm threshold c (> 0).
        c: f32,
    },
}

impl Clip {
    /// The kind code and threshold the WGSL kernel uses.
    pub fn code(self) -> (u32, f32) {
        match self {
            Self::None => (0, 0.0),
            Self::Truncate { b } => (1, b),
            Self::GradNorm { c } => (2, c),
        }
    }

    /// Short name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "unclipped",
            Self::Truncate { .. } => "truncated",
            Self::GradNorm { .. } => "grad-clipped",
        }
    }

    /// Checks the threshold; a negative or zero clip is an error naming `field` and the range.
    pub fn validate(&self, field: &str) -> Result<()> {
        let (name, v) = match *self {
            Self::None => return Ok(()),
            Self::Truncate { b } => ("b", b),
            Self::GradNorm { c } => ("c", c),
        };
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(check::expected(
                &format!("{field}.{name}"),
                "a clipping threshold in (0, inf)",
                &v.to_string(),
            ))
        }
    }
}

/// `w · min(1, b/‖w‖)`.
#[inline]
pub fn clip_norm(w: [f32; 2], b: f32) -> [f32; 2] {
    let n = (w[0] * w[0] + w[1] * w[1]).sqrt();
    if n > b {
        let s = b / n;
        [w[0] * s, w[1] * s]
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_direction_and_caps_norm() {
        let w = clip_norm([3.0, 4.0], 1.0);
        assert!((w[0] - 0.6).abs() < 1e-6 && (w[1] - 0.8).abs() < 1e-6);
        assert_eq!(clip_norm([0.3, 0.4], 1.0), [0.3, 0.4]);
    }

    #[test]
    fn negative_clip_names_the_field() {
        let e = Clip::Truncate { b: -1.0 }.validate("clip").unwrap_err();
        assert!(e.to_string().contains("clip.b") && e.to_string().contains("(0, inf)"));
        assert!(Clip::GradNorm { c: 0.0 }.validate("clip").is_err());
        assert!(Clip::None.validate("clip").is_ok());
    }
}
