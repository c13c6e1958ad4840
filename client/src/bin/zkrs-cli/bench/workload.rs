//! The workloads: sessions connected up front, setup (keys, parents), then workers — one
//! task per request in flight, `--inflight` of them per session — running until the
//! duration or the operation count is reached.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use zkrs_client::{AddWatchMode, Client, CreateMode, Error, Op};

use super::opts::{Opts, Workload};
use super::stats::{process_cpu, process_rss_kib, Recorder, Report};

/// How long the watch writer waits for every watcher to hear of one write.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Decides when workers stop, and counts what they did for the progress line.
pub struct Clock {
    measure_from: Instant,
    end: Option<Instant>,
    budget: Option<u64>,
    issued: AtomicU64,
    stop: AtomicBool,
    done: AtomicU64,
    failed: AtomicU64,
}

impl Clock {
    fn new(warmup: Duration, duration: Option<Duration>, budget: Option<u64>) -> Clock {
        let measure_from = Instant::now() + warmup;
        Clock {
            measure_from,
            end: duration.map(|d| measure_from + d),
            budget,
            issued: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Whether a worker may start another operation; if so, its start time.
    fn next(&self) -> Option<Instant> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let now = Instant::now();
        if self.end.is_some_and(|end| now >= end) {
            return None;
        }
        if let Some(b) = self.budget {
            if now >= self.measure_from && self.issued.fetch_add(1, Ordering::Relaxed) >= b {
                self.stop.store(true, Ordering::Relaxed);
                return None;
            }
        }
        Some(now)
    }

    fn finished(&self, ok: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Records one operation's result and says whether the worker goes on.
async fn note<T>(
    rec: &mut Recorder,
    clock: &Clock,
    name: &'static str,
    start: Instant,
    r: &Result<T, Error>,
) -> bool {
    rec.record(name, start.into_std(), r);
    clock.finished(r.is_ok());
    match r {
        Ok(_) => true,
        Err(e) if e.is_terminal() => false,
        Err(Error::ConnectionLoss) => {
            // The client is reconnecting; do not spin meanwhile.
            tokio::time::sleep(Duration::from_millis(5)).await;
            true
        }
        Err(_) => true,
    }
}

/// Connects a session to the whole connect string.
async fn connect(o: &Opts) -> anyhow::Result<Client> {
    connect_to(o, &o.connect).await
}

async fn connect_to(o: &Opts, cs: &str) -> anyhow::Result<Client> {
    Client::builder(cs)
        .session_timeout(o.session_timeout)
        .connect_timeout(Duration::from_secs(15))
        .connect()
        .await
        .with_context(|| format!("connecting to {cs}"))
}

/// Connects `n` sessions at once, session i to `o.connect_for(i)`.
async fn connect_all(o: &Opts, n: usize) -> anyhow::Result<Vec<Client>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let o = o.clone();
            tokio::spawn(async move { connect_to(&o, &o.connect_for(i)).await })
        })
        .collect();
    let mut clients = Vec::with_capacity(n);
    for t in tasks {
        clients.push(t.await??);
    }
    Ok(clients)
}

async fn close_all(clients: Vec<Client>) {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(async move { c.close().await }))
        .collect();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
}

