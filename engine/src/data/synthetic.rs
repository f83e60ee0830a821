//! Seeded 2-D toy data sets with two classes, small enough to plot the decision boundary.
//!
//! Every set draws from its own stream [`SplitMix64::for_purpose`]`(seed, name)`, has shape
//! `Vector { dim: 2 }`, features roughly in `[-1.5, 1.5]`, and alternates labels
//! (example `i` has class `i % 2`), so the classes are balanced to within one example.

use super::dataset::{Dataset, InputShape};
use crate::rng::SplitMix64;

/// Builds the dataset from `n` points drawn by `point(class, rng)`.
fn generate(
    name: String,
    n: usize,
    seed: u64,
    purpose: &str,
    mut point: impl FnMut(u32, &mut SplitMix64) -> [f32; 2],
) -> Dataset {
    let mut rng = SplitMix64::for_purpose(seed, purpose);
    let mut features = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as u32;
        features.extend_from_slice(&point(class, &mut rng));
        labels.push(class);
    }
    // Built directly: two values per point and labels 0/1 hold by construction.
    Dataset {
        name,
        shape: InputShape::Vector { dim: 2 },
        features,
        labels,
        num_classes: 2,
    }
}

/// A standard normal draw as f32.
fn normal(rng: &mut SplitMix64) -> f32 {
    rng.normal() as f32
}

/// Two Gaussian clusters with centres (-0.5, 0) (class 0) and (0.5, 0) (class 1) and standard
/// deviation 0.25 per coordinate: the two-class toy problem of Liu, Papailiopoulos and
/// Achlioptas (2020), "Bad global minima exist and SGD can reach them".
pub fn two_clusters(n: usize, seed: u64) -> Dataset {
    const SD: f32 = 0.25;
    generate(
        "two-clusters (synthetic)".to_string(),
        n,
        seed,
        "two-clusters",
        |class, rng| {
            let cx = if class == 0 { -0.5 } else { 0.5 };
            [cx + SD * normal(rng), SD * normal(rng)]
        },
    )
}

/// Two interleaving half circles ("moons"), centred on the origin, with Gaussian noise of
/// standard deviation `noise` added to each coordinate.
///
/// Class 0 is the upper arc `(cos t, sin t)`, class 1 the lower arc `(1 - cos t, 0.5 - sin t)`
/// for `t` uniform in `[0, pi]`, both shifted by `(-0.5, -0.25)`.
pub fn moons(n: usize, noise: f32, seed: u64) -> Dataset {
    generate(
        format!("moons (synthetic, noise {noise})"),
        n,
        seed,
        "moons",
        |class, rng| {
            let t = std::f32::consts::PI * rng.next_f32();
            let (x, y) = if class == 0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            [
                x - 0.5 + noise * normal(rng),
                y - 0.25 + noise * normal(rng),
            ]
        },
    )
}

