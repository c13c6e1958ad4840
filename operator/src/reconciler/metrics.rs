//! The operator's own Prometheus metrics, kept in atomics and rendered as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::Error;

#[derive(Default)]
pub struct Metrics {
    reconciles: AtomicU64,
    duration_micros: AtomicU64,
    /// Failed reconciles by error category.
    failures: Mutex<BTreeMap<&'static str, u64>>,
    leader: AtomicBool,
}

impl Metrics {
    pub fn record(&self, took: Duration, error: Option<&Error>) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.duration_micros.fetch_add(micros, Ordering::Relaxed);
        if let Some(e) = error {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            *f.entry(e.category()).or_default() += 1;
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let reconciles = self.reconciles.load(Ordering::Relaxed);
        let seconds = self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "# HELP zkrs_operator_reconciles_total Reconciles run.");
        let _ = writeln!(out, "# TYPE zkrs_operator_reconciles_total counter");
        let _ = writeln!(out, "zkrs_operator_reconciles_total {reconciles}");
        let _ = writeln!(
            out,
            "# HELP zkrs_operator_reconcile_seconds_total Time spent reconciling."
        );
        let _ = writeln!(out, "# TYPE zkrs_operator_reconcile_seconds_total counter");
        let _ = writeln!(out, "zkrs_operator_reconcile_seconds_total {seconds}");
        let _ = writeln!(
            out,
            "# HELP zkrs_operator_reconcile_failures_total Failed reconciles by category."
        );
        let _ = writeln!(out, "# TYPE zkrs_operator_reconcile_failures_total counter");
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (category, n) in failures.iter() {
            let _ = writeln!(
                out,
                "zkrs_operator_reconcile_failures_total{{category=\"{category}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP zkrs_operator_leader Whether this replica holds the lease."
        );
        let _ = writeln!(out, "# TYPE zkrs_operator_leader gauge");
        let _ = writeln!(out, "zkrs_operator_leader {}", u8::from(self.is_leader()));
        out
    }
}
