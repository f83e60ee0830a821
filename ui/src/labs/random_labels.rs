//! Random-labels lab (Liu, Papailiopoulos, Achlioptas 2020). Toy mode: a 2-D problem whose
//! decision boundary evolves live through phase A (random labels) and phase B (true labels),
//! beside a network trained on the true labels from the same initialization. MNIST mode: the
//! engine's random-labels experiment on MNIST-10k, as accuracy curves for both arms.

use super::finite;
use super::series;
use crate::compute::Compute;
use crate::gfx::{Gfx, diverging, heatmap_image};
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range, choices};
use crate::runner::Sim;
use egui_plot::{Legend, Line, Plot, PlotImage, PlotPoint, Points};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::data::{Dataset, DatasetSpec, InputShape};
use sgdlab_engine::model::{InputStats, MlpConfig, Network, NetworkConfig};
use sgdlab_engine::optim::SgdConfig;
use sgdlab_engine::rng::SplitMix64;
use sgdlab_engine::train::{TrainRun, evaluate, flatten_params, l2_norm, predict};
use sgdlab_experiments::{Experiment, Preset, RandomLabels, RandomLabelsConfig, RandomLabelsPoint};
use std::sync::Arc;

/// Which experiment the lab shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The 2-D toy problem, live decision boundaries.
    Toy,
    /// MNIST-10k, both arms (minutes on a CPU).
    Mnist,
}

/// The 2-D data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToyData {
    /// Two Gaussian clusters.
    TwoClusters,
    /// Two interleaved half-moons.
    Moons,
}

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomLabelsParams {
    /// Seed.
    pub seed: u64,
    /// Toy or MNIST.
    pub mode: Mode,
    /// The toy data.
    pub data: ToyData,
    /// Phase A epochs on random labels.
    pub random_epochs: u32,
    /// Phase B epochs on the true labels.
    pub true_epochs: u32,
    /// Weight decay in phase B.
    pub weight_decay: bool,
    /// Momentum in phase B.
    pub momentum: bool,
    /// Learning rate in phase B (per unit of momentum-corrected step).
    pub lr: f64,
}

impl LabParams for RandomLabelsParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        check_count("random_epochs", u64::from(self.random_epochs), 0, 5000)?;
        check_count("true_epochs", u64::from(self.true_epochs), 1, 2000)?;
        check_range("lr", self.lr, 1e-4, 1.0)
    }
}

impl RandomLabelsParams {
    /// Phase B's optimizer: the toggles switch on the paper's explicit regularization.
    fn arm_optim(&self) -> SgdConfig {
        let mut c = SgdConfig::new().with_lr(self.lr);
        if self.momentum {
            // Keep the effective step lr/(1−μ) when momentum is on.
            c = c.with_momentum(0.9).with_lr(self.lr * 0.1);
        }
        if self.weight_decay {
            c = c.with_weight_decay(5e-3);
        }
        c
    }
}

/// One point of the toy's curves.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ToyPoint {
    /// `A` or `B`.
    pub phase: char,
    /// Epoch within the phase.
    pub epoch: u32,
    /// Pretrained network: training accuracy on the labels it fits.
    pub pre_train_acc: f64,
    /// Pretrained network: test accuracy.
    pub pre_test_acc: f64,
    /// From-scratch network: training accuracy (phase B only).
    pub scratch_train_acc: f64,
    /// From-scratch network: test accuracy (phase B only).
    pub scratch_test_acc: f64,
    /// ‖w‖ of the pretrained network.
    pub pre_norm: f64,
    /// ‖w‖ of the from-scratch network.
    pub scratch_norm: f64,
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct RandomLabelsSnap {
    /// Toy or MNIST.
    pub mode: Option<Mode>,
    /// Toy: where we are, in words.
    pub phase: String,
    /// Toy: training points and their current labels (of the pretrained run).
    pub points: Arc<Vec<([f32; 2], u32)>>,
    /// Toy: P(class 1) on the grid, pretrained network.
    pub boundary_pre: Arc<Vec<f32>>,
    /// Toy: P(class 1) on the grid, from-scratch network.
    pub boundary_scratch: Arc<Vec<f32>>,
    /// Grid side.
    pub grid: usize,
    /// Grid box (x0, x1, y0, y1).
    pub bbox: [f64; 4],
    /// Texture version.
    pub version: u64,
    /// Toy curves.
    pub curve: Arc<Vec<ToyPoint>>,
    /// MNIST curves.
    pub mnist: Arc<Vec<RandomLabelsPoint>>,
    /// MNIST status line.
    pub mnist_status: String,
    /// MNIST final gaps per arm (mean, in accuracy points).
    pub mnist_gaps: Vec<(String, f64)>,
}

