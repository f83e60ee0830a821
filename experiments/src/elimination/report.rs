//! The elimination experiment's report sections and tables for the classified end points and
//! the failure mode.

use super::{EliminationResults, EndPoint};
use sgdlab_engine::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, fmt_f64,
};

const CLASSES: [EndPoint; 6] = [
    EndPoint::LocalMinimum,
    EndPoint::Saddle,
    EndPoint::StillMoving,
    EndPoint::Diverging,
    EndPoint::Escaping,
    EndPoint::NonDifferentiable,
];

/// `end_points.csv`: one row per run and arm.
pub fn end_points_table(r: &EliminationResults) -> CsvTable {
    let mut t = CsvTable::new(&[
        "arm",
        "init",
        "end_point",
        "objective",
        "original_loss",
        "a",
        "grad_norm",
        "min_hessian_eigenvalue",
        "param_norm",
        "newton_iters",
        "max_residual",
        "kink_distance",
        "perturbation_tested",
        "second_order_class",
    ]);
    for e in &r.end_points {
        t.push_row(vec![
            e.arm.clone(),
            e.init.to_string(),
            e.end.label().to_string(),
            fmt_f64(e.objective),
            fmt_f64(e.original_loss),
            fmt_f64(e.a),
            fmt_f64(e.grad_norm),
            fmt_f64(e.min_eigenvalue),
            fmt_f64(e.param_norm),
            e.iters.to_string(),
            fmt_f64(e.max_residual),
            fmt_f64(e.kink_distance),
            e.perturbation_tested.to_string(),
            e.second_order_class
                .map_or(String::new(), |c| c.label().to_string()),
        ]);
    }
    t
}

/// `failure_mode.csv`: the failure-mode checkpoints.
pub fn failure_table(r: &EliminationResults) -> CsvTable {
    let mut t = CsvTable::new(&[
        "step",
        "objective",
        "original_loss",
        "a",
        "b",
        "w",
        "neuron_norm",
        "grad_norm",
    ]);
    for p in &r.failure_mode.points {
        t.push_row(vec![
            p.step.to_string(),
            fmt_f64(p.objective),
            fmt_f64(p.original_loss),
            fmt_f64(p.a),
            fmt_f64(p.b),
            fmt_f64(p.w),
            fmt_f64(p.neuron_norm),
            fmt_f64(p.grad_norm),
        ]);
    }
    t
}

/// The end-point classification: the rule, and the count of each class per arm.
pub fn end_points_section(md: &mut ReportMd, r: &EliminationResults) {
    md.heading(2, "Where the runs ended");
    let Some(rule) = &r.classify_rule else {
        md.paragraph("End points are classified after gradient descent; not yet.");
        return;
    };
    md.paragraph(&format!(
        "After gradient descent, every run continues from its end point with saddle-free Newton \
         steps on its own objective (f64, on the host; |Hessian eigenvalues| floored at {:e}, \
         each step capped at length {} before a backtracking line search; budget {} \
         iterations) until it is classified: **escaping to infinity** when ‖θ‖ > {} (checked \
         first, since the gradient vanishes along such a path too); **stationary** when \
         ‖∇‖ < {:e} and the Newton step is shorter than {:e}, then a **local minimum** when the \
         smallest eigenvalue of the finite-difference Hessian is ≥ −{:e} and a **saddle** \
         otherwise. When the budget ends first: **non-differentiable** when a data point lies \
         within {:e} of a ReLU unit's boundary (the gradient does not vanish on such a kink and \
         the finite-difference Hessian straddles it, so neither test applies), else **still \
         moving**, or **diverging** for a wrapped run whose |a| fell and b rose at every sample \
         (every 100 iterations; |a| by ≥ 1.25× in all) over the last {} iterations while the \
         objective fell and its original network stayed above the best plain loss + {}. Every local minimum, and every \
         stationary point within {:e} of a ReLU kink, is then decided by a **perturbation test** \
         ({}): a local minimum when none of the perturbed descents ends below its objective − \
         {:e}, a saddle otherwise. The theorem is tested only at local minima; the other runs \
         are counted here, not dropped. Best original loss over all end points: {:.4e}.",
        rule.eig_floor,
        rule.max_step,
        rule.max_iters,
        rule.escape_norm,
        rule.grad_tol,
        rule.step_tol,
        rule.eig_tol,
        rule.kink_tol,
        rule.trace_window,
        r.tolerance,
        r.kink_flag,
        r.perturb_rule.map_or("not run".to_string(), |p| format!(
            "{} random directions at each of the radii {:e} and {:e} × max(‖θ‖, 1), then {} \
             backtracking gradient steps",
            p.directions, p.radii[0], p.radii[1], p.steps
        )),
        r.perturb_rule.map_or(f64::NAN, |p| p.drop),
        r.best_original_loss
    ));
    let threshold = r.best_original_loss + r.tolerance;
    let mut rows = Vec::new();
    for arm in ["plain", "wrapped", "control"] {
        let runs: Vec<_> = r.end_points.iter().filter(|e| e.arm == arm).collect();
        for class in CLASSES {
            let of: Vec<_> = runs.iter().filter(|e| e.end == class).collect();
            let above = of.iter().filter(|e| e.original_loss > threshold).count();
            let max_a = of.iter().map(|e| e.a.abs()).fold(0.0, f64::max);
            rows.push(vec![
                arm.to_string(),
                class.label().to_string(),
                of.len().to_string(),
                above.to_string(),
                if arm != "plain" && !of.is_empty() {
                    format!("{max_a:.2e}")
                } else {
                    "-".into()
                },
            ]);
        }
    }
    md.table(
        &[
            "arm",
            "end point",
            "runs",
            "original loss above best + tolerance",
            "largest |a|",
        ],
        &rows,
    );
    md.paragraph(&format!(
        "Arm `control` is the negative control: the wrapped runs on the same clusters with \
         noise {} ({} inits), which the network cannot fit exactly, so by the theorem its \
         objective has no local minimum and each one classified is a false positive.",
        r.control_noise_std, r.control_inits,
    ));
    let pc = &r.positive_control;
    if !pc.is_empty() {
        let count = |e: Option<EndPoint>| pc.iter().filter(|p| p.end == e).count();
        md.paragraph(&format!(
            "Positive control: from each of the {} bad plain local minima θ, the wrapped point \
             (θ, w, b = 0, a = 0) with Σᵢ rᵢ·exp(wᵀxᵢ) = 0 is stationary but, by the theorem, \
             not a local minimum. Classified without refinement by the same second-order test: \
             {} saddles, {} local minima, {} not stationary within the gradient tolerance, {} \
             not built; smallest Hessian eigenvalues from {:.2e} to {:.2e}, largest ‖∇‖ {:.1e}.",
            pc.len(),
            count(Some(EndPoint::Saddle)),
            count(Some(EndPoint::LocalMinimum)),
            count(Some(EndPoint::StillMoving)),
            count(None),
            pc.iter()
                .map(|p| p.min_eigenvalue)
                .fold(f64::INFINITY, f64::min),
            pc.iter()
                .map(|p| p.min_eigenvalue)
                .fold(f64::NEG_INFINITY, f64::max),
            pc.iter().map(|p| p.grad_norm).fold(0.0, f64::max),
        ));
    }
}

