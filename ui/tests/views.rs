//! Every lab renders for real (egui-wgpu on burn's device, lavapipe here), steps change what it
//! shows, and controls act. Snapshots of each lab's first frame are compared with per-platform
//! thresholds (regenerate with `UPDATE_SNAPSHOTS=1`).

use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, OsThreshold, SnapshotOptions};
use serde_json::Value;
use sgdlab_engine::device::{wgpu_device, wgpu_setup};
use sgdlab_engine::gpu::GpuContext;
use sgdlab_ui::export::MemoryPlatform;
use sgdlab_ui::{Compute, LabApp, LabKind, LabOptions, Painting};
use std::cell::RefCell;
use std::rc::Rc;

/// A fresh render state on burn's wgpu device (kittest wants one per harness).
fn render_state() -> egui_wgpu::RenderState {
    let s = wgpu_setup().expect("the setup of an initialized device");
    let setup = egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
        instance: s.instance,
        adapter: s.adapter,
        device: s.device,
        queue: s.queue,
    });
    egui_kittest::wgpu::create_render_state(setup, egui_wgpu::RendererOptions::PREDICTABLE)
}

/// burn's wgpu device and a render state on it, or `None` (a skip) without an adapter; under
/// `CI=true` a missing adapter fails instead.
fn gpu() -> Option<(Compute, egui_wgpu::RenderState)> {
    let dev = match wgpu_device() {
        Ok(d) => d,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI needs a wgpu adapter (lavapipe): {e}"
            );
            eprintln!("skipped: no wgpu adapter ({e})");
            return None;
        }
    };
    let rs = render_state();
    let ctx = GpuContext::shared().expect("context of an initialized device");
    Some((Compute::wgpu(dev, ctx), rs))
}

fn harness(
    compute: Compute,
    _rs: egui_wgpu::RenderState,
    fragment: &str,
) -> (Harness<'static>, Rc<RefCell<LabApp>>) {
    let rs = render_state();
    let app = Rc::new(RefCell::new(LabApp::new(
        &egui::Context::default(),
        Some(rs.clone()),
        compute,
        LabOptions {
            threaded: false,
            painting: Painting::OnThisThread,
            platform: Box::new(MemoryPlatform::default()),
            fragment: Some(fragment.to_string()),
            autostart: false,
        },
    )));
    let a = app.clone();
    let h = Harness::builder()
        .with_size(egui::vec2(1280.0, 820.0))
        .renderer(egui_kittest::wgpu::WgpuTestRenderer::from_render_state(rs))
        .with_context_setup(sgdlab_ui::install_fonts)
        .build_ui(move |ui| a.borrow_mut().ui(ui));
    (h, app)
}

fn distinct_colours(img: &image::RgbaImage) -> usize {
    let mut seen = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        seen.insert(p.0);
    }
    seen.len()
}

fn differing_pixels(a: &image::RgbaImage, b: &image::RgbaImage) -> usize {
    a.pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0.iter()).any(|(x, y)| x.abs_diff(*y) > 8))
        .count()
}

fn state(app: &Rc<RefCell<LabApp>>) -> Value {
    app.borrow().state_json()
}

/// Steps `k` units of work (inline, deterministic) and lets the views catch up.
fn step(h: &mut Harness<'_>, app: &Rc<RefCell<LabApp>>, k: usize) {
    for _ in 0..k {
        app.borrow_mut().step_once();
        h.step();
    }
    h.run_steps(2);
}

fn snapshot_options() -> SnapshotOptions {
    // Live plots differ slightly across rasterizers and font hinting: thresholds per platform.
    SnapshotOptions::new()
        .threshold(OsThreshold::new(2.0).linux(1.0))
        .max_failed_pixels(OsThreshold::new(20_000).linux(2_000))
}

