//! Turns a [`Trace`] into comparable text, masking what legitimately differs between two
//! servers: times, session ids, the run's node names, and the values (not the order) of
//! zxids.
//!
//! zxids: every zxid a server put in a Stat (czxid, mzxid, pzxid) of this run, plus the
//! reply-header zxid of every *successful* write (create*, delete, setData, setACL, closeSession,
//! a multi whose results are all OK) forms the set `S` of that server's known transaction
//! zxids. Any zxid `z` observed (in a Stat or a reply header of any request) is shown as
//! `z<n>` with `n = |{s in S : s <= z}|`. So two zxids compare equal/less on one server iff
//! they do on the other, and a header zxid of a read or of a failed write is shown as "after
//! the n-th known transaction", whatever gaps the server left in between (Apache spends a
//! zxid on every failed write and on session creation; zkrs does not on failed writes: a
//! deliberate difference). The standalone `check` is left out of `S` for the same reason.

use std::collections::HashMap;
use std::fmt::Write as _;

use zkrs_proto::{MultiResult, OpCode, Response, Stat, Writer};

use super::exec::{Facts, Outcome, RawEvent, RawStep, Trace};

/// One step, normalised. Two servers agree on a step iff all fields are equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub op_index: Option<usize>,
    /// The operation kind (e.g. `create2`, `multi`), for grouping divergences.
    pub kind: &'static str,
    pub slot: usize,
    /// The resolved request.
    pub request: String,
    /// The reply header's error code; `None` if no reply came.
    pub err: Option<i32>,
    /// The reply header's zxid, normalised (see the module doc).
    pub zxid: Option<usize>,
    /// The decoded, normalised reply body.
    pub body: String,
    /// Notifications, in the order received, and session notes.
    pub events: Vec<String>,
    /// Whether every path of the request is valid by Apache's `PathUtils.validatePath`.
    pub paths_valid: bool,
    /// For multi and multiRead: each operation of the request, and each result (the body
    /// is made of these), for the known-divergence masks.
    pub parts: Vec<String>,
    pub results: Vec<String>,
    /// What the run knew before the step (the same on both servers while they agree).
    pub facts: Facts,
}

impl Step {
    /// The reply as one line: `NoNode z5 <body>`.
    pub fn reply_line(&self) -> String {
        match self.err {
            None => format!("no reply; {}", self.body),
            Some(err) => {
                let mut s = format!(
                    "{} z{}",
                    err_name(err),
                    self.zxid.map_or("?".into(), |z| z.to_string())
                );
                if !self.body.is_empty() {
                    let _ = write!(s, " {}", self.body);
                }
                s
            }
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idx = self
            .op_index
            .map_or_else(|| "--".to_string(), |i| format!("#{i}"));
        writeln!(f, "{idx:<4} {}", self.request)?;
        writeln!(f, "       => {}", self.reply_line())?;
        for e in &self.events {
            writeln!(f, "       ~ {e}")?;
        }
        Ok(())
    }
}

pub fn err_name(err: i32) -> String {
    match zkrs_proto::ErrorCode::from_code(err) {
        zkrs_proto::ErrorCode::Unknown(c) => format!("err{c}"),
        known => format!("{known:?}"),
    }
}

fn event_name(t: i32) -> String {
    match t {
        1 => "NodeCreated".into(),
        2 => "NodeDeleted".into(),
        3 => "NodeDataChanged".into(),
        4 => "NodeChildrenChanged".into(),
        5 => "DataWatchRemoved".into(),
        6 => "ChildWatchRemoved".into(),
        7 => "PersistentWatchRemoved".into(),
        -1 => "None".into(),
        other => format!("event{other}"),
    }
}

fn is_write(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::CloseSession
    )
}

