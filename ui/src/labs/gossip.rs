//! Gossip lab (Chen et al. 2021): n nodes on a topology solve a heterogeneous logistic
//! regression with five algorithms side by side (parallel, gossip, local SGD, Gossip-PGA,
//! Gossip-AGA); the graph is drawn with nodes coloured by their distance from the average.

use super::finite;
use super::series;
use crate::compute::Compute;
use crate::gfx::{Gfx, viridis};
use crate::lab::{Change, LabKind, LabParams, LabSpec, check_count, check_range, choices};
use crate::runner::Sim;
use burn::tensor::Tensor;
use egui::{Color32, Pos2, Stroke, Vec2};
use egui_plot::{Legend, Line, Plot};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sgdlab_engine::optim::gossip::{
    Algorithm, LogisticProblem, Mixer, MixingMatrix, TopologyConfig, WeightScheme,
    consensus_distance,
};
use sgdlab_engine::rng::SplitMix64;
use std::sync::Arc;

/// The topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topo {
    /// A cycle.
    Ring,
    /// A 2-D torus grid.
    Torus,
    /// Static exponential graph.
    Exponential,
    /// One peer per round, cycling through powers of two.
    OnePeerExponential,
    /// A star.
    Star,
    /// Everyone talks to everyone.
    Complete,
}

impl Topo {
    fn config(self) -> TopologyConfig {
        match self {
            Self::Ring => TopologyConfig::Ring,
            Self::Torus => TopologyConfig::Torus,
            Self::Exponential => TopologyConfig::Exponential,
            Self::OnePeerExponential => TopologyConfig::OnePeerExponential,
            Self::Star => TopologyConfig::Star,
            Self::Complete => TopologyConfig::Complete,
        }
    }
}

/// What the controls edit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipParams {
    /// Seed.
    pub seed: u64,
    /// The topology.
    pub topology: Topo,
    /// Nodes n.
    pub nodes: u32,
    /// Global-averaging period H.
    pub period: u32,
    /// Step size γ₀ (decays as γ₀·100/(100 + k)).
    pub lr: f64,
    /// Heterogeneity of the nodes' data.
    pub heterogeneity: f64,
    /// Steps to run.
    pub steps: u32,
    /// The algorithm whose nodes the graph colours.
    pub show: Algorithm,
}

impl LabParams for GossipParams {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn validate(&self) -> Result<(), String> {
        check_count("nodes", u64::from(self.nodes), 2, 256)?;
        check_count("period", u64::from(self.period), 1, 1000)?;
        check_range("lr", self.lr, 1e-3, 5.0)?;
        check_range("heterogeneity", self.heterogeneity, 0.0, 50.0)?;
        check_count("steps", u64::from(self.steps), 10, 100_000)?;
        if self.topology == Topo::Torus {
            let r = (f64::from(self.nodes)).sqrt().round() as u32;
            if r * r != self.nodes || r < 3 {
                return Err(format!(
                    "nodes: a torus needs a square number of nodes of at least 9, found {}",
                    self.nodes
                ));
            }
        }
        Ok(())
    }
}

struct Run {
    algorithm: Algorithm,
    x: Tensor<2>,
    mixer: Mixer,
    rng: SplitMix64,
    curve: Vec<[f64; 3]>,
}

/// What the view draws.
#[derive(Clone, Default)]
pub struct GossipSnap {
    /// Nodes.
    pub nodes: usize,
    /// Edges of the (first round's) graph.
    pub edges: Arc<Vec<(usize, usize)>>,
    /// Topology name.
    pub topology: String,
    /// β of the mixing matrix (1 − spectral gap).
    pub beta: f64,
    /// Per algorithm: name and `[step, ‖x̄ − x*‖², consensus]` over time.
    pub curves: Arc<Vec<(String, Vec<[f64; 3]>)>>,
    /// Distance of each node from the average, for the shown algorithm.
    pub node_dist: Arc<Vec<f64>>,
    /// Steps done.
    pub step: u64,
}

/// The live experiment.
pub struct GossipSim {
    params: GossipParams,
    problem: LogisticProblem,
    xstar: Tensor<2>,
    runs: Vec<Run>,
    edges: Arc<Vec<(usize, usize)>>,
    beta: f64,
    step: u64,
    node_dist: Vec<f64>,
}

fn read(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map(|v| v.into_iter().map(f64::from).collect())
        .unwrap_or_default()
}

impl Sim for GossipSim {
    type Params = GossipParams;
    type Snap = GossipSnap;
    type Action = ();