/// Creates `paths` (missing ones; existing ones are left alone), pipelined over every
/// session with `inflight` requests in flight each.
async fn create_all(
    clients: &[Client],
    inflight: usize,
    paths: Arc<Vec<String>>,
    value: Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in clients {
        for _ in 0..inflight {
            let (c, paths, value, next) = (c.clone(), paths.clone(), value.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(p) = paths.get(i) else {
                        return Ok(());
                    };
                    match c.create(p, &value, CreateMode::Persistent).await {
                        Ok(_) | Err(Error::NodeExists) => {}
                        Err(e) => return Err(anyhow!("setup: create {p}: {e}")),
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn key_paths(o: &Opts) -> Arc<Vec<String>> {
    Arc::new((0..o.keys).map(|i| format!("{}/k/{i}", o.root)).collect())
}

/// The path of populated node `i`: `{root}/p/{parent}/{child}`, zero-padded.
fn populate_path(o: &Opts, i: u64) -> String {
    let width = (o.fanout.saturating_sub(1)).to_string().len();
    format!(
        "{}/p/{:05}/{:0width$}",
        o.root,
        i / o.fanout,
        i % o.fanout,
        width = width
    )
}

fn populate_parent(o: &Opts, p: u64) -> String {
    format!("{}/p/{p:05}", o.root)
}

/// The progress line: once a second on stderr, only when stderr is a terminal.
fn progress(clock: Arc<Clock>, total: Option<u64>) -> Option<JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(tokio::spawn(async move {
        let t0 = Instant::now();
        let mut prev = (t0, 0u64);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = Instant::now();
            let done = clock.done.load(Ordering::Relaxed);
            let rate = (done - prev.1) as f64 / (now - prev.0).as_secs_f64().max(1e-3);
            prev = (now, done);
            let phase = if now < clock.measure_from {
                "warm-up"
            } else {
                "measuring"
            };
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            eprint!(
                "\r{:>6.0} s  {phase:<9}  {rate:>9.0} ops/s  {done}{of} ops  {} errors   ",
                (now - t0).as_secs_f64(),
                clock.failed.load(Ordering::Relaxed)
            );
            let _ = std::io::stderr().flush();
        }
    }))
}

pub async fn run(o: Opts) -> anyhow::Result<Report> {
    let value = Arc::new(vec![b'x'; o.value_size]);
    let setup = connect(&o).await?;
    setup
        .ensure_path(&o.root)
        .await
        .with_context(|| format!("creating {}", o.root))?;

    let mut clients = Vec::new();
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let clock;
    let mut workers: Vec<JoinHandle<Recorder>> = Vec::new();
    let mut helpers: Vec<JoinHandle<()>> = Vec::new();

    match o.workload {
        Workload::Read | Workload::Write | Workload::Mixed | Workload::Multi => {
            clients = connect_all(&o, o.sessions).await?;
            setup.ensure_path(&format!("{}/k", o.root)).await?;
            let keys = key_paths(&o);
            create_all(&clients, o.inflight, keys.clone(), value.clone()).await?;
            clock = Arc::new(Clock::new(o.warmup, o.duration, o.ops));
            let acks = match &o.ack_log {
                Some(path) => Some(Arc::new(std::sync::Mutex::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .with_context(|| format!("opening {path}"))?,
                ))),
                None => None,
            };
            for (s, c) in clients.iter().enumerate() {
                for j in 0..o.inflight {
                    let w = KvWorker {
                        acks: acks.clone(),
                        c: c.clone(),
                        clock: clock.clone(),
                        keys: keys.clone(),
                        value: value.clone(),
                        workload: o.workload,
                        read_percent: o.read_percent,
                        multi_size: o.multi_size,
                        seed: (s * o.inflight + j) as u64,
                    };
                    workers.push(tokio::spawn(w.run()));
                }
            }
        }
        Workload::CreateDelete => {
            clients = connect_all(&o, o.sessions).await?;
            let dir = format!("{}/c", o.root);
            setup.ensure_path(&dir).await?;
            clock = Arc::new(Clock::new(o.warmup, o.duration, o.ops));
            let run_id: u32 = rand::random();
            for (s, c) in clients.iter().enumerate() {
                for j in 0..o.inflight {
                    let prefix = format!("{dir}/{run_id:08x}-{s}-{j}-");
                    let (c, clock, value) = (c.clone(), clock.clone(), value.clone());
                    workers.push(tokio::spawn(create_delete(c, clock, prefix, value)));
                }
            }
        }
        Workload::Sessions => {
            clock = Arc::new(Clock::new(o.warmup, o.duration, o.ops));
            for i in 0..o.sessions {
                let cs = o.connect_for(i);
                workers.push(tokio::spawn(session_churn(o.clone(), cs, clock.clone())));
            }
        }
        Workload::Watch => {
            let path = format!("{}/watch", o.root);
            match setup.create(&path, &value, CreateMode::Persistent).await {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(anyhow!("setup: create {path}: {e}")),
            }
            clients = connect_all(&o, o.watchers).await?;
            let (tx, rx) = mpsc::unbounded_channel();
            for (w, c) in clients.iter().enumerate() {
                let mut watcher = c
                    .add_watch(&path, AddWatchMode::Persistent)
                    .await
                    .with_context(|| format!("addWatch {path}"))?;
                let tx = tx.clone();
                helpers.push(tokio::spawn(async move {
                    let mut seq = 0u64;
                    while watcher.next_node_event().await.is_some() {
                        seq += 1;
                        if tx.send((w, seq, Instant::now())).is_err() {
                            return;
                        }
                    }
                }));
            }
            let writer = connect(&o).await?;
            clock = Arc::new(Clock::new(o.warmup, o.duration, o.ops));
            workers.push(tokio::spawn(watch_writer(
                writer.clone(),
                clock.clone(),
                path,
                value.clone(),
                o.watchers,
                rx,
            )));
            clients.push(writer);
        }
        Workload::Populate => {
            let first = o.start;
            let last = o.start + o.count - 1;
            clients = connect_all(&o, o.sessions).await?;
            setup.ensure_path(&format!("{}/p", o.root)).await?;
            let parents: Vec<String> = (first / o.fanout..=last / o.fanout)
                .map(|p| populate_parent(&o, p))
                .collect();
            create_all(
                &clients,
                o.inflight,
                Arc::new(parents),
                Arc::new(Vec::new()),
            )
            .await?;
            clock = Arc::new(Clock::new(o.warmup, o.duration, None));
            let next = Arc::new(AtomicU64::new(first));
            for c in &clients {
                for _ in 0..o.inflight {
                    let (c, clock, value, next, o) = (
                        c.clone(),
                        clock.clone(),
                        value.clone(),
                        next.clone(),
                        o.clone(),
                    );
                    workers.push(tokio::spawn(async move {
                        let mut rec = Recorder::new(clock.measure_from.into_std());
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i > last {
                                break;
                            }
                            let Some(start) = clock.next() else { break };
                            let p = populate_path(&o, i);
                            let r = c.create(&p, &value, CreateMode::Persistent).await;
                            if !note(&mut rec, &clock, "create", start, &r).await {
                                break;
                            }
                        }
                        rec
                    }));
                }
            }
            extra.push(("first_index", first.to_string()));
            extra.push(("last_index", last.to_string()));
        }
    }

    let total = match o.workload {
        Workload::Populate => Some(o.count),
        _ => o.ops,
    };
    let ticker = if o.progress {
        progress(clock.clone(), total)
    } else {
        None
    };

    tokio::time::sleep_until(clock.measure_from).await;
    let cpu0 = process_cpu(None);
    let server0 = o.server_pid.and_then(|p| process_cpu(Some(p)));
    let mut rec = Recorder::new(clock.measure_from.into_std());
    for w in workers {
        match w.await {
            Ok(r) => rec.merge(r),
            Err(e) => {
                clock.halt();
                return Err(anyhow!("a worker failed: {e}"));
            }
        }
    }
    let cpu1 = process_cpu(None);
    let server1 = o.server_pid.and_then(|p| process_cpu(Some(p)));
    let server_rss_kib = o.server_pid.and_then(process_rss_kib);
    clock.halt();
    rec.sort();
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r{:78}\r", "");
    }
    for h in helpers {
        h.abort();
    }
    let measured = rec
        .last
        .map(|l| l.saturating_duration_since(clock.measure_from.into_std()))
        .unwrap_or_default();
    close_all(clients).await;
    setup.close().await;

    Ok(Report {
        workload: if o.workload == Workload::Mixed {
            format!("mixed{}", o.read_percent)
        } else {
            o.workload.name().to_string()
        },
        connect: o.connect.clone(),
        label: o.label.clone(),
        sessions: if o.workload == Workload::Watch {
            o.watchers + 1
        } else {
            o.sessions
        },
        inflight: o.inflight,
        value_size: o.value_size,
        keys: o.keys,
        threads: o.threads,
        warmup: o.warmup,
        measured,
        client_cpu: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
        server_cpu: server0.zip(server1).map(|(a, b)| b.saturating_sub(a)),
        server_rss_kib,
        extra,
        rec,
    })
}