/// The failure-mode part: the example, and the diverging quantities at each checkpoint.
pub fn failure_section(md: &mut ReportMd, r: &EliminationResults) {
    let f = &r.failure_mode;
    md.heading(2, "Failure mode: no local minimum in reach");
    if f.points.is_empty() {
        md.paragraph("Not run yet.");
        return;
    }
    md.paragraph(&format!(
        "The theorem constrains local minima only: each has a = 0 and the original network at \
         its best loss L*, so each has objective L*. Problem: {}. Here L* = {:.4}. The \
         objective falls below L* and keeps falling while w → ∞ and b → −∞ (the neuron fits \
         the point x = 1 alone in the limit): no local minimum is approached, so the guarantee \
         is vacuous along this path.",
        f.problem, f.best_original_loss
    ));
    let rows: Vec<Vec<String>> = f
        .points
        .iter()
        .map(|p| {
            vec![
                p.step.to_string(),
                format!("{:.4e}", p.objective),
                format!("{:.4}", p.original_loss),
                format!("{:.4}", p.a),
                format!("{:.3}", p.w),
                format!("{:.3}", p.b),
                format!("{:.3}", p.neuron_norm),
                format!("{:.2e}", p.grad_norm),
            ]
        })
        .collect();
    md.table(
        &[
            "step",
            "objective",
            "loss, neuron removed",
            "a",
            "w",
            "b",
            "‖(w, b)‖",
            "‖∇‖",
        ],
        &rows,
    );
}

/// The share of runs ending in each class, per arm, with 95% Wilson intervals.
pub fn end_points_plot(r: &EliminationResults) -> BarPlot {
    let bars = ["plain", "wrapped"]
        .iter()
        .map(|arm| {
            let runs: Vec<_> = r.end_points.iter().filter(|e| e.arm == *arm).collect();
            let counts: Vec<(usize, usize)> = CLASSES
                .iter()
                .map(|&c| (runs.iter().filter(|e| e.end == c).count(), runs.len()))
                .collect();
            BarSeries::wilson95(*arm, &counts)
        })
        .collect();
    BarPlot {
        title: "Where the runs ended (share of runs, 95% Wilson interval)".into(),
        x_title: "end point".into(),
        y: Axis::linear("share of runs (fraction)").bounded(Bounds::UNIT),
        groups: CLASSES.iter().map(|c| c.label().to_string()).collect(),
        bars,
    }
}

/// The failure mode: the objective against L*, and ‖(w, b)‖, against the step (two panels,
/// two units).
pub fn failure_plot(r: &EliminationResults) -> LinePlot {
    let f = &r.failure_mode;
    let steps: Vec<f64> = f.points.iter().map(|p| p.step as f64).collect();
    let (first, last) = (
        steps.first().copied().unwrap_or(1.0),
        steps.last().copied().unwrap_or(1.0),
    );
    LinePlot {
        title: "Failure mode: the objective falls below every local minimum's value while the \
                neuron's parameters run off"
            .into(),
        x: Axis::log("gradient step (iterations)"),
        panels: vec![
            Panel {
                y: Axis::log("objective (½·mean squared error + (λ/2)a²)"),
                series: vec![
                    Series::line_points(
                        "wrapped objective",
                        f.points
                            .iter()
                            .map(|p| (p.step as f64, p.objective))
                            .collect(),
                    ),
                    Series::line(
                        "L*: the value at every local minimum",
                        vec![(first, f.best_original_loss), (last, f.best_original_loss)],
                    ),
                ],
            },
            Panel {
                y: Axis::linear("‖(w, b)‖ (neuron input weight and bias)")
                    .bounded(Bounds::NON_NEGATIVE),
                series: vec![Series::line_points(
                    "‖(w, b)‖",
                    f.points
                        .iter()
                        .map(|p| (p.step as f64, p.neuron_norm))
                        .collect(),
                )],
            },
        ],
    }
}
