//! `zkrs-cli`: a shell with the commands and output of `zkCli.sh`, and `zkrs-cli bench`, a
//! benchmark for any ZooKeeper-compatible server.

mod bench;
mod shell;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().map(String::as_str) == Some("bench") {
        return bench::main(&args[1..]);
    }
    shell::main(&args)
}