/// Two interleaved spirals of one and a half turns each, the second the first rotated by
/// half a turn, with Gaussian noise of standard deviation `noise` added to each coordinate.
///
/// A point at parameter `s` uniform in `[0.05, 1]` has radius `1.4 s` and angle
/// `3 pi s + pi * class`.
pub fn spirals(n: usize, noise: f32, seed: u64) -> Dataset {
    use std::f32::consts::PI;
    generate(
        format!("spirals (synthetic, noise {noise})"),
        n,
        seed,
        "spirals",
        |class, rng| {
            let s = 0.05 + 0.95 * rng.next_f32();
            let r = 1.4 * s;
            let a = 3.0 * PI * s + PI * class as f32;
            [
                r * a.cos() + noise * normal(rng),
                r * a.sin() + noise * normal(rng),
            ]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_mean(d: &Dataset, class: u32) -> [f32; 2] {
        let mut s = [0.0f32; 2];
        let mut c = 0.0;
        for i in 0..d.len() {
            if d.labels[i] == class {
                s[0] += d.example(i)[0];
                s[1] += d.example(i)[1];
                c += 1.0;
            }
        }
        [s[0] / c, s[1] / c]
    }

    fn all_sets(n: usize, seed: u64) -> Vec<Dataset> {
        vec![
            two_clusters(n, seed),
            moons(n, 0.1, seed),
            spirals(n, 0.05, seed),
        ]
    }

    #[test]
    fn sizes_shapes_and_balanced_labels() {
        for d in all_sets(301, 4) {
            assert_eq!(d.len(), 301, "{}", d.name);
            assert_eq!(d.features.len(), 602);
            assert_eq!(d.shape, InputShape::Vector { dim: 2 });
            assert_eq!(d.num_classes, 2);
            assert_eq!(d.class_counts(), vec![151, 150], "{}", d.name);
            let inside = d.features.iter().filter(|v| v.abs() <= 1.5).count();
            assert!(
                inside as f64 >= 0.97 * d.features.len() as f64,
                "{}",
                d.name
            );
        }
        assert!(two_clusters(0, 1).is_empty());
    }

    #[test]
    fn deterministic_for_a_seed() {
        for (a, b) in all_sets(100, 9).into_iter().zip(all_sets(100, 9)) {
            assert_eq!(a.features, b.features, "{}", a.name);
            assert_eq!(a.labels, b.labels);
        }
        for (a, b) in all_sets(100, 9).into_iter().zip(all_sets(100, 10)) {
            assert_ne!(a.features, b.features, "{}", a.name);
        }
    }

    #[test]
    fn class_means_are_separated() {
        let d = two_clusters(4000, 1);
        let (m0, m1) = (class_mean(&d, 0), class_mean(&d, 1));
        assert!((m0[0] + 0.5).abs() < 0.03 && m0[1].abs() < 0.03, "{m0:?}");
        assert!((m1[0] - 0.5).abs() < 0.03 && m1[1].abs() < 0.03, "{m1:?}");
        let sd = d
            .features
            .iter()
            .step_by(2)
            .skip(1)
            .step_by(2)
            .map(|&x| (x - 0.5).powi(2))
            .sum::<f32>()
            / 2000.0;
        assert!((sd.sqrt() - 0.25).abs() < 0.02, "sd {}", sd.sqrt());

        let d = moons(4000, 0.1, 1);
        let (m0, m1) = (class_mean(&d, 0), class_mean(&d, 1));
        // arc means: (0, 2/pi) and (1, 0.5 - 2/pi), shifted by (-0.5, -0.25)
        let e = 2.0 / std::f32::consts::PI;
        assert!(
            (m0[0] + 0.5).abs() < 0.05 && (m0[1] - (e - 0.25)).abs() < 0.05,
            "{m0:?}"
        );
        assert!(
            (m1[0] - 0.5).abs() < 0.05 && (m1[1] - (0.25 - e)).abs() < 0.05,
            "{m1:?}"
        );
    }

    #[test]
    fn spirals_interleave_but_are_locally_separable() {
        let d = spirals(600, 0.02, 3);
        // the class means nearly coincide (each spiral winds around the origin)...
        let (m0, m1) = (class_mean(&d, 0), class_mean(&d, 1));
        assert!((m0[0] + m1[0]).abs() < 0.1 && (m0[1] + m1[1]).abs() < 0.1);
        // ...yet the nearest neighbour almost always has the same class
        let mut agree = 0;
        for i in 0..d.len() {
            let p = d.example(i);
            let nn = (0..d.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let da = (d.example(a)[0] - p[0]).powi(2) + (d.example(a)[1] - p[1]).powi(2);
                    let db = (d.example(b)[0] - p[0]).powi(2) + (d.example(b)[1] - p[1]).powi(2);
                    da.total_cmp(&db)
                })
                .unwrap();
            agree += usize::from(d.labels[nn] == d.labels[i]);
        }
        assert!(
            agree as f64 > 0.95 * d.len() as f64,
            "1-NN agreement {agree}/600"
        );
    }
}
