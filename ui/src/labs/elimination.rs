//! Elimination lab (Kawaguchi, Kaelbling 2020): many small networks on an XOR-like problem,
//! each trained plain and wrapped with one exponential neuron + (λ/2)a²; live, the wrapped
//! runs' neuron scale a goes to zero and their losses collapse onto the best one.

use super::finite;
use super::series;
use crate::compute::Compute;
use crate::gfx::Gfx;
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range};
use crate::runner::{ExperimentSim, LiveExperiment};
use egui_plot::{Legend, Line, Plot, Points};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::optim::SgdConfig;
use sgdlab_experiments::{Elimination, EliminationConfig, EliminationSnapshot, Experiment};
use std::sync::Arc;

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EliminationParams {
    /// Seed.
    pub seed: u64,
    /// Random initializations (each trained plain and wrapped).
    pub inits: u32,
    /// Hidden ReLU units.
    pub hidden: u32,
    /// λ on a².
    pub lambda: f64,
    /// Learning rate.
    pub lr: f64,
    /// Gradient steps.
    pub steps: u32,
}

impl LabParams for EliminationParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        check_count("inits", u64::from(self.inits), 1, 2000)?;
        check_count("hidden", u64::from(self.hidden), 1, 64)?;
        check_range("lambda", self.lambda, 1e-6, 10.0)?;
        check_range("lr", self.lr, 1e-4, 1.0)?;
        check_count("steps", u64::from(self.steps), 10, 200_000)
    }
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct EliminationSnap {
    /// Inits.
    pub inits: usize,
    /// Diagnostics over time.
    pub history: Arc<Vec<EliminationSnapshot>>,
    /// Tolerance above the best loss.
    pub tolerance: f64,
    /// Status line.
    pub status: String,
    /// Per recorded step: step, best loss, share of plain and of wrapped runs above best +
    /// tolerance, max |a| (computed once per snapshot, not per frame).
    pub summary: Arc<Vec<[f64; 5]>>,
}

/// The live experiment.
pub type EliminationSim = ExperimentSim<Elimination>;

impl LiveExperiment for Elimination {
    type Params = EliminationParams;
    type Snap = EliminationSnap;

    fn build(p: &EliminationParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let c = EliminationConfig::new()
            .with_seed(p.seed)
            .with_inits(p.inits as usize)
            .with_control_inits(p.inits as usize)
            .with_hidden(p.hidden as usize)
            .with_lambda(p.lambda)
            .with_optim(SgdConfig::new().with_lr(p.lr))
            .with_steps(p.steps as usize)
            .with_eval_every(50)
            .with_steps_per_call(25);
        Elimination::new(c, compute.cpu_twin().device).map_err(|e| e.to_string())
    }
    fn snap(&self) -> EliminationSnap {
        let r = self.results();
        let history = self.snapshots();
        EliminationSnap {
            inits: r.inits,
            summary: Arc::new(summary(history, r.inits, r.tolerance)),
            history: Arc::new(history.to_vec()),
            tolerance: r.tolerance,
            status: self.progress().phase,
        }
    }
}

/// Per snapshot: best loss, fraction of plain runs above best + tol, of wrapped runs, max |a|.
fn summary(history: &[EliminationSnapshot], n: usize, tolerance: f64) -> Vec<[f64; 5]> {
    history
        .iter()
        .map(|h| {
            let best = h
                .loss
                .iter()
                .chain(h.original.iter())
                .copied()
                .fold(f64::INFINITY, f64::min);
            let above = |v: &[f64]| {
                v.iter().filter(|&&l| l > best + tolerance).count() as f64 / v.len().max(1) as f64
            };
            let plain = above(&h.loss[..n.min(h.loss.len())]);
            let wrapped = above(&h.loss[n.min(h.loss.len())..]);
            let max_a = h.a[n.min(h.a.len())..]
                .iter()
                .map(|a| a.abs())
                .fold(0.0, f64::max);
            [h.step as f64, best, plain, wrapped, max_a]
        })
        .collect()
}

impl LabSpec for EliminationSim {
    const KIND: LabKind = LabKind::Elimination;
    const CLAIM: &'static str = "Adding one exponential neuron a·exp(wᵀx + b) per output and the \
        penalty (λ/2)a² leaves no bad local minimum: at every local minimum of the wrapped loss \
        a = 0, so the original network there is globally optimal. Plain runs stall at bad \
        minima; wrapped runs do not, and their |a| decays to zero.";
    const PAPER: &'static str =
        "Kawaguchi, Kaelbling: Elimination of All Bad Local Minima in Deep Learning (AISTATS 2020)";

