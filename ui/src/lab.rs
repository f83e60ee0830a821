//! One lab = a live experiment ([`Sim`]) + its controls and view ([`LabSpec`]), wrapped by
//! [`Shell`] into the object-safe [`Lab`] the app switches between.

use crate::compute::Compute;
use crate::gfx::Gfx;
use crate::runner::{RunStatus, Runner, Sim};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sgdlab_experiments::{ExperimentEntry, REGISTRY};

/// The six labs, named as the CLI names its experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabKind {
    /// Kleinberg, Li, Yuan 2018.
    Smoothing,
    /// Wang, Oh, Rhee 2021.
    SharpMinima,
    /// Liu, Papailiopoulos, Achlioptas 2020.
    RandomLabels,
    /// Kawaguchi, Kaelbling 2020.
    Elimination,
    /// Chen et al. 2021.
    Gossip,
    /// Allen-Zhu, Li 2019.
    Rnn,
}

impl LabKind {
    /// All labs, in picker order (the three browser headliners first).
    pub const ALL: [Self; 6] = [
        Self::Smoothing,
        Self::SharpMinima,
        Self::RandomLabels,
        Self::Elimination,
        Self::Gossip,
        Self::Rnn,
    ];

    /// The CLI / URL name: the registry's name of the experiment (the variant in kebab case).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// A label for the picker: the registry's short label.
    pub fn label(self) -> &'static str {
        self.entry().label
    }

    /// The experiment's row in the engine's registry.
    pub fn entry(self) -> &'static ExperimentEntry {
        let index = match self {
            Self::RandomLabels => 0,
            Self::Elimination => 1,
            Self::Smoothing => 2,
            Self::SharpMinima => 3,
            Self::Gossip => 4,
            Self::Rnn => 5,
        };
        &REGISTRY[index]
    }

    /// Parses a CLI / URL name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How a control change applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Nothing changed.
    #[default]
    None,
    /// Applies to the running experiment.
    Live,
    /// Needs a rebuild (e.g. a new landscape or particle count).
    Reset,
}

impl Change {
    /// Marks a live change when `changed`.
    pub fn live(self, changed: bool) -> Self {
        if changed { self.max(Self::Live) } else { self }
    }
    /// Marks a reset when `changed`.
    pub fn reset(self, changed: bool) -> Self {
        if changed { self.max(Self::Reset) } else { self }
    }
}

/// Parameters of a lab: serializable, with a seed and a range check per field.
pub trait LabParams: Clone + Send + Serialize + DeserializeOwned + 'static {
    /// The seed.
    fn seed(&self) -> u64;
    /// Sets the seed.
    fn set_seed(&mut self, seed: u64);
    /// Checks every field; the error names the field and the accepted range.
    fn validate(&self) -> Result<(), String>;
}

/// The UI side of a lab.
pub trait LabSpec: Sim<Params: LabParams> {
    /// Which lab.
    const KIND: LabKind;
    /// The paper's claim and what to look at, in a sentence or two.
    const CLAIM: &'static str;
    /// The paper.
    const PAPER: &'static str;
    /// Default parameters (a preset that tells the story).
    fn default_params() -> Self::Params;
    /// Named presets.
    fn presets() -> Vec<(&'static str, Self::Params)> {
        vec![("default", Self::default_params())]
    }
    /// Draws the controls; returns how the change applies.
    fn controls(params: &mut Self::Params, ui: &mut egui::Ui) -> Change;
    /// Draws the view; user actions go into `actions`.
    fn view(
        snap: &Self::Snap,
        params: &Self::Params,
        ui: &mut egui::Ui,
        gfx: &Gfx,
        actions: &mut Vec<Self::Action>,
    );
    /// The view's data as CSV (header first).
    fn csv(snap: &Self::Snap) -> String;
    /// A few headline metrics (also the test hook's `metrics`).
    fn metrics(snap: &Self::Snap) -> Map<String, Value>;
    /// Whether the runner should step on the CPU rather than the lab's GPU device.
    fn compute_for(compute: &Compute) -> Compute {
        compute.clone()
    }
}

