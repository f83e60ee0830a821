//! The engine on every backend this machine has: the same small training run on the CPU and on
//! wgpu agrees within a stated tolerance, and the same seed twice gives identical numbers.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::data::{Dataset, digits};
use sgdlab_engine::device::{ComputeDevice, cpu_device};
use sgdlab_engine::model::{InputStats, MlpConfig, NetworkConfig};
use sgdlab_engine::optim::SgdConfig;
use sgdlab_engine::probe::{Batch, FlatNet, perturbation_sharpness, top_hessian_eigenvalue};
use sgdlab_engine::train::{TrainRun, evaluate, flatten_params};
use sgdlab_experiments::{Experiment, RandomLabels, RandomLabelsConfig};
use sgdlab_tests::wgpu_or_skip;
use std::sync::Arc;

/// Tolerances for CPU vs wgpu. Both run f32 arithmetic but sum in different orders (tiled
/// matmuls, parallel reductions), so results drift apart by rounding: after 60 SGD steps on
/// digits the parameters stay within 1e-3 of each other and the losses within 1e-3 relative.
const PARAM_ABS_TOL: f32 = 1e-3;
const LOSS_REL_TOL: f64 = 1e-3;

struct Trace {
    losses: Vec<f64>,
    params: Vec<f32>,
    test_acc: f64,
}

fn small_run(device: &ComputeDevice) -> Trace {
    let data = digits().expect("embedded digits");
    let (train, test) = data.split(0.2, 7).unwrap();
    let train: Arc<Dataset> = Arc::new(train.take(640));
    let net = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![32, 32]));
    let stats = InputStats::of(&train.features);
    let model = net.init(train.shape, 10, stats, 3, &device.device.clone().autodiff());
    let labels = Arc::new(train.labels.clone());
    let mut run = TrainRun::new(
        model,
        &SgdConfig::new()
            .with_lr(0.05)
            .with_momentum(0.9)
            .with_weight_decay(1e-4),
        train,
        labels,
        &device.device,
        32,
        None,
        11,
        "backend agreement",
    );
    let mut losses = Vec::new();
    for _ in 0..60 {
        losses.push(run.train_batches(1).unwrap().mean_loss);
    }
    Trace {
        losses,
        params: flatten_params(run.model()),
        test_acc: evaluate(run.model(), &test, None, &device.device).accuracy,
    }
}

#[test]
fn cpu_run_learns_and_is_deterministic() {
    let a = small_run(&cpu_device());
    let b = small_run(&cpu_device());
    assert_eq!(
        a.losses, b.losses,
        "same seed on the CPU must repeat exactly"
    );
    assert_eq!(a.params, b.params);
    assert!(
        a.losses.last().unwrap() < &(a.losses[0] * 0.5),
        "loss should fall: {:?}",
        a.losses
    );
    assert!(a.test_acc > 0.8, "digits test accuracy {}", a.test_acc);
}

#[test]
fn cpu_and_wgpu_agree() {
    let Some(gpu) = wgpu_or_skip("cpu_and_wgpu_agree") else {
        return;
    };
    let c = small_run(&cpu_device());
    let g = small_run(&gpu);
    for (i, (x, y)) in c.losses.iter().zip(&g.losses).enumerate() {
        let rel = (x - y).abs() / x.abs().max(1e-6);
        assert!(
            rel < LOSS_REL_TOL,
            "step {i}: cpu loss {x} vs wgpu {y} ({rel:e} relative)"
        );
    }
    let max_diff = c
        .params
        .iter()
        .zip(&g.params)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff < PARAM_ABS_TOL,
        "max parameter difference {max_diff}"
    );
    assert!(
        (c.test_acc - g.test_acc).abs() <= 0.01,
        "{} vs {}",
        c.test_acc,
        g.test_acc
    );
    // Deterministic on wgpu too.
    let g2 = small_run(&gpu);
    let max_diff2 = g
        .params
        .iter()
        .zip(&g2.params)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff2 < 1e-6, "wgpu repeat differs by {max_diff2}");
}

fn tiny_experiment(device: ComputeDevice) -> serde_json::Value {
    let mut config = RandomLabelsConfig::new()
        .with_seeds(1)
        .with_train_size(Some(200))
        .with_test_size(Some(200))
        .with_network(NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![32])))
        .with_batch_size(50);
    config.random_phase.epochs = 3;
    config.true_phase.epochs = 2;
    let mut e = RandomLabels::new(config, device).unwrap();
    while !e.is_done() {
        e.step().unwrap();
    }
    let mut v = e.results_json().unwrap();
    v["device"] = serde_json::Value::Null;
    v
}

#[test]
fn same_seed_same_results_json() {
    assert_eq!(tiny_experiment(cpu_device()), tiny_experiment(cpu_device()));
}

