//! The configuration of `sgdlab run sharp-minima`: the landscape, the noise, the learning
//! rates and how long each run lasts, and the theory's exit-time exponent it implies.

use crate::{HeavyTailNetConfig, Preset};
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::error::Result;
use sgdlab_engine::landscape::{Clip, Landscape, Noise, NoiseKind, validate_particles};

/// The configuration of `sgdlab run sharp-minima`.
#[derive(Config, Debug, PartialEq)]
pub struct SharpMinimaConfig {
    /// Seed of the counter-based noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Particles per run.
    #[config(default = 4096)]
    pub particles: usize,
    /// Radius of the sharp well's basin.
    #[config(default = 0.5)]
    pub sharp_radius: f32,
    /// Radius of each wide well's basin.
    #[config(default = 1.0)]
    pub wide_radius: f32,
    /// Depth of every well.
    #[config(default = 1.0)]
    pub depth: f32,
    /// Learning rates η, largest first.
    #[config(default = "vec![0.08, 0.04, 0.02, 0.01]")]
    pub lrs: Vec<f32>,
    /// The heavy-tailed noise (Pareto with α > 1, or α-stable with α in (0, 2]).
    #[config(default = "NoiseKind::Pareto")]
    pub noise: NoiseKind,
    /// Noise scale σ.
    #[config(default = 1.0)]
    pub sigma: f32,
    /// Tail index α.
    #[config(default = 1.5)]
    pub alpha: f32,
    /// Truncation threshold b of the clipped runs.
    #[config(default = 0.4)]
    pub truncation: f32,
    /// Gradient-norm threshold c of the `grad-clipped` runs (the stochastic gradient, noise
    /// included, is clipped to norm c before η multiplies it); `null` skips them.
    #[config(default = "Some(5.0)")]
    pub grad_clip: Option<f32>,
    /// Steps of the truncated runs: `steps(η) = ⌈steps_scale · η^{−steps_power}⌉`, capped at
    /// `max_steps`.
    #[config(default = 2.0)]
    pub steps_scale: f64,
    /// See `steps_scale`.
    #[config(default = 2.5)]
    pub steps_power: f64,
    /// Steps of the unclipped and gradient-clipped runs, `⌈unclipped_steps_scale ·
    /// η^{−unclipped_steps_power}⌉` (capped at `max_steps`); `null` for either: the truncated
    /// runs' value. Unclipped exits come on the shorter η^{−α} scale, so a shorter horizon
    /// measures them as well.
    #[config(default = "None")]
    pub unclipped_steps_scale: Option<f64>,
    /// See `unclipped_steps_scale`.
    #[config(default = "None")]
    pub unclipped_steps_power: Option<f64>,
    /// Landscapes to run, each with its own sweeps and claims: `paper` (the narrow well as deep
    /// as the wide ones, so four times their curvature at r = 0.5 vs 1) and `matched-curvature`
    /// (the narrow well made shallower, depth · (sharp_radius / wide_radius)², so that its
    /// curvature at the bottom equals the wide wells': narrow without being sharper). The
    /// variant runs the unclipped and truncated modes only.
    #[config(default = "vec![\"paper\".to_string()]")]
    pub variants: Vec<String>,
    /// Cap on the steps of one run.
    #[config(default = 200_000)]
    pub max_steps: u32,
    /// Steps per `step()` call (the unit of interleaving with a UI).
    #[config(default = 4096)]
    pub steps_per_call: u32,
    /// The exit-time slopes are fitted over this many of the smallest learning rates (the
    /// theory is a limit as η → 0).
    #[config(default = 3)]
    pub slope_fit_lrs: usize,
    /// Bootstrap resamples of the particles behind every interval.
    #[config(default = 1000)]
    pub bootstrap_resamples: usize,
    /// Heavy-tailed noise in network training, run after the particles; `null` skips it.
    #[config(default = "Some(HeavyTailNetConfig::new())")]
    pub network: Option<HeavyTailNetConfig>,
}

