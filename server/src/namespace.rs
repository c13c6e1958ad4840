//! Bytes read and written per top-level namespace (`/flw/...` counts under `flw`), which
//! Apache reports in `mntr` as `zk_{avg,min,max,cnt,sum}_<ns>_{read,write}_per_namespace`.
//! Monitoring only: not replicated, not in snapshots.

use std::collections::BTreeMap;

/// min/max/count/sum of observations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub sum: i64,
    pub min: i64,
    pub max: i64,
}

impl Summary {
    fn add(&mut self, v: i64) {
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        if self.count == 0 || v > self.max {
            self.max = v;
        }
        self.count += 1;
        self.sum += v;
    }
}

#[derive(Debug, Clone, Default)]
pub struct NamespaceStats {
    read: BTreeMap<String, Summary>,
    write: BTreeMap<String, Summary>,
}

/// The first component of a path; none for `/` itself.
fn top_namespace(path: &str) -> Option<&str> {
    path.split('/').nth(1).filter(|s| !s.is_empty())
}

impl NamespaceStats {
    pub fn read(&mut self, path: &str, bytes: usize) {
        if let Some(ns) = top_namespace(path) {
            self.read
                .entry(ns.to_string())
                .or_default()
                .add(bytes as i64);
        }
    }

    pub fn write(&mut self, path: &str, bytes: usize) {
        if let Some(ns) = top_namespace(path) {
            self.write
                .entry(ns.to_string())
                .or_default()
                .add(bytes as i64);
        }
    }

    /// `(metric name, summary)` pairs, as `mntr` names them (`<ns>_read_per_namespace`).
    pub fn summaries(&self) -> Vec<(String, Summary)> {
        let mut out = Vec::new();
        for (ns, s) in &self.read {
            out.push((format!("{ns}_read_per_namespace"), *s));
        }
        for (ns, s) in &self.write {
            out.push((format!("{ns}_write_per_namespace"), *s));
        }
        out
    }

    pub fn reset(&mut self) {
        self.read.clear();
        self.write.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_top_namespace() {
        let mut n = NamespaceStats::default();
        n.read("/flw/a", 10);
        n.read("/flw", 2);
        n.write("/other/x/y", 5);
        n.read("/", 99);
        let s = n.summaries();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "flw_read_per_namespace");
        assert_eq!(
            (s[0].1.count, s[0].1.sum, s[0].1.min, s[0].1.max),
            (2, 12, 2, 10)
        );
        assert_eq!(s[1].0, "other_write_per_namespace");
    }
}
