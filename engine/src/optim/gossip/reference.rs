//! The one-process reference for [`super::run_node`]: the same run on the batched simulator
//! (all n nodes as one n × d tensor, [`super::Mixer`] for the combine step), recording the same
//! [`NodeOutcome`] so that a run over n processes can be compared with it number by number.

use super::consensus_distance;
use super::{LogisticProblem, Mixer, NodeEval, NodeOutcome, NodeRunSpec, NodeStats};
use crate::error::{EngineError, Result};
use burn::tensor::{Device, Tensor};
use std::time::Instant;

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// Runs `spec` on the batched simulator on `device`, exactly as the gossip experiment runs its
/// replica 0 at n = `spec.nodes` (same data, same mini-batch stream, same step sizes).
pub fn simulate_nodes(spec: &NodeRunSpec, device: &Device) -> Result<NodeOutcome> {
    spec.validate()?;
    let (n, d) = (spec.nodes, spec.dim);
    let p = LogisticProblem::generate(
        n,
        spec.samples_per_node,
        d,
        spec.heterogeneity,
        spec.reg,
        spec.data_seed(),
        device,
    );
    let mix = spec.mixing()?;
    let mut mixer = Mixer::new(
        spec.algorithm,
        &mix,
        spec.period,
        spec.aga_max_period.max(spec.period),
        d,
        device,
    )?;
    let mut rngs = vec![spec.batch_rng()];
    let mut x: Tensor<2> = Tensor::zeros([n, d], device);
    let mut evals = Vec::new();
    let start = Instant::now();
    for k in 0..spec.steps as u64 {
        let lr = spec.lr_at(k);
        let g = p.stochastic_grad_replicas(x.clone(), spec.batch, &mut rngs);
        x = mixer.mix(vec![x.clone() - g.mul_scalar(lr)]).remove(0);
        let step = k + 1;
        if spec.evaluates(step) {
            let (loss, gn) = p.at_average_replicas(x.clone(), 1);
            let e = NodeEval {
                step,
                lr,
                loss: scalar(loss),
                grad_norm: scalar(gn).sqrt(),
                consensus: scalar(consensus_distance(x.clone())),
            };
            if !e.loss.is_finite() {
                return Err(EngineError::Diverged {
                    step,
                    phase: format!("simulated {} n={n}", spec.algorithm.name()),
                    loss: e.loss,
                });
            }
            mixer.observe_loss(e.loss);
            evals.push(e);
        }
    }
    let mean_model = x
        .mean_dim(0)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| EngineError::Device(format!("reading the model back: {e:?}")))?;
    let steps = spec.steps as u64;
    Ok(NodeOutcome {
        evals,
        mean_model,
        stats: NodeStats {
            steps,
            compute_seconds: start.elapsed().as_secs_f64(),
            bytes_sent: mixer.bytes,
            messages: mixer.messages,
            global_averages: mixer.global_averages,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::gossip::{Algorithm, NodeComm, TopologyConfig, WeightScheme, run_node};
    use std::sync::mpsc::{Receiver, Sender, channel};

    /// Nodes as threads, one FIFO channel per ordered pair: every node performs the same
    /// sequence of operations, so the next message from j is always the current one.
    struct ThreadComm {
        rank: usize,
        to: Vec<Sender<Vec<f32>>>,
        from: Vec<Receiver<Vec<f32>>>,
    }

    impl NodeComm for ThreadComm {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            self.to.len()
        }
        fn all_reduce_sum(&mut self, buf: &mut [f32]) {
            let n = self.size();
            for j in (0..n).filter(|&j| j != self.rank) {
                self.to[j].send(buf.to_vec()).unwrap();
            }
            let mut parts: Vec<Vec<f32>> = (0..n)
                .map(|j| {
                    if j == self.rank {
                        buf.to_vec()
                    } else {
                        self.from[j].recv().unwrap()
                    }
                })
                .collect();
            let first = parts.remove(0);
            let sum = parts.into_iter().fold(first, |mut a, p| {
                a.iter_mut().zip(p).for_each(|(x, y)| *x += y);
                a
            });
            buf.copy_from_slice(&sum);
        }
        fn exchange(
            &mut self,
            mine: &[f32],
            to: &[usize],
            from: &[usize],
            recv: &mut [Vec<f32>],
            _tag: u16,
        ) {
            for &j in to {
                self.to[j].send(mine.to_vec()).unwrap();
            }
            for (r, &j) in recv.iter_mut().zip(from) {
                *r = self.from[j].recv().unwrap();
            }
        }
    }

    fn spec(algorithm: Algorithm, topology: TopologyConfig) -> NodeRunSpec {
        NodeRunSpec {
            algorithm,
            nodes: 4,
            seed: 3,
            topology,
            weights: WeightScheme::Uniform,
            period: 3,
            aga_max_period: 12,
            samples_per_node: 16,
            dim: 5,
            heterogeneity: 4.0,
            reg: 0.05,
            batch: 4,
            lr: 0.5,
            lr_decay_steps: 20.0,
            steps: 24,
            eval_every: 6,
        }
    }

    fn on_threads(s: &NodeRunSpec) -> Vec<NodeOutcome> {
        let n = s.nodes;
        let mut senders: Vec<Vec<Option<Sender<Vec<f32>>>>> = vec![vec![None; n]; n];
        let mut receivers: Vec<Vec<Option<Receiver<Vec<f32>>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        for i in 0..n {
            for j in 0..n {
                let (tx, rx) = channel();
                senders[i][j] = Some(tx);
                receivers[j][i] = Some(rx);
            }
        }
        let handles: Vec<_> = senders
            .into_iter()
            .zip(receivers)
            .enumerate()
            .map(|(rank, (to, from))| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let dev = Device::flex();
                    let shard = s.shard(rank, &dev);
                    let mut comm = ThreadComm {
                        rank,
                        to: to.into_iter().map(Option::unwrap).collect(),
                        from: from.into_iter().map(Option::unwrap).collect(),
                    };
                    run_node(&s, &shard, &mut comm, &mut |_, _| {}, &mut |_| {}).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn nodes_on_threads_reproduce_the_simulator() {
        let dev = Device::flex();
        for topology in [TopologyConfig::Ring, TopologyConfig::OnePeerExponential] {
            for a in Algorithm::ALL {
                let s = spec(a, topology.clone());
                let sim = simulate_nodes(&s, &dev).unwrap();
                let nodes = on_threads(&s);
                for o in &nodes {
                    assert_eq!(o.evals.len(), sim.evals.len());
                    for (x, y) in o.evals.iter().zip(&sim.evals) {
                        assert_eq!(x.step, y.step);
                        for (u, v) in [
                            (x.loss, y.loss),
                            (x.grad_norm, y.grad_norm),
                            (x.consensus, y.consensus),
                        ] {
                            assert!(
                                (u - v).abs() <= 1e-7 + 1e-4 * v.abs(),
                                "{a:?} {topology:?} step {}: {u} vs {v}",
                                x.step
                            );
                        }
                    }
                    for (u, v) in o.mean_model.iter().zip(&sim.mean_model) {
                        assert!((u - v).abs() < 1e-4, "{a:?} {topology:?}: x̄ {u} vs {v}");
                    }
                    assert_eq!(o.stats.global_averages, sim.stats.global_averages);
                }
            }
        }
    }
}
