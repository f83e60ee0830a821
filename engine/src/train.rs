//! Training utilities shared by the experiments: batches, the cross-entropy loss, evaluation,
//! parameter statistics, and [`TrainRun`], a resumable mini-batch SGD loop.

use crate::data::{Augment, Dataset, augment_batch};
use crate::error::{EngineError, Result};
use crate::model::Network;
use crate::optim::{Sgd, SgdConfig};
use crate::rng::SplitMix64;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData, activation};
use std::sync::Arc;

/// Uploads `n` rows of `dim` features as a (n, dim) tensor.
pub fn input_tensor(features: Vec<f32>, n: usize, dim: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(features, [n, dim]), device)
}

/// One-hot targets of shape (n, classes).
pub fn one_hot(labels: &[u32], classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * classes + l as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), classes]), device)
}

/// Mean cross-entropy of logits (n, classes) against one-hot targets; shape (1).
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let logp = activation::log_softmax(logits, 1);
    let n = targets.dims()[0] as f64;
    (logp * targets).sum().mul_scalar(-1.0 / n)
}

/// Loss and accuracy of a model on a labelled set.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction of examples whose arg-max logit is the label.
    pub accuracy: f64,
}

/// Logits for every example of `data`, computed in chunks without autodiff; row-major (n, classes).
pub fn predict(model: &Network, data: &Dataset, device: &Device) -> Vec<f32> {
    let model = model.valid();
    let device = device.clone().inner();
    let dim = data.dim();
    let chunk = 1000;
    let mut out = Vec::with_capacity(data.len() * data.num_classes);
    let mut start = 0;
    while start < data.len() {
        let end = (start + chunk).min(data.len());
        let x = input_tensor(
            data.features[start * dim..end * dim].to_vec(),
            end - start,
            dim,
            &device,
        );
        let logits = model.forward(x);
        // The model's own output: a read-back failure here is a backend bug, not bad input.
        let values = logits
            .into_data()
            .try_to_vec::<f32>()
            .expect("logits are f32 tensors");
        out.extend_from_slice(&values);
        start = end;
    }
    out
}

/// Evaluates `model` on `data` against `labels` (the data's own labels when `None`).
pub fn evaluate(
    model: &Network,
    data: &Dataset,
    labels: Option<&[u32]>,
    device: &Device,
) -> Evaluation {
    let labels = labels.unwrap_or(&data.labels);
    let k = data.num_classes;
    let logits = predict(model, data, device);
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (row, &label) in logits.chunks_exact(k).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = f64::from(max)
            + row
                .iter()
                .map(|&v| f64::from(v - max).exp())
                .sum::<f64>()
                .ln();
        loss += lse - f64::from(row[label as usize]);
        let argmax = row
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 { (i, v) } else { best }
            })
            .0;
        correct += usize::from(argmax == label as usize);
    }
    let n = labels.len().max(1) as f64;
    Evaluation {
        loss: loss / n,
        accuracy: correct as f64 / n,
    }
}

/// All parameters of a module, flattened in visit order (deterministic for a given module type).
pub fn flatten_params<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data();
            // Parameters are created as f32 by this crate.
            self.0.extend(
                data.try_to_vec::<f32>()
                    .expect("parameters are f32 tensors"),
            );
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// Euclidean norm of a module's weights: every float parameter except batch-norm running
/// statistics (fields named `running_*`, as in the ResNet), which are state the forward pass
/// keeps, not weights that training or weight decay acts on.
pub fn weight_norm<M: Module>(module: &M) -> f64 {
    struct Norm {
        path: Vec<String>,
        sum: f64,
    }
    impl ModuleVisitor for Norm {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.path.iter().any(|n| n.starts_with("running_")) {
                return;
            }
            let data = param.val().into_data();
            let values = data
                .try_to_vec::<f32>()
                .expect("parameters are f32 tensors");
            self.sum += values.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        }
    }
    let mut n = Norm {
        path: Vec::new(),
        sum: 0.0,
    };
    module.visit(&mut n);
    n.sum.sqrt()
}

/// Euclidean norm of a flattened parameter vector.
pub fn l2_norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Euclidean distance between two flattened parameter vectors of the same model type.
pub fn l2_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// What a call to [`TrainRun::train_batches`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchOutcome {
    /// Batches trained in this call.
    pub batches: usize,
    /// Whether the call finished an epoch (it stops at the epoch boundary).
    pub epoch_finished: bool,
    /// Mean training loss over the finished epoch (or the batches so far).
    pub mean_loss: f64,
}

/// Where a [`TrainRun`] is in its loop, exactly: the parameters, the optimizer state, the batch
/// order and RNG position, and the epoch's running loss. [`TrainRun::restore`] puts it back on
/// a run built the same way, which then continues as the saved one would have.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainRunState {
    /// The model's parameters in visit order.
    pub params: Vec<f32>,
    /// The optimizer's state.
    pub optim: crate::optim::SgdState,
    /// The batch-order and augmentation generator.
    pub rng: SplitMix64,
    /// This epoch's example order.
    pub order: Vec<usize>,
    /// The next position in `order`.
    pub cursor: usize,
    /// Completed epochs.
    pub epochs_done: usize,
    /// Sum of this epoch's batch losses so far.
    pub loss_sum: f64,
    /// Batches in `loss_sum`.
    pub loss_batches: usize,
}

