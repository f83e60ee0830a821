//! ResNet-18 for 32×32 images, the CIFAR variant of He, Zhang, Ren, Sun, *Deep Residual Learning
//! for Image Recognition*, CVPR 2016, as Liu, Papailiopoulos, Achlioptas (NeurIPS 2020) trained
//! it (`cifar10/model/resnet.py` of chao1224/BadGlobalMinima): a 3×3 stem convolution with batch
//! normalization, four stages of two basic blocks with widths w, 2w, 4w, 8w (w = 64 is ResNet-18),
//! stride 2 at the first block of stages 2–4 with a 1×1 convolution and batch normalization on the
//! shortcut, global average pooling and a linear layer. Convolutions have no bias.
//!
//! Initialization follows the authors' PyTorch 0.3.1, drawn on the CPU from the run's seed:
//! convolution and linear weights (and the linear bias) U(−1/√fan_in, 1/√fan_in), batch-norm
//! scales U(0, 1) and shifts 0 (PyTorch 0.3's `_BatchNorm.reset_parameters`; scales start at 1
//! from PyTorch 1.2 on).
//!
//! Batch normalization uses the batch's statistics where the input is on an autodiff device
//! (training, as [`crate::train::TrainRun`] runs it) and the running statistics otherwise
//! (evaluation: [`crate::train::predict`] runs `model.valid()` on the plain device). Training
//! updates the running statistics as PyTorch does (momentum 0.1, the unbiased batch variance).
//! The running statistics are module state visited as float tensors after the scale and shift of
//! their layer, so [`crate::train::flatten_params`], [`crate::snapshot::load_params`] and every
//! checkpoint built on them carry them; they receive no gradient, so the optimizer leaves them
//! alone. [`Resnet::buffers`] counts them.

use super::dense::Dense;
use super::init::uniform_fan_in;
use crate::rng::SplitMix64;
use burn::config::Config;
use burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
    Param, ParamId,
};
use burn::tensor::module::{batch_norm, batch_norm_train, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use std::sync::{Arc, Mutex, PoisonError};

/// Blocks per stage (ResNet-18).
pub const RESNET_BLOCKS: [usize; 4] = [2, 2, 2, 2];

/// Batch normalization's ε (PyTorch's default).
const BN_EPSILON: f64 = 1e-5;
/// Weight of the newest batch in the running statistics (PyTorch's default).
const BN_MOMENTUM: f64 = 0.1;

/// Configuration of a [`Resnet`].
#[derive(Config, Debug, PartialEq)]
pub struct ResnetConfig {
    /// Channels of the stem and the first stage; the stages have w, 2w, 4w, 8w (64: ResNet-18).
    #[config(default = 64)]
    pub width: usize,
}

impl ResnetConfig {
    /// The channel widths of the four stages.
    pub fn stage_widths(&self) -> [usize; 4] {
        let w = self.width;
        [w, 2 * w, 4 * w, 8 * w]
    }

    /// Trainable parameters (convolution kernels, batch-norm scales and shifts, the linear
    /// layer) for `channels` input channels and `classes` outputs, worked out from the
    /// architecture: 11,173,962 for ResNet-18 (w = 64) on CIFAR-10.
    pub fn trainable_params(&self, channels: usize, classes: usize) -> usize {
        let w = self.width;
        let mut total = 9 * channels * w + 2 * w;
        let mut inputs = w;
        for (stage, &width) in self.stage_widths().iter().enumerate() {
            for block in 0..RESNET_BLOCKS[stage] {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                total += 9 * inputs * width + 9 * width * width + 4 * width;
                if stride != 1 || inputs != width {
                    total += inputs * width + 2 * width;
                }
                inputs = width;
            }
        }
        total + inputs * classes + classes
    }

    /// Batch-norm channels, each with a running mean and variance (4,800 for w = 64).
    pub fn bn_channels(&self) -> usize {
        let mut total = self.width;
        let mut inputs = self.width;
        for (stage, &width) in self.stage_widths().iter().enumerate() {
            for block in 0..RESNET_BLOCKS[stage] {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                total += 2 * width;
                if stride != 1 || inputs != width {
                    total += width;
                }
                inputs = width;
            }
        }
        total
    }

    /// Activation values per example that a training step keeps (every convolution's output,
    /// for `(channels, height, width)` inputs); batch norm and ReLU each add about as much again.
    pub fn activations_per_example(&self, input: [usize; 3]) -> usize {
        let [c, mut h, mut w] = input;
        let mut total = c * h * w + self.width * h * w;
        let mut inputs = self.width;
        for (stage, &width) in self.stage_widths().iter().enumerate() {
            for block in 0..RESNET_BLOCKS[stage] {
                if stage > 0 && block == 0 {
                    h = h.div_ceil(2);
                    w = w.div_ceil(2);
                }
                let maps = width * h * w;
                total += 2 * maps + if inputs != width { maps } else { 0 };
                inputs = width;
            }
        }
        total
    }

    /// Builds the network for images of `(channels, height, width)` and `classes` outputs.
    pub fn init(
        &self,
        input: [usize; 3],
        classes: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Resnet {
        let w = self.width;
        let stem = ConvNoBias::new(input[0], w, 3, 1, rng, device);
        let stem_bn = BatchNorm::new(w, rng, device);
        let mut blocks = Vec::new();
        let mut inputs = w;
        for (stage, &width) in self.stage_widths().iter().enumerate() {
            for block in 0..RESNET_BLOCKS[stage] {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(inputs, width, stride, rng, device));
                inputs = width;
            }
        }
        Resnet {
            stem,
            stem_bn,
            blocks,
            fc: Dense::new(inputs, classes, rng, device),
            input,
        }
    }
}

/// A batch-norm running statistic: a tensor updated in place by the training forward pass, kept
/// without autodiff. Unlike burn's `RunningState`, a clone is a copy (so a model cloned at the
/// end of a phase is not changed by training the original further) and an update is visible at
/// once (so a checkpoint taken after a step holds that step's statistics).
#[derive(Debug)]
pub struct RunningStat {
    id: ParamId,
    value: Arc<Mutex<Tensor<1>>>,
}

impl RunningStat {
    fn new(value: Tensor<1>) -> Self {
        Self::with_id(ParamId::new(), value)
    }

    fn with_id(id: ParamId, value: Tensor<1>) -> Self {
        Self {
            id,
            value: Arc::new(Mutex::new(value.inner())),
        }
    }

    /// The current value.
    pub fn value(&self) -> Tensor<1> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, value: Tensor<1>) {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner) = value.inner();
    }
}

