//! The leader's per-learner send queue figures, as Apache's `LearnerHandler` reports them
//! in `mntr`: `<sid>_learner_handler_qp_size` (packets waiting when one is taken) and
//! `<sid>_learner_handler_qp_time_ms` (how long each waited, with percentiles).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::fourlw::{MetricValue, SummaryValue};

/// How many recent waits the percentiles are computed over.
const SAMPLES: usize = 1024;

#[derive(Debug, Default)]
struct Summary {
    count: u64,
    sum: i64,
    min: i64,
    max: i64,
}

impl Summary {
    fn add(&mut self, v: i64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
    }

    fn value(&self, percentiles: Option<[i64; 4]>) -> SummaryValue {
        SummaryValue {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            percentiles,
        }
    }
}

#[derive(Debug, Default)]
struct Learner {
    size: Summary,
    time_ms: Summary,
    recent_ms: VecDeque<i64>,
}

/// The figures of every learner of one leadership.
#[derive(Debug, Default)]
pub struct QueueStats {
    learners: Mutex<BTreeMap<u64, Learner>>,
}

impl QueueStats {
    /// A packet for learner `sid` left its queue after `waited`, with `queued` still behind it.
    pub fn took(&self, sid: u64, queued: usize, waited: Duration) {
        let mut all = self
            .learners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let l = all.entry(sid).or_default();
        let ms = waited.as_millis() as i64;
        l.size.add(queued as i64);
        l.time_ms.add(ms);
        if l.recent_ms.len() == SAMPLES {
            l.recent_ms.pop_front();
        }
        l.recent_ms.push_back(ms);
    }

    /// The `mntr` entries, in Apache's names.
    pub fn metrics(&self) -> Vec<(String, MetricValue)> {
        let all = self
            .learners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (sid, l) in all.iter() {
            out.push((
                format!("{sid}_learner_handler_qp_size"),
                MetricValue::Summary(l.size.value(None)),
            ));
            let mut sorted: Vec<i64> = l.recent_ms.iter().copied().collect();
            sorted.sort_unstable();
            let at = |q: f64| -> i64 {
                if sorted.is_empty() {
                    return 0;
                }
                let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
                sorted[i]
            };
            let p = [at(0.5), at(0.95), at(0.99), at(0.999)];
            out.push((
                format!("{sid}_learner_handler_qp_time_ms"),
                MetricValue::Summary(l.time_ms.value(Some(p))),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_waits_become_apaches_summaries() {
        let s = QueueStats::default();
        s.took(2, 3, Duration::from_millis(1));
        s.took(2, 0, Duration::from_millis(9));
        let m = s.metrics();
        assert_eq!(m[0].0, "2_learner_handler_qp_size");
        match &m[1].1 {
            MetricValue::Summary(v) => {
                assert_eq!((v.count, v.sum, v.min, v.max), (2, 10, 1, 9));
                assert_eq!(v.percentiles, Some([1, 9, 9, 9]));
            }
            other => panic!("{other:?}"),
        }
    }
}
