//! The history of a run: every operation a client invoked and how it completed, and every
//! fault the nemesis injected, in the order they happened.
//!
//! The format follows Jepsen's: an operation is an `invoke` event and, later, one
//! completion by the same process: `ok` (it took effect, with what it returned), `fail` (it
//! certainly did not take effect) or `info` (unknown: a timeout or a lost connection; it may
//! take effect at any later time, or never). A process has at most one operation in
//! flight; after an `info` the client continues as a new process, because the old one's
//! operation stays open forever. Events are numbered in the order they were recorded (one
//! lock), so the index is the time the checkers use; `time_ms` is wall time since the run
//! started, for people. A history is written as JSON lines (`history.jsonl`).

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The process id of the nemesis's events.
pub const NEMESIS: u64 = u64::MAX;

/// How an event relates to its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// What an operation does, with what it returned once completed (`None` while unknown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// Register: read `key` (sync, then getData).
    Read { key: u64, value: Option<i64> },
    /// Register: setData of `key` to `value`.
    Write { key: u64, value: i64 },
    /// Register: set `key` to `to` if it holds `from` (setData with the version read).
    Cas { key: u64, from: i64, to: i64 },
    /// Set: create the persistent node of `element`.
    Add { element: u64 },
    /// Set: the elements one member holds after recovery.
    ReadSet {
        member: u32,
        elements: Option<Vec<u64>>,
    },
    /// Unique ids: create a sequential node; the name the server gave it.
    GenerateId { name: Option<String> },
    /// Unique ids: the sequential names one member holds after recovery.
    ReadIds {
        member: u32,
        names: Option<Vec<String>>,
    },
    /// Counter: a multi that sets the counter to its value + 1 (version-checked) and
    /// creates the marker node `marker`.
    Increment { marker: u64 },
    /// Counter: the counter's value and the markers one member holds after recovery (or,
    /// during the run, the value a client read, `markers` empty).
    ReadCounter {
        member: Option<u32>,
        value: Option<i64>,
        markers: Option<Vec<u64>>,
    },
    /// Queue: add `value` (a sequential node holding it).
    Enqueue { value: u64 },
    /// Queue: take the oldest element (delete the lowest sequential node, version-checked).
    Dequeue { value: Option<u64> },
    /// Queue: every value left after recovery.
    Drain { values: Option<Vec<u64>> },
    /// Sessions: open a session and create its ephemeral node; the session's id.
    OpenSession { session: Option<i64> },
    /// Sessions: `sync`, then whether the session's own ephemeral exists, read through
    /// the session itself.
    CheckEphemeral { session: i64, present: Option<bool> },
    /// Sessions: the client learnt that its session expired.
    SessionExpired { session: i64 },
    /// Sessions: the client closed its session (the crate closes it in the background,
    /// so the outcome is always unknown).
    CloseSession { session: i64 },
    /// Sessions: the owners of the ephemerals one member holds after recovery and after
    /// every client ended its session.
    ReadEphemerals {
        member: u32,
        sessions: Option<Vec<i64>>,
    },
    /// Watches: setData of the watched node to `value` (increasing).
    WatchedWrite { value: i64 },
    /// Watches: a watcher's read of the node, right after its persistent watch fired (or
    /// once when it set the watch).
    Observed { value: Option<i64> },
    /// Watches: after recovery, the last value a watcher whose session lived to the end
    /// observed, once the final write was made.
    WatchEnded { last: Option<i64>, sentinel: i64 },
    /// A fault, begun or healed (`fault` says what; process [`NEMESIS`]).
    Nemesis { fault: String },
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub index: usize,
    pub time_ms: u64,
    pub process: u64,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(flatten)]
    pub op: Op,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// A history being recorded by many tasks at once.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            start: Instant::now(),
            events: Arc::default(),
        }
    }
}

impl Recorder {
    /// Records an event and returns its index.
    pub fn record(&self, process: u64, kind: Kind, op: Op, error: Option<String>) -> usize {
        let time_ms = self.start.elapsed().as_millis() as u64;
        let mut events = self.events.lock().expect("history lock");
        let index = events.len();
        events.push(Event {
            index,
            time_ms,
            process,
            kind,
            op,
            error,
        });
        index
    }

    pub fn invoke(&self, process: u64, op: Op) {
        self.record(process, Kind::Invoke, op, None);
    }

    /// A nemesis event (a fault begun or healed).
    pub fn nemesis(&self, fault: impl Into<String>) {
        self.record(
            NEMESIS,
            Kind::Info,
            Op::Nemesis {
                fault: fault.into(),
            },
            None,
        );
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("history lock").clone()
    }
}

/// An operation: its invocation and completion paired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub process: u64,
    /// The index of the invoke event.
    pub invoked: usize,
    /// The index of the completion, and how it completed; `None` if it never completed
    /// (the run ended first), which counts as `info`.
    pub completed: Option<(usize, Kind)>,
    /// The completion's op when there is one (with the values returned), else the
    /// invocation's.
    pub op: Op,
}

