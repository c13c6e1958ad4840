//! `zkrs-cli bench`: a benchmark for any ZooKeeper-compatible server (see [`opts::USAGE`]).
//!
//! Sessions are connected first and the data the workload needs is created, then one task
//! per request in flight (`--inflight` per session) runs operations back to back on a
//! multi-threaded runtime until the duration or operation count is reached. Latencies go
//! into per-task HDR histograms (nanoseconds, 3 significant digits) that are merged at the
//! end; operations that start during the warm-up are not recorded. Errors are counted per
//! operation and kind. The tool reports its own CPU time so that a saturated client shows.

mod opts;
mod serve;
mod stats;
mod workload;

use std::process::ExitCode;

pub fn main(args: &[String]) -> ExitCode {
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", opts::USAGE);
        return if args.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    if args[0] == "start-to-serve" {
        return match serve::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zkrs-cli bench start-to-serve: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let o = match opts::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zkrs-cli bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zkrs-cli bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = o.json;
    match rt.block_on(workload::run(o)) {
        Ok(report) => {
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zkrs-cli bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
