//! The MNIST part: an MLP trained on MNIST-10k split across nodes by label (each class mostly on
//! its home node), every algorithm on the same split and batches.

use super::Gossip;
use super::{MnistData, MnistRun, Row, run::scalar};
use burn::tensor::{Device, Tensor, TensorData};
use sgdlab_engine::data::mnist10k;
use sgdlab_engine::error::{EngineError, Result};
use sgdlab_engine::optim::gossip::{BatchedMlp, consensus_distance};
use sgdlab_engine::rng::SplitMix64;

pub(super) fn one_hot3(labels: &[u32], n: usize, b: usize, device: &Device) -> Tensor<3> {
    let mut v = vec![0.0f32; labels.len() * 10];
    for (i, &l) in labels.iter().enumerate() {
        v[i * 10 + l as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [n, b, 10]), device)
}

impl Gossip {
    pub(super) fn load_mnist(&mut self) -> Result<()> {
        if self.mnist.is_some() {
            return Ok(());
        }
        let Some(m) = &self.config.mnist else {
            return Ok(());
        };
        let dev = &self.device.device;
        let full = mnist10k()?;
        let standardize = |v: f32| (v - 0.1307) / 0.3081;
        let train: Vec<f32> = full.features[..m.train_size * 784]
            .iter()
            .map(|&v| standardize(v))
            .collect();
        let train_y = full.labels[..m.train_size].to_vec();
        let mut rng = SplitMix64::for_purpose(self.config.seed, "gossip mnist split");
        let mut node_indices = vec![Vec::new(); m.nodes];
        for (i, &y) in train_y.iter().enumerate() {
            let node = if rng.next_f64() < m.label_skew {
                y as usize % m.nodes
            } else {
                rng.below(m.nodes)
            };
            node_indices[node].push(i);
        }
        // A node left without data (possible with few samples) takes one from the largest node.
        for i in 0..m.nodes {
            if node_indices[i].is_empty() {
                let big = (0..m.nodes)
                    .max_by_key(|&j| node_indices[j].len())
                    .unwrap_or(0);
                if let Some(s) = node_indices[big].pop() {
                    node_indices[i].push(s);
                }
            }
        }
        let e = m.eval_size;
        let eval_x: Tensor<3> =
            Tensor::from_data(TensorData::new(train[..e * 784].to_vec(), [1, e, 784]), dev);
        let eval_t = one_hot3(&train_y[..e], 1, e, dev);
        let test_n = 2000;
        let start = full.len() - test_n;
        let test: Vec<f32> = full.features[start * 784..]
            .iter()
            .map(|&v| standardize(v))
            .collect();
        let test_x = Tensor::from_data(TensorData::new(test, [1, test_n, 784]), dev);
        self.mnist = Some(MnistData {
            train_x: Tensor::from_data(TensorData::new(train, [m.train_size, 784]), dev),
            train_y,
            node_indices,
            eval_x,
            eval_t,
            test_x,
            test_y: full.labels[start..].to_vec(),
        });
        Ok(())
    }

    pub(super) fn advance_mnist(&mut self, run: &mut MnistRun, budget: usize) -> Result<bool> {
        let (Some(m), Some(data)) = (&self.config.mnist, &self.mnist) else {
            return Err(EngineError::config("mnist", "internal: MNIST data missing"));
        };
        let dev = &self.device.device;
        let total = m.steps as u64;
        let n = run.key.nodes;
        for _ in 0..budget {
            let k = run.mixer.steps();
            if k >= total {
                return Ok(true);
            }
            let mut idx = Vec::with_capacity(n * m.batch);
            let mut ys = Vec::with_capacity(n * m.batch);
            for node in &data.node_indices {
                for _ in 0..m.batch {
                    let i = node[run.rng.below(node.len())];
                    idx.push(i as i64);
                    ys.push(data.train_y[i]);
                }
            }
            let idx = Tensor::from_data(TensorData::new(idx, [n * m.batch]), dev);
            let x = data
                .train_x
                .clone()
                .select(0, idx)
                .reshape([n, m.batch, 784]);
            let t = one_hot3(&ys, n, m.batch, dev);
            let (grads, loss) = run.model.grads(x, t);
            let loss = scalar(loss) / n as f64;
            if !loss.is_finite() {
                return Err(EngineError::Diverged {
                    step: k,
                    phase: format!("mnist {} n={n}", run.key.algorithm.name()),
                    loss,
                });
            }
            let ys: Vec<Tensor<2>> = run
                .model
                .params
                .iter()
                .zip(grads)
                .map(|(p, g)| p.clone() - g.mul_scalar(m.lr))
                .collect();
            run.model.params = run.mixer.mix(ys);
            let cons: f64 = run
                .model
                .params
                .iter()
                .map(|p| scalar(consensus_distance(p.clone())))
                .sum();
            run.consensus_sum += cons;
            let step = k + 1;
            if step.is_multiple_of(m.eval_every as u64) || step == total {
                let avg = run.model.average();
                let (g, l) = avg.grads(data.eval_x.clone(), data.eval_t.clone());
                run.last_loss = scalar(l);
                run.last_grad_norm = g
                    .into_iter()
                    .map(|g| scalar(g.powf_scalar(2.0).sum()))
                    .sum::<f64>()
                    .sqrt();
                run.mixer.observe_loss(run.last_loss);
                run.last_acc = mlp_accuracy(&avg, data.test_x.clone(), &data.test_y)?;
                self.rows.push(Row {
                    key: run.key.clone(),
                    step,
                    lr: m.lr,
                    loss: run.last_loss,
                    grad_norm: run.last_grad_norm,
                    consensus: cons,
                    error: f64::NAN,
                    test_accuracy: run.last_acc,
                    messages: run.mixer.messages / step as f64,
                    bytes: run.mixer.bytes / step as f64,
                });
            } else {
                run.mixer.observe_loss(loss);
            }
            self.iterations_done += 1;
        }
        Ok(run.mixer.steps() >= total)
    }
}

/// Accuracy of a one-node MLP on (1, m, 784) inputs.
pub(super) fn mlp_accuracy(model: &BatchedMlp, x: Tensor<3>, labels: &[u32]) -> Result<f64> {
    let m = labels.len();
    let w1 = model.params[0]
        .clone()
        .reshape([1, model.inputs, model.hidden]);
    let b1 = model.params[1].clone().reshape([1, 1, model.hidden]);
    let w2 = model.params[2]
        .clone()
        .reshape([1, model.hidden, model.classes]);
    let b2 = model.params[3].clone().reshape([1, 1, model.classes]);
    let h = burn::tensor::activation::relu(x.matmul(w1) + b1);
    let logits = (h.matmul(w2) + b2).reshape([m, model.classes]);
    let pred = logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| EngineError::Device(format!("reading predictions back: {e:?}")))?;
    let hits = pred
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == i64::from(**l))
        .count();
    Ok(hits as f64 / m as f64)
}
