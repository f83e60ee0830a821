//! Throughput benchmarks that the CLI (`sgdlab bench`) reports.

use crate::data::{Dataset, mnist10k};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::model::{InputStats, MlpConfig, NetworkConfig};
use crate::optim::SgdConfig;
use crate::train::TrainRun;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// The result of [`bench_train_mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainBench {
    /// Training examples processed per second (forward, backward and SGD step).
    pub samples_per_sec: f64,
    /// Timed optimizer steps.
    pub steps: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Seconds the timed steps took.
    pub seconds: f64,
    /// Untimed warm-up steps run first (kernel compilation, allocator warm-up).
    pub warmup_steps: usize,
    /// Backend (`cpu` or `wgpu`).
    pub backend: String,
    /// Adapter description.
    pub adapter: String,
    /// The device in full.
    pub device: DeviceInfo,
}

/// Trains the MLP 784-512-512-10 with plain SGD on MNIST-10k for `steps` timed steps.
pub fn bench_train_mlp(
    device: &ComputeDevice,
    batch: usize,
    steps: usize,
    warmup_steps: usize,
) -> Result<TrainBench> {
    if batch == 0 || batch > 10_000 {
        return Err(EngineError::config(
            "--batch",
            format!("expected 1 to 10000, found {batch}"),
        ));
    }
    if steps == 0 {
        return Err(EngineError::config(
            "--steps",
            "expected at least 1 step, found 0",
        ));
    }
    let full = mnist10k()?;
    // Whole batches only, so that every timed step processes exactly `batch` examples.
    let n = (full.len() / batch).max(1) * batch;
    let data: Arc<Dataset> = Arc::new(full.take(n));
    let net = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![512, 512]));
    let stats = InputStats::of(&data.features);
    let model = net.init(
        data.shape,
        data.num_classes,
        stats,
        0,
        &device.device.clone().autodiff(),
    );
    let labels = Arc::new(data.labels.clone());
    let mut run = TrainRun::new(
        model,
        &SgdConfig::new().with_lr(0.01),
        data,
        labels,
        &device.device,
        batch,
        None,
        0,
        "bench train-mlp",
    );
    let mut left = warmup_steps;
    while left > 0 {
        left -= run.train_batches(left)?.batches;
    }
    let start = Instant::now();
    let mut left = steps;
    while left > 0 {
        left -= run.train_batches(left)?.batches;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TrainBench {
        samples_per_sec: (steps * batch) as f64 / seconds,
        steps,
        batch,
        seconds,
        warmup_steps,
        backend: device.info.backend.clone(),
        adapter: device.info.adapter.clone(),
        device: device.info.clone(),
    })
}