/// Whether `path` is below the run's base node (the run's root, `/R`, and its siblings that
/// a sequential create of `/R` makes).
fn inside(base: &str, path: &str) -> bool {
    path.strip_prefix(base)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether the answer `resp` (to the request on `path`) is about a node of this run. Answers
/// about other nodes (Apache reads `""` as `/`) depend on the other runs: they are masked.
fn visible(root: &str, opcode: OpCode, path: Option<&String>, resp: &Response) -> bool {
    match resp {
        Response::Create(p) | Response::Create2(p, _) => inside(root, p),
        // Only about the session's own ephemerals, wherever they are.
        Response::GetEphemerals(_) => true,
        _ if opcode == OpCode::GetEphemerals => true,
        _ => path.is_none() || path.is_some_and(|p| inside(root, p)),
    }
}

/// The result of the `i`-th operation of a multi as a response of its own.
fn as_response(r: &MultiResult) -> Response {
    match r {
        MultiResult::Create(p) => Response::Create(p.clone()),
        MultiResult::Create2(p, s) => Response::Create2(p.clone(), *s),
        MultiResult::SetData(s) => Response::Stat(*s),
        MultiResult::GetData(d, s) => Response::GetData(d.clone(), *s),
        MultiResult::GetChildren(c) => Response::GetChildren(c.clone()),
        MultiResult::Delete | MultiResult::Check | MultiResult::Error(_) => Response::Empty,
    }
}

/// The Stats in a reply that are about nodes of this run.
fn visible_stats(root: &str, step: &RawStep, resp: &Response, out: &mut Vec<Stat>) {
    let mut one = |path: Option<&String>, resp: &Response| {
        if !visible(root, step.opcode, path, resp) {
            return;
        }
        match resp {
            Response::Create2(_, s)
            | Response::Stat(s)
            | Response::GetData(_, s)
            | Response::GetAcl(_, s)
            | Response::GetChildren2(_, s) => out.push(*s),
            _ => {}
        }
    };
    match resp {
        Response::Multi(results) => {
            for (i, r) in results.iter().enumerate() {
                one(step.paths.get(i), &as_response(r));
            }
        }
        other => one(step.paths.first(), other),
    }
}

/// Decodes a successful reply body; `None` unless re-encoding gives back the same bytes
/// (then nothing was lost by decoding).
fn decode(op: OpCode, body: &[u8]) -> Option<Response> {
    let resp = Response::decode(op, body).ok()?;
    let mut w = Writer::new();
    resp.write(&mut w);
    (w.into_inner() == body).then_some(resp)
}

struct Ctx<'a> {
    /// The run's base node (see [`Trace::base`]).
    root: &'a str,
    sessions: HashMap<i64, usize>,
    /// The known transaction zxids, sorted, deduplicated.
    known: Vec<i64>,
}

