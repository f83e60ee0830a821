//! The record behind `window.sgdlab.state()`: what the page runs and where it stands.
//!
//! The app writes one record per frame into a shared slot; the hook serializes the slot when
//! JavaScript asks. Field names are part of the browser tests' contract (`web/tests/`).

use serde::Serialize;
use serde_json::{Map, Value};

/// What `window.sgdlab.state()` returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LabState {
    /// The lab shown (a CLI experiment name, or `placeholder` until the views exist).
    pub lab: String,
    /// The compute backend: `wgpu` (burn on WebGPU) or `cpu` (burn-flex in wasm).
    pub backend: String,
    /// The adapter burn computes on (the CPU backend's description on the fallback).
    pub adapter: String,
    /// What draws the lab: `webgpu` (eframe on the kernels' device), `webgl-worker` (the CPU
    /// fallback: egui's glow painter in a Worker) or `webgl` (eframe's glow on the page, where a
    /// Worker cannot have WebGL2).
    pub renderer: String,
    /// Why the page fell back to the CPU (the lab's one notice says it); `None` on WebGPU.
    pub fallback_reason: Option<String>,
    /// The seed of the running lab.
    pub seed: u64,
    /// Steps the running lab has taken.
    pub steps: u64,
    /// The lab's parameters (as the URL fragment will spell them).
    pub params: Map<String, Value>,
    /// A few metrics of the running lab.
    pub metrics: Map<String, Value>,
    /// Frames the app has drawn.
    pub frames: u64,
    /// `performance.now()` when the compute device and its self-check were ready: milliseconds
    /// since navigation start (download, compilation and device start-up before it).
    pub compute_ready_ms: Option<f64>,
    /// Whether the compute device and its self-check are ready (the lab draws its first frames
    /// and takes input before).
    pub compute_ready: bool,
    /// `performance.now()` when the first frame was drawn: milliseconds since navigation start.
    pub first_frame_ms: Option<f64>,
    /// The startup self-check: a small autodiff computation on the compute device.
    pub self_check: SelfCheck,
}

/// Results worked out by hand, computed on the compute device at startup.
///
/// Small: for `f(X) = Σᵢⱼ (X·X)ᵢⱼ` with `X = [[1, 2], [3, 4]]`, `f = 54` and
/// `∂f/∂X_ab = Σⱼ X_bj + Σᵢ X_ia` (row sum b plus column sum a) `= [[7, 11], [9, 13]]`.
///
/// Large: a 256×256 by 256×256 matmul of ones (every entry 256) and `Σ 3·1` over 512×1024
/// ones (1,572,864): sizes above burn-flex's parallel thresholds natively (the browser build has
/// no rayon: one thread). Both are exact in f32.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SelfCheck {
    /// `f` as computed.
    pub value: Option<f32>,
    /// The gradient as computed, row-major.
    pub grad: Vec<f32>,
    /// Whether the large computations gave their exact results.
    pub large_ok: bool,
    /// The particle kernel against the CPU stepper, on WebGPU (`None` on the CPU fallback).
    pub kernel: Option<KernelCheck>,
    /// Whether everything matches the hand-worked numbers within [`SelfCheck::TOLERANCE`] (and
    /// the kernel agrees with the CPU stepper, where it ran).
    pub ok: bool,
    /// The error, when a computation failed.
    pub error: Option<String>,
}

/// The WGSL particle kernel on the page's WebGPU device against the CPU stepper, from the same
/// starts for the same steps: what the particle labs compute on the GPU. The rule is the native
/// test's (`tests/tests/landscapes.rs`): at least 99% of the particles agree (the engine's
/// `ParticleState::agreeing`: to 1e-3 relative to 1 + |x|, with the same basin label).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KernelCheck {
    /// Particles compared.
    pub particles: usize,
    /// Steps each took on the GPU.
    pub steps: u32,
    /// Particles whose position and label agree.
    pub agree: usize,
    /// Whether enough agree.
    pub ok: bool,
}

impl KernelCheck {
    /// Particles the check runs.
    pub const PARTICLES: usize = 1024;
    /// Steps they take.
    pub const STEPS: u32 = 64;
    /// The seed of the starts and of the noise.
    pub const SEED: u64 = 0xdead_beef_1234;

    /// The check of `agree` agreeing particles (`ParticleState::agreeing` of the engine) out of
    /// `particles`, after `steps` steps on the GPU.
    pub fn from_counts(particles: usize, agree: usize, steps: u32) -> Self {
        Self {
            particles,
            steps,
            agree,
            ok: particles > 0 && steps == Self::STEPS && agree * 100 >= particles * 99,
        }
    }
}

