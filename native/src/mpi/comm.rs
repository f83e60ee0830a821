//! [`NodeComm`] over MPI: a gossip round is non-blocking sends to the out-neighbours and
//! receives from the in-neighbours (`MPI_Isend`/`MPI_Irecv`, then wait on all), an exact
//! average is `MPI_Allreduce` with a sum.

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use sgdlab_engine::optim::gossip::NodeComm;

/// The world communicator as a node's network.
pub struct MpiComm<'a> {
    /// `MPI_COMM_WORLD`.
    pub world: &'a SimpleCommunicator,
}

impl NodeComm for MpiComm<'_> {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&mut self, buf: &mut [f32]) {
        let send = buf.to_vec();
        self.world
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
    }

    fn exchange(
        &mut self,
        mine: &[f32],
        to: &[usize],
        from: &[usize],
        recv: &mut [Vec<f32>],
        tag: u16,
    ) {
        let world = self.world;
        let tag = i32::from(tag);
        mpi::request::scope(|scope| {
            let receives: Vec<_> = recv
                .iter_mut()
                .zip(from)
                .map(|(buf, &j)| {
                    world
                        .process_at_rank(j as i32)
                        .immediate_receive_into_with_tag(scope, &mut buf[..], tag)
                })
                .collect();
            let sends: Vec<_> = to
                .iter()
                .map(|&j| {
                    world
                        .process_at_rank(j as i32)
                        .immediate_send_with_tag(scope, mine, tag)
                })
                .collect();
            for r in receives {
                r.wait();
            }
            for s in sends {
                s.wait();
            }
        });
    }
}

/// Sums `v` over the ranks.
pub fn sum_f64(world: &SimpleCommunicator, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    world.all_reduce_into(v, &mut out[..], SystemOperation::sum());
    out
}

/// The largest `v` over the ranks.
pub fn max_f64(world: &SimpleCommunicator, v: f64) -> f64 {
    let mut out = 0.0;
    world.all_reduce_into(&v, &mut out, SystemOperation::max());
    out
}
