//! The configuration of `sgdlab run smoothing`: starts, steps, noise levels, the two spiky
//! bowls, what counts as near x*, and the one-point-convexity test of `g_η`.

use crate::{OnePointConfig, Preset};
use burn::config::Config;
use sgdlab_engine::check;
use sgdlab_engine::error::Result;
use sgdlab_engine::landscape::{Landscape, Noise, NoiseKind, validate_particles};

/// The configuration of `sgdlab run smoothing`.
#[derive(Config, Debug, PartialEq)]
pub struct SmoothingConfig {
    /// Seed of the starts and the noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Runs (particles) per noise level.
    #[config(default = 4000)]
    pub starts: usize,
    /// Starts are uniform in `[-start_range, start_range]^d`.
    #[config(default = 3.0)]
    pub start_range: f32,
    /// Learning rate η.
    #[config(default = 0.05)]
    pub lr: f32,
    /// Steps per run.
    #[config(default = 3000)]
    pub steps: u32,
    /// Gaussian noise scales σ; 0 is gradient descent.
    #[config(default = "vec![0.0, 2.0, 6.0, 20.0]")]
    pub sigmas: Vec<f32>,
    /// The 1-D landscape (a ripple bowl with x* = 0).
    #[config(default = "Landscape::spiky_bowl_1d()")]
    pub landscape_1d: Landscape,
    /// The 2-D landscape (a ripple bowl with x* = 0); `None` skips the 2-D part.
    #[config(default = "Some(Landscape::spiky_bowl_2d())")]
    pub landscape_2d: Option<Landscape>,
    /// A run "ends near x*" when its final distance to x* is at most this, and "settles near
    /// x*" when its position averaged over the second half is.
    #[config(default = 0.5)]
    pub near_radius: f32,
    /// Evenly spaced snapshots of the second half whose mean position decides whether a run
    /// settled near x* (the last is the final position).
    #[config(default = 16)]
    pub snapshots: u32,
    /// The one-point-convexity constant c: `g_η` is one-point convex at a point x when
    /// `⟨−∇g_η(x), x* − x⟩ ≥ c ‖x* − x‖²` (a quarter of the bowl's curvature by default).
    #[config(default = 0.25)]
    pub one_point_c: f64,
    /// A level counts as one-point convex over the start region when at least this share of a
    /// grid over it satisfies the inequality.
    #[config(default = 0.9)]
    pub convex_share_min: f64,
    /// Grid points per side for the one-point-convexity share.
    #[config(default = 201)]
    pub convex_grid: u32,
    /// Also run every level on the same bowl without spikes (the control).
    #[config(default = true)]
    pub control: bool,
    /// Grid points per side of the 2-D smoothed-landscape plots.
    #[config(default = 96)]
    pub grid_2d: u32,
    /// Monte Carlo samples per grid point for the 2-D smoothed landscape.
    #[config(default = 128)]
    pub samples_2d: u32,
    /// Steps per `step()` call.
    #[config(default = 1000)]
    pub steps_per_call: u32,
    /// The network check (one-point convexity along SGD on MNIST), run after the landscapes;
    /// `null` skips it.
    #[config(default = "Some(OnePointConfig::new())")]
    pub nn_check: Option<OnePointConfig>,
}

impl SmoothingConfig {
    /// The named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Paper => Self::new(),
            Preset::Quick => Self::new()
                .with_starts(600)
                .with_steps(1500)
                .with_grid_2d(48)
                .with_samples_2d(64)
                .with_nn_check(Some(OnePointConfig::quick())),
        }
    }

    /// Checks every field; errors name it and the accepted range.
    pub fn validate(&self) -> Result<()> {
        validate_particles(self.starts, "starts")?;
        check::range_open_low("lr", f64::from(self.lr), 0.0, 1.0)?;
        check::count("steps", self.steps as usize, 2, 10_000_000)?;
        check::list_len("sigmas", self.sigmas.len(), 1, 8)?;
        for (i, &s) in self.sigmas.iter().enumerate() {
            Noise::new(NoiseKind::Gaussian, s, 2.0).validate(&format!("sigmas[{i}]"))?;
        }
        check::positive("start_range", f64::from(self.start_range))?;
        check::positive("near_radius", f64::from(self.near_radius))?;
        check::count(
            "snapshots",
            self.snapshots as usize,
            1,
            (self.steps - self.steps / 2) as usize,
        )?;
        check::non_negative("one_point_c", self.one_point_c)?;
        check::fraction("convex_share_min", self.convex_share_min)?;
        check::count("convex_grid", self.convex_grid as usize, 3, 4096)?;
        for (name, l, dim) in [
            ("landscape_1d", Some(&self.landscape_1d), 1),
            ("landscape_2d", self.landscape_2d.as_ref(), 2),
        ] {
            if let Some(l) = l {
                l.validate(name)?;
                if l.dim() != dim || !matches!(l, Landscape::Ripple { .. }) {
                    return Err(check::expected(
                        name,
                        &format!("a ripple landscape of dimension {dim}"),
                        &format!("{l:?}"),
                    ));
                }
            }
        }
        check::count("grid_2d", self.grid_2d as usize, 8, 1024)?;
        check::count("samples_2d", self.samples_2d as usize, 1, 65_536)?;
        check::count(
            "steps_per_call",
            self.steps_per_call as usize,
            1,
            u32::MAX as usize,
        )?;
        if let Some(n) = &self.nn_check {
            n.validate("nn_check")?;
        }
        Ok(())
    }

    /// The step counts at which a run stops to read its particles: the end of the burn-in (the
    /// first half), then `snapshots` evenly spaced points of the second half, the last at
    /// `steps`. Strictly increasing once the config is valid.
    pub fn stops(&self) -> Vec<u32> {
        let burn_in = self.steps / 2;
        let rest = u64::from(self.steps - burn_in);
        let n = u64::from(self.snapshots);
        std::iter::once(burn_in)
            .chain((1..=n).map(|j| burn_in + (rest * j / n) as u32))
            .collect()
    }

    /// The noise of level `level` (none for σ = 0).
    pub fn noise(&self, level: usize) -> Noise {
        let s = self.sigmas[level];
        if s == 0.0 {
            Noise::NONE
        } else {
            Noise::new(NoiseKind::Gaussian, s, 2.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_name_the_field() {
        let msg = |c: SmoothingConfig| c.validate().unwrap_err().to_string();
        let m = msg(SmoothingConfig::new().with_convex_share_min(1.5));
        assert!(
            m.contains("`convex_share_min`") && m.contains("[0, 1]"),
            "{m}"
        );
        let m = msg(SmoothingConfig::new().with_landscape_1d(Landscape::spiky_bowl_2d()));
        assert!(m.contains("`landscape_1d`") && m.contains("ripple"), "{m}");
        let m = msg(SmoothingConfig::new().with_steps(1));
        assert!(m.contains("`steps`"), "{m}");
        let m = msg(SmoothingConfig::new().with_steps(20).with_snapshots(11));
        assert!(m.contains("`snapshots`") && m.contains("10"), "{m}");
    }

    #[test]
    fn stops_are_the_burn_in_then_evenly_spaced_to_the_end() {
        let c = SmoothingConfig::new().with_steps(100).with_snapshots(4);
        assert_eq!(c.stops(), vec![50, 62, 75, 87, 100]);
        let c = SmoothingConfig::new().with_steps(21).with_snapshots(11);
        c.validate().unwrap();
        let stops = c.stops();
        assert!(stops.windows(2).all(|w| w[0] < w[1]), "{stops:?}");
        assert_eq!(stops.last(), Some(&21));
    }
}
