//! `sgdlab bench gossip`: simulated node-steps per second of Gossip-PGA on logistic regression
//! (Chen et al., ICML 2021, §7.1 setting), all nodes as one (n × d) tensor.

use super::{Algorithm, LogisticProblem, Mixer, MixingMatrix, TopologyConfig, WeightScheme};
use crate::device::{ComputeDevice, DeviceInfo};
use crate::error::{EngineError, Result};
use crate::rng::SplitMix64;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The result of [`bench_gossip`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GossipBench {
    /// Simulated node-steps per second (nodes × timed steps / seconds).
    pub node_steps_per_sec: f64,
    /// Nodes.
    pub nodes: usize,
    /// Parameters per node.
    pub dim: usize,
    /// Samples per node and mini-batch per node.
    pub samples_per_node: usize,
    /// Mini-batch per node.
    pub batch: usize,
    /// Averaging period H.
    pub period: usize,
    /// Timed steps.
    pub steps: usize,
    /// Seconds the timed steps took (ending with a read-back, so queued GPU work is counted).
    pub seconds: f64,
    /// Backend (`cpu` or `wgpu`).
    pub backend: crate::device::Backend,
    /// The device in full.
    pub device: DeviceInfo,
}

/// Runs Gossip-PGA on a ring of `nodes` nodes with `dim` parameters each.
pub fn bench_gossip(
    device: &ComputeDevice,
    nodes: usize,
    dim: usize,
    steps: usize,
    warmup: usize,
) -> Result<GossipBench> {
    if !(2..=4096).contains(&nodes) {
        return Err(EngineError::config(
            "--nodes",
            format!("expected 2 to 4096 nodes, found {nodes}"),
        ));
    }
    if !(1..=10_000_000).contains(&dim) {
        return Err(EngineError::config(
            "--dim",
            format!("expected 1 to 10000000, found {dim}"),
        ));
    }
    if steps == 0 {
        return Err(EngineError::config(
            "--steps",
            "expected at least 1 step, found 0",
        ));
    }
    let (m, batch, period) = (16, 4, 16);
    let dev = &device.device;
    let problem = LogisticProblem::generate(nodes, m, dim, 1.0, 1e-3, 0, dev);
    let mix = MixingMatrix::build(
        &TopologyConfig::Ring,
        WeightScheme::Uniform,
        nodes,
        "--nodes",
    )?;
    let mut mixer = Mixer::new(Algorithm::GossipPga, &mix, period, period, dim, dev)?;
    let mut rng = SplitMix64::new(1);
    let mut x: Tensor<2> = Tensor::zeros([nodes, dim], dev);
    let mut run = |x: Tensor<2>, k: usize| {
        let mut x = x;
        for _ in 0..k {
            let g = problem.stochastic_grad(x.clone(), batch, &mut rng);
            x = mixer.mix(vec![x - g.mul_scalar(0.1)]).remove(0);
        }
        x
    };
    x = run(x, warmup);
    let _ = x.clone().sum().into_scalar::<f32>();
    let start = Instant::now();
    x = run(x, steps);
    let _ = x.sum().into_scalar::<f32>();
    let seconds = start.elapsed().as_secs_f64();
    Ok(GossipBench {
        node_steps_per_sec: (nodes * steps) as f64 / seconds,
        nodes,
        dim,
        samples_per_node: m,
        batch,
        period,
        steps,
        seconds,
        backend: device.info.backend,
        device: device.info.clone(),
    })
}