impl Clone for RunningStat {
    fn clone(&self) -> Self {
        Self::with_id(self.id, self.value())
    }
}

impl Module for RunningStat {
    fn collect_devices(&self, mut devices: Devices) -> Devices {
        let device = self.value().device();
        if !devices.contains(&device) {
            devices.push(device);
        }
        devices
    }

    fn fork(self, device: &Device) -> Self {
        self.to_device(device)
    }

    fn to_device(self, device: &Device) -> Self {
        Self::with_id(self.id, self.value().to_device(&device.clone().inner()))
    }

    fn train(self) -> Self {
        self
    }

    fn valid(&self) -> Self {
        self.clone()
    }

    fn materialize(self) -> Self {
        self
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        visitor.visit_float(&Param::initialized(self.id, self.value()));
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let mapped = mapper.map_float(Param::initialized(self.id, self.value()));
        let (_, value, _) = mapped.consume();
        Self::with_id(self.id, value)
    }
}

impl ModuleDisplayDefault for RunningStat {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&"RunningStat").optional()
    }
}

impl ModuleDisplay for RunningStat {}

/// Batch normalization over the channels of (batch, channels, height, width) maps.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale γ, shape (channels).
    pub gamma: Param<Tensor<1>>,
    /// Shift β, shape (channels).
    pub beta: Param<Tensor<1>>,
    /// Running mean of the channels, used in evaluation.
    pub running_mean: RunningStat,
    /// Running (unbiased) variance of the channels, used in evaluation.
    pub running_var: RunningStat,
}

impl BatchNorm {
    fn new(channels: usize, rng: &mut SplitMix64, device: &Device) -> Self {
        let gamma: Vec<f32> = (0..channels).map(|_| rng.next_f32()).collect();
        let plain = device.clone().inner();
        Self {
            gamma: Param::from_tensor(Tensor::from_data(
                TensorData::new(gamma, [channels]),
                device,
            )),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningStat::new(Tensor::zeros([channels], &plain)),
            running_var: RunningStat::new(Tensor::ones([channels], &plain)),
        }
    }

