//! The job queue every experiment runs on: a fixed list of jobs run one at a time, which one is
//! next, and the one in progress with its state. An experiment supplies the jobs, how one starts
//! and how one advances; the queue keeps the order, the progress in units and whether all are
//! done, so these live once.

/// A fixed list of jobs `J`, run in order, one at a time; `A` is the state of the job in
/// progress (a trainer, a particle runner, …).
#[derive(Debug)]
pub struct JobQueue<J, A> {
    jobs: Vec<J>,
    next: usize,
    active: Option<(usize, A)>,
}

impl<J: Clone, A> JobQueue<J, A> {
    /// A queue that will run `jobs` in order.
    pub fn new(jobs: Vec<J>) -> Self {
        Self {
            jobs,
            next: 0,
            active: None,
        }
    }

    /// Every job, in order.
    pub fn jobs(&self) -> &[J] {
        &self.jobs
    }

    /// Whether every job has finished.
    pub fn is_done(&self) -> bool {
        self.active.is_none() && self.next >= self.jobs.len()
    }

    /// The jobs not yet started.
    pub fn pending(&self) -> &[J] {
        &self.jobs[self.next..]
    }

    /// Jobs started so far (the one in progress included).
    pub fn started(&self) -> usize {
        self.next
    }

    /// Jobs finished so far.
    pub fn finished(&self) -> usize {
        self.next - usize::from(self.active.is_some())
    }

    /// The job in progress: its index, the job and its state.
    pub fn active(&self) -> Option<(usize, &J, &A)> {
        self.active.as_ref().map(|(i, a)| (*i, &self.jobs[*i], a))
    }

    /// Takes the job to advance out of the queue: the one in progress with its state, or else
    /// the next one with `None` (the caller starts it); `None` when every job has finished. Give
    /// an unfinished job back with [`JobQueue::park`]; one not given back counts as finished.
    pub fn take(&mut self) -> Option<(usize, J, Option<A>)> {
        if let Some((i, a)) = self.active.take() {
            return Some((i, self.jobs[i].clone(), Some(a)));
        }
        let i = self.next;
        let job = self.jobs.get(i)?.clone();
        self.next += 1;
        Some((i, job, None))
    }

    /// Gives back the job `index` taken with [`JobQueue::take`], not yet finished.
    pub fn park(&mut self, index: usize, state: A) {
        debug_assert!(self.active.is_none() && index + 1 == self.next);
        self.active = Some((index, state));
    }

    /// Continues after `finished` jobs (a restored checkpoint): the next job to start is the
    /// one after them, and none is in progress.
    pub fn resume_at(&mut self, finished: usize) -> sgdlab_engine::error::Result<()> {
        if finished > self.jobs.len() {
            return Err(sgdlab_engine::error::EngineError::config(
                "<checkpoint>",
                format!(
                    "{finished} jobs finished, but this config has {}",
                    self.jobs.len()
                ),
            ));
        }
        self.next = finished;
        self.active = None;
        Ok(())
    }

    /// Continues after `finished` jobs with job `finished` in progress at `state` (a restored
    /// checkpoint taken in the middle of that job).
    pub fn resume_active(&mut self, finished: usize, state: A) -> sgdlab_engine::error::Result<()> {
        if finished >= self.jobs.len() {
            return Err(sgdlab_engine::error::EngineError::config(
                "<checkpoint>",
                format!(
                    "job {finished} in progress, but this config has {} jobs",
                    self.jobs.len()
                ),
            ));
        }
        self.next = finished + 1;
        self.active = Some((finished, state));
        Ok(())
    }

    /// Work in all jobs, where job `j` is `units(j)` units.
    pub fn total_units(&self, units: impl Fn(&J) -> u64) -> u64 {
        self.jobs.iter().map(units).sum()
    }

    /// Work done: `units(j)` for every finished job plus `in_progress(state)` for the one in
    /// progress.
    pub fn units_done(&self, units: impl Fn(&J) -> u64, in_progress: impl Fn(&A) -> u64) -> u64 {
        let finished: u64 = self.jobs[..self.finished()].iter().map(units).sum();
        finished + self.active.as_ref().map_or(0, |(_, a)| in_progress(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Advances a job of `n` units by one unit.
    fn advance(q: &mut JobQueue<u64, u64>) -> Option<(usize, u64, u64)> {
        let (i, n, state) = q.take()?;
        let done = state.unwrap_or(0) + 1;
        if done < n {
            q.park(i, done);
        }
        Some((i, n, done))
    }

    #[test]
    fn runs_every_job_in_order_and_counts_units() {
        let mut q = JobQueue::new(vec![2, 1, 3]);
        assert_eq!(q.total_units(|n| *n), 6);
        assert_eq!(q.pending(), [2, 1, 3]);
        assert_eq!(advance(&mut q), Some((0, 2, 1)));
        assert_eq!((q.started(), q.finished(), q.is_done()), (1, 0, false));
        assert_eq!(q.units_done(|n| *n, |&s| s), 1);
        assert_eq!(q.active().map(|(i, j, s)| (i, *j, *s)), Some((0, 2, 1)));
        assert_eq!(q.pending(), [1, 3]);
        let log: Vec<_> = std::iter::from_fn(|| advance(&mut q)).collect();
        assert_eq!(log, [(0, 2, 2), (1, 1, 1), (2, 3, 1), (2, 3, 2), (2, 3, 3)]);
        assert!(q.is_done());
        assert_eq!((q.started(), q.finished()), (3, 3));
        assert_eq!(q.units_done(|n| *n, |&s| s), 6);
        assert!(q.take().is_none());
    }

    #[test]
    fn resuming_skips_the_finished_jobs() {
        let mut q = JobQueue::new(vec![2, 1, 3]);
        q.resume_at(2).unwrap();
        assert_eq!((q.finished(), q.pending()), (2, &[3][..]));
        assert_eq!(advance(&mut q), Some((2, 3, 1)));
        assert!(q.resume_at(4).is_err());
    }

    #[test]
    fn resuming_a_job_in_progress_continues_it() {
        let mut q = JobQueue::new(vec![2, 1, 3]);
        q.resume_active(2, 1).unwrap();
        assert_eq!((q.started(), q.finished()), (3, 2));
        assert_eq!(q.units_done(|n| *n, |&s| s), 4);
        assert_eq!(advance(&mut q), Some((2, 3, 2)));
        assert_eq!(advance(&mut q), Some((2, 3, 3)));
        assert!(q.is_done());
        assert!(q.resume_active(3, 0).is_err());
    }

    #[test]
    fn an_empty_queue_is_done() {
        let mut q: JobQueue<u64, u64> = JobQueue::new(Vec::new());
        assert!(q.is_done() && q.take().is_none());
        assert_eq!(q.units_done(|n| *n, |&s| s), 0);
    }
}
