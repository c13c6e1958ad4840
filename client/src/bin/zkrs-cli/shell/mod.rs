//! The zkCli.sh-compatible shell: `zkrs-cli [-server host:port[,...][/chroot]] [-timeout ms]
//! [-waitforconnection] [cmd args...]`.
//!
//! It follows `org.apache.zookeeper.ZooKeeperMain` of ZooKeeper 3.8/3.9: the same commands,
//! flags, output (what goes to stdout and what to stderr), error messages and exit status, and
//! the same banner (`Connecting to ...`, `Welcome to ZooKeeper!`, `JLine support is ...`).
//! With a command on the command line it runs that one command and exits (status 0 on
//! success, 1 on error, 127 for an unknown command); otherwise it reads commands from the
//! terminal (line editing, history, tab completion) or, when stdin is not a terminal, one
//! per line from stdin. Everything runs on one thread (a current-thread tokio runtime); only
//! reading input has a thread of its own, so watch events print while the shell waits.
//!
//! Modules: `parse` (tokenizer, option parser), `format` (Stat, ACL, event and error text),
//! `tz` (dates like `java.util.Date`), `events` (the default watcher), `conn` (the
//! connection), `commands` and `quota` (the server commands), `input` (line reading).

mod commands;
mod conn;
mod events;
mod format;
mod input;
mod parse;
mod quota;
mod tz;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commands::{CliError, Ctx};
use conn::Session;
use events::Hub;
use input::{CompletionTarget, Input};

/// The command line of `zkrs-cli` (`ZooKeeperMain.MyCommandOptions.parseOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub server: String,
    pub timeout: String,
    pub wait_for_connection: bool,
    pub read_only: bool,
    /// The command and its arguments, for one-shot mode.
    pub command: Option<Vec<String>>,
}

impl Options {
    /// Parses like zkCli: options until the first word that does not start with `-`, which
    /// starts the command. Unknown options are ignored; an option missing its value stops
    /// the parsing with a message.
    pub fn parse(args: &[String]) -> Options {
        let mut o = Options {
            server: "localhost:2181".into(),
            timeout: "30000".into(),
            wait_for_connection: false,
            read_only: false,
            command: None,
        };
        let mut it = args.iter().enumerate();
        while let Some((i, opt)) = it.next() {
            let slot = match opt.as_str() {
                "-server" => Some(&mut o.server),
                "-timeout" => Some(&mut o.timeout),
                "-client-configuration" => None,
                "-r" => {
                    o.read_only = true;
                    continue;
                }
                "-waitforconnection" => {
                    o.wait_for_connection = true;
                    continue;
                }
                s if !s.starts_with('-') => {
                    o.command = Some(args[i..].to_vec());
                    break;
                }
                _ => continue,
            };
            match it.next() {
                Some((_, value)) => {
                    if let Some(slot) = slot {
                        *slot = value.clone();
                    }
                }
                None => {
                    say_err(&format!("Error: no argument found for option {opt}\n"));
                    break;
                }
            }
        }
        o
    }
}

/// What the shell does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

struct Shell {
    opts: Options,
    timeout: Duration,
    hub: Arc<Hub>,
    session: Session,
    completion: CompletionTarget,
    history: HashMap<i64, String>,
    count: i64,
    exit_code: u8,
}