/// A resumable mini-batch SGD loop over one dataset and one labelling of it.
pub struct TrainRun {
    /// The model being trained (on an autodiff device); taken out only during an optimizer step.
    model: Option<Network>,
    /// The optimizer and its state.
    pub optim: Sgd,
    data: Arc<Dataset>,
    labels: Arc<Vec<u32>>,
    device: Device,
    batch_size: usize,
    augment: Option<Augment>,
    rng: SplitMix64,
    order: Vec<usize>,
    cursor: usize,
    epochs_done: usize,
    loss_sum: f64,
    loss_batches: usize,
    /// A label for error messages (e.g. `vanilla/seed 0/baseline`).
    pub phase: String,
}

impl TrainRun {
    /// A run training `model` on `data` with `labels` (one per example).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: Network,
        optim: &SgdConfig,
        data: Arc<Dataset>,
        labels: Arc<Vec<u32>>,
        device: &Device,
        batch_size: usize,
        augment: Option<Augment>,
        seed: u64,
        phase: impl Into<String>,
    ) -> Self {
        debug_assert_eq!(data.len(), labels.len());
        Self {
            model: Some(model),
            optim: optim.init(),
            data,
            labels,
            device: device.clone().autodiff(),
            batch_size: batch_size.max(1),
            augment,
            rng: SplitMix64::for_purpose(seed, "batch order and augmentation"),
            order: Vec::new(),
            cursor: 0,
            epochs_done: 0,
            loss_sum: 0.0,
            loss_batches: 0,
            phase: phase.into(),
        }
    }

    /// The model as trained so far.
    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is only taken out inside train_batches")
    }

    /// Replaces the optimizer configuration (e.g. a new learning rate) without a reset.
    pub fn set_optim_config(&mut self, config: SgdConfig) {
        self.optim.set_config(config);
    }

    /// Completed epochs.
    pub fn epochs(&self) -> usize {
        self.epochs_done
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.data.len().div_ceil(self.batch_size)
    }

    /// The labels this run trains on.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The training data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// Its exact state, for a checkpoint.
    pub fn state(&self) -> TrainRunState {
        TrainRunState {
            params: flatten_params(self.model()),
            optim: self.optim.state(self.model()),
            rng: self.rng.clone(),
            order: self.order.clone(),
            cursor: self.cursor,
            epochs_done: self.epochs_done,
            loss_sum: self.loss_sum,
            loss_batches: self.loss_batches,
        }
    }

    /// Continues from `state`, taken of a run built with the same model type, data and seed.
    pub fn restore(&mut self, state: &TrainRunState) -> Result<()> {
        if state.params.len() != self.model().num_params()
            || state.cursor > state.order.len()
            || state.order.iter().any(|&i| i >= self.data.len())
        {
            return Err(EngineError::config(
                "<checkpoint>",
                "the saved parameters or batch order do not fit this run's model and data",
            ));
        }
        let model = self
            .model
            .take()
            .expect("the model is only taken out inside train_batches");
        let model = crate::snapshot::load_params(model, &state.params)?;
        self.optim = Sgd::from_state(&state.optim, &model, &self.device.clone().inner())?;
        self.model = Some(model);
        self.rng = state.rng.clone();
        self.order = state.order.clone();
        self.cursor = state.cursor;
        self.epochs_done = state.epochs_done;
        self.loss_sum = state.loss_sum;
        self.loss_batches = state.loss_batches;
        Ok(())
    }

    /// Trains up to `max_batches` mini-batches, stopping early at the end of an epoch.
    /// A non-finite loss stops the run with [`EngineError::Diverged`] naming the step.
    pub fn train_batches(&mut self, max_batches: usize) -> Result<BatchOutcome> {
        let dim = self.data.dim();
        let classes = self.data.num_classes;
        let mut batches = 0;
        while batches < max_batches {
            if self.cursor == 0 {
                self.order = self.rng.permutation(self.data.len());
            }
            let end = (self.cursor + self.batch_size).min(self.order.len());
            let idx = &self.order[self.cursor..end];
            let n = idx.len();
            let mut x = Vec::with_capacity(n * dim);
            let mut y = Vec::with_capacity(n);
            for &i in idx {
                x.extend_from_slice(self.data.example(i));
                y.push(self.labels[i]);
            }
            if let Some(aug) = &self.augment {
                augment_batch(&mut x, self.data.shape, aug, &mut self.rng);
            }
            let x = input_tensor(x, n, dim, &self.device);
            let t = one_hot(&y, classes, &self.device);
            let model = self
                .model
                .take()
                .expect("the model is only taken out inside train_batches");
            let loss = cross_entropy(model.forward(x), t);
            let mut grads = loss.backward();
            let loss_value = f64::from(loss.into_scalar::<f32>());
            if !loss_value.is_finite() {
                self.model = Some(model);
                return Err(EngineError::Diverged {
                    step: self.optim.steps(),
                    phase: self.phase.clone(),
                    loss: loss_value,
                });
            }
            self.model = Some(self.optim.step(model, &mut grads));
            self.loss_sum += loss_value;
            self.loss_batches += 1;
            batches += 1;
            self.cursor = end;
            if self.cursor >= self.order.len() {
                self.cursor = 0;
                self.epochs_done += 1;
                let mean_loss = self.loss_sum / self.loss_batches.max(1) as f64;
                self.loss_sum = 0.0;
                self.loss_batches = 0;
                return Ok(BatchOutcome {
                    batches,
                    epoch_finished: true,
                    mean_loss,
                });
            }
        }
        Ok(BatchOutcome {
            batches,
            epoch_finished: false,
            mean_loss: self.loss_sum / self.loss_batches.max(1) as f64,
        })
    }
}