/// The object-safe face of a lab.
pub trait Lab {
    /// Which lab.
    fn kind(&self) -> LabKind;
    /// The paper's claim.
    fn claim(&self) -> &'static str;
    /// The paper.
    fn paper(&self) -> &'static str;
    /// Steps, running, error.
    fn status(&self) -> &RunStatus;
    /// Picks up new work and snapshots, stepping inline for a `slice` of the frame; returns
    /// whether it is running.
    fn poll(&mut self, slice: crate::runner::Slice) -> bool;
    /// Start or pause.
    fn set_running(&mut self, running: bool);
    /// One unit of work.
    fn step_once(&mut self);
    /// Rebuild from the current parameters.
    fn reset(&mut self);
    /// The seed.
    fn seed(&self) -> u64;
    /// Sets the seed and rebuilds.
    fn set_seed(&mut self, seed: u64);
    /// Preset names.
    fn preset_names(&self) -> Vec<&'static str>;
    /// Loads a preset and rebuilds.
    fn load_preset(&mut self, name: &str);
    /// Draws the controls.
    fn controls(&mut self, ui: &mut egui::Ui);
    /// Draws the view.
    fn view(&mut self, ui: &mut egui::Ui, gfx: &Gfx);
    /// The parameters as a JSON object.
    fn params_json(&self) -> Value;
    /// Replaces the parameters from JSON (a saved config); the error names what is wrong.
    fn load_params_json(&mut self, v: &Value) -> Result<(), String>;
    /// Sets parameters from `key=value` pairs one by one, ignoring (and reporting) each bad one.
    fn set_kv(&mut self, pairs: &[(String, String)]) -> Vec<String>;
    /// The view's data as CSV.
    fn csv(&self) -> String;
    /// The headline metrics.
    fn metrics(&self) -> Map<String, Value>;
}

/// A lab: parameters, a runner and the pending user actions.
pub struct Shell<S: LabSpec> {
    params: S::Params,
    runner: Runner<S>,
    make: Box<dyn Fn(S::Params) -> Runner<S>>,
}

impl<S: LabSpec> Shell<S> {
    /// A lab on `compute`, threaded when `threaded` (native) and inline otherwise.
    pub fn new(compute: &Compute, threaded: bool, ctx: &egui::Context) -> Self {
        let compute = S::compute_for(compute);
        let ctx = ctx.clone();
        let make: Box<dyn Fn(S::Params) -> Runner<S>> = Box::new(move |p| {
            #[cfg(not(target_arch = "wasm32"))]
            if threaded {
                match Runner::threaded(S::KIND.name(), p.clone(), compute.clone(), ctx.clone()) {
                    Ok(r) => return r,
                    Err(e) => {
                        // No thread: step inline instead, and say so.
                        let mut r = Runner::inline(p, compute.clone());
                        r.status.error = Some(e);
                        return r;
                    }
                }
            }
            let _ = (&ctx, threaded);
            Runner::inline(p, compute.clone())
        });
        let params = S::default_params();
        let runner = make(params.clone());
        Self {
            params,
            runner,
            make,
        }
    }

    fn rebuild(&mut self) {
        self.runner.reset(self.params.clone());
    }

    /// The current parameters.
    pub fn params(&self) -> &S::Params {
        &self.params
    }

    /// The latest snapshot.
    pub fn snap(&self) -> &S::Snap {
        &self.runner.snap
    }
}

