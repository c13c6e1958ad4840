//! Step-by-step comparison of two normalised traces, and the list of known divergences.

use std::fmt;

use zkrs_proto::{ErrorCode, OpCode};

use super::exec::Facts;
use super::normalize::Step;
use super::workload::{CreateSpec, MultiOp, OpKind};

/// Which part of a step differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aspect {
    /// The resolved request (a spec resolved differently: an earlier answer differed unseen).
    Request,
    /// The reply header's error code, or one server did not reply.
    Err,
    /// The body of the reply.
    Body,
    /// The reply header's (normalised) zxid.
    Zxid,
    /// Notifications or session notes.
    Events,
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Aspect::Request => "request",
            Aspect::Err => "error code",
            Aspect::Body => "reply body",
            Aspect::Zxid => "reply zxid",
            Aspect::Events => "notifications",
        };
        f.write_str(s)
    }
}

/// The first aspect in which two steps differ, in order of importance.
pub fn differing_aspect(a: &Step, z: &Step) -> Option<Aspect> {
    if a.request != z.request {
        Some(Aspect::Request)
    } else if a.err != z.err {
        Some(Aspect::Err)
    } else if a.body != z.body {
        Some(Aspect::Body)
    } else if a.events != z.events {
        Some(Aspect::Events)
    } else if a.zxid != z.zxid {
        Some(Aspect::Zxid)
    } else {
        None
    }
}

/// How the harness lives with a known divergence.
#[derive(Clone, Copy)]
pub enum Handling {
    /// When a step differs, this rewrites the zkrs step (or the Apache one) to cancel out
    /// exactly this known difference, and says whether it applied; if the steps then agree,
    /// the step counts as agreeing. Masks compose: all enabled ones are tried, in order,
    /// again and again until none applies.
    /// Only for differences that leave both servers in the same state.
    Mask(fn(&mut Step, &mut Step) -> bool),
    /// The generator leaves out operations for which this returns true. For differences
    /// after which the two servers' states differ, so that nothing later could be compared.
    Avoid(fn(&OpKind) -> bool),
    /// The runner skips (on both servers) an operation for which this returns true, given
    /// what the run has seen so far. For state-dependent triggers the generator cannot see.
    Skip(fn(&OpKind, &Facts) -> bool),
}

/// A class of divergences that is known and not fixed yet.
pub struct KnownDivergence {
    pub name: &'static str,
    /// One line: what differs.
    pub reason: &'static str,
    pub handling: Handling,
}

/// Known divergences of zkrs from Apache ZooKeeper 3.8 that are not fixed yet. Each entry
/// is precise (it matches only the divergence it names) and can be switched off with
/// `ZKRS_DIFF_DISABLE=<name>,...` (or all with `ZKRS_DIFF_STRICT=1`); remove an entry when
/// the server is fixed.
pub const KNOWN: &[KnownDivergence] = &[
    KnownDivergence {
        name: "multi-create-flag-mismatch",
        reason: "inside multi, Apache checks opcode against flags differently from a lone \
                 create: createTTL with non-TTL flags creates the node, create/create2/\
                 createContainer with TTL flags fail the whole multi with MarshallingError; \
                 zkrs answers BadArguments for that op, as for a lone create",
        handling: Handling::Avoid(|op| match op {
            OpKind::Multi(_) => creates(op)
                .iter()
                .any(|c| (c.opcode == OpCode::CreateTtl) != matches!(c.flags, 5 | 6)),
            _ => false,
        }),
    },
    KnownDivergence {
        name: "same-path-watch-modes",
        reason: "a one-shot watch set on a path where the same session holds a persistent \
                 (recursive) watch: Apache 3.8 keeps one mode per session and path \
                 (ZOOKEEPER-4466, fixed in 3.9), so the one-shot watch replaces the \
                 persistent one; zkrs keeps both, as 3.9 does",
        handling: Handling::Skip(|op, facts| {
            let one_shot = matches!(
                op,
                OpKind::Exists(_, true)
                    | OpKind::GetData(_, true)
                    | OpKind::GetChildren(_, true)
                    | OpKind::GetChildren2(_, true)
            );
            (one_shot && facts.persistent_watch_on_path)
                || (matches!(op, OpKind::AddWatch(..)) && facts.own_watch_on_path)
        }),
    },
    KnownDivergence {
        name: "checkwatches-any-session",
        reason: "checkWatches: Apache 3.8 answers Ok when any session watches the path \
                 (WatchManager.containsWatcher does not compare the watcher), zkrs \
                 answers NoWatcher when this session does not (masked only where another \
                 session asked for a watch on the path)",
        handling: Handling::Mask(|a, z| {
            a.facts.others_watched_path
                && swap_error(a, z, &["checkWatches"], ErrorCode::Ok, ErrorCode::NoWatcher)
        }),
    },
    KnownDivergence {
        name: "watch-ops-invalid-path",
        reason: "addWatch/checkWatches/removeWatches on a malformed path: Apache does not \
                 validate it (Ok or NoWatcher; MarshallingError for a relative path), zkrs \
                 answers BadArguments (NoWatcher for a relative path)",
        handling: Handling::Mask(|a, z| {
            // The error code differs (and so the body: Apache's Ok to addWatch has one).
            let applies = matches!(a.kind, "addWatch" | "checkWatches" | "removeWatches")
                && !a.paths_valid
                && a.err != z.err
                && z.body.is_empty();
            if applies {
                z.err = a.err;
                z.body = a.body.clone();
            }
            applies
        }),
    },
];