impl Operation {
    /// Whether it certainly took effect.
    pub fn is_ok(&self) -> bool {
        matches!(self.completed, Some((_, Kind::Ok)))
    }

    /// Whether it certainly did not take effect.
    pub fn is_fail(&self) -> bool {
        matches!(self.completed, Some((_, Kind::Fail)))
    }

    /// Whether its outcome is unknown (`info`, or no completion at all).
    pub fn is_unknown(&self) -> bool {
        !self.is_ok() && !self.is_fail()
    }

    /// The index of its completion, for `ok` operations.
    pub fn returned(&self) -> Option<usize> {
        match self.completed {
            Some((i, Kind::Ok)) => Some(i),
            _ => None,
        }
    }
}

/// A history that breaks the format: a completion without an invocation, or a second
/// invocation while one is in flight.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HistoryError {
    #[error("event {index}: process {process} completes an operation it never invoked")]
    CompletionWithoutInvoke { index: usize, process: u64 },
    #[error(
        "event {index}: process {process} invokes while its operation of event {open} is in flight"
    )]
    DoubleInvoke {
        index: usize,
        process: u64,
        open: usize,
    },
}

/// Pairs every invocation with its completion (nemesis events are left out).
pub fn operations(events: &[Event]) -> Result<Vec<Operation>, HistoryError> {
    let mut open: std::collections::HashMap<u64, usize> = Default::default();
    let mut ops: Vec<Operation> = Vec::new();
    for e in events.iter().filter(|e| e.process != NEMESIS) {
        match e.kind {
            Kind::Invoke => {
                if let Some(&o) = open.get(&e.process) {
                    return Err(HistoryError::DoubleInvoke {
                        index: e.index,
                        process: e.process,
                        open: ops[o].invoked,
                    });
                }
                open.insert(e.process, ops.len());
                ops.push(Operation {
                    process: e.process,
                    invoked: e.index,
                    completed: None,
                    op: e.op.clone(),
                });
            }
            kind => {
                let Some(o) = open.remove(&e.process) else {
                    return Err(HistoryError::CompletionWithoutInvoke {
                        index: e.index,
                        process: e.process,
                    });
                };
                ops[o].completed = Some((e.index, kind));
                ops[o].op = e.op.clone();
            }
        }
    }
    Ok(ops)
}

/// Writes `events` as JSON lines.
pub fn write_jsonl(path: &Path, events: &[Event]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in events {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads a history written by [`write_jsonl`]; a bad line is an error naming it.
pub fn read_jsonl(path: &Path) -> anyhow::Result<Vec<Event>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut events = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_pair_with_their_completions_per_process() {
        let h = Recorder::default();
        h.invoke(1, Op::Write { key: 0, value: 3 });
        h.invoke(
            2,
            Op::Read {
                key: 0,
                value: None,
            },
        );
        h.nemesis("kill 2");
        h.record(
            2,
            Kind::Ok,
            Op::Read {
                key: 0,
                value: Some(3),
            },
            None,
        );
        h.record(
            1,
            Kind::Info,
            Op::Write { key: 0, value: 3 },
            Some("timeout".into()),
        );
        let ops = operations(&h.events()).expect("well formed");
        assert_eq!(ops.len(), 2);
        assert!(ops[0].is_unknown());
        assert_eq!(ops[1].returned(), Some(3));
        assert_eq!(
            ops[1].op,
            Op::Read {
                key: 0,
                value: Some(3)
            }
        );
    }

    #[test]
    fn a_history_survives_its_file_format() {
        let h = Recorder::default();
        h.invoke(
            7,
            Op::Cas {
                key: 1,
                from: 2,
                to: 4,
            },
        );
        h.record(
            7,
            Kind::Fail,
            Op::Cas {
                key: 1,
                from: 2,
                to: 4,
            },
            Some("bad version".into()),
        );
        h.nemesis("partition halves [1] [2 3]");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("history.jsonl");
        write_jsonl(&path, &h.events()).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.lines().next().unwrap().contains("\"f\":\"cas\""),
            "{text}"
        );
        assert_eq!(read_jsonl(&path).expect("parse"), h.events());
    }

    #[test]
    fn a_malformed_history_is_an_error() {
        let h = Recorder::default();
        h.record(3, Kind::Ok, Op::Add { element: 1 }, None);
        assert_eq!(
            operations(&h.events()),
            Err(HistoryError::CompletionWithoutInvoke {
                index: 0,
                process: 3
            })
        );
        let h = Recorder::default();
        h.invoke(3, Op::Add { element: 1 });
        h.invoke(3, Op::Add { element: 2 });
        assert!(matches!(
            operations(&h.events()),
            Err(HistoryError::DoubleInvoke { index: 1, .. })
        ));
    }
}