enum Phase {
    A,
    B,
    Done,
}

struct Toy {
    train: Arc<Dataset>,
    test: Dataset,
    random: Arc<Vec<u32>>,
    stats: InputStats,
    network: NetworkConfig,
    pre: TrainRun,
    scratch: Option<TrainRun>,
    phase: Phase,
    device: sgdlab_engine::device::ComputeDevice,
    curve: Vec<ToyPoint>,
    boundary_pre: Arc<Vec<f32>>,
    boundary_scratch: Arc<Vec<f32>>,
    grid: Dataset,
    bbox: [f64; 4],
    version: u64,
}

/// The live experiment.
pub struct RandomLabelsSim {
    params: RandomLabelsParams,
    toy: Option<Box<Toy>>,
    mnist: Option<Box<RandomLabels>>,
    /// MNIST mode in a browser before the subset is downloaded: the device to build on once it is.
    mnist_waiting: Option<Compute>,
    steps: u64,
}

const GRID: usize = 56;

/// The batch-order seed of phase B: the CLI's seed for the vanilla arm (index 0) or the
/// regularized one (index 1), so the lab's runs match `sgdlab run`'s where their settings do.
fn arm_seed(p: &RandomLabelsParams) -> u64 {
    let arm = u64::from(p.weight_decay || p.momentum);
    p.seed ^ 0x5eed_0000 ^ (arm + 1)
}
const BATCHES_PER_STEP: usize = 8;

fn grid_dataset(bbox: [f64; 4]) -> Dataset {
    let mut features = Vec::with_capacity(GRID * GRID * 2);
    for j in 0..GRID {
        let y = bbox[2] + (bbox[3] - bbox[2]) * (j as f64 + 0.5) / GRID as f64;
        for i in 0..GRID {
            let x = bbox[0] + (bbox[1] - bbox[0]) * (i as f64 + 0.5) / GRID as f64;
            features.push(x as f32);
            features.push(y as f32);
        }
    }
    Dataset {
        name: "grid".into(),
        shape: InputShape::Vector { dim: 2 },
        features,
        labels: vec![0; GRID * GRID],
        num_classes: 2,
    }
}

impl Toy {
    fn new(p: &RandomLabelsParams, compute: &Compute) -> Result<Self, String> {
        let spec = match p.data {
            ToyData::TwoClusters => DatasetSpec::TwoClusters,
            ToyData::Moons => DatasetSpec::Moons,
        };
        // The CLI's toy preset (`sgdlab run random-labels --dataset two-clusters`): 300 points,
        // a seeded 80/20 split, MLP 2-256-256-2, batch 16, the same seeds.
        let loaded = spec.load(300, 12345).map_err(|e| e.to_string())?;
        let (train, test) = loaded.train.split(0.2, 12345).map_err(|e| e.to_string())?;
        let mut rng = SplitMix64::for_purpose(p.seed, "random labels");
        let random: Vec<u32> = (0..train.len())
            .map(|_| rng.below(train.num_classes) as u32)
            .collect();
        let stats = InputStats::of(&train.features);
        let network = NetworkConfig::Mlp(MlpConfig::new().with_hidden(vec![256, 256]));
        let device = compute.cpu_twin().device;
        let model = network.init(
            train.shape,
            train.num_classes,
            stats,
            p.seed,
            &device.device.clone().autodiff(),
        );
        let mut bbox = [f64::MAX, f64::MIN, f64::MAX, f64::MIN];
        for q in train
            .features
            .chunks_exact(2)
            .chain(test.features.chunks_exact(2))
        {
            bbox[0] = bbox[0].min(f64::from(q[0]));
            bbox[1] = bbox[1].max(f64::from(q[0]));
            bbox[2] = bbox[2].min(f64::from(q[1]));
            bbox[3] = bbox[3].max(f64::from(q[1]));
        }
        let (px, py) = ((bbox[1] - bbox[0]) * 0.1, (bbox[3] - bbox[2]) * 0.1);
        let bbox = [bbox[0] - px, bbox[1] + px, bbox[2] - py, bbox[3] + py];
        let train = Arc::new(train);
        let random = Arc::new(random);
        let pre = TrainRun::new(
            model,
            &SgdConfig::new().with_lr(0.1),
            train.clone(),
            random.clone(),
            &device.device,
            16,
            None,
            p.seed,
            "phase A on random labels",
        );
        let mut toy = Self {
            train,
            test,
            random,
            stats,
            network,
            pre,
            scratch: None,
            phase: Phase::A,
            device,
            curve: Vec::new(),
            boundary_pre: Arc::new(Vec::new()),
            boundary_scratch: Arc::new(Vec::new()),
            grid: grid_dataset(bbox),
            bbox,
            version: 0,
        };
        if p.random_epochs == 0 {
            toy.start_b(p);
        }
        toy.refresh_boundaries();
        Ok(toy)
    }

