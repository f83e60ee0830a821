//! Drives a live experiment ([`Sim`]): natively on a named worker thread that sends snapshots
//! to the UI, or inline, a bounded slice of work per frame (the browser, tests, benchmarks).

use crate::compute::Compute;
use sgdlab_experiments::Experiment;
use web_time::{Duration, Instant};

/// A live experiment: a state machine with a bounded step and a snapshot to draw.
pub trait Sim: Send + Sized + 'static {
    /// What the controls edit (serializable: configs, URLs).
    type Params: Clone + Send + 'static;
    /// What the view draws.
    type Snap: Clone + Send + Default + 'static;
    /// Something the user does to the running experiment (e.g. drop particles at a point).
    type Action: Send + 'static;

    /// Builds the experiment; the error names what is wrong.
    fn new(params: &Self::Params, compute: &Compute) -> Result<Self, String>;
    /// Takes new parameters without a reset (what can change mid-run changes).
    fn set_params(&mut self, params: &Self::Params);
    /// Applies a user action.
    fn act(&mut self, action: Self::Action);
    /// One bounded unit of work (milliseconds, not seconds).
    fn step(&mut self) -> Result<(), String>;
    /// Whether there is nothing left to do.
    fn done(&self) -> bool {
        false
    }
    /// Units of work done.
    fn steps(&self) -> u64;
    /// The state to draw (may poll an asynchronous readback; never blocks).
    fn snapshot(&mut self) -> Self::Snap;
    /// Whether a readback is in flight or the statistics lag the state (so a paused or finished
    /// run still wants frames until they catch up).
    fn pending(&self) -> bool {
        false
    }
}

/// An engine experiment run live as it is, for labs with no live parameters and no actions: a
/// [`Sim`] step is one [`Experiment::step`]. A lab implements this for its experiment and uses
/// [`ExperimentSim`] of it as its `Sim`.
pub trait LiveExperiment: Experiment + Send + Sized + 'static {
    /// What the controls edit.
    type Params: Clone + Send + 'static;
    /// What the view draws.
    type Snap: Clone + Send + Default + 'static;
    /// Builds the experiment from the lab's parameters; the error names what is wrong.
    fn build(params: &Self::Params, compute: &Compute) -> Result<Self, String>;
    /// The state to draw.
    fn snap(&self) -> Self::Snap;
}

/// The [`Sim`] of a [`LiveExperiment`].
pub struct ExperimentSim<E> {
    exp: E,
    steps: u64,
}

impl<E: LiveExperiment> Sim for ExperimentSim<E> {
    type Params = E::Params;
    type Snap = E::Snap;
    type Action = ();

    fn new(params: &E::Params, compute: &Compute) -> Result<Self, String> {
        Ok(Self {
            exp: E::build(params, compute)?,
            steps: 0,
        })
    }
    fn set_params(&mut self, _params: &E::Params) {}
    fn act(&mut self, (): ()) {}
    fn step(&mut self) -> Result<(), String> {
        self.steps += 1;
        self.exp.step().map(|_| ()).map_err(|e| e.to_string())
    }
    fn done(&self) -> bool {
        self.exp.is_done()
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn snapshot(&mut self) -> E::Snap {
        self.exp.snap()
    }
}

/// Where a runner stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStatus {
    /// Units of work done.
    pub steps: u64,
    /// Whether it is running (not paused).
    pub running: bool,
    /// Whether the experiment has finished.
    pub done: bool,
    /// What stopped it (construction or a step failed); what it computed stays on screen.
    pub error: Option<String>,
}

enum Cmd<S: Sim> {
    Reset(S::Params),
    Params(S::Params),
    Act(S::Action),
    Run(bool),
    Step,
    /// Ends a worker thread (there are none in a browser).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Stop,
}

#[cfg(not(target_arch = "wasm32"))]
struct Shared<S: Sim> {
    snap: Option<S::Snap>,
    status: RunStatus,
}

enum Inner<S: Sim> {
    Inline {
        sim: Option<Box<S>>,
        compute: Box<Compute>,
        queue: Vec<Cmd<S>>,
        /// When the previous working slice ended (see [`slice_budget`]).
        slice_end: Option<Instant>,
    },
    #[cfg(not(target_arch = "wasm32"))]
    Thread {
        tx: std::sync::mpsc::Sender<Cmd<S>>,
        shared: std::sync::Arc<std::sync::Mutex<Shared<S>>>,
        handle: Option<std::thread::JoinHandle<()>>,
    },
}