    fn new(p: &GossipParams, compute: &Compute) -> Result<Self, String> {
        p.validate()?;
        let dev = compute.cpu_twin().device.device;
        let n = p.nodes as usize;
        let topo = p.topology.config();
        let mixing = MixingMatrix::build(&topo, WeightScheme::Uniform, n, "topology")
            .map_err(|e| e.to_string())?;
        let graphs = topo.graphs(n, "topology").map_err(|e| e.to_string())?;
        let mut edges = Vec::new();
        for g in &graphs {
            for (a, nb) in g.neighbours.iter().enumerate() {
                for &b in nb {
                    if a < b && !edges.contains(&(a, b)) {
                        edges.push((a, b));
                    }
                }
            }
        }
        let problem = LogisticProblem::generate(n, 64, 20, p.heterogeneity, 0.05, p.seed, &dev);
        let xstar = problem.solve(5000, 1e-6);
        let runs = Algorithm::ALL
            .iter()
            .map(|&a| {
                Mixer::new(
                    a,
                    &mixing,
                    p.period as usize,
                    4 * p.period as usize,
                    20,
                    &dev,
                )
                .map(|mixer| Run {
                    algorithm: a,
                    x: problem.initial_point(),
                    mixer,
                    rng: SplitMix64::for_purpose(p.seed, "gossip lab batches"),
                    curve: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            params: p.clone(),
            problem,
            xstar,
            runs,
            edges: Arc::new(edges),
            beta: mixing.beta(),
            step: 0,
            node_dist: vec![0.0; n],
        })
    }

    fn set_params(&mut self, p: &GossipParams) {
        // The step size, horizon and shown algorithm change live.
        self.params.lr = p.lr;
        self.params.steps = p.steps;
        self.params.show = p.show;
    }

    fn act(&mut self, (): ()) {}

    fn step(&mut self) -> Result<(), String> {
        let lr = self.params.lr * 100.0 / (100.0 + self.step as f64);
        let record = self.step.is_multiple_of(5) || self.step + 1 == u64::from(self.params.steps);
        for r in &mut self.runs {
            let g = self.problem.stochastic_grad(r.x.clone(), 16, &mut r.rng);
            let y = r.x.clone() - g.mul_scalar(lr);
            r.x = r.mixer.mix(vec![y]).remove(0);
            if record {
                let [n, d] = r.x.dims();
                let xbar = r.x.clone().mean_dim(0);
                let err = (xbar.clone() - self.xstar.clone()).powf_scalar(2.0).sum();
                let cons = consensus_distance(r.x.clone());
                let v = read(Tensor::cat(vec![err, cons], 0));
                if v.len() == 2 {
                    if !v[0].is_finite() {
                        return Err(format!(
                            "{} diverged at step {} (‖x̄ − x*‖² = {}); lower the step size",
                            r.algorithm.name(),
                            self.step + 1,
                            v[0]
                        ));
                    }
                    r.curve.push([(self.step + 1) as f64, v[0], v[1]]);
                }
                if r.algorithm == self.params.show {
                    let dist = (r.x.clone() - xbar.expand([n, d]))
                        .powf_scalar(2.0)
                        .sum_dim(1)
                        .sqrt()
                        .reshape([n]);
                    self.node_dist = read(dist);
                }
                if r.algorithm == Algorithm::GossipAga {
                    let (loss, _) = self.problem.at_average(r.x.clone());
                    if let Some(l) = read(loss).first() {
                        r.mixer.observe_loss(*l);
                    }
                }
            }
        }
        self.step += 1;
        Ok(())
    }

    fn done(&self) -> bool {
        self.step >= u64::from(self.params.steps)
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn snapshot(&mut self) -> GossipSnap {
        GossipSnap {
            nodes: self.params.nodes as usize,
            edges: self.edges.clone(),
            topology: self.params.topology.config().name().into(),
            beta: self.beta,
            curves: Arc::new(
                self.runs
                    .iter()
                    .map(|r| (r.algorithm.name().to_string(), r.curve.clone()))
                    .collect(),
            ),
            node_dist: Arc::new(self.node_dist.clone()),
            step: self.step,
        }
    }
}

fn layout(n: usize, topology: &str) -> Vec<Pos2> {
    if topology == "torus" {
        let r = (n as f64).sqrt().round() as usize;
        return (0..n)
            .map(|i| {
                Pos2::new(
                    (i % r) as f32 / (r - 1).max(1) as f32,
                    (i / r) as f32 / (r - 1).max(1) as f32,
                )
            })
            .collect();
    }
    (0..n)
        .map(|i| {
            let t = std::f32::consts::TAU * i as f32 / n as f32;
            Pos2::new(0.5 + 0.5 * t.cos(), 0.5 + 0.5 * t.sin())
        })
        .collect()
}

impl LabSpec for GossipSim {
    const KIND: LabKind = LabKind::Gossip;
    const CLAIM: &'static str = "Gossip SGD's transient stage grows with 1/(1−β), which is large on \
        sparse graphs. Adding an exact global average every H steps (Gossip-PGA) bounds it by \
        H instead, so PGA tracks parallel SGD on a ring where plain gossip lags, at a fraction \
        of the all-reduce cost.";
    const PAPER: &'static str = "Chen, Yuan, Zhang, Pan, Xu, Yin: Accelerating Gossip SGD with Periodic Global Averaging (ICML 2021)";

    fn default_params() -> GossipParams {
        GossipParams {
            seed: 0,
            topology: Topo::Ring,
            nodes: 32,
            period: 16,
            lr: 0.5,
            heterogeneity: 8.0,
            steps: 1500,
            show: Algorithm::GossipPga,
        }
    }

    fn controls(p: &mut GossipParams, ui: &mut egui::Ui) -> Change {
        let mut c = Change::None;
        c = c.reset(choices(
            ui,
            "topology",
            &mut p.topology,
            &[
                (Topo::Ring, "ring"),
                (Topo::Torus, "torus"),
                (Topo::Exponential, "exponential"),
                (Topo::OnePeerExponential, "one-peer exp."),
                (Topo::Star, "star"),
                (Topo::Complete, "complete"),
            ],
        ));
        if p.topology == Topo::Torus {
            let r = (f64::from(p.nodes)).sqrt().round().max(3.0) as u32;
            p.nodes = r * r;
        }
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.nodes, 4..=128).text("nodes n"))
                .changed(),
        );
        if p.topology == Topo::Torus {
            let r = (f64::from(p.nodes)).sqrt().round().max(3.0) as u32;
            p.nodes = r * r;
        }
        c = c.reset(
            ui.add(
                egui::Slider::new(&mut p.period, 1..=128)
                    .logarithmic(true)
                    .text("period H"),
            )
            .changed(),
        );
        c = c.live(
            ui.add(
                egui::Slider::new(&mut p.lr, 0.01..=2.0)
                    .logarithmic(true)
                    .text("step size γ₀"),
            )
            .changed(),
        );
        c = c.reset(
            ui.add(egui::Slider::new(&mut p.heterogeneity, 0.0..=20.0).text("heterogeneity"))
                .changed(),
        );
        c = c.live(
            ui.add(
                egui::Slider::new(&mut p.steps, 100..=20_000)
                    .logarithmic(true)
                    .text("steps"),
            )
            .changed(),
        );
        c = c.live(choices(
            ui,
            "colour nodes by",
            &mut p.show,
            &Algorithm::ALL.map(|a| (a, a.name())),
        ));
        c
    }