    fn start_b(&mut self, p: &RandomLabelsParams) {
        let dev = &self.device.device;
        let true_labels = Arc::new(self.train.labels.clone());
        let pre_model = self.pre.model().clone();
        self.pre = TrainRun::new(
            pre_model,
            &p.arm_optim(),
            self.train.clone(),
            true_labels.clone(),
            dev,
            16,
            None,
            arm_seed(p),
            "phase B (after random labels)",
        );
        let fresh = self.network.init(
            self.train.shape,
            self.train.num_classes,
            self.stats,
            p.seed,
            &dev.clone().autodiff(),
        );
        self.scratch = Some(TrainRun::new(
            fresh,
            &p.arm_optim(),
            self.train.clone(),
            true_labels,
            dev,
            16,
            None,
            arm_seed(p),
            "from scratch",
        ));
        self.phase = Phase::B;
    }

    fn boundary(&self, model: &Network) -> Vec<f32> {
        predict(model, &self.grid, &self.device.device)
            .chunks_exact(2)
            .map(|r| {
                let (a, b) = (r[0], r[1]);
                1.0 / (1.0 + (a - b).exp())
            })
            .collect()
    }

    fn refresh_boundaries(&mut self) {
        self.boundary_pre = Arc::new(self.boundary(self.pre.model()));
        self.boundary_scratch = Arc::new(match &self.scratch {
            Some(s) => self.boundary(s.model()),
            None => Vec::new(),
        });
        self.version += 1;
    }

