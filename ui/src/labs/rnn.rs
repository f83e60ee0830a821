//! RNN lab (Allen-Zhu, Li 2019): an Elman ReLU RNN trained by SGD on a concept class of smooth
//! two-layer functions of earlier tokens, for several sequence lengths and sample sizes; live
//! test-error curves, and the samples needed against the length.

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
use sgdlab_experiments::{
    Experiment, Preset, Rnn, RnnConfig, RnnCurvePoint, RnnSweep, samples_needed,
};
use std::sync::Arc;

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnParams {
    /// Seed.
    pub seed: u64,
    /// Hidden width m.
    pub width: u32,
    /// Largest sequence length (lengths 2, 4, … up to it).
    pub max_len: u32,
    /// Epochs per run.
    pub epochs: u32,
    /// Learning rate.
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
        check_count("max_len", u64::from(self.max_len), 2, 16)?;
        check_count("epochs", u64::from(self.epochs), 1, 500)?;
        check_range("lr", self.lr, 1e-5, 0.1)
    }
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct RnnSnap {
    /// Learning curves.
    pub curves: Arc<Vec<RnnCurvePoint>>,
    /// Threshold on the relative test error that counts as learned.
    pub threshold: f64,
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
        let lens: Vec<usize> = (1..=4)
            .map(|k| 1usize << k)
            .filter(|&l| l <= p.max_len as usize)
            .collect();
        let c = RnnConfig::preset(Preset::Quick)
            .with_seed(p.seed)
            .with_seeds(1)
            .with_control(false)
            .with_network(ElmanRnnConfig::new().with_width(p.width as usize))
            .with_seq_lens(lens)
            .with_sample_sizes(vec![32, 64, 128, 256])
            .with_widths(vec![])
            .with_epochs(p.epochs as usize)
            .with_optim(SgdConfig::new().with_lr(p.lr))
            .with_batches_per_step(2);
        Rnn::new(c, compute.cpu_twin().device).map_err(|e| e.to_string())
    }
    fn snap(&self) -> RnnSnap {
        RnnSnap {
            curves: Arc::new(self.curves()),
            threshold: self.results().error_threshold,
            status: self.progress().phase,
        }
    }
}

/// Final relative test error per (L, N) of the sample sweep.
type Finals = Vec<(usize, usize, f64)>;
/// Samples needed to reach the threshold, per L.
type Needed = Vec<(usize, Option<f64>)>;

/// Final test error per (L, N) of the sample sweep, and samples needed per L.
fn finals(s: &RnnSnap) -> (Finals, Needed) {
    let mut last: Vec<(usize, usize, usize, f64)> = Vec::new();
    for q in s.curves.iter().filter(|q| q.sweep == RnnSweep::Samples) {
        match last
            .iter_mut()
            .find(|r| r.0 == q.seq_len && r.1 == q.samples)
        {
            Some(r) if q.epoch >= r.2 => {
                r.2 = q.epoch;
                r.3 = q.test_rel_error;
            }
            Some(_) => {}
            None => last.push((q.seq_len, q.samples, q.epoch, q.test_rel_error)),
        }
    }
    let mut lens: Vec<usize> = last.iter().map(|r| r.0).collect();
    lens.sort_unstable();
    lens.dedup();
    let needed = lens
        .iter()
        .map(|&l| {
            let mut curve: Vec<(usize, f64)> = last
                .iter()
                .filter(|r| r.0 == l)
                .map(|r| (r.1, r.3))
                .collect();
            curve.sort_by_key(|c| c.0);
            (l, samples_needed(&curve, s.threshold))
        })
        .collect();
    (last.into_iter().map(|r| (r.0, r.1, r.3)).collect(), needed)
}

impl LabSpec for RnnSim {
    const KIND: LabKind = LabKind::Rnn;
    const CLAIM: &'static str = "An over-parameterized Elman ReLU network trained by SGD learns \
        concepts where each output is a smooth two-layer function of earlier tokens, with \
        samples and time polynomial (not exponential) in the sequence length L: the samples \
        needed to reach a fixed test error grow slowly with L.";
    const PAPER: &'static str = "Allen-Zhu, Li: Can SGD Learn Recurrent Neural Networks with Provable Generalization? (NeurIPS 2019)";

    fn default_params() -> RnnParams {
        RnnParams {
            seed: 0,
            width: 128,
            max_len: 8,
            epochs: 20,
            lr: 0.003,
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
            ui.add(egui::Slider::new(&mut p.epochs, 1..=100).text("epochs"))
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
        ui.label("Sample sizes 32, 64, 128, 256 for each L; changes restart the sweep.");
        c
    }

    fn view(s: &RnnSnap, _p: &RnnParams, ui: &mut egui::Ui, _g: &Gfx, _a: &mut Vec<()>) {
        ui.strong(&s.status);
        let h = (ui.available_height() / 2.0 - 10.0).max(120.0);
        Plot::new("rnn-curves")
            .height(h)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("relative test error")
            .include_y(0.0)
            .show(ui, |pu| {
                let mut keys: Vec<(usize, usize)> =
                    s.curves.iter().map(|q| (q.seq_len, q.samples)).collect();
                keys.dedup();
                for (l, n) in keys {
                    pu.line(Line::new(
                        format!("L={l}, N={n}"),
                        series(
                            s.curves
                                .iter()
                                .filter(|q| q.seq_len == l && q.samples == n)
                                .map(|q| [q.epoch as f64, q.test_rel_error]),
                        ),
                    ));
                }
                pu.hline(egui_plot::HLine::new("learned threshold", s.threshold));
            });
        let (fin, needed) = finals(s);
        let w = (ui.available_width() / 2.0 - 8.0).max(150.0);
        let bottom = (ui.available_height() - 8.0).max(120.0);
        ui.horizontal(|ui| {
            Plot::new("rnn-final")
                .width(w)
                .height(bottom)
                .legend(Legend::default())
                .x_axis_label("log2 samples N")
                .y_axis_label("final relative test error")
                .show(ui, |pu| {
                    let mut lens: Vec<usize> = fin.iter().map(|r| r.0).collect();
                    lens.sort_unstable();
                    lens.dedup();
                    for l in lens {
                        pu.line(Line::new(
                            format!("L={l}"),
                            series(
                                fin.iter()
                                    .filter(|r| r.0 == l)
                                    .map(|r| [(r.1 as f64).log2(), r.2]),
                            ),
                        ));
                    }
                });
            Plot::new("rnn-needed")
                .width(w)
                .height(bottom)
                .x_axis_label("sequence length L")
                .y_axis_label("samples needed")
                .show(ui, |pu| {
                    pu.points(
                        Points::new(
                            "samples to reach the threshold",
                            series(needed.iter().filter_map(|(l, n)| n.map(|n| [*l as f64, n]))),
                        )
                        .radius(4.0),
                    );
                });
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
            m.insert("samples".into(), json!(q.samples));
            m.insert("epoch".into(), json!(q.epoch));
            m.insert("test_rel_error".into(), json!(finite(q.test_rel_error)));
        }
        let first = s.curves.first().map(|q| q.test_rel_error);
        m.insert("first_test_rel_error".into(), json!(first.and_then(finite)));
        m
    }
}
