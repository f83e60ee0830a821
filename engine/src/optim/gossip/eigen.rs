//! Eigenvalues of a symmetric matrix, for β = ‖W − 11ᵀ/n‖₂ of a mixing matrix: Householder
//! reduction to tridiagonal form, then the implicit QL iteration with Wilkinson shifts (the
//! textbook pair; Golub and Van Loan, *Matrix Computations*, §8.3). O(n³) once, so a 1,024-node
//! topology validates in about a second, where cyclic Jacobi took minutes.

/// The eigenvalues of the symmetric n × n matrix `a` (row-major), largest first.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    let (mut d, mut e) = tridiagonalize(a.to_vec(), n);
    tridiagonal_ql(&mut d, &mut e);
    d.sort_by(|x, y| y.total_cmp(x));
    d
}

/// Householder reduction of a symmetric matrix to tridiagonal form: the diagonal `d` and the
/// sub-diagonal `e` (with `e[i]` coupling rows i − 1 and i; `e[0] = 0`).
fn tridiagonalize(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut e = vec![0.0; n];
    for i in (1..n).rev() {
        let l = i - 1;
        if l == 0 {
            e[i] = a[i * n];
            continue;
        }
        let scale: f64 = (0..=l).map(|k| a[i * n + k].abs()).sum();
        if scale == 0.0 {
            e[i] = a[i * n + l];
            continue;
        }
        let mut h = 0.0;
        for k in 0..=l {
            a[i * n + k] /= scale;
            h += a[i * n + k] * a[i * n + k];
        }
        let f = a[i * n + l];
        let g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
        e[i] = scale * g;
        h -= f * g;
        a[i * n + l] = f - g;
        // p = A u / h, stored in e[0..=l]; then K = uᵀp / 2h.
        let mut f = 0.0;
        for j in 0..=l {
            let mut g = 0.0;
            for k in 0..=j {
                g += a[j * n + k] * a[i * n + k];
            }
            for k in j + 1..=l {
                g += a[k * n + j] * a[i * n + k];
            }
            e[j] = g / h;
            f += e[j] * a[i * n + j];
        }
        let hh = f / (h + h);
        // A ← A − u qᵀ − q uᵀ with q = p − K u (lower triangle only).
        for j in 0..=l {
            let f = a[i * n + j];
            let g = e[j] - hh * f;
            e[j] = g;
            for k in 0..=j {
                a[j * n + k] -= f * e[k] + g * a[i * n + k];
            }
        }
    }
    let d = (0..n).map(|i| a[i * n + i]).collect();
    (d, e)
}

/// Eigenvalues of the symmetric tridiagonal matrix (diagonal `d`, sub-diagonal `e` as
/// [`tridiagonalize`] leaves it), in place in `d`, by implicit QL with shifts.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    if n < 2 {
        return;
    }
    // Renumber so that e[i] couples rows i and i + 1.
    e.rotate_left(1);
    e[n - 1] = 0.0;
    for l in 0..n {
        for _ in 0..64 {
            // The first negligible coupling at or after l splits off a block.
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_matrices_have_their_known_eigenvalues() {
        // [[2, 1], [1, 2]]: 3 and 1.
        let e = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!(
            (e[0] - 3.0).abs() < 1e-12 && (e[1] - 1.0).abs() < 1e-12,
            "{e:?}"
        );
        // A diagonal matrix and a 1 × 1 one.
        let e = symmetric_eigenvalues(&[1.0, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 5.0], 3);
        assert_eq!(e, [5.0, 1.0, -2.0]);
        assert_eq!(symmetric_eigenvalues(&[7.0], 1), [7.0]);
    }

    /// The ring's uniform mixing matrix (1/3 on the diagonal and both neighbours) has the
    /// eigenvalues (1 + 2 cos(2πk/n)) / 3, k = 0..n.
    #[test]
    fn the_ring_has_its_closed_form_spectrum() {
        for n in [5usize, 16, 33, 200] {
            let mut w = vec![0.0; n * n];
            for i in 0..n {
                for j in [i, (i + 1) % n, (i + n - 1) % n] {
                    w[i * n + j] = 1.0 / 3.0;
                }
            }
            let got = symmetric_eigenvalues(&w, n);
            let mut want: Vec<f64> = (0..n)
                .map(|k| {
                    (1.0 + 2.0 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) / 3.0
                })
                .collect();
            want.sort_by(|x, y| y.total_cmp(x));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-10, "n = {n}: {g} vs {w}");
            }
        }
    }

    /// A dense random symmetric matrix: the eigenvalues sum to the trace and their squares to
    /// the squared Frobenius norm.
    #[test]
    fn a_dense_matrix_keeps_its_trace_and_frobenius_norm() {
        let n = 60;
        let mut rng = crate::rng::SplitMix64::new(7);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = f64::from(rng.next_f32()) - 0.5;
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        let e = symmetric_eigenvalues(&a, n);
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let frob: f64 = a.iter().map(|v| v * v).sum();
        assert!((e.iter().sum::<f64>() - trace).abs() < 1e-10);
        assert!((e.iter().map(|v| v * v).sum::<f64>() - frob).abs() < 1e-10);
    }
}