impl Ctx<'_> {
    fn zxid(&self, z: i64) -> usize {
        self.known.partition_point(|&s| s <= z)
    }

    fn path(&self, p: &str) -> String {
        let p = match p.strip_prefix(self.root) {
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => p.to_string(),
        };
        if !p.is_empty() && p.chars().all(|c| !c.is_control() && c != ' ') {
            p
        } else {
            format!("{p:?}")
        }
    }

    fn owner(&self, id: i64) -> String {
        match id {
            0 => "0".into(),
            id => match self.sessions.get(&id) {
                Some(n) => format!("session#{n}"),
                None => "foreign".into(),
            },
        }
    }

    fn stat(&self, s: &Stat) -> String {
        format!(
            "{{c=z{} m=z{} p=z{} v={} cv={} av={} owner={} len={} nc={}}}",
            self.zxid(s.czxid),
            self.zxid(s.mzxid),
            self.zxid(s.pzxid),
            s.version,
            s.cversion,
            s.aversion,
            self.owner(s.ephemeral_owner),
            s.data_length,
            s.num_children
        )
    }

    fn sorted(&self, names: &[String]) -> String {
        let mut v = names.to_vec();
        v.sort();
        format!("[{}]", v.join(", "))
    }

    fn response(&self, resp: &Response) -> String {
        match resp {
            Response::Empty => String::new(),
            Response::Create(p) => format!("name={}", self.path(p)),
            Response::Create2(p, s) => format!("name={} stat={}", self.path(p), self.stat(s)),
            Response::Stat(s) => format!("stat={}", self.stat(s)),
            Response::GetData(d, s) => format!("data={} stat={}", data(d), self.stat(s)),
            Response::GetAcl(acl, s) => {
                let acl: Vec<String> = acl
                    .iter()
                    .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
                    .collect();
                format!("acl={} stat={}", self.sorted(&acl), self.stat(s))
            }
            Response::GetChildren(c) => format!("children={}", self.sorted(c)),
            Response::GetChildren2(c, s) => {
                format!("children={} stat={}", self.sorted(c), self.stat(s))
            }
            Response::Sync(p) => format!("path={}", self.path(p)),
            // Formatted per result by `normalize_step`, which knows each operation's path.
            Response::Multi(results) => {
                let parts: Vec<String> =
                    results.iter().map(|r| self.multi_result(r, None)).collect();
                format!("results=[{}]", parts.join("; "))
            }
            Response::GetEphemerals(v) => {
                let v: Vec<String> = v.iter().map(|p| self.path(p)).collect();
                format!("ephemerals={}", self.sorted(&v))
            }
            Response::GetAllChildrenNumber(n) => format!("count={n}"),
            Response::WhoAmI(infos) => {
                let v: Vec<String> = infos
                    .iter()
                    .map(|i| format!("{}:{}", i.auth_scheme, i.user))
                    .collect();
                format!("whoami={}", self.sorted(&v))
            }
            Response::ErrorCode(n) => format!("errorResponse={n}"),
        }
    }

    /// A response to the request on `path`, masked if it is about a node outside the run.
    fn visible_response(&self, opcode: OpCode, path: Option<&String>, resp: &Response) -> String {
        if visible(self.root, opcode, path, resp) {
            self.response(resp)
        } else {
            "<about a node outside the run: masked>".into()
        }
    }

    fn multi_result(&self, r: &MultiResult, path: Option<&String>) -> String {
        if !visible(self.root, OpCode::Multi, path, &as_response(r)) {
            return "<about a node outside the run: masked>".into();
        }
        match r {
            MultiResult::Create(p) => format!("create {}", self.path(p)),
            MultiResult::Create2(p, s) => format!("create2 {} {}", self.path(p), self.stat(s)),
            MultiResult::Delete => "delete".into(),
            MultiResult::SetData(s) => format!("setData {}", self.stat(s)),
            MultiResult::Check => "check".into(),
            MultiResult::GetData(d, s) => format!("getData {} {}", data(d), self.stat(s)),
            MultiResult::GetChildren(c) => format!("getChildren {}", self.sorted(c)),
            MultiResult::Error(e) => format!("error {}", err_name(*e)),
        }
    }

    fn event(&self, e: &RawEvent) -> String {
        let mut s = format!("{} {}", event_name(e.event_type), self.path(&e.path));
        if e.state != 3 {
            let _ = write!(s, " state={}", e.state);
        }
        s
    }
}

