//! Command-line options of `zkrs-cli bench`.

use std::time::Duration;

use anyhow::{bail, Context};

pub const USAGE: &str = "\
usage: zkrs-cli bench <workload> [options]
       zkrs-cli bench start-to-serve [--connect HOST:PORT] [--timeout SECS] [--log FILE] [-- COMMAND ARGS...]

Drives any ZooKeeper-compatible server and reports throughput and latency percentiles (p50,
p99, p99.9, max, from an HDR histogram) per operation, with errors counted, as a table or as
JSON (--json). A progress line is written to stderr while it runs, when stderr is a terminal.

workloads:
  read            getData of random keys
  write           setData of random keys
  mixed           getData/setData, --read-percent reads (default 90); mixed90, mixed50 are aliases
                  (reported as mixed<percent>)
  create-delete   create a new node, then delete it (churn)
  watch           --watchers sessions hold a persistent watch on one node; one writer sets it,
                  one write at a time; reports each notification's latency from the write's start
                  (notify) and the latency until every watcher has it (fanout)
  sessions        connect a new session, then close it (churn); --sessions of them at once
  multi           multi of --multi-size setData on random keys
  populate        create --count nodes of --value-size bytes (from index --start), --fanout
                  children per parent, for memory measurements

options:
  -c, --connect HOST:PORT[,...]  servers (default 127.0.0.1:2181); with several, session i
                        connects to the i-th modulo their number and only to it (--no-spread:
                        each session gets the whole list and picks at random, as clients do)
      --no-spread       see --connect
      --ack-log FILE    read/write/mixed/multi: append the wall-clock time (Unix nanoseconds)
                        of every successful operation's reply to FILE, one per line (failover)
  -s, --sessions N      sessions (default 16)
  -i, --inflight N      requests in flight per session (default 1)
  -d, --duration SECS   measured time (default 10; with --ops: no limit unless given)
  -n, --ops N           stop after N measured operations (create-delete: pairs; sessions:
                        connect/close pairs; watch: writes)
  -w, --warmup SECS     unmeasured time before measuring (default 2; populate: 0)
  -v, --value-size B    bytes per value (default 100)
  -k, --keys N          key space of read/write/mixed/multi (default 1000)
      --read-percent P  reads in mixed (default 90)
      --watchers N      watch: watching sessions (default: --sessions)
      --multi-size N    multi: operations per multi (default 4)
      --count N         populate: nodes to create (default 100000)
      --start N         populate: first node index (default 0)
      --fanout N        populate: children per parent node (default 1000)
      --root PATH       parent of everything the benchmark creates (default /zkrs-bench)
  -t, --threads N       client runtime threads (default: the number of CPUs)
      --session-timeout MS  (default 30000)
      --server-pid PID  also report that (local) server's CPU time over the measured
                        window and its RSS at the end, from /proc
      --label TEXT      copied into the JSON output
      --json            print one JSON object instead of the table
      --no-progress     no progress line