    fn step(&mut self, p: &RandomLabelsParams) -> Result<(), String> {
        let dev = self.device.device.clone();
        match self.phase {
            Phase::Done => Ok(()),
            Phase::A => {
                let out = self
                    .pre
                    .train_batches(BATCHES_PER_STEP)
                    .map_err(|e| e.to_string())?;
                if out.epoch_finished {
                    let e = self.pre.epochs() as u32;
                    let tr = evaluate(self.pre.model(), &self.train, Some(&self.random), &dev);
                    let te = evaluate(self.pre.model(), &self.test, None, &dev);
                    self.curve.push(ToyPoint {
                        phase: 'A',
                        epoch: e,
                        pre_train_acc: tr.accuracy,
                        pre_test_acc: te.accuracy,
                        scratch_train_acc: f64::NAN,
                        scratch_test_acc: f64::NAN,
                        pre_norm: l2_norm(&flatten_params(self.pre.model())),
                        scratch_norm: f64::NAN,
                    });
                    if e.is_multiple_of(5) || e >= p.random_epochs {
                        self.refresh_boundaries();
                    }
                    if e >= p.random_epochs {
                        self.start_b(p);
                        self.refresh_boundaries();
                    }
                }
                Ok(())
            }
            Phase::B => {
                let out = self
                    .pre
                    .train_batches(BATCHES_PER_STEP)
                    .map_err(|e| e.to_string())?;
                if let Some(s) = self.scratch.as_mut() {
                    s.train_batches(BATCHES_PER_STEP)
                        .map_err(|e| e.to_string())?;
                }
                if out.epoch_finished {
                    let e = self.pre.epochs() as u32;
                    let pt = evaluate(self.pre.model(), &self.train, None, &dev);
                    let pe = evaluate(self.pre.model(), &self.test, None, &dev);
                    let (st, se, sn) = match &self.scratch {
                        Some(s) => (
                            evaluate(s.model(), &self.train, None, &dev).accuracy,
                            evaluate(s.model(), &self.test, None, &dev).accuracy,
                            l2_norm(&flatten_params(s.model())),
                        ),
                        None => (f64::NAN, f64::NAN, f64::NAN),
                    };
                    self.curve.push(ToyPoint {
                        phase: 'B',
                        epoch: e,
                        pre_train_acc: pt.accuracy,
                        pre_test_acc: pe.accuracy,
                        scratch_train_acc: st,
                        scratch_test_acc: se,
                        pre_norm: l2_norm(&flatten_params(self.pre.model())),
                        scratch_norm: sn,
                    });
                    self.refresh_boundaries();
                    if e >= p.true_epochs {
                        self.phase = Phase::Done;
                    }
                }
                Ok(())
            }
        }
    }

    fn snap(&self) -> RandomLabelsSnap {
        let labels: &[u32] = match self.phase {
            Phase::A => &self.random,
            _ => &self.train.labels,
        };
        let points = self
            .train
            .features
            .chunks_exact(2)
            .zip(labels)
            .map(|(q, &l)| ([q[0], q[1]], l))
            .collect();
        RandomLabelsSnap {
            mode: Some(Mode::Toy),
            phase: match self.phase {
                Phase::A => format!(
                    "phase A: fitting random labels (epoch {})",
                    self.pre.epochs()
                ),
                Phase::B => format!("phase B: true labels (epoch {})", self.pre.epochs()),
                Phase::Done => "done".into(),
            },
            points: Arc::new(points),
            boundary_pre: self.boundary_pre.clone(),
            boundary_scratch: self.boundary_scratch.clone(),
            grid: GRID,
            bbox: self.bbox,
            version: self.version,
            curve: Arc::new(self.curve.clone()),
            ..RandomLabelsSnap::default()
        }
    }
}

/// The MNIST mode's run: the vanilla and the fully regularized arm of the engine's ablation.
fn mnist_run(p: &RandomLabelsParams, compute: &Compute) -> Result<RandomLabels, String> {
    let mut c = RandomLabelsConfig::preset(Preset::Quick)
        .with_seed(p.seed)
        .with_seeds(1)
        .with_arms(vec![
            vec![],
            vec![
                "momentum".into(),
                "weight-decay".into(),
                "augmentation".into(),
            ],
        ]);
    c.batches_per_step = 4;
    RandomLabels::new(c, compute.for_tensor_experiments().device).map_err(|e| e.to_string())
}

impl Sim for RandomLabelsSim {
    type Params = RandomLabelsParams;
    type Snap = RandomLabelsSnap;
    type Action = ();

    fn new(p: &RandomLabelsParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let (toy, mnist) = match p.mode {
            Mode::Toy => (Some(Box::new(Toy::new(p, compute)?)), None),
            Mode::Mnist if !sgdlab_engine::data::mnist10k_available() => {
                crate::assets::want(crate::assets::MNIST10K);
                (None, None)
            }
            Mode::Mnist => (None, Some(Box::new(mnist_run(p, compute)?))),
        };
        let mnist_waiting = (toy.is_none() && mnist.is_none()).then(|| compute.clone());
        Ok(Self {
            params: p.clone(),
            toy,
            mnist,
            mnist_waiting,
            steps: 0,
        })
    }

    fn set_params(&mut self, p: &RandomLabelsParams) {
        self.params = p.clone();
        if let Some(t) = self.toy.as_mut()
            && matches!(t.phase, Phase::B)
        {
            t.pre.set_optim_config(p.arm_optim());
            if let Some(s) = t.scratch.as_mut() {
                s.set_optim_config(p.arm_optim());
            }
        }
    }

