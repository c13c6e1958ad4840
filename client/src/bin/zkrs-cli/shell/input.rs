//! Reading command lines on a thread of their own, so that watch events keep printing while
//! the shell waits: plain lines from a pipe or file, or rustyline (line editing, history, tab
//! completion of commands and znode paths) on a terminal.

use std::io::BufRead;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Editor, Helper};
use tokio::sync::{mpsc, watch};

use super::conn::Phase;
use super::events::Hub;
use super::parse::java_cmp;

/// What the input thread answers: a line, or `None` at end of input (or Ctrl-C/Ctrl-D).
type Reply = Option<String>;

pub struct Input {
    prompts: std_mpsc::Sender<String>,
    lines: mpsc::UnboundedReceiver<Reply>,
}

/// The session whose znodes tab completion lists; replaced on `connect`.
pub type CompletionTarget = Arc<Mutex<Option<watch::Receiver<Phase>>>>;

impl Input {
    /// Starts the input thread: rustyline when `terminal`, else plain lines from stdin.
    pub fn start(terminal: bool, hub: Arc<Hub>, target: CompletionTarget) -> Input {
        let (prompt_tx, prompt_rx) = std_mpsc::channel::<String>();
        let (line_tx, line_rx) = mpsc::unbounded_channel::<Reply>();
        let handle = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("zkrs-cli-input".into())
            .spawn(move || {
                if terminal {
                    edit_lines(prompt_rx, line_tx, hub, target, handle);
                } else {
                    plain_lines(prompt_rx, line_tx);
                }
            })
            .ok();
        Input {
            prompts: prompt_tx,
            lines: line_rx,
        }
    }

    /// The next line (the prompt is shown only on a terminal).
    pub async fn read_line(&mut self, prompt: String) -> Option<String> {
        if self.prompts.send(prompt).is_err() {
            return None;
        }
        self.lines.recv().await.flatten()
    }
}

/// `BufferedReader.readLine` on stdin: lines end with `\n`, `\r\n` or `\r`.
fn plain_lines(prompts: std_mpsc::Receiver<String>, lines: mpsc::UnboundedSender<Reply>) {
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut buf = Vec::new();
    while prompts.recv().is_ok() {
        buf.clear();
        let line = match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                Some(String::from_utf8_lossy(&buf).into_owned())
            }
        };
        let eof = line.is_none();
        if lines.send(line).is_err() || eof {
            return;
        }
    }
}

fn edit_lines(
    prompts: std_mpsc::Receiver<String>,
    lines: mpsc::UnboundedSender<Reply>,
    hub: Arc<Hub>,
    target: CompletionTarget,
    handle: tokio::runtime::Handle,
) {
    let config = Config::builder()
        .auto_add_history(true)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ZkHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(_) => return plain_lines(prompts, lines),
    };
    editor.set_helper(Some(ZkHelper { target, handle }));
    if let Ok(printer) = editor.create_external_printer() {
        hub.set_printer(Box::new(printer));
    }
    while let Ok(prompt) = prompts.recv() {
        let line = editor.readline(&prompt).ok();
        let eof = line.is_none();
        if lines.send(line).is_err() || eof {
            return;
        }
    }
}

/// Completes command names, and znode paths by listing the parent's children, like zkCli's
/// `JLineZNodeCompleter`.
struct ZkHelper {
    target: CompletionTarget,
    handle: tokio::runtime::Handle,
}

impl ZkHelper {
    fn children(&self, dir: &str) -> Vec<String> {
        let client = {
            let Ok(target) = self.target.lock() else {
                return Vec::new();
            };
            match target.as_ref().map(|rx| rx.borrow().clone()) {
                Some(Phase::Ready(c)) if c.state().is_connected() => c,
                _ => return Vec::new(),
            }
        };
        let dir = dir.to_string();
        // The runtime runs on the main thread, which is waiting for this line.
        self.handle.block_on(async move {
            tokio::time::timeout(Duration::from_secs(5), client.get_children(&dir))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        })
    }
}

/// The completion of `line` up to the cursor: where the replaced word starts and the
/// candidates. `children` lists a znode's children.
pub fn complete_line(
    line: &str,
    children: impl FnOnce(&str) -> Vec<String>,
) -> (usize, Vec<String>) {
    let token = if line.ends_with(' ') {
        ""
    } else {
        line.rsplit(' ').next().unwrap_or("")
    };
    if token.starts_with('/') {
        let idx = token.rfind('/').map_or(0, |i| i + 1);
        let prefix = &token[idx..];
        let dir = if idx == 1 { "/" } else { &token[..idx - 1] };
        let mut found: Vec<String> = children(dir)
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        found.sort_by(|a, b| java_cmp(a, b));
        let start = line.rfind('/').map_or(line.len(), |i| i + 1);
        return (start, found);
    }
    let found = super::commands::command_names()
        .into_iter()
        .filter(|c| c.starts_with(token))
        .map(str::to_string)
        .collect();
    (line.rfind(' ').map_or(0, |i| i + 1), found)
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let line = line.get(..pos).unwrap_or(line);
        let (start, found) = complete_line(line, |dir| self.children(dir));
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}

impl Highlighter for ZkHelper {}

impl Validator for ZkHelper {}

impl Helper for ZkHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_and_paths() {
        let none = |_: &str| -> Vec<String> { panic!("no znode listing expected") };
        let (start, c) = complete_line("ge", none);
        assert_eq!(start, 0);
        assert_eq!(
            c,
            ["get", "getAcl", "getAllChildrenNumber", "getEphemerals"]
        );
        let (start, c) = complete_line("ls /zoo", |dir| {
            assert_eq!(dir, "/");
            vec!["zookeeper".into(), "zoo2".into(), "app".into()]
        });
        assert_eq!(start, 4);
        assert_eq!(c, ["zoo2", "zookeeper"]);
        let (start, c) = complete_line("get /app/con", |dir| {
            assert_eq!(dir, "/app");
            vec!["config".into(), "conn".into(), "data".into()]
        });
        assert_eq!(start, 9);
        assert_eq!(c, ["config", "conn"]);
        let (start, c) = complete_line("ls /app/", |dir| {
            assert_eq!(dir, "/app");
            vec!["b".into(), "a".into()]
        });
        assert_eq!(start, 8);
        assert_eq!(c, ["a", "b"]);
        let (_, c) = complete_line("ls ", none);
        assert!(c.contains(&"addWatch".to_string()));
    }
}