    /// Normalizes `x` by the batch's statistics (updating the running ones) on an autodiff
    /// device, by the running statistics otherwise.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if !x.device().is_autodiff() {
            return batch_norm(
                x,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value(),
                self.running_var.value(),
                BN_EPSILON,
            );
        }
        let [batch, _, height, width] = x.dims();
        let n = (batch * height * width) as f64;
        let out = batch_norm_train(x, self.gamma.val(), self.beta.val(), BN_EPSILON);
        // PyTorch keeps the unbiased variance; the batch is normalized by the biased one.
        let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let mean = self.running_mean.value().mul_scalar(1.0 - BN_MOMENTUM)
            + out.mean.inner().mul_scalar(BN_MOMENTUM);
        let var = self.running_var.value().mul_scalar(1.0 - BN_MOMENTUM)
            + out.variance.inner().mul_scalar(BN_MOMENTUM * unbias);
        self.running_mean.set(mean);
        self.running_var.set(var);
        out.output
    }
}

/// A square convolution without bias, padding k/2 ("same" at stride 1).
#[derive(Module, Debug)]
pub struct ConvNoBias {
    /// Kernel, shape (out, in, k, k).
    pub weight: Param<Tensor<4>>,
    /// Stride in both directions.
    #[module(skip)]
    pub stride: usize,
}

