//! Shrinking a diverging workload to a short reproduction.
//!
//! Greedy delta debugging: first cut everything after the diverging op, then try removing
//! chunks of ops (halves, quarters, ... single ops), keeping a removal whenever both servers
//! still diverge with the same signature (same kind of op, same aspect). Every candidate is
//! a full fresh run on both servers. Bounded by a time budget; the best workload so far is
//! returned when it runs out.

use std::time::{Duration, Instant};

use super::compare::{compare, Divergence, KnownSet};
use super::workload::Workload;
use super::Targets;

/// The result of shrinking.
pub struct Shrunk {
    pub workload: Workload,
    pub divergence: Divergence,
    /// Runs (of both servers) spent.
    pub runs: usize,
    pub elapsed: Duration,
    /// Whether the budget ran out before no single op could be removed.
    pub exhausted: bool,
    /// Whether the divergence showed again when re-run (if not, nothing was shrunk).
    pub reproduced: bool,
}

/// Shrinks `workload`, which diverges as `first`, within `budget`.
pub async fn shrink(
    targets: &Targets,
    workload: &Workload,
    first: &Divergence,
    known: &KnownSet,
    budget: Duration,
) -> Shrunk {
    let start = Instant::now();
    let signature = first.signature();
    let mut runs = 0;
    let mut best = cut_after(workload, first);
    let mut best_div = first.clone();

    // Every candidate is run afresh on both servers; it counts if it diverges with the same
    // signature.
    let check = |w: Workload| async move {
        let (a, z) = targets.run_both(&w, known).await.ok()?;
        let d = compare(&a, &z, known).divergence?;
        (d.signature() == signature).then_some((w, d))
    };
    runs += 1;
    let reproduced = match check(best.clone()).await {
        Some((w, d)) => {
            best = cut_after(&w, &d);
            best_div = d;
            true
        }
        None => false,
    };
    if !reproduced {
        // Not even the cut workload diverges again: nothing to shrink (and something is
        // not deterministic, which the report says).
        return Shrunk {
            workload: workload.clone(),
            divergence: first.clone(),
            runs,
            elapsed: start.elapsed(),
            exhausted: false,
            reproduced,
        };
    }

    let mut chunk = (best.ops.len() / 2).max(1);
    let mut exhausted = false;
    'outer: loop {
        let mut i = 0;
        let mut removed_any = false;
        while i < best.ops.len() {
            if start.elapsed() > budget {
                exhausted = true;
                break 'outer;
            }
            let end = (i + chunk).min(best.ops.len());
            let mut ops = best.ops.clone();
            ops.drain(i..end);
            runs += 1;
            match check(best.with_ops(ops)).await {
                Some((w, d)) => {
                    best = cut_after(&w, &d);
                    best_div = d;
                    removed_any = true;
                }
                None => i += chunk,
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    Shrunk {
        workload: best,
        divergence: best_div,
        runs,
        elapsed: start.elapsed(),
        exhausted,
        reproduced,
    }
}

/// `w` without the ops after the one where `d` happened.
fn cut_after(w: &Workload, d: &Divergence) -> Workload {
    match d.apache.op_index {
        Some(i) => w.with_ops(w.ops[..=i].to_vec()),
        None => w.clone(),
    }
}
