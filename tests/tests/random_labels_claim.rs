//! The paper's claim on its toy problem (Liu, Papailiopoulos, Achlioptas 2020, the two-cluster
//! figure), with a fixed seed: after fitting random labels, vanilla SGD retrained on the true
//! labels keeps a fragmented boundary and tests worse than training from scratch, while
//! regularized SGD (momentum + weight decay) recovers.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use sgdlab_engine::data::DatasetSpec;
use sgdlab_engine::device::cpu_device;
use sgdlab_engine::experiments::{Experiment, Preset, RandomLabels, RandomLabelsConfig};

#[test]
fn toy_two_clusters_shows_the_effect() {
    let config =
        RandomLabelsConfig::toy_preset(Preset::Paper, DatasetSpec::TwoClusters).with_seeds(1);
    let mut e = RandomLabels::new(config, cpu_device()).unwrap();
    while !e.is_done() {
        e.step().unwrap();
    }
    let r = e.results();
    assert_eq!(r.status, "complete");
    // 240 training points, 60 test points: one test point is 1.7 accuracy points.
    let phase_a = &r.random_phase[0];
    assert!(
        phase_a.train_acc >= 0.7,
        "phase A should memorize most random labels (chance is 0.5): {}",
        phase_a.train_acc
    );
    let vanilla = &r.arms["vanilla"];
    let regularized = &r.arms["regularized"];
    assert!(
        vanilla.gap_per_seed[0] >= 0.03,
        "vanilla should lose at least 2 of 60 test points after random labels: gap {}",
        vanilla.gap_per_seed[0]
    );
    assert!(
        regularized.gap_per_seed[0] < vanilla.gap_per_seed[0],
        "regularized gap {} should be below vanilla's {}",
        regularized.gap_per_seed[0],
        vanilla.gap_per_seed[0]
    );
    // The pretrained vanilla solution sits much farther out in weight space.
    assert!(
        vanilla.pretrained[0].weight_norm > 1.3 * vanilla.baseline[0].weight_norm,
        "weight norms: pretrained {} vs baseline {}",
        vanilla.pretrained[0].weight_norm,
        vanilla.baseline[0].weight_norm
    );
}
