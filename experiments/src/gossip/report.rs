//! The gossip experiment's report: metrics.csv, the plots (loss, error, consensus, transients
//! against n and H with censored points drawn as bounds, communication in two panels) and the
//! body of report.md.

use super::sweeps::sweep_series;
use super::{Active, Gossip, ProblemClass, RunKey, display_name};
use sgdlab_engine::optim::gossip::{Algorithm, MixingMatrix};
use sgdlab_engine::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, SeriesStyle,
    fmt_f64,
};

impl Gossip {
    pub(super) fn metrics_table(&self) -> CsvTable {
        let mut t = CsvTable::new(&[
            "problem",
            "algorithm",
            "nodes",
            "period",
            "step",
            "lr",
            "loss",
            "grad_norm",
            "consensus",
            "error",
            "test_accuracy",
            "messages_per_node_step",
            "bytes_per_node_step",
        ]);
        for r in &self.rows {
            t.push_row(vec![
                if r.key.mnist {
                    "mnist"
                } else {
                    r.key.class.problem()
                }
                .into(),
                r.key.algorithm.name().into(),
                r.key.nodes.to_string(),
                r.key.period.to_string(),
                r.step.to_string(),
                fmt_f64(r.lr),
                fmt_f64(r.loss),
                fmt_f64(r.grad_norm),
                fmt_f64(r.consensus),
                fmt_f64(r.error),
                fmt_f64(r.test_accuracy),
                fmt_f64(r.messages),
                fmt_f64(r.bytes),
            ]);
        }
        t
    }