#[test]
fn each_lab_renders_and_steps_change_what_it_shows() {
    // The CPU backend computes (deterministic first frames for the snapshots); the frames are
    // rendered with wgpu. The GPU kernels are covered below and by the desktop test.
    let Some((_, rs)) = gpu() else { return };
    let compute = Compute::cpu(None);
    // Steps per lab: enough work for the view to change, little enough for a debug test.
    let plan: [(LabKind, usize); 6] = [
        (LabKind::Smoothing, 8),
        (LabKind::SharpMinima, 8),
        (LabKind::RandomLabels, 40),
        (LabKind::Elimination, 6),
        (LabKind::Gossip, 30),
        (LabKind::Rnn, 6),
    ];
    let mut snapshots = egui_kittest::SnapshotResults::default();
    for (kind, k) in plan {
        let (mut h, app) = harness(compute.clone(), rs.clone(), &format!("lab={}", kind.name()));
        h.run_steps(3);
        let before = h.render().expect("render");
        assert!(
            distinct_colours(&before) > 20,
            "{}: the first frame is nearly blank",
            kind.name()
        );
        h.snapshot_options(format!("lab_{}", kind.name()), &snapshot_options());
        snapshots.extend(h.take_snapshot_results());
        let s0 = state(&app);
        assert_eq!(s0["lab"], kind.name());
        assert_eq!(s0["error"], Value::Null, "{}: {}", kind.name(), s0["error"]);
        step(&mut h, &app, k);
        let s1 = state(&app);
        assert_eq!(s1["error"], Value::Null, "{}: {}", kind.name(), s1["error"]);
        assert_eq!(s1["steps"].as_u64(), Some(k as u64), "{}", kind.name());
        assert_ne!(
            s0["metrics"],
            s1["metrics"],
            "{}: metrics did not move",
            kind.name()
        );
        let after = h.render().expect("render");
        let diff = differing_pixels(&before, &after);
        assert!(
            diff > 500,
            "{}: {k} steps changed only {diff} pixels",
            kind.name()
        );
    }
    snapshots.unwrap();
}

#[test]
fn controls_act_through_the_ui() {
    let Some((compute, rs)) = gpu() else { return };
    let (mut h, app) = harness(compute, rs, "lab=sharp-minima");
    h.run_steps(2);
    // The lab picker.
    h.get_by_label("Gossip").click();
    h.run_steps(2);
    assert_eq!(state(&app)["lab"], "gossip");
    h.get_by_label("Sharp minima").click();
    h.run_steps(2);
    assert_eq!(state(&app)["lab"], "sharp-minima");
    // A preset button changes the parameters.
    assert_eq!(state(&app)["params"]["clip"].as_f64(), Some(0.4));
    h.get_by_label("heavy tails, no clipping").click();
    h.run_steps(2);
    assert_eq!(state(&app)["params"]["clip"].as_f64(), Some(0.0));
    // Start runs it, Pause stops it.
    h.get_by_label("Start").click();
    h.run_steps(3);
    let s = state(&app);
    assert_eq!(s["running"], true);
    assert!(s["steps"].as_u64().unwrap_or(0) > 0, "{s}");
    h.get_by_label("Pause").click();
    h.run_steps(2);
    let paused = state(&app)["steps"].as_u64();
    h.run_steps(3);
    assert_eq!(
        state(&app)["steps"].as_u64(),
        paused,
        "kept running after Pause"
    );
    // CSV export goes through the platform.
    h.get_by_label("CSV").click();
    h.run_steps(1);
    let notices = state(&app)["notices"].to_string();
    assert!(
        notices.contains("saved sgdlab-sharp-minima-seed0"),
        "{notices}"
    );
}

