//! Checkers: pure functions from a history to a [`Verdict`]. Each has unit tests with
//! histories known to be good and known to be bad.

pub mod counter;
pub mod ids;
pub mod linearizable;
pub mod queue;
pub mod register;
pub mod sessions;
pub mod set;
pub mod watches;

use std::collections::BTreeMap;

/// What a checker found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Violations of the workload's promises, one line each (the first few of a kind,
    /// with counts).
    pub anomalies: Vec<String>,
    /// Parts the checker could not decide (its search budget ran out).
    pub undecided: Vec<String>,
    /// Figures for the summary (acknowledged, lost, keys checked, ...).
    pub figures: BTreeMap<String, u64>,
}

impl Verdict {
    /// No anomaly, and everything decided.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty() && self.undecided.is_empty()
    }

    pub fn figure(&mut self, name: &str, value: u64) {
        self.figures.insert(name.to_string(), value);
    }

    /// Records an anomaly of `what` about `items` (showing at most a few of them).
    pub fn anomaly<T: std::fmt::Debug>(&mut self, what: &str, items: &[T]) {
        if items.is_empty() {
            return;
        }
        let shown: Vec<String> = items.iter().take(8).map(|i| format!("{i:?}")).collect();
        let more = if items.len() > shown.len() {
            " ..."
        } else {
            ""
        };
        self.anomalies.push(format!(
            "{what}: {} ({}{more})",
            items.len(),
            shown.join(", ")
        ));
    }
}
