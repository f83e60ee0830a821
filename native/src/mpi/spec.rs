//! What `sgdlab mpi-gossip` runs: the gossip experiment's config (preset, then `--config` over
//! it) turned into one [`NodeRunSpec`] per algorithm at n = the number of processes, and the
//! hash every rank compares at start-up.

use crate::Failure;
use crate::run::read_config;
use anyhow::anyhow;
use sgdlab_engine::optim::gossip::{Algorithm, NodeRunSpec};
use sgdlab_experiments::{Gossip, GossipConfig, Preset, Registered, parse_config_over};
use std::path::Path;

/// Parses `--algorithms` (comma-separated names, or `all`).
pub fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>, Failure> {
    if list.trim() == "all" {
        return Ok(Algorithm::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let a = Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                Failure::BadInput(anyhow!(
                    "--algorithms: unknown algorithm `{name}`; expected `all` or a comma-separated \
                     list of {}",
                    Algorithm::ALL.map(Algorithm::name).join(", ")
                ))
            })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// The specs of `algorithms` at `nodes` nodes from the preset and the `--config` file;
/// `steps` overrides `logistic.steps`. A config whose memory estimate exceeds `max_memory`
/// (`--max-memory`, else the machine's memory) is refused.
pub fn specs(
    preset: Preset,
    config: Option<&Path>,
    algorithms: &[Algorithm],
    nodes: usize,
    steps: Option<usize>,
    max_memory: Option<u64>,
) -> Result<Vec<NodeRunSpec>, Failure> {
    let base = GossipConfig::preset(preset);
    let mut c = match read_config(config)? {
        Some((text, origin)) => parse_config_over(&text, &origin, Some(&base))?,
        None => base,
    };
    if let Some(s) = steps {
        c.logistic.steps = s;
    }
    // The run has as many nodes as processes: the config's `nodes` is replaced (its node counts
    // of the sweeps are not used here).
    c.nodes = nodes;
    c.node_sweep.clear();
    c.mnist = None;
    c.topology_sweep.clear();
    c.validate()?;
    // The whole job's memory, as `sgdlab run gossip` estimates it (the ranks of one machine
    // share its memory; the simulator holds every node): one seed per run here.
    c.seeds = 1;
    Gossip::memory(&c).check_budget(max_memory)?;
    let l = &c.logistic;
    let specs: Vec<NodeRunSpec> = algorithms
        .iter()
        .map(|&algorithm| NodeRunSpec {
            algorithm,
            nodes,
            seed: c.seed,
            topology: c.topology.clone(),
            weights: c.weights,
            period: c.period,
            aga_max_period: c.aga_max_period.max(c.period),
            samples_per_node: l.samples_per_node,
            dim: l.dim,
            heterogeneity: l.heterogeneity,
            reg: l.reg,
            batch: l.batch,
            lr: l.lr,
            lr_decay_steps: l.lr_decay_steps,
            steps: l.steps,
            eval_every: l.eval_every,
        })
        .collect();
    for s in &specs {
        s.validate()?;
    }
    Ok(specs)
}

/// FNV-1a (64 bits) of `text`: the config fingerprint the ranks compare.
pub fn fingerprint(text: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_lists() {
        assert_eq!(parse_algorithms("all").ok().map(|v| v.len()), Some(5));
        let v = parse_algorithms("gossip-pga,parallel-sgd,gossip-pga").ok();
        assert_eq!(v, Some(vec![Algorithm::GossipPga, Algorithm::ParallelSgd]));
        assert!(parse_algorithms("gossip").is_err());
    }

    #[test]
    fn nodes_follow_the_processes() {
        let s = specs(
            Preset::Quick,
            None,
            &[Algorithm::GossipSgd],
            4,
            Some(30),
            None,
        );
        let s = s.ok().and_then(|v| v.into_iter().next());
        assert_eq!(s.as_ref().map(|s| (s.nodes, s.steps)), Some((4, 30)));
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