    fn act(&mut self, (): ()) {}

    fn step(&mut self) -> Result<(), String> {
        if let Some(compute) = &self.mnist_waiting {
            // The subset arrives from the page's download; nothing to do until then.
            if sgdlab_engine::data::mnist10k_available() {
                self.mnist = Some(Box::new(mnist_run(&self.params, compute)?));
                self.mnist_waiting = None;
            }
            return Ok(());
        }
        self.steps += 1;
        if let Some(t) = self.toy.as_mut() {
            return t.step(&self.params);
        }
        if let Some(m) = self.mnist.as_mut() {
            m.step().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn done(&self) -> bool {
        match (&self.toy, &self.mnist) {
            (Some(t), _) => matches!(t.phase, Phase::Done),
            (_, Some(m)) => m.is_done(),
            _ => self.mnist_waiting.is_none(),
        }
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn snapshot(&mut self) -> RandomLabelsSnap {
        if let Some(t) = &self.toy {
            return t.snap();
        }
        let Some(m) = &self.mnist else {
            return RandomLabelsSnap {
                mode: Some(Mode::Mnist),
                mnist_status: crate::assets::describe(
                    crate::assets::MNIST10K,
                    "the MNIST-10k subset",
                ),
                ..RandomLabelsSnap::default()
            };
        };
        let pr = m.progress();
        let gaps = m
            .results()
            .arms
            .iter()
            .filter(|(_, a)| a.gap_mean.is_finite())
            .map(|(k, a)| (k.clone(), a.gap_mean * 100.0))
            .collect();
        RandomLabelsSnap {
            mode: Some(Mode::Mnist),
            mnist: Arc::new(m.curves()),
            mnist_status: format!("{} — {}/{} {}", pr.phase, pr.done, pr.total, pr.unit),
            mnist_gaps: gaps,
            ..RandomLabelsSnap::default()
        }
    }
}

fn boundary_plot(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    s: &RandomLabelsSnap,
    values: &[f32],
    w: f32,
    h: f32,
) {
    ui.vertical(|ui| {
        ui.label(title);
        if values.is_empty() {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(w, h), egui::Sense::hover());
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "starts with phase B, from the same initialization",
                egui::FontId::proportional(14.0),
                ui.visuals().weak_text_color(),
            );
            return;
        }
        let tex = super::cached_texture(ui, id, s.version, || {
            heatmap_image(values, s.grid, s.grid, 0.0, 1.0, diverging)
        });
        let b = s.bbox;
        Plot::new(id)
            .width(w)
            .height(h)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .default_x_bounds(b[0], b[1])
            .default_y_bounds(b[2], b[3])
            .show(ui, |pu| {
                pu.image(PlotImage::new(
                    "P(class 1)",
                    tex.id(),
                    PlotPoint::new((b[0] + b[1]) / 2.0, (b[2] + b[3]) / 2.0),
                    [(b[1] - b[0]) as f32, (b[3] - b[2]) as f32],
                ));
                for (class, color) in [
                    (0u32, egui::Color32::from_rgb(150, 20, 10)),
                    (1, egui::Color32::from_rgb(10, 40, 150)),
                ] {
                    pu.points(
                        Points::new(
                            format!("label {class}"),
                            series(
                                s.points
                                    .iter()
                                    .filter(|(_, l)| *l == class)
                                    .map(|(q, _)| [f64::from(q[0]), f64::from(q[1])]),
                            ),
                        )
                        .color(color)
                        .radius(2.0),
                    );
                }
            });
    });
}

impl LabSpec for RandomLabelsSim {
    const KIND: LabKind = LabKind::RandomLabels;
    const CLAIM: &'static str = "Fitting random labels first, then the true ones, leaves a network \
        that fits the training set but generalizes worse than one trained from scratch: its \
        boundary stays fragmented around memorized points. Explicit regularization (weight \
        decay, momentum, augmentation) in phase B removes the gap.";
    const PAPER: &'static str = "Liu, Papailiopoulos, Achlioptas: Bad Global Minima Exist and SGD Can Reach Them (NeurIPS 2020)";

