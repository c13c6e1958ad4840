//! What a run reports: one summary line for people and scripts, and `summary.json` in the
//! run's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::checkers::Verdict;
use super::history::Operation;
use super::runner::RunConfig;

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub workload: String,
    pub nemesis: String,
    pub kind: String,
    pub members: usize,
    pub duration_s: u64,
    pub ops: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    pub faults: u64,
    /// How long the ensemble took to serve after the final heal.
    pub recovery_ms: u64,
    pub elapsed_s: f64,
    pub anomalies: Vec<String>,
    pub undecided: Vec<String>,
    pub figures: std::collections::BTreeMap<String, u64>,
    pub command: String,
    pub out: PathBuf,
}

impl Report {
    pub fn new(
        config: &RunConfig,
        out: &Path,
        ops: &[Operation],
        faults: u64,
        recovery: Duration,
        elapsed: Duration,
        verdict: Verdict,
    ) -> Report {
        Report {
            seed: config.seed,
            workload: config.workload.to_string(),
            nemesis: config.nemesis.to_string(),
            kind: config.kind.to_string(),
            members: config.members,
            duration_s: config.duration.as_secs(),
            ops: ops.len(),
            ok: ops.iter().filter(|o| o.is_ok()).count(),
            fail: ops.iter().filter(|o| o.is_fail()).count(),
            info: ops.iter().filter(|o| o.is_unknown()).count(),
            faults,
            recovery_ms: recovery.as_millis() as u64,
            elapsed_s: elapsed.as_secs_f64(),
            anomalies: verdict.anomalies,
            undecided: verdict.undecided,
            figures: verdict.figures,
            command: config.command(),
            out: out.to_path_buf(),
        }
    }

    /// `valid`, `INVALID` (anomalies) or `undecided` (a checker ran out of budget).
    pub fn result(&self) -> &'static str {
        if !self.anomalies.is_empty() {
            "INVALID"
        } else if !self.undecided.is_empty() {
            "undecided"
        } else {
            "valid"
        }
    }

    pub fn is_valid(&self) -> bool {
        self.result() == "valid"
    }

    /// The one summary line.
    pub fn line(&self) -> String {
        format!(
            "zkrs-chaos seed={} workload={} nemesis={} kind={} members={} duration={}s ops={} \
             ok={} fail={} info={} faults={} recovery={}ms anomalies={} result={} out={}",
            self.seed,
            self.workload,
            self.nemesis,
            self.kind,
            self.members,
            self.duration_s,
            self.ops,
            self.ok,
            self.fail,
            self.info,
            self.faults,
            self.recovery_ms,
            self.anomalies.len(),
            self.result(),
            self.out.display()
        )
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }
}
