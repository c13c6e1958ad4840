//! Recording latencies (HDR histograms, one per operation and worker, merged at the end),
//! counting errors by kind, the process's own CPU time, and the report (table or JSON).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies are recorded in nanoseconds, 3 significant digits, up to this bound.
const MAX_NANOS: u64 = 600_000_000_000;

fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the constructor's requirements.
    Histogram::new_with_bounds(1, MAX_NANOS, 3).expect("valid histogram bounds")
}

/// One operation's measurements.
pub struct OpStats {
    pub name: &'static str,
    /// A measurement derived from other operations (e.g. watch notifications), not an
    /// operation of its own: left out of the total.
    pub derived: bool,
    pub hist: Histogram<u64>,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
}

impl OpStats {
    fn new(name: &'static str, derived: bool) -> OpStats {
        OpStats {
            name,
            derived,
            hist: new_histogram(),
            errors: 0,
            error_kinds: BTreeMap::new(),
        }
    }
}

/// What one worker measured. Only operations that started after the warm-up are kept.
pub struct Recorder {
    measure_from: Instant,
    pub ops: Vec<OpStats>,
    /// When the last measured operation completed.
    pub last: Option<Instant>,
}

impl Recorder {
    pub fn new(measure_from: Instant) -> Recorder {
        Recorder {
            measure_from,
            ops: Vec::new(),
            last: None,
        }
    }

    fn slot(&mut self, name: &'static str, derived: bool) -> &mut OpStats {
        let i = match self.ops.iter().position(|o| o.name == name) {
            Some(i) => i,
            None => {
                self.ops.push(OpStats::new(name, derived));
                self.ops.len() - 1
            }
        };
        &mut self.ops[i]
    }

    /// Whether something that started at `start` and ended at `end` is measured.
    fn measured(&mut self, start: Instant, end: Instant) -> bool {
        if start < self.measure_from {
            return false;
        }
        if self.last < Some(end) {
            self.last = Some(end);
        }
        true
    }

    /// Records an operation that started at `start` and has just completed.
    pub fn record<T>(
        &mut self,
        name: &'static str,
        start: Instant,
        result: &Result<T, zkrs_client::Error>,
    ) {
        let elapsed = start.elapsed();
        match result {
            Ok(_) => self.latency(name, start, elapsed),
            Err(e) => self.error(name, start, &error_kind(e)),
        }
    }

    /// Records a successful measurement of `elapsed` for something that started at `start`.
    pub fn latency(&mut self, name: &'static str, start: Instant, elapsed: Duration) {
        self.value(name, false, start, elapsed);
    }

    /// Records a derived measurement (left out of the total throughput).
    pub fn derived(&mut self, name: &'static str, start: Instant, elapsed: Duration) {
        self.value(name, true, start, elapsed);
    }

    fn value(&mut self, name: &'static str, derived: bool, start: Instant, elapsed: Duration) {
        if self.measured(start, start + elapsed) {
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            self.slot(name, derived)
                .hist
                .saturating_record(nanos.max(1));
        }
    }

    /// Records a failure of `name` (started at `start`) of the given kind.
    pub fn error(&mut self, name: &'static str, start: Instant, kind: &str) {
        self.error_as(name, false, start, kind);
    }

