//! The zkCli.sh-compatible shell (being written).

pub fn main(_args: &[String]) -> std::process::ExitCode {
    eprintln!("zkrs-cli: the shell is not available yet");
    std::process::ExitCode::FAILURE
}
