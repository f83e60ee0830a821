//! The diagnosis of where the paper preset's runs end (`cargo test … -- elimination::diagnose
//! --ignored --nocapture`): per arm and class, quantiles of ‖∇‖, the smallest Hessian eigenvalue,
//! the objective, the original loss, ‖θ‖, the distance to the nearest ReLU kink and, for wrapped
//! runs, a, b, ‖w‖ and the largest exponent. `DIAG_BUDGETS=200,2000` compares budgets.

use super::*;
use sgdlab_engine::device::cpu_device;

fn q(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return "-".into();
    }
    [0.0, 0.1, 0.5, 0.9, 1.0]
        .iter()
        .map(|p| format!("{:.2e}", v[((v.len() - 1) as f64 * p) as usize]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn min_abs_u(obj: &HostObjective, p: &[f64]) -> f64 {
    let h = obj.hidden;
    let mut m = f64::INFINITY;
    for i in 0..obj.y.len() {
        for k in 0..h {
            let u = obj.x[2 * i] * p[k] + obj.x[2 * i + 1] * p[h + k] + p[2 * h + k];
            m = m.min(u.abs());
        }
    }
    m
}

#[test]
#[ignore]
#[allow(clippy::type_complexity, clippy::unwrap_used)]
fn diagnose() {
    let config = EliminationConfig::new();
    let mut e = Elimination::new(config.clone(), cpu_device()).unwrap();
    while e.steps_done < config.steps {
        e.step().unwrap();
    }
    let params = e.read_final_params();
    let (plain, wrapped) = (e.host_objective(false), e.host_objective(true));
    let budgets: Vec<usize> = std::env::var("DIAG_BUDGETS")
        .unwrap_or("2000".into())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    for &budget in &budgets {
        let mut rule = e.rule();
        rule.max_iters = budget;
        let mut rows: Vec<(bool, EndPoint, Classified, f64, f64, f64, f64, f64)> = Vec::new();
        for (r, p) in params.iter().enumerate() {
            let w = r >= config.inits;
            let obj = if w { &wrapped } else { &plain };
            let c = classify(obj, p, &rule);
            let mu = min_abs_u(obj, &c.params);
            let (b, wn, zmax) = if w {
                let q = &c.params;
                let e0 = wrapped.neuron_start();
                let zmax = (0..obj.y.len())
                    .map(|i| q[e0] * obj.x[2 * i] + q[e0 + 1] * obj.x[2 * i + 1] + q[e0 + 2])
                    .fold(f64::NEG_INFINITY, f64::max);
                (
                    q[e0 + 2],
                    (q[e0] * q[e0] + q[e0 + 1] * q[e0 + 1]).sqrt(),
                    zmax,
                )
            } else {
                (0.0, 0.0, 0.0)
            };
            let orig = obj.original_loss(&c.params);
            rows.push((w, c.end, c, mu, b, wn, zmax, orig));
        }
        println!("=== budget {budget}");
        for w in [false, true] {
            for class in [
                EndPoint::LocalMinimum,
                EndPoint::Saddle,
                EndPoint::StillMoving,
                EndPoint::Escaping,
                EndPoint::NonDifferentiable,
            ] {
                let rs: Vec<_> = rows.iter().filter(|r| r.0 == w && r.1 == class).collect();
                if rs.is_empty() {
                    continue;
                }
                println!(
                    "{} {} n={}",
                    if w { "wrapped" } else { "plain" },
                    class.label(),
                    rs.len()
                );
                println!("  grad   {}", q(rs.iter().map(|r| r.2.grad_norm).collect()));
                println!(
                    "  mineig {}",
                    q(rs.iter().map(|r| r.2.min_eigenvalue).collect())
                );
                println!("  obj    {}", q(rs.iter().map(|r| r.2.objective).collect()));
                println!("  orig   {}", q(rs.iter().map(|r| r.7).collect()));
                println!(
                    "  |θ|    {}",
                    q(rs.iter().map(|r| r.2.param_norm).collect())
                );
                println!("  min|u| {}", q(rs.iter().map(|r| r.3).collect()));
                println!(
                    "  iters  {}",
                    q(rs.iter().map(|r| r.2.iters as f64).collect())
                );
                if w {
                    println!(
                        "  a      {}",
                        q(rs.iter().map(|r| *r.2.params.last().unwrap()).collect())
                    );
                    println!("  b      {}", q(rs.iter().map(|r| r.4).collect()));
                    println!("  |w|    {}", q(rs.iter().map(|r| r.5).collect()));
                    println!("  zmax   {}", q(rs.iter().map(|r| r.6).collect()));
                }
            }
        }
    }
}