    pub fn error_as(&mut self, name: &'static str, derived: bool, start: Instant, kind: &str) {
        if self.measured(start, Instant::now()) {
            let s = self.slot(name, derived);
            s.errors += 1;
            *s.error_kinds.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// Puts the operations in a fixed order (the order workers first met them varies).
    pub fn sort(&mut self) {
        const ORDER: [&str; 9] = [
            "getData", "setData", "create", "delete", "multi", "connect", "close", "notify",
            "fanout",
        ];
        let rank = |n: &str| ORDER.iter().position(|o| *o == n).unwrap_or(ORDER.len());
        self.ops.sort_by_key(|o| rank(o.name));
    }

    pub fn merge(&mut self, other: Recorder) {
        for o in other.ops {
            let s = self.slot(o.name, o.derived);
            // Same bounds on both sides: adding cannot fail.
            let _ = s.hist.add(&o.hist);
            s.errors += o.errors;
            for (k, n) in o.error_kinds {
                *s.error_kinds.entry(k).or_default() += n;
            }
        }
        if let Some(l) = other.last {
            if self.last < Some(l) {
                self.last = Some(l);
            }
        }
    }
}

/// The name of an error's kind (`NoNode`, `ConnectionLoss`, ...).
pub fn error_kind(e: &zkrs_client::Error) -> String {
    let d = format!("{e:?}");
    let end = d.find(['(', ' ', '{']).unwrap_or(d.len());
    d[..end].to_string()
}

/// CPU time (user + system) a process has used (`None`: this process), from
/// `/proc/<pid>/stat`. Linux reports it in ticks of `USER_HZ`, which is 100 on every
/// architecture's user-space ABI. `None` where that cannot be read.
pub fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces; the fields after it start past ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A process's resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn process_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The whole run's results.
pub struct Report {
    pub workload: String,
    pub connect: String,
    pub label: Option<String>,
    pub sessions: usize,
    pub inflight: usize,
    pub value_size: usize,
    pub keys: usize,
    pub threads: usize,
    pub warmup: Duration,
    /// From the end of the warm-up to the last measured completion.
    pub measured: Duration,
    pub client_cpu: Option<Duration>,
    /// With `--server-pid`: the server's CPU time over the measured window, and its RSS at
    /// the end.
    pub server_cpu: Option<Duration>,
    pub server_rss_kib: Option<u64>,
    pub extra: Vec<(&'static str, String)>,
    pub rec: Recorder,
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl Report {
    fn secs(&self) -> f64 {
        self.measured.as_secs_f64().max(1e-9)
    }

    fn total(&self) -> (u64, u64) {
        let ops = self.rec.ops.iter().filter(|o| !o.derived);
        ops.fold((0, 0), |(n, e), o| (n + o.hist.len(), e + o.errors))
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let secs = self.secs();
        let _ = writeln!(
            s,
            "zkrs-cli bench {}: {}, {} sessions x {} in flight, {} threads, {:.1} s measured after {:.1} s warm-up, {}-byte values, {} keys",
            self.workload,
            self.connect,
            self.sessions,
            self.inflight,
            self.threads,
            secs,
            self.warmup.as_secs_f64(),
            self.value_size,
            self.keys
        );
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "op", "count", "errors", "ops/s", "mean ms", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for o in &self.rec.ops {
            let h = &o.hist;
            let n = h.len();
            let (mean, p50, p99, p999, max) = if n == 0 {
                (0.0, 0.0, 0.0, 0.0, 0.0)
            } else {
                (
                    h.mean() / 1e6,
                    ms(h.value_at_quantile(0.5)),
                    ms(h.value_at_quantile(0.99)),
                    ms(h.value_at_quantile(0.999)),
                    ms(h.max()),
                )
            };
            let _ = writeln!(
                s,
                "{:<12} {:>10} {:>8} {:>11.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                o.name,
                n,
                o.errors,
                n as f64 / secs,
                mean,
                p50,
                p99,
                p999,
                max
            );
        }
        let (n, e) = self.total();
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>8} {:>11.1}",
            "total",
            n,
            e,
            n as f64 / secs
        );
        for (k, v) in &self.extra {
            let _ = writeln!(s, "{k}: {v}");
        }
        for o in &self.rec.ops {
            if !o.error_kinds.is_empty() {
                let kinds: Vec<String> = o
                    .error_kinds
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                let _ = writeln!(s, "{} errors: {}", o.name, kinds.join(", "));
            }
        }
        if let Some(cpu) = self.client_cpu {
            let _ = writeln!(
                s,
                "client CPU: {:.2} s ({:.0}% of one core; {} ops per client CPU second)",
                cpu.as_secs_f64(),
                100.0 * cpu.as_secs_f64() / secs,
                (n as f64 / cpu.as_secs_f64().max(0.01)) as u64
            );
        }
        if let Some(cpu) = self.server_cpu {
            let _ = writeln!(
                s,
                "server CPU: {:.2} s ({:.0}% of one core; {:.2} s per 100k ops)",
                cpu.as_secs_f64(),
                100.0 * cpu.as_secs_f64() / secs,
                cpu.as_secs_f64() * 1e5 / (n.max(1) as f64)
            );
        }
        if let Some(k) = self.server_rss_kib {
            let _ = writeln!(s, "server RSS: {:.1} MiB", k as f64 / 1024.0);
        }
        s
    }

    pub fn json(&self) -> String {
        let secs = self.secs();
        let (n, e) = self.total();
        let mut s = String::from("{");
        let _ = write!(s, "\"workload\":{}", jstr(&self.workload));
        let _ = write!(s, ",\"connect\":{}", jstr(&self.connect));
        if let Some(l) = &self.label {
            let _ = write!(s, ",\"label\":{}", jstr(l));
        }
        let _ = write!(
            s,
            ",\"sessions\":{},\"inflight\":{},\"value_size\":{},\"keys\":{},\"threads\":{}",
            self.sessions, self.inflight, self.value_size, self.keys, self.threads
        );
        let _ = write!(
            s,
            ",\"warmup_s\":{:.3},\"seconds\":{:.3},\"ops\":{n},\"errors\":{e},\"ops_per_sec\":{:.1}",
            self.warmup.as_secs_f64(),
            secs,
            n as f64 / secs
        );
        match self.client_cpu {
            Some(c) => {
                let _ = write!(s, ",\"client_cpu_s\":{:.3}", c.as_secs_f64());
            }
            None => s.push_str(",\"client_cpu_s\":null"),
        }
        match self.server_cpu {
            Some(c) => {
                let _ = write!(
                    s,
                    ",\"server_cpu_s\":{:.3},\"server_cpu_s_per_100k_ops\":{:.3}",
                    c.as_secs_f64(),
                    c.as_secs_f64() * 1e5 / (n.max(1) as f64)
                );
            }
            None => s.push_str(",\"server_cpu_s\":null"),
        }
        match self.server_rss_kib {
            Some(k) => {
                let _ = write!(s, ",\"server_rss_kib\":{k}");
            }
            None => s.push_str(",\"server_rss_kib\":null"),
        }
        for (k, v) in &self.extra {
            let _ = write!(s, ",{}:{}", jstr(k), v);
        }
        s.push_str(",\"per_op\":[");
        for (i, o) in self.rec.ops.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let h = &o.hist;
            let q = |p: f64| {
                if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(p))
                }
            };
            let _ = write!(
                s,
                "{{\"op\":{},\"derived\":{},\"count\":{},\"errors\":{},\"ops_per_sec\":{:.1},\"mean_ms\":{:.4},\"p50_ms\":{:.4},\"p99_ms\":{:.4},\"p999_ms\":{:.4},\"max_ms\":{:.4},\"error_kinds\":{{",
                jstr(o.name),
                o.derived,
                h.len(),
                o.errors,
                h.len() as f64 / secs,
                if h.is_empty() { 0.0 } else { h.mean() / 1e6 },
                q(0.5),
                q(0.99),
                q(0.999),
                if h.is_empty() { 0.0 } else { ms(h.max()) }
            );
            for (j, (k, v)) in o.error_kinds.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{}:{v}", jstr(k));
            }
            s.push_str("}}");
        }
        s.push_str("]}");
        s
    }
}

