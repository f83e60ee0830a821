//! The paper's CIFAR-10 setting of `random-labels` (`configs/random-labels-cifar10.json`, a
//! ResNet-18): the shipped config merged with `--dataset cifar10:DIR` is the authors' protocol;
//! the same config at width 4 trains end to end through the `sgdlab` binary on the CPU on a small
//! generated file in CIFAR-10's binary format; a width of 0 exits with code 2 naming the field.
//!
//! `SGDLAB_BIN` may name the binary to run (another build sharing the target directory can
//! replace `target/debug/sgdlab` between building and testing).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::data::DatasetSpec;
use sgdlab_engine::device::BackendChoice;
use sgdlab_experiments::{Preset, RunRequest, find};
use sgdlab_tests::{RUN_FILES, assert_files, claims_of, sgdlab, stderr, write_config};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The shipped config, as text, and its path.
fn shipped() -> (String, PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/random-labels-cifar10.json");
    (std::fs::read_to_string(&path).unwrap(), path)
}

/// `n` records in CIFAR-10's binary format: a label byte (cycling 0..9), then 3,072 pixel bytes
/// from a fixed generator.
fn cifar_records(n: usize, salt: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32 ^ salt;
    let mut bytes = Vec::with_capacity(n * 3073);
    for i in 0..n {
        bytes.push((i % 10) as u8);
        for _ in 0..3072 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bytes.push((state >> 24) as u8);
        }
    }
    bytes
}

/// A directory laid out as CIFAR-10's binary archive unpacks (`cifar-10-batches-bin/` with one
/// training batch of `train` records and a test batch of `test`); returns the directory to pass
/// as `cifar10:DIR`.
fn cifar_dir(root: &Path, train: usize, test: usize) -> String {
    let batches = root.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&batches).unwrap();
    std::fs::write(batches.join("data_batch_1.bin"), cifar_records(train, 1)).unwrap();
    std::fs::write(batches.join("test_batch.bin"), cifar_records(test, 2)).unwrap();
    root.to_str().unwrap().to_string()
}

/// `sgdlab run random-labels --config CFG --dataset cifar10:DATA` on the CPU, quietly, into
/// `out`, with `extra` flags.
fn run_on_cifar(cfg: &str, data: &str, out: &Path, extra: &[&str]) -> Output {
    let dataset = format!("cifar10:{data}");
    let mut args = vec![
        "run",
        "random-labels",
        "--config",
        cfg,
        "--dataset",
        &dataset,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    sgdlab(&args)
}

#[test]
fn the_shipped_config_with_a_cifar_dataset_is_the_authors_setting() {
    let (text, path) = shipped();
    let request = RunRequest {
        preset: Preset::Paper,
        config: Some((text, path.display().to_string())),
        dataset: Some("cifar10:/data/cifar".parse::<DatasetSpec>().unwrap()),
        backend: BackendChoice::Cpu,
        // The estimate for the full setting must fit a 16 GiB machine.
        max_memory: Some(16 << 30),
        ..RunRequest::default()
    };
    let c = find("random-labels").unwrap().config(&request).unwrap();
    assert_eq!(c["dataset"], "cifar10:/data/cifar", "--dataset overrides");
    assert_eq!(c["network"]["kind"], "resnet");
    assert_eq!(c["network"]["width"], 64);
    assert_eq!(c["batch_size"], 128);
    assert_eq!(c["lr"], 0.1);
    assert_eq!(c["lr_decay"], 0.1);
    // Milestones at epochs 150 and 250 of 350, in both phases.
    let at: Vec<f64> = c["lr_milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f.as_f64().unwrap() * 350.0).round())
        .collect();
    assert_eq!(at, [150.0, 250.0]);
    assert_eq!(c["random_phase"]["epochs"], 350);
    assert_eq!(c["random_phase"]["stop_at_train_acc"], 0.9999);
    assert_eq!(c["true_phase"]["epochs"], 350);
    assert_eq!(c["confusion"]["copies"], 1);
    assert_eq!(c["confusion"]["zero_fraction"], 0.1);
    assert_eq!(c["momentum"], 0.9);
    assert_eq!(c["weight_decay"], 0.0005);
    assert_eq!(c["augment"]["max_shift"], 4);
    assert_eq!(c["augment"]["hflip"], true);
    assert_eq!(
        c["arms"],
        serde_json::json!([[], ["momentum", "weight-decay", "augmentation"]])
    );
}

#[test]
fn the_shipped_config_trains_at_tiny_width_on_a_generated_cifar_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = cifar_dir(tmp.path(), 40, 20);
    // The shipped file with the size fields made tiny; everything else as shipped.
    let (text, _) = shipped();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["network"]["width"] = 4.into();
    config["seeds"] = 2.into();
    config["batch_size"] = 16.into();
    config["random_phase"]["epochs"] = 2.into();
    config["true_phase"]["epochs"] = 1.into();
    let cfg = write_config(tmp.path(), &config.to_string());
    let out = tmp.path().join("out");
    let o = run_on_cifar(&cfg, &data, &out, &["--json"]);
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let dir = out.join("random-labels");
    assert_files(&dir, &RUN_FILES);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["status"], "complete");
    assert_eq!(r["train_size"], 40);
    assert_eq!(r["test_size"], 20);
    let network = r["network"].as_str().unwrap();
    assert!(network.starts_with("resnet-18 width 4"), "{network}");
    assert_eq!(r["arm_order"], serde_json::json!(["vanilla", "all three"]));
    assert_eq!(r["random_phase"].as_array().unwrap().len(), 2);
    for arm in ["vanilla", "all three"] {
        let a = &r["arms"][arm];
        assert_eq!(a["baseline"].as_array().unwrap().len(), 2, "{arm}");
        assert_eq!(a["pretrained"].as_array().unwrap().len(), 2, "{arm}");
        for rec in a["baseline"].as_array().unwrap() {
            let acc = rec["test_acc"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{arm}: {rec}");
        }
    }
    let mut ids: Vec<String> = claims_of(&r).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    assert_eq!(ids, ["regularized-gap-removed", "vanilla-gap-positive"]);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        written["network"],
        serde_json::json!({"kind": "resnet", "width": 4})
    );
}