/// read, write, mixed and multi: one request in flight at a time, on random keys.
struct KvWorker {
    c: Client,
    clock: Arc<Clock>,
    keys: Arc<Vec<String>>,
    value: Arc<Vec<u8>>,
    workload: Workload,
    read_percent: u32,
    multi_size: usize,
    seed: u64,
    /// `--ack-log`: the time of every successful reply is appended here.
    acks: Option<Arc<std::sync::Mutex<std::fs::File>>>,
}

impl KvWorker {
    /// Appends the current wall-clock time to the ack log, for a successful reply.
    fn ack(&self, ok: bool) {
        let Some(f) = self.acks.as_ref().filter(|_| ok) else {
            return;
        };
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        if let Ok(mut f) = f.lock() {
            let _ = writeln!(f, "{ns}");
        }
    }

    async fn run(self) -> Recorder {
        let mut rng = StdRng::seed_from_u64(rand::random::<u64>() ^ self.seed);
        let mut rec = Recorder::new(self.clock.measure_from.into_std());
        let n = self.keys.len();
        while let Some(start) = self.clock.next() {
            let key = &self.keys[rng.gen_range(0..n)];
            let read = match self.workload {
                Workload::Read => true,
                Workload::Mixed => rng.gen_range(0..100) < self.read_percent,
                _ => false,
            };
            let go_on = if self.workload == Workload::Multi {
                let first = rng.gen_range(0..n);
                let ops = (0..self.multi_size).map(|i| {
                    Op::set_data(
                        self.keys[(first + i) % n].clone(),
                        self.value.to_vec(),
                        None,
                    )
                });
                let r = self.c.multi(ops).await;
                self.ack(r.is_ok());
                note(&mut rec, &self.clock, "multi", start, &r).await
            } else if read {
                let r = self.c.get_data(key).await;
                self.ack(r.is_ok());
                note(&mut rec, &self.clock, "getData", start, &r).await
            } else {
                let r = self.c.set_data(key, &self.value, None).await;
                self.ack(r.is_ok());
                note(&mut rec, &self.clock, "setData", start, &r).await
            };
            if !go_on {
                break;
            }
        }
        rec
    }
}