/// For an op of one of `kinds` that Apache answered `apache` and zkrs `zkrs` (both with no
/// body): makes zkrs's error Apache's.
fn swap_error(a: &Step, z: &mut Step, kinds: &[&str], apache: ErrorCode, zkrs: ErrorCode) -> bool {
    let applies = kinds.contains(&a.kind)
        && a.err == Some(apache.code())
        && z.err == Some(zkrs.code())
        && a.body.is_empty()
        && z.body.is_empty();
    if applies {
        z.err = a.err;
    }
    applies
}

/// The creates in `op` (itself or inside a multi).
fn creates(op: &OpKind) -> Vec<&CreateSpec> {
    match op {
        OpKind::Create(c) => vec![c],
        OpKind::Multi(ops) => ops
            .iter()
            .filter_map(|o| match o {
                MultiOp::Create(c) => Some(c),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The known divergences that are switched on.
#[derive(Clone, Debug)]
pub struct KnownSet {
    enabled: Vec<&'static str>,
}

impl KnownSet {
    /// Every entry of [`KNOWN`].
    pub fn all() -> KnownSet {
        KnownSet {
            enabled: KNOWN.iter().map(|k| k.name).collect(),
        }
    }

    pub fn none() -> KnownSet {
        KnownSet {
            enabled: Vec::new(),
        }
    }

    /// From `ZKRS_DIFF_STRICT` and `ZKRS_DIFF_DISABLE`.
    pub fn from_env() -> KnownSet {
        if std::env::var("ZKRS_DIFF_STRICT").is_ok_and(|v| !v.is_empty() && v != "0") {
            return KnownSet::none();
        }
        let mut set = KnownSet::all();
        if let Ok(list) = std::env::var("ZKRS_DIFF_DISABLE") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                assert!(
                    KNOWN.iter().any(|k| k.name == name),
                    "ZKRS_DIFF_DISABLE names {name:?}, which is not a known divergence; known: {:?}",
                    KNOWN.iter().map(|k| k.name).collect::<Vec<_>>()
                );
                set.enabled.retain(|n| *n != name);
            }
        }
        set
    }

    /// The environment that selects this set, for a replay command line.
    pub fn env(&self) -> String {
        let off: Vec<&str> = KNOWN
            .iter()
            .map(|k| k.name)
            .filter(|n| !self.enabled.contains(n))
            .collect();
        if off.is_empty() {
            String::new()
        } else if self.enabled.is_empty() {
            " ZKRS_DIFF_STRICT=1".into()
        } else {
            format!(" ZKRS_DIFF_DISABLE={}", off.join(","))
        }
    }

    pub fn names(&self) -> &[&'static str] {
        &self.enabled
    }

    fn enabled(&self) -> impl Iterator<Item = &'static KnownDivergence> + '_ {
        KNOWN.iter().filter(|k| self.enabled.contains(&k.name))
    }

    /// The enabled classes that together cancel the differences of the step `(a, z)`;
    /// empty if they cannot.
    fn masking(&self, a: &Step, z: &Step) -> Vec<&'static str> {
        let (mut a, mut z) = (a.clone(), z.clone());
        let mut applied = Vec::new();
        // Until none applies any more (each mask cancels its difference once, so this ends).
        for _ in 0..=KNOWN.len() {
            let mut any = false;
            for k in self.enabled() {
                if let Handling::Mask(m) = k.handling {
                    if m(&mut a, &mut z) {
                        any = true;
                        if !applied.contains(&k.name) {
                            applied.push(k.name);
                        }
                    }
                }
            }
            if !any {
                break;
            }
        }
        if differing_aspect(&a, &z).is_some() {
            applied.clear();
        }
        applied
    }

    /// The enabled class that makes the runner skip `op`, if any.
    pub fn skipping(&self, op: &OpKind, facts: &Facts) -> Option<&'static str> {
        self.enabled()
            .find(|k| matches!(k.handling, Handling::Skip(f) if f(op, facts)))
            .map(|k| k.name)
    }

    /// The enabled class that keeps `op` out of workloads, if any.
    pub fn avoiding(&self, op: &OpKind) -> Option<&'static str> {
        self.enabled()
            .find(|k| matches!(k.handling, Handling::Avoid(f) if f(op)))
            .map(|k| k.name)
    }
}