#[test]
fn a_link_restores_state_and_a_tampered_one_is_ignored_piece_by_piece() {
    let Some((compute, rs)) = gpu() else { return };
    let (mut h, app) = harness(
        compute.clone(),
        rs.clone(),
        "#lab=sharp-minima&seed=7&eta=0.01&alpha=1.7&clip_mode=grad-norm&clip=0.5",
    );
    h.run_steps(2);
    let s = state(&app);
    assert_eq!(s["lab"], "sharp-minima");
    assert_eq!(s["seed"], 7);
    assert!(
        (s["params"]["eta"].as_f64().unwrap_or(0.0) - 0.01).abs() < 1e-6,
        "{s}"
    );
    assert_eq!(s["params"]["clip_mode"], "grad-norm");
    assert!(
        (s["params"]["clip"].as_f64().unwrap_or(0.0) - 0.5).abs() < 1e-6,
        "{s}"
    );
    assert_eq!(s["notices"].as_array().map(Vec::len), Some(0), "{s}");
    // The fragment round-trips.
    let frag = s["fragment"].as_str().unwrap_or_default().to_string();
    let (mut h2, app2) = harness(compute.clone(), rs.clone(), &frag);
    h2.run_steps(1);
    assert_eq!(state(&app2)["params"], s["params"]);

    let (mut h3, app3) = harness(
        compute,
        rs,
        "#lab=sharp-minima&seed=banana&eta=-3&alpha=NaN&clip_mode=sideways&bogus=1&clip=0.3&%E0%A4",
    );
    h3.run_steps(2);
    let s = state(&app3);
    assert_eq!(s["lab"], "sharp-minima");
    assert_eq!(s["seed"], 0, "a bad seed is ignored");
    assert!(
        (s["params"]["clip"].as_f64().unwrap_or(0.0) - 0.3).abs() < 1e-6,
        "good pieces apply: {s}"
    );
    assert!(
        (s["params"]["eta"].as_f64().unwrap_or(0.0) - 0.04).abs() < 1e-6,
        "{s}"
    );
    let notices: Vec<String> = s["notices"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for key in [
        "seed=banana",
        "eta=-3",
        "alpha=NaN",
        "clip_mode=sideways",
        "bogus",
    ] {
        assert!(
            notices.iter().any(|n| n.contains(key)),
            "no notice for {key}: {notices:?}"
        );
    }
    // The notices are on screen.
    h3.get_by_label_contains("ignored `bogus`");
}

/// The sharp-minima run every backend must reproduce (the browser tests read it too).
const FIXTURE: &str = include_str!("../../web/tests/fixtures/sharp-minima.json");

#[test]
fn the_cpu_backend_computes_the_same_particles_as_the_gpu_kernel() {
    // Same seed, same steps: the native CPU reference gives exactly the fixture's counts, and
    // the WGSL kernel agrees with it to within 1% of the particles (float rounding in the
    // noise transforms can flip a particle near a basin edge).
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture JSON");
    let link = fixture["link"].as_str().expect("fixture link").to_string();
    let steps = fixture["stop_at"].as_f64().expect("fixture steps");
    let want = fixture["native_cpu"]["sharp_share"]
        .as_f64()
        .expect("fixture share");
    let Some((gpu_compute, rs)) = gpu() else {
        return;
    };
    let mut shares = Vec::new();
    for compute in [Compute::cpu(None), gpu_compute] {
        let (mut h, app) = harness(compute, rs.clone(), &link);
        app.borrow_mut().set_running(true);
        // Runs to `stop_at`; GPU statistics arrive by an asynchronous readback.
        for _ in 0..400 {
            if state(&app)["metrics"]["stats_steps"].as_f64() == Some(steps) {
                break;
            }
            h.step();
        }
        let m = state(&app)["metrics"].clone();
        assert_eq!(m["stats_steps"].as_f64(), Some(steps), "{m}");
        shares.push(m["sharp_share"].as_f64().unwrap_or(f64::NAN));
    }
    assert_eq!(
        shares[0], want,
        "the CPU reference moved: update web/tests/fixtures/sharp-minima.json ({shares:?})"
    );
    assert!((shares[0] - shares[1]).abs() <= 0.01, "{shares:?}");
}
