//! Writing an experiment run's outputs: atomic JSON and CSV files, PNG and SVG charts, and a
//! Markdown report that shows the charts and a table of numbers.
//!
//! A run directory typically holds `config.json` and `results.json` ([`write_json_atomic`]),
//! `metrics.csv` ([`CsvTable`]), one `<stem>.png` + `<stem>.svg` pair per chart ([`LinePlot`],
//! [`BarPlot`], [`Heatmap`], [`HeatmapGrid`], [`Histogram`]; every axis titled with its unit and
//! labelled, checked by [`axis_problems`]) and `report.md` ([`ReportMd`]).
//! Every file is written atomically, so an interrupted run never leaves a truncated file.

mod atomic;
mod csv;
mod markdown;
mod plot;
mod stats;

pub use atomic::{write_atomic, write_json_atomic};
pub use csv::{CsvTable, fmt_f64};
pub use markdown::ReportMd;
pub use plot::{
    Axis, BarPlot, BarSeries, Bounds, DEJAVU_SANS, Heatmap, HeatmapGrid, Histogram, LinePlot,
    Panel, SEED_POINTS_MAX, Series, SeriesStyle, axis_problems,
};
pub use stats::Interval;

/// Two-sided 97.5% quantiles of Student's t distribution for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
    2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687,
    2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];

/// The 97.5% quantile of Student's t with `df` degrees of freedom: tabulated up to 30, then the
/// Cornish–Fisher expansion around the normal quantile 1.96 (within 1e-3 of the exact value
/// beyond 30, and tending to 1.96 as `df` grows).
fn t_quantile_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        _ => {
            let z: f64 = 1.959_964;
            let n = df as f64;
            let z3 = z.powi(3);
            let z5 = z.powi(5);
            z + (z3 + z) / (4.0 * n) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// The mean of `xs` and the half-width of its 95% confidence interval, `t(0.975, n-1) · s / √n`
/// with `s` the sample standard deviation (denominator `n - 1`).
///
/// With fewer than two values the half-width is NaN (and the mean of no values is NaN). NaN
/// inputs propagate; filter them first if a diverged seed should be ignored.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_quantile_975(n - 1) * var.sqrt() / (n as f64).sqrt();
    (mean, half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci95_of_one_to_five() {
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((m - 3.0).abs() < 1e-12);
        let expected = 2.776 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((h - expected).abs() < 1e-3, "{h} vs {expected}");
    }

    #[test]
    fn ci95_small_and_degenerate_inputs() {
        let (m, h) = mean_ci95(&[4.0]);
        assert_eq!(m, 4.0);
        assert!(h.is_nan());
        let (m, h) = mean_ci95(&[]);
        assert!(m.is_nan() && h.is_nan());
        // Two values: df = 1, t = 12.706; s = sqrt(0.5) * |a - b|.
        let (m, h) = mean_ci95(&[1.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((h - 12.706 * 2f64.sqrt() / 2f64.sqrt()).abs() < 1e-3, "{h}");
        let (_, h) = mean_ci95(&[2.0, 2.0, 2.0]);
        assert_eq!(h, 0.0);
    }

    #[test]
    fn t_quantiles_beyond_the_table() {
        // Exact values: df 40 → 2.0211, df 60 → 2.0003, df 120 → 1.9799.
        for (df, exact) in [(31, 2.0395), (40, 2.0211), (60, 2.0003), (120, 1.9799)] {
            let t = t_quantile_975(df);
            assert!((t - exact).abs() < 1e-3, "df {df}: {t} vs {exact}");
        }
        assert!((t_quantile_975(100_000) - 1.96).abs() < 1e-3);
        // 41 values: df 40.
        let xs: Vec<f64> = (0..41).map(f64::from).collect();
        let (m, h) = mean_ci95(&xs);
        let s = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 40.0).sqrt();
        assert!((h - 2.0211 * s / 41f64.sqrt()).abs() < 1e-3);
    }
}