#[test]
fn experiment_runs_on_wgpu_and_matches_cpu() {
    let Some(gpu) = wgpu_or_skip("experiment_runs_on_wgpu_and_matches_cpu") else {
        return;
    };
    let g = tiny_experiment(gpu);
    let c = tiny_experiment(cpu_device());
    assert_eq!(g["status"], "complete");
    for arm in ["vanilla", "all three"] {
        for key in ["baseline_test_acc", "pretrained_test_acc"] {
            let (a, b) = (
                g["arms"][arm][key][0].as_f64().unwrap(),
                c["arms"][arm][key][0].as_f64().unwrap(),
            );
            // 200 test examples: one flipped prediction moves accuracy by 0.005.
            assert!((a - b).abs() <= 0.02, "{arm}.{key}: wgpu {a} vs cpu {b}");
        }
    }
}

#[test]
fn cnn_trains_on_digits_on_every_backend() {
    use sgdlab_engine::model::CnnConfig;
    let mut devices = vec![cpu_device()];
    devices.extend(wgpu_or_skip(
        "cnn_trains_on_digits_on_every_backend (wgpu part)",
    ));
    let mut finals = Vec::new();
    for device in devices {
        let data = digits().expect("embedded digits");
        let train: Arc<Dataset> = Arc::new(data.take(512));
        let net = NetworkConfig::Cnn(
            CnnConfig::new()
                .with_conv1_channels(8)
                .with_conv2_channels(8),
        );
        net.validate(train.shape, "network").unwrap();
        let stats = InputStats::of(&train.features);
        let model = net.init(train.shape, 10, stats, 5, &device.device.clone().autodiff());
        let labels = Arc::new(train.labels.clone());
        let mut run = TrainRun::new(
            model,
            &SgdConfig::new().with_lr(0.05).with_momentum(0.9),
            train.clone(),
            labels,
            &device.device,
            32,
            None,
            1,
            "cnn",
        );
        let first = run.train_batches(1).unwrap().mean_loss;
        for _ in 0..4 {
            while !run.train_batches(16).unwrap().epoch_finished {}
        }
        let acc = evaluate(run.model(), &train, None, &device.device).accuracy;
        assert!(
            acc > 0.8,
            "{}: CNN train accuracy {acc} after 4 epochs",
            device.info
        );
        assert!(first > 2.0, "initial loss {first} should be near ln 10");
        finals.push(flatten_params(run.model()));
    }
    if let [c, g] = finals.as_slice() {
        let d = c
            .iter()
            .zip(g)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            d < 1e-2,
            "CNN parameters differ between CPU and wgpu by {d} after 4 epochs"
        );
    }
}

/// What the loss probes of `sharp-minima` and `smoothing` read at one point.
struct Probes {
    loss: f64,
    grad: Vec<f32>,
    lambda_max: f64,
    perturb: f64,
}

fn probes(device: &ComputeDevice) -> Probes {
    let data = digits().expect("embedded digits");
    let net = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![32]));
    let stats = InputStats::of(&data.features);
    let model = net.init(data.shape, 10, stats, 5, &device.device.clone().autodiff());
    let idx: Vec<usize> = (0..500).collect();
    let batch = Batch::new(&data, &idx, &data.labels, &device.device);
    let mut flat = FlatNet::new(model);
    let w = flat.params();
    let (loss, grad) = flat.loss_grad(&batch);
    Probes {
        loss,
        grad,
        lambda_max: top_hessian_eigenvalue(&mut flat, &w, &batch, 20, 1e-3, 0).unwrap(),
        perturb: perturbation_sharpness(&mut flat, &w, &batch, 0.05, 5, 0)
            .unwrap()
            .0,
    }
}

/// The network probes agree across backends: loss within 1e-4 relative, every gradient entry
/// within 1e-4 + 1e-3 relative, λ_max (finite differences of f32 gradients, 20 power
/// iterations) within 2%, the perturbation loss increase within 1e-3 absolute.
#[test]
fn loss_probes_agree_on_cpu_and_wgpu() {
    let Some(gpu) = wgpu_or_skip("loss_probes_agree_on_cpu_and_wgpu") else {
        return;
    };
    let c = probes(&cpu_device());
    let g = probes(&gpu);
    assert!(
        (c.loss - g.loss).abs() < 1e-4 * c.loss,
        "{} vs {}",
        c.loss,
        g.loss
    );
    for (i, (a, b)) in c.grad.iter().zip(&g.grad).enumerate() {
        assert!(
            (a - b).abs() < 1e-4 + 1e-3 * a.abs(),
            "gradient entry {i}: cpu {a} vs wgpu {b}"
        );
    }
    assert!(c.lambda_max > 0.0);
    assert!(
        (c.lambda_max - g.lambda_max).abs() < 0.02 * c.lambda_max,
        "λ_max cpu {} vs wgpu {}",
        c.lambda_max,
        g.lambda_max
    );
    assert!(
        (c.perturb - g.perturb).abs() < 1e-3,
        "{} vs {}",
        c.perturb,
        g.perturb
    );
}