impl ConvNoBias {
    fn new(
        inputs: usize,
        outputs: usize,
        k: usize,
        stride: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Self {
        Self {
            weight: uniform_fan_in([outputs, inputs, k, k], inputs * k * k, rng, device),
            stride,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let s = self.stride;
        let options = ConvOptions::new([s, s], [k / 2, k / 2], [1, 1], 1);
        conv2d(x, self.weight.val(), None, options)
    }
}

/// The projection on a block's shortcut where its shape changes: 1×1 convolution, batch norm.
#[derive(Module, Debug)]
pub struct Projection {
    /// The 1×1 convolution (with the block's stride).
    pub conv: ConvNoBias,
    /// Its batch normalization.
    pub bn: BatchNorm,
}

/// A basic residual block: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)).
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3×3 convolution (with the block's stride).
    pub conv1: ConvNoBias,
    /// Its batch normalization.
    pub bn1: BatchNorm,
    /// Second 3×3 convolution.
    pub conv2: ConvNoBias,
    /// Its batch normalization.
    pub bn2: BatchNorm,
    /// The shortcut's projection; `None` is the identity.
    pub shortcut: Option<Projection>,
}

impl BasicBlock {
    fn new(
        inputs: usize,
        outputs: usize,
        stride: usize,
        rng: &mut SplitMix64,
        device: &Device,
    ) -> Self {
        let conv1 = ConvNoBias::new(inputs, outputs, 3, stride, rng, device);
        let bn1 = BatchNorm::new(outputs, rng, device);
        let conv2 = ConvNoBias::new(outputs, outputs, 3, 1, rng, device);
        let bn2 = BatchNorm::new(outputs, rng, device);
        let shortcut = (stride != 1 || inputs != outputs).then(|| Projection {
            conv: ConvNoBias::new(inputs, outputs, 1, stride, rng, device),
            bn: BatchNorm::new(outputs, rng, device),
        });
        Self {
            conv1,
            bn1,
            conv2,
            bn2,
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = burn::tensor::activation::relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(out));
        let skip = match &self.shortcut {
            Some(p) => p.bn.forward(p.conv.forward(x)),
            None => x,
        };
        burn::tensor::activation::relu(out + skip)
    }
}

/// The ResNet-18-style network.
#[derive(Module, Debug)]
pub struct Resnet {
    /// The 3×3 stem convolution.
    pub stem: ConvNoBias,
    /// Its batch normalization.
    pub stem_bn: BatchNorm,
    /// The basic blocks of the four stages, in order.
    pub blocks: Vec<BasicBlock>,
    /// The linear layer on the pooled features (logits).
    pub fc: Dense,
    /// Input (channels, height, width).
    #[module(skip)]
    pub input: [usize; 3],
}

impl Resnet {
    /// Logits for a batch of flattened images, shape (batch, c·h·w) to (batch, classes).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [c, h, w] = self.input;
        let batch = x.dims()[0];
        let x = x.reshape([batch, c, h, w]);
        let mut x = burn::tensor::activation::relu(self.stem_bn.forward(self.stem.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        // Global average pooling: the authors' avg_pool2d(4) on the 4×4 maps of 32×32 inputs.
        let x: Tensor<2> = x.mean_dim(3).mean_dim(2).flatten(1, 3);
        self.fc.forward(x)
    }

    /// Running-statistic values among the module's floats (two per batch-norm channel): they
    /// are counted by `num_params` and carried by `flatten_params`, but not trained.
    pub fn buffers(&self) -> usize {
        let mut channels = self.stem_bn.gamma.dims()[0];
        for b in &self.blocks {
            channels += b.bn1.gamma.dims()[0] + b.bn2.gamma.dims()[0];
            if let Some(p) = &b.shortcut {
                channels += p.bn.gamma.dims()[0];
            }
        }
        2 * channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, InputShape};
    use crate::model::{Body, InputStats, MAX_RESNET_WIDTH, Network, NetworkConfig};
    use crate::optim::SgdConfig;
    use crate::train::{TrainRun, flatten_params, predict};
    use std::sync::Arc;

    const CIFAR: [usize; 3] = [3, 32, 32];

    fn images(n: usize, shape: [usize; 3], seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::for_purpose(seed, "test images");
        (0..n * shape.iter().product::<usize>())
            .map(|_| rng.next_f32())
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn resnet18_has_the_parameter_count_of_its_architecture() {
        // Worked out by hand from the layers (stem 1,856; stages 147,968 + 525,568 + 2,099,712
        // + 8,393,728; linear 5,130), the count PyTorch reports for the authors' ResNet18().
        let config = ResnetConfig::new();
        assert_eq!(config.trainable_params(3, 10), 11_173_962);
        assert_eq!(config.bn_channels(), 4_800);
        let device = Device::flex();
        let net = config.init(CIFAR, 10, &mut SplitMix64::new(1), &device);
        assert_eq!(net.buffers(), 2 * 4_800);
        assert_eq!(Module::num_params(&net), 11_173_962 + 9_600);
        assert_eq!(net.blocks.len(), 8);
        // The weight norm leaves the running statistics out: at init they are means 0 and
        // variances 1, so they add exactly one per channel to the squared norm of everything.
        let all = crate::train::l2_norm(&crate::train::flatten_params(&net));
        let weights = crate::train::weight_norm(&net);
        assert!(
            (all.powi(2) - weights.powi(2) - 4_800.0).abs() < 1e-6 * all.powi(2),
            "‖all‖² {} ‖weights‖² {}",
            all.powi(2),
            weights.powi(2)
        );
        // Projections exactly where the shape changes: the first block of stages 2-4.
        let projected: Vec<bool> = net.blocks.iter().map(|b| b.shortcut.is_some()).collect();
        assert_eq!(
            projected,
            [false, false, true, false, true, false, true, false]
        );
        for width in [1, 3, 4, 16] {
            let c = ResnetConfig::new().with_width(width);
            let net = c.init(CIFAR, 7, &mut SplitMix64::new(2), &device);
            assert_eq!(
                Module::num_params(&net),
                c.trainable_params(3, 7) + 2 * c.bn_channels(),
                "width {width}"
            );
        }
    }

    #[test]
    fn logits_have_one_row_per_image_at_any_image_size() {
        let device = Device::flex();
        for (shape, classes) in [(CIFAR, 10), ([1, 28, 28], 10), ([3, 5, 7], 3)] {
            let net = ResnetConfig::new().with_width(4).init(
                shape,
                classes,
                &mut SplitMix64::new(3),
                &device,
            );
            let n = 3;
            let dim = shape.iter().product();
            let x = crate::train::input_tensor(images(n, shape, 4), n, dim, &device);
            let y = net.forward(x);
            assert_eq!(y.dims(), [n, classes], "{shape:?}");
            let values = y.into_data().try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn training_updates_running_statistics_and_evaluation_uses_them() {
        let device = Device::flex();
        let train_device = device.clone().autodiff();
        let shape = [3, 8, 8];
        let net = ResnetConfig::new().with_width(2).init(
            shape,
            4,
            &mut SplitMix64::new(5),
            &train_device,
        );
        let frozen = net.clone();
        let dim = 3 * 8 * 8;
        let x = images(6, shape, 6);
        // Inputs far from the initial running statistics (mean 0, variance 1).
        let x: Vec<f32> = x.iter().map(|v| 5.0 + 3.0 * v).collect();
        let before = flatten_params(&net);
        let _ = net.forward(crate::train::input_tensor(x.clone(), 6, dim, &train_device));
        let after = flatten_params(&net);
        assert_ne!(
            bits(&before),
            bits(&after),
            "a training pass moves the statistics"
        );
        assert_eq!(
            bits(&flatten_params(&frozen)),
            bits(&before),
            "a clone taken before keeps its own statistics"
        );
        let stem_mean = net
            .stem_bn
            .running_mean
            .value()
            .into_data()
            .try_to_vec::<f32>();
        assert!(stem_mean.unwrap().iter().any(|&m| m != 0.0));
        // Evaluation runs on the plain device with the running statistics and changes nothing.
        let eval = |m: &Resnet| {
            let m = m.valid();
            let logits = m.forward(crate::train::input_tensor(x.clone(), 6, dim, &device));
            logits.into_data().try_to_vec::<f32>().unwrap()
        };
        let a = eval(&net);
        assert_eq!(bits(&flatten_params(&net)), bits(&after));
        let b = eval(&net);
        assert_eq!(bits(&a), bits(&b));
        // Different running statistics give different evaluation outputs.
        assert_ne!(bits(&a), bits(&eval(&frozen)));
    }

    fn tiny_run(seed: u64) -> TrainRun {
        let shape = InputShape::Image {
            channels: 3,
            height: 8,
            width: 8,
        };
        let n = 20;
        let features = images(n, [3, 8, 8], 7);
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let data = Dataset::new("tiny", shape, features, labels.clone(), 3).unwrap();
        let device = Device::flex();
        let model = NetworkConfig::Resnet(ResnetConfig::new().with_width(2)).init(
            shape,
            3,
            InputStats::of(&data.features),
            seed,
            &device.clone().autodiff(),
        );
        let optim = SgdConfig::new()
            .with_lr(0.05)
            .with_momentum(0.9)
            .with_weight_decay(5e-4);
        TrainRun::new(
            model,
            &optim,
            Arc::new(data),
            Arc::new(labels),
            &device,
            6,
            Some(crate::data::Augment {
                max_shift: 2,
                hflip: true,
            }),
            seed,
            "resnet test",
        )
    }

    fn logits(model: &Network, run: &TrainRun) -> Vec<f32> {
        predict(model, run.data(), &Device::flex())
    }

    #[test]
    fn a_state_round_trip_reproduces_the_next_steps_bit_for_bit() {
        let mut original = tiny_run(11);
        original.train_batches(5).unwrap();
        let state = original.state();
        // The state holds the running statistics, moved by the five training passes.
        let fresh = tiny_run(11);
        assert_eq!(state.params.len(), Module::num_params(fresh.model()));
        assert_ne!(bits(&state.params), bits(&flatten_params(fresh.model())));
        original.train_batches(4).unwrap();

        let mut resumed = tiny_run(11);
        resumed.restore(&state).unwrap();
        resumed.train_batches(4).unwrap();
        assert_eq!(
            bits(&flatten_params(original.model())),
            bits(&flatten_params(resumed.model()))
        );
        assert_eq!(original.optim.steps(), resumed.optim.steps());
        // Evaluation (running statistics) agrees too.
        assert_eq!(
            bits(&logits(original.model(), &original)),
            bits(&logits(resumed.model(), &resumed))
        );
        // A run restored without the statistics would differ: zero them and compare.
        let mut stripped = tiny_run(11);
        let mut params = state.params.clone();
        let Body::Resnet(net) = &original.model().body else {
            panic!("a resnet config builds a resnet body");
        };
        let stem_mean_at = net.stem.weight.dims().iter().product::<usize>() + 2 * 2;
        params[stem_mean_at..stem_mean_at + 2].fill(0.0);
        stripped
            .restore(&crate::train::TrainRunState { params, ..state })
            .unwrap();
        stripped.train_batches(4).unwrap();
        assert_ne!(
            bits(&logits(original.model(), &original)),
            bits(&logits(stripped.model(), &stripped))
        );
    }

    #[test]
    fn a_bad_width_or_vector_data_is_refused_naming_the_field() {
        let image = InputShape::Image {
            channels: 3,
            height: 32,
            width: 32,
        };
        for width in [0, MAX_RESNET_WIDTH + 1] {
            let e = NetworkConfig::Resnet(ResnetConfig::new().with_width(width))
                .validate(image, "network")
                .unwrap_err()
                .to_string();
            assert!(e.contains("config field `network.width`"), "{e}");
        }
        let e = NetworkConfig::Resnet(ResnetConfig::new())
            .validate(InputShape::Vector { dim: 2 }, "network")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config field `network.kind`"), "{e}");
        NetworkConfig::Resnet(ResnetConfig::new())
            .validate(image, "network")
            .unwrap();
    }
}