start-to-serve starts COMMAND (if given; its output goes to --log or is discarded) and polls
HOST:PORT in a tight loop with a real handshake and getData(\"/\") until one is answered. It
prints {\"pid\":..,\"start_to_serve_ms\":..,\"attempts\":..} and leaves the process running
(stop it by its pid). Without COMMAND it measures from its own start.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Read,
    Write,
    Mixed,
    CreateDelete,
    Watch,
    Sessions,
    Multi,
    Populate,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Write => "write",
            Workload::Mixed => "mixed",
            Workload::CreateDelete => "create-delete",
            Workload::Watch => "watch",
            Workload::Sessions => "sessions",
            Workload::Multi => "multi",
            Workload::Populate => "populate",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Opts {
    pub workload: Workload,
    pub connect: String,
    pub sessions: usize,
    pub inflight: usize,
    pub duration: Option<Duration>,
    pub ops: Option<u64>,
    pub warmup: Duration,
    pub value_size: usize,
    pub keys: usize,
    pub read_percent: u32,
    pub watchers: usize,
    pub multi_size: usize,
    pub count: u64,
    pub start: u64,
    pub fanout: u64,
    pub root: String,
    pub threads: usize,
    pub session_timeout: Duration,
    pub label: Option<String>,
    pub server_pid: Option<u32>,
    pub json: bool,
    pub progress: bool,
    /// Session i connects to host i mod n of the connect string only.
    pub spread: bool,
    pub ack_log: Option<String>,
}

impl Opts {
    /// The connect string of session `i`: with `spread` and several hosts, host `i` modulo
    /// their number (with the chroot); otherwise the whole string.
    pub fn connect_for(&self, i: usize) -> String {
        if !self.spread {
            return self.connect.clone();
        }
        let (hosts, chroot) = match self.connect.find('/') {
            Some(at) => self.connect.split_at(at),
            None => (self.connect.as_str(), ""),
        };
        let hosts: Vec<&str> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.len() < 2 {
            return self.connect.clone();
        }
        format!("{}{chroot}", hosts[i % hosts.len()])
    }
}

fn secs(s: &str, what: &str) -> anyhow::Result<Duration> {
    let v: f64 = s
        .parse()
        .with_context(|| format!("{what}: not a number: {s}"))?;
    if !(0.0..=86_400.0).contains(&v) {
        bail!("{what}: {s} is out of range (0 to 86400 seconds)");
    }
    Ok(Duration::from_secs_f64(v))
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> anyhow::Result<T> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("{what}: not a valid number: {s}"))
}

pub fn parse(args: &[String]) -> anyhow::Result<Opts> {
    let mut it = args.iter();
    let Some(first) = it.next() else {
        bail!("no workload given\n\n{USAGE}");
    };
    let mut read_percent = 90;
    let workload = match first.as_str() {
        "read" => Workload::Read,
        "write" => Workload::Write,
        "mixed" | "mixed90" => Workload::Mixed,
        "mixed50" => {
            read_percent = 50;
            Workload::Mixed
        }
        "create-delete" => Workload::CreateDelete,
        "watch" => Workload::Watch,
        "sessions" => Workload::Sessions,
        "multi" => Workload::Multi,
        "populate" => Workload::Populate,
        w => bail!("unknown workload {w}\n\n{USAGE}"),
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut o = Opts {
        workload,
        connect: "127.0.0.1:2181".into(),
        sessions: 16,
        inflight: 1,
        duration: None,
        ops: None,
        warmup: Duration::from_secs(2),
        value_size: 100,
        keys: 1000,
        read_percent,
        watchers: 0,
        multi_size: 4,
        count: 100_000,
        start: 0,
        fanout: 1000,
        root: "/zkrs-bench".into(),
        threads,
        session_timeout: Duration::from_secs(30),
        label: None,
        server_pid: None,
        json: false,
        progress: true,
        spread: true,
        ack_log: None,
    };
    let mut warmup_given = false;
    while let Some(k) = it.next() {
        let mut val = || {
            it.next()
                .map(String::as_str)
                .with_context(|| format!("{k} needs a value"))
        };
        match k.as_str() {
            "-h" | "--help" => bail!("{USAGE}"),
            "-c" | "--connect" => o.connect = val()?.to_string(),
            "-s" | "--sessions" => o.sessions = num(val()?, k)?,
            "-i" | "--inflight" => o.inflight = num(val()?, k)?,
            "-d" | "--duration" => o.duration = Some(secs(val()?, k)?),
            "-n" | "--ops" => o.ops = Some(num(val()?, k)?),
            "-w" | "--warmup" => {
                o.warmup = secs(val()?, k)?;
                warmup_given = true;
            }
            "-v" | "--value-size" => o.value_size = num(val()?, k)?,
            "-k" | "--keys" => o.keys = num(val()?, k)?,
            "--read-percent" => o.read_percent = num(val()?, k)?,
            "--watchers" => o.watchers = num(val()?, k)?,
            "--multi-size" => o.multi_size = num(val()?, k)?,
            "--count" => o.count = num(val()?, k)?,
            "--start" => o.start = num(val()?, k)?,
            "--fanout" => o.fanout = num(val()?, k)?,
            "--root" => o.root = val()?.trim_end_matches('/').to_string(),
            "-t" | "--threads" => o.threads = num(val()?, k)?,
            "--session-timeout" => {
                o.session_timeout = Duration::from_millis(num(val()?, k)?);
            }
            "--label" => o.label = Some(val()?.to_string()),
            "--server-pid" => o.server_pid = Some(num(val()?, k)?),
            "--json" => o.json = true,
            "--no-progress" => o.progress = false,
            "--no-spread" => o.spread = false,
            "--ack-log" => o.ack_log = Some(val()?.to_string()),
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    if o.workload == Workload::Populate {
        if !warmup_given {
            o.warmup = Duration::ZERO;
        }
    } else if o.duration.is_none() && o.ops.is_none() {
        o.duration = Some(Duration::from_secs(10));
    }
    if o.watchers == 0 {
        o.watchers = o.sessions;
    }
    if !(1..=10_000).contains(&o.sessions) {
        bail!("--sessions must be 1 to 10000");
    }
    if !(1..=1000).contains(&o.inflight) {
        bail!("--inflight must be 1 to 1000");
    }
    if !(1..=10_000).contains(&o.watchers) {
        bail!("--watchers must be 1 to 10000");
    }
    if !(1..=256).contains(&o.threads) {
        bail!("--threads must be 1 to 256");
    }
    if o.value_size > 1 << 20 {
        bail!("--value-size must be at most 1 MiB");
    }
    if o.keys == 0 || o.keys > 10_000_000 {
        bail!("--keys must be 1 to 10000000");
    }
    if o.read_percent > 100 {
        bail!("--read-percent must be 0 to 100");
    }
    if o.multi_size == 0 || o.multi_size > o.keys.min(1000) {
        bail!("--multi-size must be 1 to min(--keys, 1000)");
    }
    if o.fanout == 0 || o.count == 0 || o.count > 100_000_000 {
        bail!("--fanout must be > 0 and --count 1 to 100000000");
    }
    if o.ops == Some(0) {
        bail!("--ops must be > 0");
    }
    if o.session_timeout.is_zero() {
        bail!("--session-timeout must be > 0");
    }
    if !o.root.starts_with('/') || o.root.len() < 2 {
        bail!("--root must be an absolute path other than /");
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Opts {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn sessions_spread_over_hosts() {
        let o = opts(&["read", "-c", "a:1,b:2,c:3/app"]);
        let cs: Vec<String> = (0..4).map(|i| o.connect_for(i)).collect();
        assert_eq!(cs, ["a:1/app", "b:2/app", "c:3/app", "a:1/app"]);
        let o = opts(&["read", "-c", "a:1,b:2", "--no-spread"]);
        assert_eq!(o.connect_for(1), "a:1,b:2");
        let o = opts(&["read", "-c", "a:1"]);
        assert_eq!(o.connect_for(5), "a:1");
    }
}
