//! RNN lab (Allen-Zhu, Li 2019): an Elman ReLU RNN trained by one-pass SGD (fresh sequences
//! every step) on a concept class of smooth two-layer functions of earlier tokens, one run per
//! sequence length; live test-error curves against sequences seen, and the sequences needed
//! against the length with the same rule (polynomial vs exponential) as `sgdlab run rnn`.

use super::finite;
use super::series;
use crate::compute::Compute;
use crate::gfx::Gfx;
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range};
use crate::runner::{ExperimentSim, LiveExperiment};
use egui_plot::{Legend, Line, Plot, Points};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::model::ElmanRnnConfig;
use sgdlab_engine::optim::SgdConfig;
use sgdlab_experiments::{Experiment, Preset, Rnn, RnnConfig, RnnCurvePoint, RnnSweep};
use std::sync::Arc;

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnParams {
    /// Seed.
    pub seed: u64,
    /// Hidden width m (two cancelling halves).
    pub width: u32,
    /// Largest sequence length (lengths 2, 3, 4, 6, 8, 12 up to it).
    pub max_len: u32,
    /// log2 of the cap on sequences seen per run.
    pub log2_cap: u32,
    /// Learning rate at m·L = 512.
    pub lr: f64,
}

impl LabParams for RnnParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        check_count("width", u64::from(self.width), 8, 1024)?;
        if !self.width.is_multiple_of(2) {
            return Err(format!("width must be even, got {}", self.width));
        }
        check_count("max_len", u64::from(self.max_len), 2, 12)?;
        check_count("log2_cap", u64::from(self.log2_cap), 6, 17)?;
        check_range("lr", self.lr, 1e-5, 0.1)
    }
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct RnnSnap {
    /// Learning curves.
    pub curves: Arc<Vec<RnnCurvePoint>>,
    /// Finished runs: (L, threshold, sequences needed or `None` when censored).
    pub needed: Vec<(usize, f64, Option<f64>)>,
    /// The rule's verdict so far.
    pub verdict: String,
    /// Status line.
    pub status: String,
}

/// The live experiment.
pub type RnnSim = ExperimentSim<Rnn>;

impl LiveExperiment for Rnn {
    type Params = RnnParams;
    type Snap = RnnSnap;

    fn build(p: &RnnParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let lens: Vec<usize> = [2usize, 3, 4, 6, 8, 12]
            .into_iter()
            .filter(|&l| l <= p.max_len as usize)
            .collect();
        let c = RnnConfig::preset(Preset::Quick)
            .with_seed(p.seed)
            .with_seeds(1)
            .with_control(false)
            .with_width_check_len(0)
            .with_network(ElmanRnnConfig::new().with_width(p.width as usize))
            .with_seq_lens(lens)
            .with_max_samples(1 << p.log2_cap)
            .with_optim(SgdConfig::new().with_lr(p.lr))
            .with_batches_per_step(4);
        Rnn::new(c, compute.cpu_twin().device).map_err(|e| e.to_string())
    }
    fn snap(&self) -> RnnSnap {
        let r = self.results();
        RnnSnap {
            curves: Arc::new(self.curves()),
            needed: r
                .runs
                .iter()
                .filter(|x| x.sweep == RnnSweep::Samples)
                .map(|x| (x.seq_len, x.threshold, x.samples_needed))
                .collect(),
            verdict: r.scaling.verdict.clone(),
            status: self.progress().phase,
        }
    }
}

impl LabSpec for RnnSim {
    const KIND: LabKind = LabKind::Rnn;
    const CLAIM: &'static str = "An over-parameterized Elman ReLU network trained by SGD learns \
        concepts where each output is a smooth two-layer function of earlier tokens, with \
        samples and time polynomial (not exponential) in the sequence length L: the sequences \
        one-pass SGD needs to reach a fixed test error grow like a power of L, not like e^(cL).";
    const PAPER: &'static str = "Allen-Zhu, Li: Can SGD Learn Recurrent Neural Networks with Provable Generalization? (NeurIPS 2019)";

    fn default_params() -> RnnParams {
        RnnParams {
            seed: 0,
            width: 128,
            max_len: 8,
            log2_cap: 14,
            lr: 0.012,
        }
    }

    fn controls(p: &mut RnnParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.width, 16..=512)
                    .logarithmic(true)
                    .text("width m"),
            )
            .changed(),
        );
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.max_len, 2..=16).text("longest L"))
                .changed(),
        );
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.log2_cap, 6..=17).text("log2 cap (sequences)"))
                .changed(),
        );
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.lr, 1e-4..=0.03)
                    .logarithmic(true)
                    .text("η"),
            )
            .changed(),
        );
        ui.label("One pass on fresh sequences per L; changes restart the runs.");
        c
    }

    fn view(s: &RnnSnap, _p: &RnnParams, ui: &mut egui::Ui, _g: &Gfx, _a: &mut Vec<()>) {
        ui.strong(&s.status);
        ui.label(format!("Rule (polynomial vs exponential): {}", s.verdict));
        let h = (ui.available_height() / 2.0 - 10.0).max(120.0);
        Plot::new("rnn-curves")
            .height(h)
            .legend(Legend::default())
            .x_axis_label("log2 sequences seen")
            .y_axis_label("relative test error")
            .include_y(0.0)
            .show(ui, |pu| {
                let mut lens: Vec<usize> = s.curves.iter().map(|q| q.seq_len).collect();
                lens.dedup();
                for l in lens {
                    pu.line(Line::new(
                        format!("L={l}"),
                        series(
                            s.curves
                                .iter()
                                .filter(|q| q.seq_len == l)
                                .map(|q| [(q.samples as f64).log2(), q.test_rel_error]),
                        ),
                    ));
                }
                for &(l, thr, _) in &s.needed {
                    pu.hline(egui_plot::HLine::new(format!("threshold L={l}"), thr));
                }
            });
        let bottom = (ui.available_height() - 8.0).max(120.0);
        Plot::new("rnn-needed")
            .height(bottom)
            .x_axis_label("sequence length L")
            .y_axis_label("log2 sequences needed")
            .show(ui, |pu| {
                pu.points(
                    Points::new(
                        "sequences seen at the confirmed crossing",
                        series(
                            s.needed
                                .iter()
                                .filter_map(|(l, _, n)| n.map(|n| [*l as f64, n.log2()])),
                        ),
                    )
                    .radius(4.0),
                );
            });
    }

    fn csv(s: &RnnSnap) -> String {
        let mut out = String::from("sweep,seq_len,width,samples,epoch,train_loss,test_rel_error\n");
        for q in s.curves.iter() {
            out.push_str(&format!(
                "{:?},{},{},{},{},{},{}\n",
                q.sweep, q.seq_len, q.width, q.samples, q.epoch, q.train_loss, q.test_rel_error
            ));
        }
        out
    }

    fn metrics(s: &RnnSnap) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("points".into(), json!(s.curves.len()));
        if let Some(q) = s.curves.last() {
            m.insert("seq_len".into(), json!(q.seq_len));
            m.insert("samples_seen".into(), json!(q.samples));
            m.insert("epoch".into(), json!(q.epoch));
            m.insert("test_rel_error".into(), json!(finite(q.test_rel_error)));
        }
        let first = s.curves.first().map(|q| q.test_rel_error);
        m.insert("first_test_rel_error".into(), json!(first.and_then(finite)));
        m
    }
}
