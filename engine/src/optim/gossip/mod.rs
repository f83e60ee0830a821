//! Decentralized SGD on simulated nodes: topologies, mixing matrices, and the batched simulator
//! of parallel SGD, Gossip SGD, Local SGD, Gossip-PGA and Gossip-AGA (Chen, Yuan, Zhang, Pan, Xu,
//! Yin, "Accelerating Gossip SGD with Periodic Global Averaging", ICML 2021).

mod bench;
mod eigen;
mod mixing;
mod mlp;
mod node;
mod reference;
mod schedule;
mod sim;
mod topology;

pub use bench::*;
pub use eigen::symmetric_eigenvalues;
pub use mixing::*;
pub use mlp::*;
pub use node::*;
pub use reference::simulate_nodes;
pub use schedule::*;
pub use sim::*;
pub use topology::*;