#[test]
fn a_bad_width_exits_2_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = cifar_dir(tmp.path(), 12, 6);
    let cfg = write_config(tmp.path(), r#"{"network": {"kind": "resnet", "width": 0}}"#);
    let o = run_on_cifar(&cfg, &data, &tmp.path().join("out"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("config field `network.width`"),
        "{}",
        stderr(&o)
    );
}

/// Seconds per CIFAR-10 epoch on the CPU, extrapolated from `RESNET_TIME_IMAGES` (default 256)
/// generated images at each width of `RESNET_TIME_WIDTHS` (default `16,64`): one training epoch
/// over them (batch 128, the regularized arm's SGD and crop/flip) and one evaluation pass over
/// them, scaled to 50,000 training images trained and evaluated and 10,000 test images
/// evaluated, as the experiment does every epoch. Run by hand (README, random-label section):
/// `cargo test --workspace --features sgdlab/mpi --test resnet -- --ignored --nocapture`.
#[test]
#[ignore = "a timing measurement (minutes at width 64), run by hand"]
fn cpu_seconds_per_cifar_epoch() {
    use sgdlab_engine::data::{Augment, parse_cifar_batch};
    use sgdlab_engine::model::{InputStats, NetworkConfig, ResnetConfig};
    use sgdlab_engine::optim::SgdConfig;
    use sgdlab_engine::train::{TrainRun, evaluate};
    use std::sync::Arc;
    use std::time::Instant;

    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let n: usize = env("RESNET_TIME_IMAGES", "256").parse().unwrap();
    let widths: Vec<usize> = env("RESNET_TIME_WIDTHS", "16,64")
        .split(',')
        .map(|w| w.trim().parse().unwrap())
        .collect();
    let data = Arc::new(parse_cifar_batch(&cifar_records(n, 3), "generated").unwrap());
    let device = sgdlab_engine::device::resolve_device(BackendChoice::Cpu).unwrap();
    println!("device: {:?}", device.info);
    for width in widths {
        let model = NetworkConfig::Resnet(ResnetConfig::new().with_width(width)).init(
            data.shape,
            10,
            InputStats::of(&data.features),
            0,
            &device.device.clone().autodiff(),
        );
        let optim = SgdConfig::new()
            .with_lr(0.1)
            .with_momentum(0.9)
            .with_weight_decay(5e-4);
        let mut run = TrainRun::new(
            model,
            &optim,
            data.clone(),
            Arc::new(data.labels.clone()),
            &device.device,
            128,
            Some(Augment {
                max_shift: 4,
                hflip: true,
            }),
            0,
            "timing",
        );
        let start = Instant::now();
        let outcome = run.train_batches(usize::MAX).unwrap();
        let train_s = start.elapsed().as_secs_f64();
        assert!(outcome.epoch_finished);
        let start = Instant::now();
        let eval = evaluate(run.model(), &data, None, &device.device);
        let eval_s = start.elapsed().as_secs_f64();
        assert!(eval.loss.is_finite());
        let epoch_s = 50_000.0 / n as f64 * (train_s + eval_s) + 10_000.0 / n as f64 * eval_s;
        println!(
            "width {width}: {n} images: train {train_s:.2} s, evaluate {eval_s:.2} s; \
             extrapolated epoch (50,000 trained and evaluated, 10,000 evaluated): {epoch_s:.0} s \
             = {:.1} min",
            epoch_s / 60.0
        );
    }
}
