//! `zkrs-cli bench` (being written).

pub fn main(_args: &[String]) -> std::process::ExitCode {
    eprintln!("zkrs-cli bench: not available yet");
    std::process::ExitCode::FAILURE
}