/// Runs a [`Sim`] and keeps its latest snapshot.
pub struct Runner<S: Sim> {
    inner: Inner<S>,
    /// The latest snapshot.
    pub snap: S::Snap,
    /// The latest status.
    pub status: RunStatus,
}

/// How much work an inline runner does per frame: in a browser a few milliseconds of the main
/// thread (the page keeps its frame rate; the particle fields cut their ticks to fit), natively
/// (tests, benchmarks) a larger slice.
#[cfg(target_arch = "wasm32")]
pub const FRAME_BUDGET: Duration = Duration::from_millis(6);
/// How much work an inline runner does per frame.
#[cfg(not(target_arch = "wasm32"))]
pub const FRAME_BUDGET: Duration = Duration::from_millis(12);
/// The most an inline runner works in one frame (see [`slice_budget`]).
pub const MAX_FRAME_BUDGET: Duration = Duration::from_millis(60);

/// How an inline runner sizes its slice of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    /// The least budget every frame ([`FRAME_BUDGET`]): the renderer works on another thread
    /// (the browser's paint worker), so the time between frames is the renderer's, not this
    /// thread's, and the dynamics' speed is the budget times the frame rate.
    Fixed,
    /// [`slice_budget`]: grows with the time outside the slice, for a renderer that shares this
    /// thread (eframe on the page).
    GrowsWithFrame,
}

impl Slice {
    /// The slice for a frame, given the least budget and the time outside the previous slice.
    pub fn budget(self, min: Duration, outside: Duration) -> Duration {
        match self {
            Self::Fixed => min,
            Self::GrowsWithFrame => slice_budget(min, outside),
        }
    }
}

/// How long an inline runner works in one frame, given the least it works (`min`) and the time
/// the page spent outside its previous slice (rendering, the browser's own work, idle): a
/// quarter of that, within [`min`, `MAX_FRAME_BUDGET`]. With a fast renderer the slice stays at
/// `min` (the page keeps its frame rate); with a slow one (a software WebGL rasterizer taking
/// ~250 ms a frame) the dynamics still get about a fifth of the main thread instead of a few
/// milliseconds a frame, so their speed no longer falls with the renderer's frame rate.
pub fn slice_budget(min: Duration, outside: Duration) -> Duration {
    (outside / 4).clamp(min, MAX_FRAME_BUDGET.max(min))
}

/// Whether a slice that has taken `taken` steps in `elapsed` has room for one more of the same
/// mean length within `budget`: the slice ends within its budget rather than passing it by up to
/// a step (a CPU step of 16,384 particles is ~1.5 ms of a page's frame in a browser).
pub fn another_step_fits(elapsed: Duration, taken: u32, budget: Duration) -> bool {
    elapsed + elapsed / taken.max(1) <= budget
}

/// How often a worker thread publishes a snapshot while running.
#[cfg(not(target_arch = "wasm32"))]
const PUBLISH_EVERY: Duration = Duration::from_millis(30);

fn apply<S: Sim>(
    sim: &mut Option<Box<S>>,
    status: &mut RunStatus,
    compute: &Compute,
    cmd: Cmd<S>,
) -> bool {
    match cmd {
        Cmd::Reset(p) => {
            *sim = None;
            status.steps = 0;
            status.done = false;
            status.error = None;
            match S::new(&p, compute) {
                Ok(s) => *sim = Some(Box::new(s)),
                Err(e) => {
                    status.error = Some(e);
                    status.running = false;
                }
            }
        }
        Cmd::Params(p) => {
            if let Some(s) = sim {
                s.set_params(&p);
            }
        }
        Cmd::Act(a) => {
            if let Some(s) = sim {
                s.act(a);
            }
        }
        Cmd::Run(r) => status.running = r && sim.is_some() && status.error.is_none(),
        Cmd::Step => {
            if let Some(s) = sim {
                step_one(&mut **s, status);
            }
        }
        Cmd::Stop => return false,
    }
    true
}

fn step_one<S: Sim>(sim: &mut S, status: &mut RunStatus) {
    if sim.done() {
        status.done = true;
        status.running = false;
        return;
    }
    if let Err(e) = sim.step() {
        status.error = Some(e);
        status.running = false;
    }
    status.steps = sim.steps();
    status.done = sim.done();
    if status.done {
        status.running = false;
    }
}

