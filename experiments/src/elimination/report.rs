//! The elimination experiment's report sections and tables for the classified end points and
//! the failure mode.

use super::{EliminationResults, EndPoint};
use sgdlab_engine::report::{
    Axis, BarPlot, BarSeries, Bounds, CsvTable, LinePlot, Panel, ReportMd, Series, fmt_f64,
};

const CLASSES: [EndPoint; 5] = [
    EndPoint::LocalMinimum,
    EndPoint::Saddle,
    EndPoint::StillMoving,
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
         moving**. The theorem is tested only at local minima; the other runs are counted here, \
         not dropped. Best original loss over all end points: {:.4e}.",
        rule.eig_floor,
        rule.max_step,
        rule.max_iters,
        rule.escape_norm,
        rule.grad_tol,
        rule.step_tol,
        rule.eig_tol,
        rule.kink_tol,
        r.best_original_loss
    ));
    let threshold = r.best_original_loss + r.tolerance;
    let mut rows = Vec::new();
    for arm in ["plain", "wrapped"] {
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
                if arm == "wrapped" && !of.is_empty() {
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
