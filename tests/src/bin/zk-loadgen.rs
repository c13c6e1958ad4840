//! A small load generator for any ZooKeeper-compatible server, built on the independent
//! `zookeeper-client` crate (so zkrs and Apache ZooKeeper are driven by the same third-party
//! client): N sessions, each with its own node, doing setData (write) or getData (read) in
//! a loop for a fixed time. Prints one JSON line: ops/s and latency percentiles.
//!
//! usage: zk-loadgen --connect HOST:PORT [--clients N] [--seconds S] [--op write|read]
//!                   [--value-size BYTES]

use std::time::{Duration, Instant};

use zookeeper_client as zk;

struct Args {
    connect: String,
    clients: usize,
    seconds: f64,
    write: bool,
    value_size: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        connect: "127.0.0.1:2181".into(),
        clients: 1,
        seconds: 5.0,
        write: true,
        value_size: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--connect" => a.connect = v()?,
            "--clients" => a.clients = v()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => a.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--value-size" => {
                a.value_size = v()?.parse().map_err(|e| format!("--value-size: {e}"))?
            }
            "--op" => {
                a.write = match v()?.as_str() {
                    "write" => true,
                    "read" => false,
                    o => return Err(format!("--op {o}: write or read")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.clients == 0 || a.seconds <= 0.0 || a.seconds > 600.0 {
        return Err("--clients must be > 0 and --seconds in (0, 600]".into());
    }
    Ok(a)
}

async fn run(a: Args) -> Result<(), String> {
    let setup = zk::Client::connect(&a.connect)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    match setup.create("/bench", b"", &open).await {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(e) => return Err(format!("create /bench: {e}")),
    }
    let value = vec![b'x'; a.value_size];
    let mut clients = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let c = zk::Client::connect(&a.connect)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let path = format!("/bench/n{i}");
        match c.create(&path, &value, &open).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(format!("create {path}: {e}")),
        }
        clients.push((c, path));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, path) in clients {
        let value = value.clone();
        let write = a.write;
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = if write {
                    c.set_data(&path, &value, None).await.is_ok()
                } else {
                    c.get_data(&path).await.is_ok()
                };
                if ok {
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i] as f64 / 1000.0
    };
    println!(
        "{{\"op\":\"{}\",\"clients\":{},\"ops\":{},\"errors\":{},\"seconds\":{:.3},\"ops_per_sec\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        if a.write { "write" } else { "read" },
        a.clients,
        all.len(),
        errors,
        elapsed,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zk-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-loadgen: runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("zk-loadgen: {e}");
        std::process::exit(1);
    }
}