    fn default_params() -> RandomLabelsParams {
        RandomLabelsParams {
            seed: 0,
            mode: Mode::Toy,
            data: ToyData::TwoClusters,
            random_epochs: 1500,
            true_epochs: 200,
            weight_decay: false,
            momentum: false,
            lr: 0.1,
        }
    }

    fn presets() -> Vec<(&'static str, RandomLabelsParams)> {
        let d = Self::default_params();
        vec![
            ("toy, vanilla SGD: the gap opens", d.clone()),
            (
                "toy, weight decay + momentum: no gap",
                RandomLabelsParams {
                    weight_decay: true,
                    momentum: true,
                    ..d.clone()
                },
            ),
            (
                "toy, moons",
                RandomLabelsParams {
                    data: ToyData::Moons,
                    ..d.clone()
                },
            ),
            (
                "MNIST-10k, both arms (minutes)",
                RandomLabelsParams {
                    mode: Mode::Mnist,
                    ..d
                },
            ),
        ]
    }

    fn controls(p: &mut RandomLabelsParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.reset(choices(
            ui,
            "run",
            &mut p.mode,
            &[(Mode::Toy, "2-D toy"), (Mode::Mnist, "MNIST-10k")],
        ));
        if p.mode == Mode::Toy {
            c = c.reset(choices(
                ui,
                "data",
                &mut p.data,
                &[
                    (ToyData::TwoClusters, "two clusters"),
                    (ToyData::Moons, "moons"),
                ],
            ));
            c = c.reset(
                ui.add(egui::Slider::new(&mut p.random_epochs, 0..=2000).text("phase A epochs"))
                    .changed(),
            );
            c = c.live(
                ui.add(egui::Slider::new(&mut p.true_epochs, 1..=500).text("phase B epochs"))
                    .changed(),
            );
            ui.label("phase B regularization (applies live):");
            c = c.live(
                ui.checkbox(&mut p.weight_decay, "weight decay 5e-3")
                    .changed(),
            );
            c = c.live(ui.checkbox(&mut p.momentum, "momentum 0.9").changed());
            c = c.live(
                ui.add(
                    egui::Slider::new(&mut p.lr, 0.001..=0.5)
                        .logarithmic(true)
                        .text("phase B η"),
                )
                .changed(),
            );
        } else {
            ui.label("The quick preset of `sgdlab run random-labels`: MLP 784-256-10, 1,000 MNIST images, one seed, both arms.");
        }
        c
    }