/// Entry point, called by `main.rs` for everything but `zkrs-cli bench`.
pub fn main(args: &[String]) -> ExitCode {
    let opts = Options::parse(args);
    let Some(timeout_ms) = parse::java_parse_int(&opts.timeout).filter(|t| *t > 0) else {
        say_err(&format!(
            "Error: invalid -timeout {:?} (milliseconds expected)
",
            opts.timeout
        ));
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say_err(&format!("zkrs-cli: cannot start the runtime: {e}\n"));
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_millis(timeout_ms as u64);
    let code = runtime.block_on(run(opts, timeout));
    ExitCode::from(code)
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn say_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

async fn run(opts: Options, timeout: Duration) -> u8 {
    let hub = Hub::new();
    let hub_task = tokio::spawn(Arc::clone(&hub).run());
    say(&format!("Connecting to {}\n", opts.server));
    let session = match Session::start(&opts.server, timeout, &hub) {
        Ok(s) => s,
        Err(e) => {
            say_err(&format!("{e}\n"));
            hub_task.abort();
            return 1;
        }
    };
    let completion: CompletionTarget = Arc::new(Mutex::new(Some(session.phase_watcher())));
    let mut shell = Shell {
        opts: opts.clone(),
        timeout,
        hub: Arc::clone(&hub),
        session,
        completion: Arc::clone(&completion),
        history: HashMap::new(),
        count: 0,
        exit_code: 0,
    };
    if opts.wait_for_connection && !shell.wait_for_connection().await {
        say_err(&format!("{}\n", format::keeper_message(-4, None)));
        hub_task.abort();
        return 1;
    }
    if let Some(command) = opts.command.clone() {
        let flow = shell.process_cmd(command).await;
        shell.finish(flow == Flow::Quit).await;
        hub_task.abort();
        return shell.exit_code;
    }
    let terminal = std::io::stdin().is_terminal();
    say("Welcome to ZooKeeper!\n");
    say(&format!(
        "JLine support is {}\n",
        if terminal { "enabled" } else { "disabled" }
    ));
    let mut input = Input::start(terminal, Arc::clone(&hub), completion);
    let mut quit = false;
    while let Some(line) = input.read_line(shell.prompt()).await {
        if shell.execute_line(line).await == Flow::Quit {
            quit = true;
            break;
        }
    }
    shell.finish(quit).await;
    hub_task.abort();
    shell.exit_code
}

impl Shell {
    fn prompt(&self) -> String {
        format!(
            "[zk: {}({}) {}] ",
            self.session.host,
            self.session.state_name(),
            self.count
        )
    }

    /// `-waitforconnection`: waits for the session for at most the session timeout.
    async fn wait_for_connection(&mut self) -> bool {
        let ok = self.session.wait_connected(self.timeout).await;
        if !ok {
            self.session.close(&self.hub, true).await;
        }
        self.hub.drain();
        ok
    }

    /// The end: `quit` closes the session and shows the `Closed` event; at the end of input
    /// or of a one-shot command the session is closed quietly (zkCli leaves it to expire).
    async fn finish(&mut self, announce: bool) {
        if announce {
            self.session.close(&self.hub, false).await;
            self.hub.drain();
        } else {
            self.hub.drain();
            self.hub.set_print(false);
            self.session.close(&self.hub, true).await;
        }
    }

    /// `executeLine`: empty lines are ignored; every other line is numbered and kept.
    async fn execute_line(&mut self, line: String) -> Flow {
        if line.is_empty() {
            return Flow::Continue;
        }
        let tokens = parse::tokenize(&line);
        if tokens.is_empty() {
            return Flow::Continue;
        }
        self.history.insert(self.count, line);
        let flow = self.process_cmd(tokens).await;
        self.count += 1;
        flow
    }

    /// `processCmd`: runs a command and records its exit status.
    async fn process_cmd(&mut self, args: Vec<String>) -> Flow {
        match self.process_zk_cmd(args).await {
            Ok(Flow::Quit) => Flow::Quit,
            Ok(Flow::Continue) => {
                self.exit_code = 0;
                Flow::Continue
            }
            Err(e) => {
                self.hub.drain();
                say_err(&format!("{}\n", e.message));
                self.exit_code = e.code;
                Flow::Continue
            }
        }
    }

    fn out(&self, line: &str) {
        self.hub.drain();
        say(&format!("{line}\n"));
    }

    fn usage(&self) {
        self.hub.drain();
        say_err(&commands::usage_text());
    }

    async fn process_zk_cmd(&mut self, args: Vec<String>) -> Result<Flow, CliError> {
        let Some(cmd) = args.first().cloned() else {
            self.usage();
            return Err(CliError::new("No command entered"));
        };
        if !commands::is_command(&cmd) {
            self.usage();
            return Err(CliError::not_found(&cmd));
        }
        match cmd.as_str() {
            "quit" => return Ok(Flow::Quit),
            "redo" if args.len() >= 2 => {
                let Some(i) = parse::java_decode_int(&args[1]) else {
                    return Err(CliError::new(format!(
                        "java.lang.NumberFormatException: For input string: \"{}\"",
                        args[1]
                    )));
                };
                let i = i64::from(i);
                if self.count <= i || i < 0 {
                    return Err(CliError::new("Command index out of range"));
                }
                let line = self.history.get(&i).cloned().unwrap_or_default();
                let tokens = parse::tokenize(&line);
                if tokens.first().map(String::as_str) == Some("redo") {
                    return Err(CliError::new("No redoing redos"));
                }
                self.history.insert(self.count, line);
                if Box::pin(self.process_cmd(tokens)).await == Flow::Quit {
                    return Ok(Flow::Quit);
                }
            }
            "history" => {
                for i in self.count - 10..=self.count {
                    if i < 0 {
                        continue;
                    }
                    let entry = self.history.get(&i).map_or("null", String::as_str);
                    self.out(&format!("{i} - {entry}"));
                }
            }
            "printwatches" => {
                if args.len() == 1 {
                    let on = if self.hub.print_enabled() {
                        "on"
                    } else {
                        "off"
                    };
                    self.out(&format!("printwatches is {on}"));
                } else {
                    self.hub.drain();
                    self.hub.set_print(args[1] == "on");
                }
            }
            "connect" => {
                let host = args
                    .get(1)
                    .cloned()
                    .unwrap_or_else(|| self.session.host.clone());
                self.connect(&host).await;
            }
            _ => {}
        }
        // Everything below needs a live session.
        if !self.session.is_alive() {
            self.out("Not connected");
            return Ok(Flow::Continue);
        }
        if matches!(
            cmd.as_str(),
            "quit" | "redo" | "history" | "printwatches" | "connect"
        ) {
            return Ok(Flow::Continue);
        }
        let mut ctx = Ctx {
            hub: &self.hub,
            session: &mut self.session,
        };
        commands::run(&mut ctx, args).await?;
        Ok(Flow::Continue)
    }

    /// `connectToZK`: closes the current session if it is alive and connects anew.
    async fn connect(&mut self, host: &str) {
        self.session.close(&self.hub, false).await;
        self.session = match Session::start(host, self.timeout, &self.hub) {
            Ok(s) => s,
            Err(e) => {
                self.hub.drain();
                say_err(&format!("{e}\n"));
                Session::dead(host)
            }
        };
        if let Ok(mut target) = self.completion.lock() {
            *target = Some(self.session.phase_watcher());
        }
        if self.opts.wait_for_connection && !self.wait_for_connection().await {
            self.hub.drain();
            say_err(&format!("{}\n", format::keeper_message(-4, None)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_line_options() {
        let o = Options::parse(&[]);
        assert_eq!(o.server, "localhost:2181");
        assert_eq!(o.timeout, "30000");
        assert!(!o.wait_for_connection);
        assert_eq!(o.command, None);

        let o = Options::parse(&args(&[
            "-server",
            "127.0.0.1:2181,127.0.0.1:2182/app",
            "-timeout",
            "5000",
            "-waitforconnection",
            "ls",
            "-s",
            "/",
        ]));
        assert_eq!(o.server, "127.0.0.1:2181,127.0.0.1:2182/app");
        assert_eq!(o.timeout, "5000");
        assert!(o.wait_for_connection);
        assert_eq!(o.command, Some(args(&["ls", "-s", "/"])));

        // Unknown options are skipped; the first plain word starts the command.
        let o = Options::parse(&args(&["-foo", "get", "-server", "x"]));
        assert_eq!(o.server, "localhost:2181");
        assert_eq!(o.command, Some(args(&["get", "-server", "x"])));

        let o = Options::parse(&args(&["-server"]));
        assert_eq!(o.server, "localhost:2181");
        assert_eq!(o.command, None);
        let o = Options::parse(&args(&["-client-configuration", "f.properties", "-r"]));
        assert!(o.read_only);
        assert_eq!(o.command, None);
    }
}