impl SharpMinimaConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            // η down to 0.0025: the slopes are fitted over 0.01, 0.005, 0.0025. Truncated
            // horizons at about a fifth of the wide wells' mean exit time (censoring-corrected
            // MLE), unclipped ones at a few wide-well exit times (η^{−α} scale).
            Preset::Paper => Self::new()
                .with_particles(8192)
                .with_lrs(vec![0.02, 0.01, 0.005, 0.0025])
                .with_steps_scale(0.1)
                .with_steps_power(2.5)
                .with_unclipped_steps_scale(Some(2.0))
                .with_unclipped_steps_power(Some(1.5))
                .with_max_steps(1_000_000)
                .with_variants(vec!["paper".into(), "matched-curvature".into()]),
            Preset::Quick => Self::new()
                .with_particles(512)
                .with_lrs(vec![0.08, 0.04, 0.02])
                .with_max_steps(40_000)
                .with_network(Some(HeavyTailNetConfig::quick())),
        }
    }

    /// Checks every field; errors name it and the accepted range.
    pub fn validate(&self) -> Result<()> {
        validate_particles(self.particles, "particles")?;
        check::list_len("lrs", self.lrs.len(), 1, 16)?;
        check::each("lrs", &self.lrs, |f, lr| {
            check::range_open_low(f, f64::from(lr), 0.0, 1.0)
        })?;
        let lrs: Vec<f64> = self.lrs.iter().map(|&l| f64::from(l)).collect();
        check::monotone("lrs", &lrs, true)?;
        if !matches!(self.noise, NoiseKind::Pareto | NoiseKind::Stable) {
            return Err(check::expected(
                "noise",
                "pareto or stable (heavy-tailed)",
                self.noise.name(),
            ));
        }
        Noise::new(self.noise, self.sigma, self.alpha).validate("<root>")?;
        Clip::Truncate { b: self.truncation }.validate("truncation")?;
        if let Some(c) = self.grad_clip {
            Clip::GradNorm { c }.validate("grad_clip")?;
        }
        self.landscape().validate("landscape")?;
        check::positive("sharp_radius", f64::from(self.sharp_radius))?;
        if self.sharp_radius >= self.wide_radius {
            return Err(check::expected(
                "sharp_radius",
                &format!("a radius below wide_radius = {}", self.wide_radius),
                &self.sharp_radius.to_string(),
            ));
        }
        check::positive("steps_scale", self.steps_scale)?;
        check::range("steps_power", self.steps_power, 0.0, 4.0)?;
        if let Some(s) = self.unclipped_steps_scale {
            check::positive("unclipped_steps_scale", s)?;
        }
        if let Some(p) = self.unclipped_steps_power {
            check::range("unclipped_steps_power", p, 0.0, 4.0)?;
        }
        check::list_len("variants", self.variants.len(), 1, VARIANTS.len())?;
        for (i, v) in self.variants.iter().enumerate() {
            let field = format!("variants[{i}]");
            if !VARIANTS.contains(&v.as_str()) {
                return Err(check::expected(
                    &field,
                    &format!("one of {}", VARIANTS.join(", ")),
                    v,
                ));
            }
            if self.variants[..i].contains(v) {
                return Err(check::expected(&field, "each variant once", v));
            }
        }
        check::count("max_steps", self.max_steps as usize, 1, 100_000_000)?;
        check::count(
            "steps_per_call",
            self.steps_per_call as usize,
            1,
            u32::MAX as usize,
        )?;
        check::count("slope_fit_lrs", self.slope_fit_lrs, 2, 16)?;
        check::count("bootstrap_resamples", self.bootstrap_resamples, 10, 100_000)?;
        if let Some(n) = &self.network {
            n.validate("network")?;
        }
        Ok(())
    }

    /// The landscape `[wide][sharp][wide]` of the paper variant.
    pub fn landscape(&self) -> Landscape {
        Landscape::sharp_and_wide_1d(self.sharp_radius, self.wide_radius, self.depth)
    }

    /// The narrow well's depth in `variant`: `depth` (paper), or `depth · (r_s / r_w)²` so that
    /// its curvature at the bottom, `h π² / (2 r²)` for the well `−h cos²(π d / 2r)`, equals
    /// the wide wells' (matched-curvature).
    pub fn sharp_depth(&self, variant: &str) -> f32 {
        if variant == MATCHED_CURVATURE {
            self.depth * (self.sharp_radius / self.wide_radius).powi(2)
        } else {
            self.depth
        }
    }

    /// The landscape of `variant` (the same wells; only the narrow well's depth differs).
    pub fn landscape_for(&self, variant: &str) -> Landscape {
        let mut land = self.landscape();
        if let Landscape::BumpWells { wells, .. } = &mut land {
            wells[1].depth = self.sharp_depth(variant);
        }
        land
    }

    /// Steps of the truncated run at learning rate `lr`.
    pub fn steps_for(&self, lr: f32) -> u32 {
        self.steps_with(lr, self.steps_scale, self.steps_power)
    }

    /// Steps of the run in clipping mode `clip` (an index into [`CLIP_MODES`]) at `lr`.
    pub fn steps_for_mode(&self, clip: usize, lr: f32) -> u32 {
        if clip == 1 {
            self.steps_for(lr)
        } else {
            self.steps_with(
                lr,
                self.unclipped_steps_scale.unwrap_or(self.steps_scale),
                self.unclipped_steps_power.unwrap_or(self.steps_power),
            )
        }
    }

    fn steps_with(&self, lr: f32, scale: f64, power: f64) -> u32 {
        let s = (scale * f64::from(lr).powf(-power)).ceil();
        s.min(f64::from(self.max_steps)).max(1.0) as u32
    }

    /// The runs' (variant, clipping mode) pairs in order: per variant unclipped, truncated,
    /// and (paper variant, when `grad_clip` is set) grad-clipped.
    pub fn modes(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for v in &self.variants {
            let n = if v == PAPER && self.grad_clip.is_some() {
                3
            } else {
                2
            };
            out.extend((0..n).map(|c| (v.clone(), c)));
        }
        out
    }

    /// The theory's exit-time exponent for a basin of radius `r`: `1 + ⌈r/b⌉(α−1)` truncated,
    /// `α` unclipped.
    pub fn theory_exponent(&self, r: f32, truncated: bool) -> f64 {
        let a = f64::from(self.alpha);
        if truncated {
            1.0 + (f64::from(r) / f64::from(self.truncation)).ceil() * (a - 1.0)
        } else {
            a
        }
    }
}