/// The first divergence no known class explains.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// Index into the normalised steps (0 is the setup step).
    pub step: usize,
    pub aspect: Aspect,
    pub apache: Step,
    pub zkrs: Step,
}

impl Divergence {
    /// What a shrunk reproduction must still show: the same kind of op differing in the same
    /// aspect.
    pub fn signature(&self) -> (&'static str, Aspect) {
        (self.apache.kind, self.aspect)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.apache.op_index.map_or_else(
            || "the setup/final drain".to_string(),
            |i| format!("op #{i}"),
        );
        writeln!(
            f,
            "first divergence at {op} ({}), in the {}:",
            self.apache.kind, self.aspect
        )?;
        write!(f, "  Apache: {}", indent(&self.apache.to_string()))?;
        write!(f, "  zkrs:   {}", indent(&self.zkrs.to_string()))
    }
}

fn indent(s: &str) -> String {
    let mut out = String::new();
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push_str("          ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// How a comparison ended.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub divergence: Option<Divergence>,
    /// Steps that differed in a masked known way: `(class, step index)`.
    pub masked: Vec<(&'static str, usize)>,
    /// Steps compared (up to the divergence).
    pub compared: usize,
}

/// Compares two normalised traces of the same workload.
pub fn compare(apache: &[Step], zkrs: &[Step], known: &KnownSet) -> Comparison {
    assert_eq!(
        apache.len(),
        zkrs.len(),
        "traces of different lengths for the same workload"
    );
    let mut out = Comparison::default();
    for (i, (a, z)) in apache.iter().zip(zkrs).enumerate() {
        out.compared = i + 1;
        let Some(aspect) = differing_aspect(a, z) else {
            continue;
        };
        let masks = known.masking(a, z);
        if !masks.is_empty() {
            out.masked.extend(masks.into_iter().map(|name| (name, i)));
            continue;
        }
        out.divergence = Some(Divergence {
            step: i,
            aspect,
            apache: a.clone(),
            zkrs: z.clone(),
        });
        return out;
    }
    out
}

/// Both traces side by side: each step once if they agree, both versions where they differ.
pub fn side_by_side(apache: &[Step], zkrs: &[Step]) -> String {
    let mut out = String::new();
    for (a, z) in apache.iter().zip(zkrs) {
        if differing_aspect(a, z).is_none() {
            out.push_str(&a.to_string());
            continue;
        }
        let idx = a
            .op_index
            .map_or_else(|| "--".to_string(), |i| format!("#{i}"));
        out.push_str(&format!("{idx:<4} {}   <<< DIFFERS\n", a.request));
        if z.request != a.request {
            out.push_str(&format!("       (zkrs resolved it as: {})\n", z.request));
        }
        out.push_str(&format!("   Apache => {}\n", a.reply_line()));
        for e in &a.events {
            out.push_str(&format!("   Apache ~ {e}\n"));
        }
        out.push_str(&format!("   zkrs   => {}\n", z.reply_line()));
        for e in &z.events {
            out.push_str(&format!("   zkrs   ~ {e}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/DIFFERENTIAL.md` documents every known divergence, and nothing else.
    #[test]
    fn differential_md_lists_exactly_the_known_divergences() {
        let doc = include_str!("../../DIFFERENTIAL.md");
        let table = doc
            .split("| name | handling | what differs |")
            .nth(1)
            .expect("DIFFERENTIAL.md has the known divergences table");
        let mut documented: Vec<(String, String)> = table
            .lines()
            .skip(2) // header separator
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[2].to_string())
            })
            .collect();
        let mut known: Vec<(String, String)> = KNOWN
            .iter()
            .map(|k| {
                let handling = match k.handling {
                    Handling::Mask(_) => "mask",
                    Handling::Avoid(_) => "avoid",
                    Handling::Skip(_) => "skip",
                };
                (k.name.to_string(), handling.to_string())
            })
            .collect();
        documented.sort();
        known.sort();
        assert_eq!(
            documented, known,
            "tests/DIFFERENTIAL.md's table of known divergences and compare::KNOWN differ"
        );
    }
}