    /// The class whose main runs the loss, consensus and communication plots show.
    pub(super) fn main_class(&self) -> ProblemClass {
        self.config
            .problem_classes
            .first()
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn main_key(&self, a: Algorithm, mnist: bool) -> RunKey {
        RunKey {
            mnist,
            class: if mnist {
                ProblemClass::default()
            } else {
                self.main_class()
            },
            nodes: match (&self.config.mnist, mnist) {
                (Some(m), true) => m.nodes,
                _ => self.config.nodes,
            },
            period: self.config.period,
            algorithm: a,
            topology: None,
        }
    }

    pub(super) fn curve_plot(&self, mnist: bool, what: &str) -> LinePlot {
        let series = Algorithm::ALL
            .iter()
            .map(|&a| {
                let key = self.main_key(a, mnist);
                Series::line(
                    display_name(a),
                    self.rows
                        .iter()
                        .filter(|r| r.key == key)
                        .map(|r| {
                            let y = match what {
                                "loss" => r.loss,
                                "error" => r.error,
                                "accuracy" => r.test_accuracy,
                                _ => r.consensus,
                            };
                            (r.step as f64, y)
                        })
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        let (problem, n) = if mnist {
            (
                "MLP on MNIST-10k",
                self.main_key(Algorithm::ParallelSgd, true).nodes,
            )
        } else {
            (
                match self.main_class() {
                    ProblemClass::StronglyConvex => "logistic regression",
                    ProblemClass::NonConvex => "non-convex logistic regression",
                },
                self.config.nodes,
            )
        };
        LinePlot::single(
            format!(
                "{problem}: {what} at x̄, n = {n}, {}, H = {}",
                self.config.topology.name(),
                self.config.period
            ),
            Axis::linear("step (iterations)"),
            match what {
                "loss" => Axis::log("loss f(x̄) (nats)"),
                "error" => Axis::log(match self.main_class() {
                    ProblemClass::StronglyConvex => "‖x̄ − x*‖² (squared distance)",
                    ProblemClass::NonConvex => "‖∇f(x̄)‖² (squared gradient norm)",
                }),
                "accuracy" => Axis::linear("test accuracy (fraction)").bounded(Bounds::UNIT),
                _ => Axis::log("consensus distance (squared distance)"),
            },
            series,
        )
    }

    pub(super) fn consensus_plot(&self) -> Option<LinePlot> {
        let h = self.config.period;
        let upto = (6 * h) as u64;
        let mut series = Vec::new();
        for a in [
            Algorithm::GossipSgd,
            Algorithm::LocalSgd,
            Algorithm::GossipPga,
        ] {
            let key = self.main_key(a, false);
            let run = match self.queue.active().map(|(_, _, a)| a) {
                Some(Active::Logistic(r)) if r.key == key => Some(&r.consensus),
                _ => None,
            };
            let from_rows = self.consensus_curves.get(&key).or(run)?;
            series.push(Series::line_points(
                display_name(a),
                from_rows
                    .iter()
                    .take(upto as usize)
                    .enumerate()
                    .map(|(i, &c)| ((i + 1) as f64, c))
                    .collect(),
            ));
        }
        Some(LinePlot::single(
            format!(
                "Consensus distance (1/n)Σ‖x_i − x̄‖², n = {}, {}: PGA resets it every H = {h}",
                self.config.nodes,
                self.config.topology.name()
            ),
            Axis::linear("step (iterations)"),
            Axis::linear("consensus distance (squared distance)").bounded(Bounds::NON_NEGATIVE),
            series,
        ))
    }
}

impl Gossip {
    pub(super) fn transient_plot(&self, by_nodes: bool) -> LinePlot {
        let data = if by_nodes {
            &self.results.transient_vs_nodes
        } else {
            &self.results.transient_vs_period
        };
        let total = self.config.logistic.steps as f64;
        let many = self.config.problem_classes.len() > 1;
        let mut series = Vec::new();
        for (&class, a) in self.config.problem_classes.iter().flat_map(|c| {
            [
                Algorithm::GossipSgd,
                Algorithm::LocalSgd,
                Algorithm::GossipPga,
                Algorithm::GossipAga,
            ]
            .map(|a| (c, a))
        }) {
            let Some(v) = data.get(&sweep_series(class, a)) else {
                continue;
            };
            let name = if many {
                format!("{}, {}", display_name(a), class.name())
            } else {
                display_name(a)
            };
            // Runs that never matched parallel SGD are censored: their transient stage is longer
            // than the step budget.
            let values: Vec<(f64, Option<f64>)> = v
                .iter()
                .map(|&(x, t)| (x as f64, t.map(|t| t.max(1) as f64)))
                .collect();
            let pts: Vec<(f64, f64)> = values
                .iter()
                .map(|&(x, t)| (x, t.unwrap_or(total)))
                .collect();
            series.push(Series::with_censored(
                format!("{name} (measured)"),
                &values,
                total,
                SeriesStyle::LinePoints,
            ));
            // The theory's scaling, anchored at the first point that was matched within the
            // horizon and is at least one period H long (shorter ones are not resolved).
            let anchor = v.iter().find_map(|&(x, t)| {
                let h = if by_nodes { self.config.period } else { x };
                t.filter(|&t| t >= h as u64).map(|t| (x as f64, t as f64))
            });
            if let Some((x0, y0)) = anchor {
                let theory = |x: f64| -> f64 {
                    let (n, h) = if by_nodes {
                        (x, self.config.period as f64)
                    } else {
                        (self.config.nodes as f64, x)
                    };
                    let beta = MixingMatrix::build(
                        &self.config.topology,
                        self.config.weights,
                        n as usize,
                        "topology",
                    )
                    .map_or(f64::NAN, |m| m.beta());
                    class.theory(a.name(), n, beta, h)
                };
                let base = theory(x0);
                series.push(Series::line(
                    format!("{name} (theory, scaled)"),
                    // Points past 10× the horizon are left out: Gossip SGD's β⁴n³/(1−β)⁴
                    // reaches ~1e15 steps at n = 128, which would flatten every other line.
                    pts.iter()
                        .map(|&(x, _)| (x, y0 * theory(x) / base))
                        .filter(|&(_, y)| y.is_finite() && (0.5..=10.0 * total).contains(&y))
                        .collect(),
                ));
            }
        }
        LinePlot {
            title: if by_nodes {
                format!(
                    "Transient stage vs n ({}, H = {}); budget {} steps",
                    self.config.topology.name(),
                    self.config.period,
                    total
                )
            } else {
                format!(
                    "Transient stage vs H (n = {}, {}); budget {} steps",
                    self.config.nodes,
                    self.config.topology.name(),
                    total
                )
            },
            x: Axis::log(if by_nodes {
                "nodes n (count)"
            } else {
                "period H (steps)"
            }),
            panels: vec![Panel {
                y: Axis::log("transient stage (steps)"),
                series,
            }],
        }
    }

    /// Communication per node per step: messages and KiB have different units, so one chart
    /// each (`communication` and `communication_bytes`).
    pub(super) fn comm_plots(&self) -> [(BarPlot, &'static str); 2] {
        let mut msgs = Vec::new();
        let mut kib = Vec::new();
        for a in Algorithm::ALL {
            let main = self.main_class().problem();
            let r = self.results.runs.iter().find(|r| {
                r.problem == main
                    && r.algorithm == a.name()
                    && r.nodes == self.config.nodes
                    && r.period == self.config.period
                    && r.topology_index.is_none()
            });
            msgs.push(r.map_or(0.0, |r| r.messages_per_node_step));
            kib.push(r.map_or(0.0, |r| r.bytes_per_node_step / 1024.0));
        }
        let chart = |what: &str, y: &str, bars: BarSeries| BarPlot {
            title: format!(
                "{what} per node per step ({}, n = {}, d = {}, H = {})",
                self.main_class().problem(),
                self.config.nodes,
                self.config.logistic.dim,
                self.config.period
            ),
            x_title: "algorithm".into(),
            y: Axis::linear(y).bounded(Bounds::NON_NEGATIVE),
            groups: Algorithm::ALL.iter().map(|&a| display_name(a)).collect(),
            bars: vec![bars],
        };
        [
            (
                chart(
                    "Messages",
                    "messages / node / step (count)",
                    BarSeries::new("messages / node / step", msgs),
                ),
                "communication",
            ),
            (
                chart(
                    "Bytes",
                    "KiB / node / step",
                    BarSeries::new("KiB / node / step", kib),
                ),
                "communication_bytes",
            ),
        ]
    }

    pub(super) fn report_body(&self, md: &mut ReportMd) {
        self.intro_section(md);
        self.beta_section(md);
        self.transient_tables(md);
        self.curvature_section(md);
        self.exponents_section(md);
        self.runs_section(md);
    }

    /// The paper, how the transient is measured, Gossip-AGA's status.
    fn intro_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        let c = &self.config;
        md.paragraph(
            "Chen, Yuan, Zhang, Pan, Xu, Yin (ICML 2021): Gossip SGD's transient stage (the \
             iterations before its convergence rate matches parallel SGD's) grows like \
             β⁴n³/(1−β)⁴; adding an exact global average every H steps (Gossip-PGA) bounds the \
             topology's effect by H: β⁴n³D⁴ with D = min(H, 1/(1−β)), below Local SGD's n³H⁴ \
             (Table 1, non-convex). The n³ is the price of linear speedup and stays in both: \
             what PGA removes is the 1/(1−β)⁴, which on a ring grows like n⁸.",
        );
        md.paragraph(&format!(
            "How the transient is measured: every logistic-regression run is repeated on {} \
             independent mini-batch streams (seeds), the same streams for every algorithm at a \
             given n (common random numbers). The error (‖x̄ − x*‖² on the strongly convex \
             problem, ‖∇f(x̄)‖² on the non-convex one, the quantities each theory bounds) is \
             averaged over the seeds, then each step's value is replaced by its mean over the trailing {:.0}% of steps. \
             The transient is the first step after which this curve stays within {}× parallel \
             SGD's up to the horizon of {} steps (\"> {}\": not within it at the end). The step \
             size decays, γ_k = γ₀k₀/(k₀ + k) with γ₀ = {}, k₀ = {}, so every method's extra \
             error (∝ γ_k²) vanishes faster than parallel SGD's (∝ γ_k) and the ratio tends to 1: \
             the criterion is well posed (with a constant step the methods would settle at \
             different error floors and a ratio threshold would measure those floors instead). \
             Averaging curves before thresholding measures the expected error the theory bounds; \
             a median of per-seed transients would instead be biased upwards, since the last \
             crossing of a noisy curve comes late. The transient measured on the even and on the \
             odd seeds alone is shown in brackets: their spread is the noise left.",
            c.seeds,
            100.0 * c.smoothing_window,
            c.transient_factor,
            c.logistic.steps,
            c.logistic.steps,
            c.logistic.lr,
            c.logistic.lr_decay_steps,
        ));
        md.paragraph(
            "**Gossip-AGA is a heuristic here, not the paper's algorithm.** Its adaptive period \
             H_ℓ = ⌈H·√(F(x̄₀)/F(x̄_ℓ))⌉ (capped at `aga_max_period`, F the loss at the average \
             model) is a reconstruction: the paper's Gossip-AGA section could not be retrieved \
             from the stored copies of its text, so the rule is not checked against the paper's \
             equation. Gossip-AGA is run and shown for comparison but kept out of every claim.",
        );
        md.paragraph(&format!(
            "Status: **{}**. Topology {}, device: {}.",
            r.status, r.topology, r.device
        ));
    }

    /// β of every topology that ran and of the built-in table.
    fn beta_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.heading(2, "β = ‖W − 11ᵀ/n‖₂");
        // The configured topology's rows, then the built-in table without the rows that repeat
        // them (same topology name and node count).
        let rows: Vec<Vec<String>> = r
            .beta
            .iter()
            .chain(r.beta_table.iter().filter(|t| {
                !r.beta
                    .iter()
                    .any(|b| b.topology == t.topology && b.nodes == t.nodes)
            }))
            .map(|b| {
                vec![
                    b.topology.clone(),
                    b.nodes.to_string(),
                    format!("{:.6}", b.beta),
                    format!("{:.2}", b.messages_per_round),
                ]
            })
            .collect();
        md.table(&["topology", "n", "β", "messages/node/round"], &rows);
    }

    /// The transients against n and against H, per problem class.
    fn transient_tables(&self, md: &mut ReportMd) {
        let r = &self.results;
        let c = &self.config;
        let fmt_t = |t: Option<u64>| {
            t.map_or(format!("> {}", self.config.logistic.steps), |v| {
                v.to_string()
            })
        };
        let halves_of = |class: ProblemClass, a: &str, n: usize, h: usize| -> String {
            r.runs
                .iter()
                .find(|x| {
                    x.problem == class.problem()
                        && x.algorithm == a
                        && x.nodes == n
                        && x.period == h
                        && x.topology_index.is_none()
                })
                .filter(|x| x.transient_halves.len() == 2)
                .map_or(String::new(), |x| {
                    format!(
                        " ({} / {})",
                        fmt_t(x.transient_halves[0]),
                        fmt_t(x.transient_halves[1])
                    )
                })
        };
        let h = c.period;
        for &class in &c.problem_classes {
            let series = |a: Algorithm| sweep_series(class, a);
            md.heading(
                2,
                &format!(
                    "Transient stage vs n (H = {h}), {} problem ({})",
                    class.name(),
                    class.error_name()
                ),
            );
            let mut header = vec!["algorithm".to_string()];
            header.extend(c.node_sweep.iter().map(|n| format!("n = {n}")));
            let rows: Vec<Vec<String>> = Algorithm::ALL
                .iter()
                .filter_map(|&a| Some((a, r.transient_vs_nodes.get(&series(a))?)))
                .map(|(a, v)| {
                    std::iter::once(a.name().to_string())
                        .chain(v.iter().map(|&(n, t)| {
                            format!("{}{}", fmt_t(t), halves_of(class, a.name(), n, h))
                        }))
                        .collect()
                })
                .collect();
            let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
            md.table(&header_refs, &rows);
            md.heading(
                2,
                &format!(
                    "Transient stage vs H (n = {}), {} problem",
                    c.nodes,
                    class.name()
                ),
            );
            let mut header = vec!["algorithm".to_string()];
            header.extend(c.period_sweep.iter().map(|p| format!("H = {p}")));
            let rows: Vec<Vec<String>> = Algorithm::ALL
                .iter()
                .filter_map(|&a| Some((a, r.transient_vs_period.get(&series(a))?)))
                .map(|(a, v)| {
                    std::iter::once(a.name().to_string())
                        .chain(v.iter().map(|&(p, t)| {
                            // Parallel and Gossip SGD do not depend on H: their run is the one
                            // at H.
                            let run_h =
                                if matches!(a, Algorithm::ParallelSgd | Algorithm::GossipSgd) {
                                    h
                                } else {
                                    p
                                };
                            format!("{}{}", fmt_t(t), halves_of(class, a.name(), c.nodes, run_h))
                        }))
                        .collect()
                })
                .collect();
            let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
            md.table(&header_refs, &rows);
        }
    }

    /// The smallest Hessian eigenvalue on the way to each solution.
    fn curvature_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.heading(2, "How convex each problem is");
        md.paragraph(
            "The smallest eigenvalue of ∇²f on the segment from the start (x = 0) to the \
             problem's solution x̂ (found by gradient descent: the minimizer of the strongly \
             convex problem, a stationary point of the non-convex one), and at x̂. A negative \
             value means f is not convex on the way the runs go; a positive value at x̂ means \
             the runs end in a locally strongly convex basin, where the strongly convex orders \
             describe the last part of the run.",
        );
        let rows: Vec<Vec<String>> = r
            .curvature
            .iter()
            .map(|e| {
                vec![
                    e.problem.clone(),
                    e.nodes.to_string(),
                    format!("{:.3e}", e.min_eigenvalue_on_path),
                    format!("{:.3e}", e.min_eigenvalue_at_solution),
                ]
            })
            .collect();
        md.table(
            &["problem", "n", "min λ(∇²f) on [0, x̂]", "min λ(∇²f(x̂))"],
            &rows,
        );
    }

    /// The fitted growth exponents next to the theory's.
    fn exponents_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        let c = &self.config;
        md.heading(2, "Growth exponents of the transient stage");
        md.paragraph(&format!(
            "Least-squares slope of ln(transient) on ln x, on all seeds and (in brackets) on the \
             even and the odd seeds alone, next to the theory's slope over the same points for \
             the problem's class (computed from the β of the topology that ran; see the claims). \
             \"> T\": beyond the horizon, a lower bound; \"≤ T\": at or below the floor (H for \
             the periodic methods, {} steps otherwise), an upper bound. A fit that needs a \
             censored value reports no slope.",
            c.transient_floor
        ));
        let rows: Vec<Vec<String>> = r
            .fits
            .iter()
            .map(|f| {
                let slope = match (f.exponent, f.half_seed_range()) {
                    (Some(e), Some((lo, hi))) => format!("{e:.2} [{lo:.2}, {hi:.2}]"),
                    (Some(e), None) => format!("{e:.2} (no half-seed range)"),
                    (None, _) => format!("— ({})", f.missing),
                };
                vec![
                    f.problem_class.name().into(),
                    f.algorithm.clone(),
                    f.against.clone(),
                    f.show_points(),
                    slope,
                    f.theory_exponent.map_or("—".into(), |t| format!("{t:.2}")),
                ]
            })
            .collect();
        md.table(
            &[
                "class",
                "algorithm",
                "against",
                "transients (halves)",
                "fitted slope",
                "theory slope",
            ],
            &rows,
        );
    }

    /// Every run's final numbers.
    fn runs_section(&self, md: &mut ReportMd) {
        let r = &self.results;
        md.heading(2, "Runs");
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|x| {
                vec![
                    x.problem.clone(),
                    x.algorithm.clone(),
                    x.nodes.to_string(),
                    x.period.to_string(),
                    format!("{:.5}", x.final_loss),
                    format!("{:.3e}", x.final_error),
                    format!("{:.3e}", x.mean_consensus),
                    if x.test_accuracy.is_finite() {
                        format!("{:.2}%", x.test_accuracy * 100.0)
                    } else {
                        "-".into()
                    },
                    format!("{:.2}", x.messages_per_node_step),
                    format!("{:.0}", x.bytes_per_node_step),
                    x.transient.map_or("-".into(), |t| t.to_string()),
                    if x.final_ratio_to_parallel.is_finite() {
                        format!("{:.3}", x.final_ratio_to_parallel)
                    } else {
                        "-".into()
                    },
                ]
            })
            .collect();
        md.table(
            &[
                "problem",
                "algorithm",
                "n",
                "H",
                "loss f(x̄)",
                "error (‖x̄−x*‖² or ‖∇f(x̄)‖²)",
                "mean consensus",
                "test acc",
                "msgs/node/step",
                "bytes/node/step",
                "transient",
                "final ratio to parallel",
            ],
            &rows,
        );
    }
}