impl SelfCheck {
    /// The input `X`, row-major.
    pub const INPUT: [[f32; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];
    /// `f(X)` worked out by hand.
    pub const EXPECTED_VALUE: f32 = 54.0;
    /// `∂f/∂X` worked out by hand, row-major.
    pub const EXPECTED_GRAD: [f32; 4] = [7.0, 11.0, 9.0, 13.0];
    /// Absolute tolerance: small integers in f32, exact on every backend in practice.
    pub const TOLERANCE: f32 = 1e-4;

    /// Side of the large matmul.
    pub const LARGE_MATMUL: usize = 256;
    /// Shape of the large elementwise operand.
    pub const LARGE_ELEMENTWISE: [usize; 2] = [512, 1024];

    /// Whether a large matmul's entries and the large elementwise sum are exact.
    pub fn large_results_ok(matmul: &[f32], elementwise_sum: f32) -> bool {
        let n = Self::LARGE_MATMUL;
        let [rows, cols] = Self::LARGE_ELEMENTWISE;
        matmul.len() == n * n
            && matmul.iter().all(|&v| v == n as f32)
            && elementwise_sum == (3 * rows * cols) as f32
    }

    /// The check of a computed value and gradient, and of the large computations.
    pub fn from_result(value: f32, grad: Vec<f32>, large_ok: bool) -> Self {
        let close = |a: f32, b: f32| (a - b).abs() <= Self::TOLERANCE;
        let ok = large_ok
            && close(value, Self::EXPECTED_VALUE)
            && grad.len() == Self::EXPECTED_GRAD.len()
            && grad
                .iter()
                .zip(Self::EXPECTED_GRAD)
                .all(|(&g, e)| close(g, e));
        Self {
            value: Some(value),
            grad,
            large_ok,
            kernel: None,
            ok,
            error: None,
        }
    }

    /// This check with the particle kernel's: ok when both are.
    pub fn with_kernel(mut self, kernel: KernelCheck) -> Self {
        self.ok &= kernel.ok;
        self.kernel = Some(kernel);
        self
    }

    /// A check whose computation failed.
    pub fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }
}

impl LabState {
    /// The record as JSON (what the hook hands to JavaScript).
    pub fn to_json(&self) -> Value {
        // Serializing plain fields, strings and finite-or-null floats into a `Value` cannot fail.
        serde_json::to_value(self).unwrap_or_else(
            |e| serde_json::json!({ "error": format!("state not serializable: {e}") }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_worked_gradient_passes_and_a_wrong_one_fails() {
        let grad = || vec![7.0, 11.0, 9.0, 13.0];
        assert!(SelfCheck::from_result(54.0, grad(), true).ok);
        assert!(!SelfCheck::from_result(54.0, grad(), false).ok);
        assert!(!SelfCheck::from_result(54.0, vec![7.0, 11.0, 13.0, 9.0], true).ok);
        assert!(!SelfCheck::from_result(53.0, grad(), true).ok);
        assert!(!SelfCheck::from_result(54.0, vec![7.0, 11.0, 9.0], true).ok);
        assert!(!SelfCheck::failed("no device".into()).ok);
    }

    #[test]
    fn the_large_results_are_exact_or_rejected() {
        let good = vec![256.0; 256 * 256];
        assert!(SelfCheck::large_results_ok(&good, 1_572_864.0));
        assert!(!SelfCheck::large_results_ok(&good, 1_572_863.0));
        assert!(!SelfCheck::large_results_ok(&good[1..], 1_572_864.0));
        let mut bad = good.clone();
        bad[12_345] = 255.0;
        assert!(!SelfCheck::large_results_ok(&bad, 1_572_864.0));
    }

    #[test]
    fn the_kernel_check_needs_99_percent_agreement_and_fails_the_whole_check() {
        let n = KernelCheck::PARTICLES;
        let steps = KernelCheck::STEPS;
        let same = KernelCheck::from_counts(n, n, steps);
        assert_eq!((same.agree, same.ok), (n, true));
        // 1% off is the most that still passes.
        let off = |k: usize| KernelCheck::from_counts(n, n - k, steps);
        assert!(off(n / 100).ok, "{:?}", off(n / 100));
        assert!(!off(n / 100 + 1).ok);
        // Mismatched particle counts agree on none (the engine's rule).
        assert!(!KernelCheck::from_counts(n, 0, steps).ok);
        assert!(!KernelCheck::from_counts(n, n, steps - 1).ok);
        assert!(!KernelCheck::from_counts(0, 0, steps).ok);
        let burn = SelfCheck::from_result(54.0, vec![7.0, 11.0, 9.0, 13.0], true);
        assert!(burn.clone().with_kernel(same).ok);
        assert!(!burn.with_kernel(off(n / 10)).ok);
    }

    #[test]
    fn the_record_has_the_fields_the_browser_tests_read() {
        let mut s = LabState {
            lab: "placeholder".into(),
            backend: "cpu".into(),
            fallback_reason: Some("no WebGPU".into()),
            first_frame_ms: Some(12.5),
            ..LabState::default()
        };
        s.metrics.insert("sharp_fraction".into(), 0.5.into());
        let v = s.to_json();
        for key in [
            "lab",
            "backend",
            "adapter",
            "renderer",
            "fallback_reason",
            "seed",
            "steps",
            "params",
            "metrics",
            "frames",
            "first_frame_ms",
            "self_check",
            "compute_ready",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        assert_eq!(v["metrics"]["sharp_fraction"], 0.5);
        assert_eq!(v["fallback_reason"], "no WebGPU");
        assert_eq!(LabState::default().to_json()["first_frame_ms"], Value::Null);
    }
}
