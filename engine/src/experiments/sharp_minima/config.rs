//! The configuration of `sgdlab run sharp-minima`: the landscape, the noise, the learning
//! rates and how long each run lasts, and the theory's exit-time exponent it implies.

use crate::error::Result;
use crate::experiments::{HeavyTailNetConfig, Preset, check};
use crate::landscape::{Clip, Landscape, Noise, NoiseKind, validate_particles};
use burn::config::Config;

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
    /// `steps(η) = ⌈steps_scale · η^{−steps_power}⌉`, capped at `max_steps`.
    #[config(default = 2.0)]
    pub steps_scale: f64,
    /// See `steps_scale`.
    #[config(default = 2.5)]
    pub steps_power: f64,
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
            Preset::Paper => Self::new(),
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

    /// The landscape `[wide][sharp][wide]`.
    pub fn landscape(&self) -> Landscape {
        Landscape::sharp_and_wide_1d(self.sharp_radius, self.wide_radius, self.depth)
    }

    /// Steps of the run at learning rate `lr`.
    pub fn steps_for(&self, lr: f32) -> u32 {
        let s = (self.steps_scale * f64::from(lr).powf(-self.steps_power)).ceil();
        s.min(f64::from(self.max_steps)).max(1.0) as u32
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
    }
}