    fn default_params() -> EliminationParams {
        EliminationParams {
            seed: 0,
            inits: 60,
            hidden: 2,
            lambda: 0.01,
            lr: 0.1,
            steps: 4000,
        }
    }

    fn controls(p: &mut EliminationParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.inits, 1..=400).text("initializations"))
                .changed(),
        );
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.hidden, 1..=16).text("hidden units"))
                .changed(),
        );
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.lambda, 1e-4..=1.0)
                    .logarithmic(true)
                    .text("λ"),
            )
            .changed(),
        );
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.lr, 0.005..=0.5)
                    .logarithmic(true)
                    .text("η"),
            )
            .changed(),
        );
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.steps, 100..=50_000)
                    .logarithmic(true)
                    .text("steps"),
            )
            .changed(),
        );
        ui.label("Changes restart the runs (every run shares one batched model).");
        c
    }

    fn view(
        s: &EliminationSnap,
        _p: &EliminationParams,
        ui: &mut egui::Ui,
        _g: &Gfx,
        _a: &mut Vec<()>,
    ) {
        ui.strong(&s.status);
        let rows = &s.summary;
        let h = (ui.available_height() / 2.0 - 10.0).max(120.0);
        let w = (ui.available_width() / 2.0 - 8.0).max(150.0);
        ui.horizontal(|ui| {
            Plot::new("elim-frac")
                .width(w)
                .height(h)
                .legend(Legend::default())
                .include_y(0.0)
                .include_y(1.0)
                .x_axis_label("step")
                .y_axis_label("share of runs above best loss + tol")
                .show(ui, |pu| {
                    pu.line(Line::new(
                        "plain",
                        series(rows.iter().map(|r| [r[0], r[2]])),
                    ));
                    pu.line(
                        Line::new(
                            "wrapped (exp neuron + λa²/2)",
                            series(rows.iter().map(|r| [r[0], r[3]])),
                        )
                        .width(2.5),
                    );
                });
            Plot::new("elim-a")
                .width(w)
                .height(h)
                .legend(Legend::default())
                .x_axis_label("step")
                .y_axis_label("log10 max |a|")
                .show(ui, |pu| {
                    pu.line(Line::new(
                        "log10 max |a| (wrapped runs)",
                        series(rows.iter().map(|r| [r[0], r[4].max(1e-12).log10()])),
                    ));
                });
        });
        if let Some(last) = s.history.last() {
            let n = s.inits;
            Plot::new("elim-final")
                .height(ui.available_height().max(120.0))
                .legend(Legend::default())
                .x_axis_label("run (sorted by loss)")
                .y_axis_label("loss now")
                .show(ui, |pu| {
                    let mut plain: Vec<f64> = last.loss[..n.min(last.loss.len())].to_vec();
                    let mut wrapped: Vec<f64> = last.loss[n.min(last.loss.len())..].to_vec();
                    plain.sort_by(f64::total_cmp);
                    wrapped.sort_by(f64::total_cmp);
                    pu.points(
                        Points::new(
                            "plain",
                            series(plain.iter().enumerate().map(|(i, v)| [i as f64, *v])),
                        )
                        .radius(2.5),
                    );
                    pu.points(
                        Points::new(
                            "wrapped",
                            series(wrapped.iter().enumerate().map(|(i, v)| [i as f64, *v])),
                        )
                        .radius(2.5),
                    );
                });
        }
    }

    fn csv(s: &EliminationSnap) -> String {
        let mut out =
            String::from("step,best_loss,plain_suboptimal,wrapped_suboptimal,max_abs_a\n");
        for r in s.summary.iter() {
            out.push_str(&format!("{},{},{},{},{}\n", r[0], r[1], r[2], r[3], r[4]));
        }
        out
    }

    fn metrics(s: &EliminationSnap) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(r) = s.summary.last() {
            m.insert("step".into(), json!(r[0]));
            m.insert("best_loss".into(), json!(finite(r[1])));
            m.insert("plain_suboptimal".into(), json!(finite(r[2])));
            m.insert("wrapped_suboptimal".into(), json!(finite(r[3])));
            m.insert("max_abs_a".into(), json!(finite(r[4])));
        }
        m
    }
}