    fn view(s: &GossipSnap, p: &GossipParams, ui: &mut egui::Ui, _g: &Gfx, _a: &mut Vec<()>) {
        if s.nodes == 0 {
            ui.label("starting…");
            return;
        }
        ui.strong(format!(
            "{} graph, n = {}, β = {:.4} (1/(1−β) = {:.1}), H = {}, step {}",
            s.topology,
            s.nodes,
            s.beta,
            1.0 / (1.0 - s.beta).max(1e-12),
            p.period,
            s.step
        ));
        let side = (ui.available_height() * 0.5).clamp(160.0, 320.0);
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::hover());
            let painter = ui.painter_at(rect);
            let pos = layout(s.nodes, &s.topology);
            let to = |q: Pos2| rect.min + Vec2::new(q.x, q.y) * (side - 24.0) + Vec2::splat(12.0);
            for &(a, b) in s.edges.iter() {
                painter.line_segment(
                    [to(pos[a]), to(pos[b])],
                    Stroke::new(1.0, Color32::from_gray(130)),
                );
            }
            let maxd = s.node_dist.iter().copied().fold(1e-12, f64::max);
            for (i, q) in pos.iter().enumerate() {
                let d = s.node_dist.get(i).copied().unwrap_or(0.0);
                painter.circle_filled(to(*q), 5.0, viridis((d / maxd) as f32));
            }
            ui.vertical(|ui| {
                ui.label(format!(
                    "node colour: ‖xᵢ − x̄‖ under {} (yellow = farthest, max {:.3})",
                    p.show.name(),
                    maxd
                ));
                Plot::new("gossip-consensus")
                    .height(side - 20.0)
                    .legend(Legend::default())
                    .x_axis_label("step")
                    .y_axis_label("log10 consensus distance")
                    .show(ui, |pu| {
                        for (name, c) in s.curves.iter() {
                            pu.line(Line::new(
                                name.clone(),
                                series(c.iter().map(|r| [r[0], r[2].max(1e-30).log10()])),
                            ));
                        }
                    });
            });
        });
        Plot::new("gossip-error")
            .height(ui.available_height().max(120.0))
            .legend(Legend::default())
            .x_axis_label("step")
            .y_axis_label("log10 ‖x̄ − x*‖²")
            .show(ui, |pu| {
                for (name, c) in s.curves.iter() {
                    pu.line(Line::new(
                        name.clone(),
                        series(c.iter().map(|r| [r[0], r[1].max(1e-30).log10()])),
                    ));
                }
            });
    }

    fn csv(s: &GossipSnap) -> String {
        let mut out = String::from("algorithm,step,error,consensus\n");
        for (name, c) in s.curves.iter() {
            for r in c {
                out.push_str(&format!("{name},{},{},{}\n", r[0], r[1], r[2]));
            }
        }
        out
    }

    fn metrics(s: &GossipSnap) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("step".into(), json!(s.step));
        m.insert("beta".into(), json!(finite(s.beta)));
        for (name, c) in s.curves.iter() {
            if let Some(r) = c.last() {
                m.insert(format!("error_{name}"), json!(finite(r[1])));
            }
        }
        m
    }
}