fn data(d: &Option<Vec<u8>>) -> String {
    match d {
        None => "null".into(),
        Some(bytes) if bytes.len() <= 40 => match std::str::from_utf8(bytes) {
            Ok(s) => format!("{s:?}"),
            Err(_) => hex(bytes),
        },
        Some(bytes) => {
            // FNV-1a, to tell long values apart without printing them.
            let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            format!("<{} bytes, fnv {h:016x}>", bytes.len())
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::from("0x"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Normalises every step of `trace`.
pub fn normalize(trace: &Trace) -> Vec<Step> {
    let sessions = trace
        .session_ids
        .iter()
        .enumerate()
        .map(|(n, &id)| (id, n))
        .collect();
    let mut known = Vec::new();
    let decoded: Vec<Option<Response>> = trace
        .steps
        .iter()
        .map(|step| match &step.outcome {
            Outcome::Reply { err: 0, body, .. } => decode(step.opcode, body),
            _ => None,
        })
        .collect();
    for (step, resp) in trace.steps.iter().zip(&decoded) {
        let Some(resp) = resp else { continue };
        let mut stats = Vec::new();
        visible_stats(&trace.base, step, resp, &mut stats);
        for s in stats {
            known.extend([s.czxid, s.mzxid, s.pzxid]);
        }
        let failed_multi = matches!(resp, Response::Multi(rs)
            if rs.iter().any(|r| matches!(r, MultiResult::Error(_))));
        if let Outcome::Reply { zxid, .. } = step.outcome {
            if is_write(step.opcode) && !failed_multi {
                known.push(zxid);
            }
        }
    }
    known.sort_unstable();
    known.dedup();
    let ctx = Ctx {
        root: &trace.base,
        sessions,
        known,
    };
    trace
        .steps
        .iter()
        .zip(&decoded)
        .map(|(step, resp)| normalize_step(&ctx, step, resp.as_ref()))
        .collect()
}

fn normalize_step(ctx: &Ctx<'_>, step: &RawStep, resp: Option<&Response>) -> Step {
    let mut results = Vec::new();
    let (err, zxid, body) = match &step.outcome {
        Outcome::Reply { zxid, err, body } => {
            let text = match resp {
                Some(Response::Multi(rs)) => {
                    results = rs
                        .iter()
                        .enumerate()
                        .map(|(i, r)| ctx.multi_result(r, step.paths.get(i)))
                        .collect();
                    format!("results=[{}]", results.join("; "))
                }
                Some(r) => ctx.visible_response(step.opcode, step.paths.first(), r),
                None if body.is_empty() => String::new(),
                None if *err == 0 => format!("undecodable body {}", hex(body)),
                None => format!("body {}", hex(body)),
            };
            (Some(*err), Some(ctx.zxid(*zxid)), text)
        }
        Outcome::Lost(why) => (None, None, why.clone()),
    };
    let mut events: Vec<String> = step
        .pre_events
        .iter()
        .map(|e| format!("s{}: {} (before the reply)", step.slot, ctx.event(e)))
        .collect();
    let mut drained: Vec<String> = step
        .drained
        .iter()
        .map(|(slot, e)| format!("s{slot}: {}", ctx.event(e)))
        .collect();
    if step.kind == "closeSession" {
        // One transaction deletes all the session's ephemerals, in no defined order (Apache:
        // its hash set's): compare the notifications it causes as a set, per session.
        events.sort();
        drained.sort();
    }
    events.extend(drained);
    events.extend(step.notes.iter().map(|n| format!("note: {n}")));
    Step {
        paths_valid: step.paths.iter().all(|p| valid_path(p)),
        parts: step.parts.clone(),
        results,
        facts: step.facts.clone(),
        op_index: step.op_index,
        kind: step.kind,
        slot: step.slot,
        request: step.request.clone(),
        err,
        zxid,
        body,
        events,
    }
}

/// Apache's `PathUtils.validatePath`, written out: absolute, no empty, `.` or `..` component,
/// no trailing slash, none of the characters Apache refuses.
pub fn valid_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let bad_char = |c: char| {
        matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}')
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
    };
    rest.split('/')
        .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains(bad_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths_as_apache_sees_them() {
        for ok in ["/", "/a", "/a/b", "/a b", "/\u{e9}", "/a-._~"] {
            assert!(valid_path(ok), "{ok:?}");
        }
        for bad in [
            "",
            "a",
            "a/b",
            "/a/",
            "//a",
            "/a//b",
            "/./a",
            "/..",
            "/a/../b",
            "/a\u{0}b",
            "/a\u{1f}",
            "/x\u{e000}",
            "/\u{fff5}",
        ] {
            assert!(!valid_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn zxids_are_shown_by_rank_among_known_transactions() {
        let ctx = Ctx {
            root: "/d1",
            sessions: HashMap::new(),
            known: vec![10, 12, 20],
        };
        // Known transactions: their rank. Anything else: how many known ones precede it,
        // so a gap (an Apache error transaction at 11) reads like the transaction before.
        assert_eq!(
            [0, 10, 11, 12, 19, 20, 25].map(|z| ctx.zxid(z)),
            [0, 1, 1, 2, 2, 3, 3]
        );
        assert_eq!(ctx.path("/d1/R/a"), "/R/a");
        assert_eq!(ctx.path("/d1/R0000000001"), "/R0000000001");
        assert_eq!(ctx.path("/d12/R"), "/d12/R");
    }
}