impl<S: Sim> Runner<S> {
    /// Starts `params` inline (stepped by [`Runner::poll`]).
    pub fn inline(params: S::Params, compute: Compute) -> Self {
        Self {
            inner: Inner::Inline {
                sim: None,
                compute: Box::new(compute),
                queue: vec![Cmd::Reset(params)],
                slice_end: None,
            },
            snap: S::Snap::default(),
            status: RunStatus::default(),
        }
    }

    /// Starts `params` on a worker thread named `sgdlab-<name>` (native only); it asks `ctx`
    /// for a repaint whenever it publishes a snapshot.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn threaded(
        name: &str,
        params: S::Params,
        compute: Compute,
        ctx: egui::Context,
    ) -> Result<Self, String> {
        use std::sync::mpsc::RecvTimeoutError;
        use std::sync::{Arc, Mutex, PoisonError};
        let (tx, rx) = std::sync::mpsc::channel::<Cmd<S>>();
        let shared = Arc::new(Mutex::new(Shared::<S> {
            snap: None,
            status: RunStatus::default(),
        }));
        let out = shared.clone();
        let handle = std::thread::Builder::new()
            .name(format!("sgdlab-{name}"))
            .spawn(move || {
                let mut sim: Option<Box<S>> = None;
                let mut status = RunStatus::default();
                let mut last_publish = Instant::now();
                let mut dirty = true;
                loop {
                    // Paused: wait for a command (with a timeout, to keep publishing readbacks
                    // that complete asynchronously). Running: take what has arrived.
                    let first = if status.running {
                        rx.try_recv().ok()
                    } else {
                        match rx.recv_timeout(Duration::from_millis(100)) {
                            Ok(c) => Some(c),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    };
                    let mut next = first;
                    while let Some(cmd) = next {
                        if !apply(&mut sim, &mut status, &compute, cmd) {
                            return;
                        }
                        dirty = true;
                        next = rx.try_recv().ok();
                    }
                    if status.running
                        && let Some(s) = sim.as_mut()
                    {
                        let t0 = Instant::now();
                        while status.running && t0.elapsed() < FRAME_BUDGET {
                            step_one(&mut **s, &mut status);
                        }
                        dirty = true;
                    }
                    if dirty && (last_publish.elapsed() >= PUBLISH_EVERY || !status.running) {
                        let snap = sim.as_mut().map(|s| s.snapshot());
                        let mut sh = out.lock().unwrap_or_else(PoisonError::into_inner);
                        if snap.is_some() {
                            sh.snap = snap;
                        }
                        sh.status = status.clone();
                        drop(sh);
                        last_publish = Instant::now();
                        dirty = status.running;
                        ctx.request_repaint();
                    } else if !status.running && sim.is_some() {
                        // A paused GPU run may still have a readback in flight: poll it.
                        if let Some(s) = sim.as_mut()
                            && s.pending()
                        {
                            let snap = s.snapshot();
                            out.lock().unwrap_or_else(PoisonError::into_inner).snap = Some(snap);
                            ctx.request_repaint();
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the worker thread for {name}: {e}"))?;
        let r = Self {
            inner: Inner::Thread {
                tx,
                shared,
                handle: Some(handle),
            },
            snap: S::Snap::default(),
            status: RunStatus::default(),
        };
        r.send(Cmd::Reset(params));
        Ok(r)
    }

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    fn send(&self, cmd: Cmd<S>) {
        match &self.inner {
            Inner::Inline { .. } => drop(cmd),
            #[cfg(not(target_arch = "wasm32"))]
            Inner::Thread { tx, .. } => {
                // A worker that ended (it only ends on Stop) has nothing left to do.
                let _ = tx.send(cmd);
            }
        }
    }

    fn push(&mut self, cmd: Cmd<S>) {
        match &mut self.inner {
            Inner::Inline { queue, .. } => queue.push(cmd),
            #[cfg(not(target_arch = "wasm32"))]
            Inner::Thread { .. } => self.send(cmd),
        }
    }

    /// Rebuilds the experiment from `params` (keeps running if it was).
    pub fn reset(&mut self, params: S::Params) {
        let running = self.status.running;
        self.push(Cmd::Reset(params));
        self.push(Cmd::Run(running));
    }

    /// Passes new parameters to the running experiment.
    pub fn set_params(&mut self, params: S::Params) {
        self.push(Cmd::Params(params));
    }

    /// Applies a user action.
    pub fn act(&mut self, action: S::Action) {
        self.push(Cmd::Act(action));
    }

    /// Starts or pauses.
    pub fn set_running(&mut self, running: bool) {
        self.status.running = running;
        self.push(Cmd::Run(running));
    }

    /// One unit of work, then pause.
    pub fn step_once(&mut self) {
        self.status.running = false;
        self.push(Cmd::Run(false));
        self.push(Cmd::Step);
    }

    /// Inline: applies queued commands and works for up to `budget`, then snapshots. Threaded:
    /// picks up the worker's latest snapshot. Returns whether it wants another frame soon
    /// (running, or a readback still to land).
    pub fn poll(&mut self, budget: Duration, slice: Slice) -> bool {
        match &mut self.inner {
            Inner::Inline {
                sim,
                compute,
                queue,
                slice_end,
            } => {
                let mut changed = false;
                for cmd in std::mem::take(queue) {
                    apply(sim, &mut self.status, compute, cmd);
                    changed = true;
                }
                if self.status.running
                    && let Some(s) = sim.as_mut()
                {
                    let t0 = Instant::now();
                    let budget = slice.budget(
                        budget,
                        slice_end.map_or(Duration::ZERO, |t| t0.duration_since(t)),
                    );
                    let mut taken = 0u32;
                    loop {
                        let before = s.steps();
                        step_one(&mut **s, &mut self.status);
                        taken += 1;
                        // A step that did no work (a GPU queue that is full until the browser
                        // runs its event loop) ends the slice instead of spinning.
                        if !self.status.running
                            || !another_step_fits(t0.elapsed(), taken, budget)
                            || s.steps() == before
                        {
                            break;
                        }
                    }
                    *slice_end = Some(Instant::now());
                    changed = true;
                } else {
                    *slice_end = None;
                }
                if let Some(s) = sim.as_mut() {
                    // A new snapshot when something happened, or to poll a readback in flight;
                    // an idle paused run copies nothing.
                    let pending = s.pending();
                    if changed || pending {
                        self.snap = s.snapshot();
                    }
                    if pending {
                        return true;
                    }
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            Inner::Thread { shared, .. } => {
                let mut sh = shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(s) = sh.snap.take() {
                    self.snap = s;
                }
                // The UI's own running flag wins until the worker has seen the command.
                let running = self.status.running;
                self.status = sh.status.clone();
                if self.status.error.is_none() && !self.status.done && running {
                    self.status.running = true;
                }
            }
        }
        self.status.running
    }
}

impl<S: Sim> Drop for Runner<S> {
    fn drop(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Inner::Thread { tx, handle, .. } = &mut self.inner {
            let _ = tx.send(Cmd::Stop);
            if let Some(h) = handle.take() {
                // The worker finishes its current slice (milliseconds) and exits.
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slice_budget_is_a_quarter_of_the_time_outside_within_its_bounds() {
        let ms = Duration::from_millis;
        // A fast renderer: the least budget.
        assert_eq!(slice_budget(ms(6), ms(10)), ms(6));
        // A software rasterizer taking 200 ms a frame: 50 ms of work.
        assert_eq!(slice_budget(ms(6), ms(200)), ms(50));
        // A long pause or a background tab: capped.
        assert_eq!(slice_budget(ms(6), ms(60_000)), MAX_FRAME_BUDGET);
        // A least budget above the cap wins.
        assert_eq!(slice_budget(ms(100), ms(10)), ms(100));
    }

    #[test]
    fn a_slice_takes_another_step_only_when_one_more_fits_its_budget() {
        let ms = Duration::from_millis;
        // Steps of 1.5 ms in a 6 ms budget: four.
        assert!(another_step_fits(Duration::from_micros(4500), 3, ms(6)));
        assert!(!another_step_fits(ms(6), 4, ms(6)));
        // Steps of 2 ms: three (a fourth would end at 8 ms).
        assert!(another_step_fits(ms(4), 2, ms(6)));
        assert!(!another_step_fits(ms(6), 3, ms(6)));
        // A step longer than the budget runs once (the first step always runs) and no more.
        assert!(!another_step_fits(ms(9), 1, ms(6)));
    }

    #[test]
    fn a_fixed_slice_ignores_the_time_outside() {
        let ms = Duration::from_millis;
        assert_eq!(Slice::Fixed.budget(ms(6), ms(200)), ms(6));
        assert_eq!(Slice::GrowsWithFrame.budget(ms(6), ms(200)), ms(50));
    }
}