/// A JSON string literal.
pub fn jstr(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_after_warmup_and_merges() {
        let t0 = Instant::now();
        let from = t0 + Duration::from_millis(1);
        let mut a = Recorder::new(from);
        a.latency("getData", t0, Duration::from_millis(5));
        assert!(a.ops.is_empty());
        std::thread::sleep(Duration::from_millis(2));
        let later = Instant::now();
        a.latency("getData", later, Duration::from_millis(1));
        a.error("getData", later, "NoNode");
        let mut b = Recorder::new(from);
        b.latency("getData", later, Duration::from_millis(3));
        b.derived("notify", later, Duration::from_millis(2));
        a.merge(b);
        assert_eq!(a.ops[0].hist.len(), 2);
        assert_eq!(a.ops[0].errors, 1);
        assert_eq!(a.ops[1].name, "notify");
        let r = Report {
            workload: "read".into(),
            connect: "127.0.0.1:2181".into(),
            label: Some("x\"y".into()),
            sessions: 1,
            inflight: 1,
            value_size: 100,
            keys: 10,
            threads: 2,
            warmup: Duration::ZERO,
            measured: Duration::from_secs(1),
            client_cpu: Some(Duration::from_millis(10)),
            server_cpu: None,
            server_rss_kib: None,
            extra: vec![],
            rec: a,
        };
        assert_eq!(r.total(), (2, 1));
        let j = r.json();
        assert!(j.contains("\"label\":\"x\\\"y\""), "{j}");
        assert!(j.contains("\"error_kinds\":{\"NoNode\":1}"), "{j}");
        assert!(r.table().contains("getData errors: NoNode 1"));
    }

    #[test]
    fn error_kinds_are_variant_names() {
        assert_eq!(error_kind(&zkrs_client::Error::NoNode), "NoNode");
        assert_eq!(
            error_kind(&zkrs_client::Error::Connect("refused".into())),
            "Connect"
        );
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(process_cpu(None).is_some());
        assert!(process_cpu(Some(std::process::id())).is_some());
        assert!(process_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