/// The paper's landscape: the narrow well as deep as the wide ones.
pub const PAPER: &str = "paper";
/// The narrow well with the wide wells' curvature at its bottom.
pub const MATCHED_CURVATURE: &str = "matched-curvature";
/// The landscape variants `variants` accepts.
pub const VARIANTS: [&str; 2] = [PAPER, MATCHED_CURVATURE];

/// The clipping modes compared, in report order.
pub const CLIP_MODES: [&str; 3] = ["unclipped", "truncated", "grad-clipped"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_name_the_field() {
        let msg = |c: SharpMinimaConfig| c.validate().unwrap_err().to_string();
        let m = msg(SharpMinimaConfig::new().with_lrs(vec![0.01, 0.02]));
        assert!(m.contains("`lrs[1]`") && m.contains("decreasing"), "{m}");
        let m = msg(SharpMinimaConfig::new().with_truncation(0.0));
        assert!(m.contains("`truncation.b`"), "{m}");
        let m = msg(SharpMinimaConfig::new().with_slope_fit_lrs(1));
        assert!(m.contains("`slope_fit_lrs`"), "{m}");
        let m = msg(SharpMinimaConfig::new().with_noise(NoiseKind::Gaussian));
        assert!(m.contains("`noise`") && m.contains("heavy-tailed"), "{m}");
        let m = msg(SharpMinimaConfig::new().with_variants(vec!["paper".into(), "bowl".into()]));
        assert!(
            m.contains("`variants[1]`") && m.contains("matched-curvature"),
            "{m}"
        );
        let m = msg(SharpMinimaConfig::new().with_unclipped_steps_scale(Some(0.0)));
        assert!(m.contains("`unclipped_steps_scale`"), "{m}");
    }

    #[test]
    fn matched_curvature_well_has_the_wide_curvature() {
        let c = SharpMinimaConfig::new();
        let curvature = |variant: &str, well: usize| {
            let land = c.landscape_for(variant).packed();
            // Central difference of f' at the well's center.
            let x0 = [-1.5f32, 0.0, 1.5][well];
            let h = 1e-3f32;
            let g = |d: f32| f64::from(land.grad([x0 + d, 0.0])[0]);
            (g(h) - g(-h)) / f64::from(2.0 * h)
        };
        let wide = curvature(PAPER, 0);
        assert!((curvature(PAPER, 1) / wide - 4.0).abs() < 0.05);
        assert!((curvature(MATCHED_CURVATURE, 1) / wide - 1.0).abs() < 0.02);
        assert!((c.sharp_depth(MATCHED_CURVATURE) - 0.25).abs() < 1e-6);
    }
}