/// create a new node, then delete it.
async fn create_delete(
    c: Client,
    clock: Arc<Clock>,
    prefix: String,
    value: Arc<Vec<u8>>,
) -> Recorder {
    let mut rec = Recorder::new(clock.measure_from.into_std());
    let mut n = 0u64;
    while let Some(start) = clock.next() {
        n += 1;
        let path = format!("{prefix}{n}");
        let r = c.create(&path, &value, CreateMode::Persistent).await;
        if !note(&mut rec, &clock, "create", start, &r).await {
            break;
        }
        if r.is_ok() {
            // Always delete what was created, even past the end, so nothing is left behind.
            let start = Instant::now();
            let r = c.delete(&path, None).await;
            if !note(&mut rec, &clock, "delete", start, &r).await {
                break;
            }
        }
    }
    rec
}

/// connect a new session, then close it.
async fn session_churn(o: Opts, cs: String, clock: Arc<Clock>) -> Recorder {
    let mut rec = Recorder::new(clock.measure_from.into_std());
    while let Some(start) = clock.next() {
        let r = Client::builder(&cs)
            .session_timeout(o.session_timeout)
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await;
        let ok = r.is_ok();
        rec.record("connect", start.into_std(), &r);
        clock.finished(ok);
        match r {
            Ok(c) => {
                let t = Instant::now();
                c.close().await;
                rec.latency("close", t.into_std(), t.elapsed());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    rec
}

/// One writer, one write at a time; each watcher's notification latency is measured from the
/// start of the write. Watchers report `(watcher, their event count, arrival)`; an event
/// counts for the current write if it is newer than the last one that watcher reported.
async fn watch_writer(
    c: Client,
    clock: Arc<Clock>,
    path: String,
    value: Arc<Vec<u8>>,
    watchers: usize,
    mut rx: mpsc::UnboundedReceiver<(usize, u64, Instant)>,
) -> Recorder {
    let mut rec = Recorder::new(clock.measure_from.into_std());
    let mut seen = vec![0u64; watchers];
    let mut got = vec![false; watchers];
    while let Some(start) = clock.next() {
        // Drop notifications of earlier writes that arrived after their wait ended.
        while let Ok((w, s, _)) = rx.try_recv() {
            seen[w] = seen[w].max(s);
        }
        let r = c.set_data(&path, &value, None).await;
        if !note(&mut rec, &clock, "setData", start, &r).await {
            break;
        }
        if r.is_err() {
            continue;
        }
        got.iter_mut().for_each(|g| *g = false);
        let mut missing = watchers;
        let mut last = start;
        let deadline = start + NOTIFY_TIMEOUT;
        while missing > 0 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((w, s, at))) => {
                    if s > seen[w] {
                        seen[w] = s;
                        if !got[w] {
                            got[w] = true;
                            missing -= 1;
                            last = last.max(at);
                            rec.derived(
                                "notify",
                                start.into_std(),
                                at.saturating_duration_since(start),
                            );
                        }
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        for _ in 0..missing {
            rec.error_as("notify", true, start.into_std(), "Timeout");
        }
        if missing == 0 {
            rec.derived("fanout", start.into_std(), last - start);
        } else {
            rec.error_as("fanout", true, start.into_std(), "Timeout");
        }
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_paths_are_zero_padded() {
        let mut o = super::super::opts::parse(&["populate".to_string()]).unwrap();
        assert_eq!(populate_path(&o, 1234), "/zkrs-bench/p/00001/234");
        o.fanout = 100;
        assert_eq!(populate_path(&o, 1234), "/zkrs-bench/p/00012/34");
        assert_eq!(populate_parent(&o, 12), "/zkrs-bench/p/00012");
    }

    #[tokio::test]
    async fn clock_stops_at_budget() {
        let clock = Clock::new(Duration::ZERO, None, Some(3));
        let mut n = 0;
        while clock.next().is_some() {
            n += 1;
            assert!(n <= 3);
        }
        assert_eq!(n, 3);
        let clock = Clock::new(Duration::ZERO, Some(Duration::ZERO), None);
        assert!(clock.next().is_none());
    }
}