    fn view(
        s: &RandomLabelsSnap,
        _p: &RandomLabelsParams,
        ui: &mut egui::Ui,
        _gfx: &Gfx,
        _a: &mut Vec<()>,
    ) {
        match s.mode {
            None => {
                ui.label("starting…");
            }
            Some(Mode::Toy) => {
                ui.strong(&s.phase);
                let w = (ui.available_width() / 2.0 - 8.0).max(150.0);
                let h = (ui.available_height() * 0.55).max(160.0);
                ui.horizontal(|ui| {
                    boundary_plot(
                        ui,
                        "rl-pre",
                        "pretrained on random labels (A → B)",
                        s,
                        &s.boundary_pre,
                        w,
                        h,
                    );
                    boundary_plot(
                        ui,
                        "rl-scratch",
                        "from scratch on true labels (B only)",
                        s,
                        &s.boundary_scratch,
                        w,
                        h,
                    );
                });
                Plot::new("rl-curves")
                    .height(ui.available_height().max(120.0))
                    .legend(Legend::default().position(egui_plot::Corner::LeftBottom))
                    .include_y(0.0)
                    .include_y(1.0)
                    .x_axis_label("epoch (phase A, then phase B)")
                    .show(ui, |pu| {
                        let a_len = s.curve.iter().filter(|q| q.phase == 'A').count() as f64;
                        let x = |i: usize, q: &ToyPoint| {
                            if q.phase == 'A' {
                                i as f64 + 1.0
                            } else {
                                a_len + f64::from(q.epoch)
                            }
                        };
                        pu.line(Line::new(
                            "pretrained: train acc (current labels)",
                            series(
                                s.curve
                                    .iter()
                                    .enumerate()
                                    .map(|(i, q)| [x(i, q), q.pre_train_acc]),
                            ),
                        ));
                        pu.line(
                            Line::new(
                                "pretrained: test acc",
                                series(
                                    s.curve
                                        .iter()
                                        .enumerate()
                                        .map(|(i, q)| [x(i, q), q.pre_test_acc]),
                                ),
                            )
                            .width(2.5),
                        );
                        pu.line(
                            Line::new(
                                "from scratch: test acc",
                                series(
                                    s.curve
                                        .iter()
                                        .enumerate()
                                        .map(|(i, q)| [x(i, q), q.scratch_test_acc]),
                                ),
                            )
                            .width(2.5),
                        );
                        pu.vline(egui_plot::VLine::new("end of phase A", a_len));
                    });
            }
            Some(Mode::Mnist) => {
                ui.strong(&s.mnist_status);
                for (arm, gap) in &s.mnist_gaps {
                    ui.label(format!(
                        "{arm}: test accuracy gap (scratch − pretrained) {gap:+.2} points"
                    ));
                }
                Plot::new("rl-mnist")
                    .height(ui.available_height().max(150.0))
                    .legend(Legend::default())
                    .x_axis_label("epoch")
                    .y_axis_label("test accuracy")
                    .show(ui, |pu| {
                        for (arm, run) in [
                            ("vanilla", "baseline"),
                            ("vanilla", "pretrained"),
                            ("all three", "baseline"),
                            ("all three", "pretrained"),
                        ] {
                            pu.line(Line::new(
                                format!(
                                    "{arm} · {}",
                                    if run == "baseline" {
                                        "from scratch"
                                    } else {
                                        "after random labels"
                                    }
                                ),
                                series(
                                    s.mnist
                                        .iter()
                                        .filter(|q| q.arm == arm && q.run == run)
                                        .map(|q| [q.epoch as f64, q.test_acc]),
                                ),
                            ));
                        }
                        pu.line(Line::new(
                            "phase A: train acc on random labels",
                            series(
                                s.mnist
                                    .iter()
                                    .filter(|q| q.run == "random-labels")
                                    .map(|q| [q.epoch as f64, q.train_acc]),
                            ),
                        ));
                    });
            }
        }
    }

    fn csv(s: &RandomLabelsSnap) -> String {
        let mut out = String::new();
        if s.mode == Some(Mode::Mnist) {
            out.push_str("seed,arm,run,epoch,train_acc,test_acc\n");
            for q in s.mnist.iter() {
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    q.seed, q.arm, q.run, q.epoch, q.train_acc, q.test_acc
                ));
            }
        } else {
            out.push_str("phase,epoch,pre_train_acc,pre_test_acc,scratch_train_acc,scratch_test_acc,pre_norm,scratch_norm\n");
            for q in s.curve.iter() {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    q.phase,
                    q.epoch,
                    q.pre_train_acc,
                    q.pre_test_acc,
                    q.scratch_train_acc,
                    q.scratch_test_acc,
                    q.pre_norm,
                    q.scratch_norm
                ));
            }
        }
        out
    }

    fn metrics(s: &RandomLabelsSnap) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(q) = s.curve.last() {
            m.insert("phase".into(), json!(q.phase.to_string()));
            m.insert("epoch".into(), json!(q.epoch));
            m.insert("pre_train_acc".into(), json!(finite(q.pre_train_acc)));
            m.insert("pre_test_acc".into(), json!(finite(q.pre_test_acc)));
            m.insert("scratch_test_acc".into(), json!(finite(q.scratch_test_acc)));
            m.insert(
                "gap".into(),
                json!(finite(q.scratch_test_acc - q.pre_test_acc)),
            );
        }
        for (arm, gap) in &s.mnist_gaps {
            m.insert(format!("mnist_gap_{arm}"), json!(finite(*gap)));
        }
        m.insert("mnist_points".into(), json!(s.mnist.len()));
        m
    }
}