impl<S: LabSpec> Lab for Shell<S> {
    fn kind(&self) -> LabKind {
        S::KIND
    }
    fn claim(&self) -> &'static str {
        S::CLAIM
    }
    fn paper(&self) -> &'static str {
        S::PAPER
    }
    fn status(&self) -> &RunStatus {
        &self.runner.status
    }
    fn poll(&mut self, slice: crate::runner::Slice) -> bool {
        self.runner.poll(crate::runner::FRAME_BUDGET, slice)
    }
    fn set_running(&mut self, running: bool) {
        if running && (self.runner.status.done || self.runner.status.error.is_some()) {
            // Start again from the beginning after a finished or failed run.
            self.runner = (self.make)(self.params.clone());
        }
        self.runner.set_running(running);
    }
    fn step_once(&mut self) {
        self.runner.step_once();
    }
    fn reset(&mut self) {
        self.rebuild();
    }
    fn seed(&self) -> u64 {
        self.params.seed()
    }
    fn set_seed(&mut self, seed: u64) {
        self.params.set_seed(seed);
        self.rebuild();
    }
    fn preset_names(&self) -> Vec<&'static str> {
        S::presets().into_iter().map(|(n, _)| n).collect()
    }
    fn load_preset(&mut self, name: &str) {
        if let Some((_, p)) = S::presets().into_iter().find(|(n, _)| *n == name) {
            let seed = self.params.seed();
            self.params = p;
            self.params.set_seed(seed);
            self.rebuild();
        }
    }
    fn controls(&mut self, ui: &mut egui::Ui) {
        let before = self.params.clone();
        match S::controls(&mut self.params, ui) {
            Change::None => {}
            change => {
                if let Err(e) = self.params.validate() {
                    // Controls keep values in range; this guards the rest.
                    self.params = before;
                    self.runner.status.error = Some(e);
                } else if change == Change::Reset {
                    self.rebuild();
                } else {
                    self.runner.set_params(self.params.clone());
                }
            }
        }
    }
    fn view(&mut self, ui: &mut egui::Ui, gfx: &Gfx) {
        let mut actions = Vec::new();
        S::view(&self.runner.snap, &self.params, ui, gfx, &mut actions);
        for a in actions {
            self.runner.act(a);
        }
    }
    fn params_json(&self) -> Value {
        // Through text, so that f32 fields read as written (0.01, not 0.009999999776482582).
        serde_json::to_string(&self.params)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }
    fn load_params_json(&mut self, v: &Value) -> Result<(), String> {
        let p: S::Params = serde_json::from_value(v.clone()).map_err(|e| format!("config: {e}"))?;
        p.validate()?;
        self.params = p;
        self.rebuild();
        Ok(())
    }
    fn set_kv(&mut self, pairs: &[(String, String)]) -> Vec<String> {
        let mut notices = Vec::new();
        let mut current = self.params_json();
        let mut changed = false;
        for (k, raw) in pairs {
            let Some(obj) = current.as_object() else {
                break;
            };
            let Some(old) = obj.get(k) else {
                let known: Vec<&str> = obj.keys().map(String::as_str).collect();
                notices.push(format!(
                    "ignored `{k}`: {} has no such parameter (it has: seed, {})",
                    S::KIND.name(),
                    known
                        .iter()
                        .filter(|n| **n != "seed")
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            let new = match parse_like(old, raw) {
                Ok(v) => v,
                Err(e) => {
                    notices.push(format!("ignored `{k}={raw}`: {e}"));
                    continue;
                }
            };
            let mut trial = current.clone();
            if let Some(o) = trial.as_object_mut() {
                o.insert(k.clone(), new);
            }
            match serde_json::from_value::<S::Params>(trial.clone())
                .map_err(|e| e.to_string())
                .and_then(|p| p.validate().map(|()| p))
            {
                Ok(_) => {
                    current = trial;
                    changed = true;
                }
                Err(e) => notices.push(format!("ignored `{k}={raw}`: {e}")),
            }
        }
        if changed && let Ok(p) = serde_json::from_value::<S::Params>(current) {
            self.params = p;
            self.rebuild();
        }
        notices
    }
    fn csv(&self) -> String {
        S::csv(&self.runner.snap)
    }
    fn metrics(&self) -> Map<String, Value> {
        S::metrics(&self.runner.snap)
    }
}

/// Parses `raw` as a value of the same JSON type as `old` (number, bool or string; an enum
/// spelled as its name).
fn parse_like(old: &Value, raw: &str) -> Result<Value, String> {
    match old {
        Value::Bool(_) => match raw {
            "true" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err("expected true or false".into()),
        },
        Value::Number(n) => {
            if n.is_u64() || n.is_i64() {
                raw.parse::<u64>()
                    .map(Value::from)
                    .or_else(|_| raw.parse::<i64>().map(Value::from))
                    .map_err(|_| "expected a whole number".to_string())
            } else {
                let f: f64 = raw.parse().map_err(|_| "expected a number".to_string())?;
                if !f.is_finite() {
                    return Err("expected a finite number".into());
                }
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| "expected a finite number".into())
            }
        }
        Value::String(_) => Ok(Value::String(raw.to_string())),
        _ => Err("this parameter cannot be set from a URL".into()),
    }
}

/// Checks `lo <= v <= hi` for a float parameter.
pub fn check_range(name: &str, v: f64, lo: f64, hi: f64) -> Result<(), String> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(format!(
            "{name}: expected a value in [{lo}, {hi}], found {v}"
        ))
    }
}

/// Checks `lo <= v <= hi` for an integer parameter.
pub fn check_count(name: &str, v: u64, lo: u64, hi: u64) -> Result<(), String> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{name}: expected a whole number in [{lo}, {hi}], found {v}"
        ))
    }
}

/// A row of mutually exclusive choices after `label`; returns whether the value changed.
pub fn choices<T: PartialEq + Copy>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut T,
    options: &[(T, &str)],
) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.label(label);
        for (v, name) in options {
            changed |= ui.selectable_value(value, *v, *name).changed();
        }
    });
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_is_its_registry_row() {
        assert_eq!(LabKind::ALL.len(), REGISTRY.len());
        for k in LabKind::ALL {
            let serde_name = serde_json::to_value(k).expect("a unit variant serializes");
            assert_eq!(serde_name, k.name(), "{k:?}");
            assert_eq!(LabKind::from_name(k.name()), Some(k));
        }
    }
}
