//! Seeded random workloads: what each session does, in one global order.
//!
//! A workload is data, not code: a list of [`Op`]s, each naming the session slot that issues
//! it. Paths, versions and ACLs are *specs* resolved when the op runs, against what that
//! server answered earlier in the same run (e.g. [`PathSpec::Created`] is a node the server
//! itself named, [`VersionSpec::Known`] the last version the server reported for the path),
//! so the same workload means the same thing on both servers as long as they agree so far.

use std::fmt;

use zkrs_proto::OpCode;

use super::rng::Rng;

/// Node names of the path space. Three names, three levels: 39 paths, so operations collide.
pub const NAMES: [&str; 3] = ["a", "b", "c"];

/// Malformed paths (`{R}` is the run's root). Reads of them must fail as NoNode, writes as
/// BadArguments (or NoNode where Apache looks the parent up first).
pub const INVALID_PATHS: [&str; 11] = [
    "{R}/a/",
    "{R}//a",
    "a",
    "a/b",
    "",
    "{R}/a\u{0}b",
    "{R}/./a",
    "{R}/..",
    "{R}/a/../b",
    "{R}/a\u{1f}",
    "{R}/x\u{e000}",
];

/// Unusual but valid paths.
pub const ODD_VALID_PATHS: [&str; 3] = ["{R}/\u{e9}", "{R}/a b", "{R}/a-._~"];

/// What the generator leaves out because the reference, Apache ZooKeeper 3.8, cannot judge
/// it:
/// * the standalone `check` request (opcode 13): 3.8 never answers it (zkrs implements the
///   3.9 protocol);
/// * watcher types 4 and 5 (persistent, persistent recursive) of `removeWatches` and
///   `checkWatches`, new in 3.9: 3.8 answers MarshallingError;
/// * `createTTL` with non-TTL flags and a negative TTL (and, inside a multi, a TTL <= 0):
///   3.8 does not validate the TTL then and dies applying the transaction
///   (`IllegalArgumentException: ttl must be positive` in `DataTree.processTxn`, the server
///   process exits).
///
/// The end-to-end tests cover these against zkrs alone.
pub const REFERENCE_GAPS: &str = "standalone check (opcode 13); removeWatches/checkWatches \
     with watcher type 4 or 5; createTTL with non-TTL flags and TTL < 0 (<= 0 inside multi)";

/// Digest users: `(user, password)`. `u3` is authenticated by nothing in any ACL.
pub const USERS: [(&str, &str); 3] = [("u1", "p1"), ("u2", "p2"), ("u3", "p3")];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSpec {
    /// The run's root (shown as `/R`).
    Root,
    /// `/R/<relative>`.
    Node(String),
    /// The `k`-th most recently created node of this run, as the server named it (`/R/a`
    /// while nothing was created).
    Created(u8),
    /// A child named `name` of [`PathSpec::Created`]`(k)`.
    CreatedChild(u8, &'static str),
    /// A literal path; `{R}` stands for the root.
    Raw(&'static str),
}

impl fmt::Display for PathSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSpec::Root => write!(f, "/R"),
            PathSpec::Node(rel) => write!(f, "/R/{rel}"),
            PathSpec::Created(k) => write!(f, "created[-{}]", k + 1),
            PathSpec::CreatedChild(k, name) => write!(f, "created[-{}]/{name}", k + 1),
            PathSpec::Raw(raw) => write!(f, "{:?}", raw.replace("{R}", "/R")),
        }
    }
}

/// The `version` argument of delete, setData, check and setACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    /// -1: any version.
    Any,
    /// The version (aversion for setACL) this server last reported for the path (0 if none).
    Known,
    /// [`VersionSpec::Known`] + 1: wrong, unless the node changed unseen.
    Wrong,
    /// A literal.
    Lit(i32),
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Any => write!(f, "-1"),
            VersionSpec::Known => write!(f, "known"),
            VersionSpec::Wrong => write!(f, "known+1"),
            VersionSpec::Lit(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSpec {
    /// A null buffer (length -1).
    Null,
    Empty,
    /// `v<n>`.
    Small(u8),
    /// 300 bytes.
    Big,
}

impl DataSpec {
    pub fn bytes(self) -> Option<Vec<u8>> {
        match self {
            DataSpec::Null => None,
            DataSpec::Empty => Some(Vec::new()),
            DataSpec::Small(n) => Some(format!("v{n}").into_bytes()),
            DataSpec::Big => Some((0..300).map(|i| b'a' + (i % 26) as u8).collect()),
        }
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Null => write!(f, "null"),
            DataSpec::Empty => write!(f, "\"\""),
            DataSpec::Small(n) => write!(f, "\"v{n}\""),
            DataSpec::Big => write!(f, "<300 bytes>"),
        }
    }
}

/// The ACL of a create or setACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclSpec {
    /// world:anyone ALL.
    Open,
    /// world:anyone READ.
    WorldRead,
    /// world:anyone CREATE|DELETE (no READ, no WRITE, no ADMIN).
    WorldCreateDelete,
    /// auth:"" ALL: the creator's authenticated ids (InvalidACL without any).
    Creator,
    /// digest u1 ALL.
    DigestU1,
    /// digest u2 ALL.
    DigestU2,
    /// digest u1 READ|ADMIN, world:anyone READ.
    U1AdminWorldRead,
    /// digest u1 READ only.
    U1ReadOnly,
    /// ip:127.0.0.1 ALL (our address).
    IpLocal,
    /// ip:10.0.0.1 ALL (not us).
    IpOther,
    /// An empty list (InvalidACL).
    Empty,
    /// An unknown scheme (InvalidACL).
    BadScheme,
    /// A malformed digest id (no hash).
    BadDigest,
}

impl fmt::Display for AclSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            AclSpec::Open => "open",
            AclSpec::WorldRead => "world:r",
            AclSpec::WorldCreateDelete => "world:cd",
            AclSpec::Creator => "auth:all",
            AclSpec::DigestU1 => "digest(u1):all",
            AclSpec::DigestU2 => "digest(u2):all",
            AclSpec::U1AdminWorldRead => "digest(u1):ra+world:r",
            AclSpec::U1ReadOnly => "digest(u1):r",
            AclSpec::IpLocal => "ip(127.0.0.1):all",
            AclSpec::IpOther => "ip(10.0.0.1):all",
            AclSpec::Empty => "[]",
            AclSpec::BadScheme => "nosuch:all",
            AclSpec::BadDigest => "digest(u1 without hash):all",
        };
        f.write_str(s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateSpec {
    pub path: PathSpec,
    pub data: DataSpec,
    pub acl: AclSpec,
    /// CreateMode flags (0..=6 valid).
    pub flags: i32,
    /// create, create2, createContainer or createTTL.
    pub opcode: OpCode,
    /// Only sent with createTTL.
    pub ttl: i64,
}

impl fmt::Display for CreateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} data={} acl={}",
            opname(self.opcode),
            self.path,
            flags_name(self.flags),
            self.data,
            self.acl
        )?;
        if self.opcode == OpCode::CreateTtl {
            write!(f, " ttl={}", self.ttl)?;
        }
        Ok(())
    }
}

/// One operation of a `multi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateSpec),
    Delete(PathSpec, VersionSpec),
    SetData(PathSpec, DataSpec, VersionSpec),
    Check(PathSpec, VersionSpec),
}

impl fmt::Display for MultiOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultiOp::Create(c) => write!(f, "{c}"),
            MultiOp::Delete(p, v) => write!(f, "delete {p} v={v}"),
            MultiOp::SetData(p, d, v) => write!(f, "setData {p} {d} v={v}"),
            MultiOp::Check(p, v) => write!(f, "check {p} v={v}"),
        }
    }
}

/// What one session does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    Create(CreateSpec),
    Delete(PathSpec, VersionSpec),
    SetData(PathSpec, DataSpec, VersionSpec),
    Exists(PathSpec, bool),
    GetData(PathSpec, bool),
    GetChildren(PathSpec, bool),
    GetChildren2(PathSpec, bool),
    GetAcl(PathSpec),
    SetAcl(PathSpec, AclSpec, VersionSpec),
    Sync(PathSpec),
    /// The standalone `check` request (opcode 13).
    Check(PathSpec, VersionSpec),
    Multi(Vec<MultiOp>),
    /// `(true = getData, false = getChildren, path)`.
    MultiRead(Vec<(bool, PathSpec)>),
    GetEphemerals(PathSpec),
    GetAllChildrenNumber(PathSpec),
    /// Mode 0 persistent, 1 persistent recursive (others invalid).
    AddWatch(PathSpec, i32),
    /// Watcher type 1 children, 2 data, 3 any, 4 persistent, 5 recursive.
    RemoveWatches(PathSpec, i32),
    CheckWatches(PathSpec, i32),
    /// `addauth digest <user>:<password>` with [`USERS`]`[i]`.
    AddAuth(usize),
    WhoAmI,
    /// closeSession; the slot then opens a fresh session.
    Close,
}

impl OpKind {
    /// Short name of the kind, used to group divergences.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Create(c) => opname(c.opcode),
            OpKind::Delete(..) => "delete",
            OpKind::SetData(..) => "setData",
            OpKind::Exists(..) => "exists",
            OpKind::GetData(..) => "getData",
            OpKind::GetChildren(..) => "getChildren",
            OpKind::GetChildren2(..) => "getChildren2",
            OpKind::GetAcl(..) => "getACL",
            OpKind::SetAcl(..) => "setACL",
            OpKind::Sync(..) => "sync",
            OpKind::Check(..) => "check",
            OpKind::Multi(..) => "multi",
            OpKind::MultiRead(..) => "multiRead",
            OpKind::GetEphemerals(..) => "getEphemerals",
            OpKind::GetAllChildrenNumber(..) => "getAllChildrenNumber",
            OpKind::AddWatch(..) => "addWatch",
            OpKind::RemoveWatches(..) => "removeWatches",
            OpKind::CheckWatches(..) => "checkWatches",
            OpKind::AddAuth(..) => "addAuth",
            OpKind::WhoAmI => "whoAmI",
            OpKind::Close => "closeSession",
        }
    }

    /// Whether the op can make the server send a notification to some session (then the
    /// runner drains every session after it). Reads cannot.
    pub fn may_notify(&self) -> bool {
        matches!(
            self,
            OpKind::Create(_)
                | OpKind::Delete(..)
                | OpKind::SetData(..)
                | OpKind::SetAcl(..)
                | OpKind::Check(..)
                | OpKind::Multi(_)
                | OpKind::AddWatch(..)
                | OpKind::RemoveWatches(..)
                | OpKind::AddAuth(_)
                | OpKind::Close
        )
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = |watch: &bool| if *watch { " watch" } else { "" };
        match self {
            OpKind::Create(c) => write!(f, "{c}"),
            OpKind::Delete(p, v) => write!(f, "delete {p} v={v}"),
            OpKind::SetData(p, d, v) => write!(f, "setData {p} {d} v={v}"),
            OpKind::Exists(p, watch) => write!(f, "exists {p}{}", w(watch)),
            OpKind::GetData(p, watch) => write!(f, "getData {p}{}", w(watch)),
            OpKind::GetChildren(p, watch) => write!(f, "getChildren {p}{}", w(watch)),
            OpKind::GetChildren2(p, watch) => write!(f, "getChildren2 {p}{}", w(watch)),
            OpKind::GetAcl(p) => write!(f, "getACL {p}"),
            OpKind::SetAcl(p, a, v) => write!(f, "setACL {p} {a} v={v}"),
            OpKind::Sync(p) => write!(f, "sync {p}"),
            OpKind::Check(p, v) => write!(f, "check {p} v={v}"),
            OpKind::Multi(ops) => {
                write!(f, "multi [")?;
                for (i, op) in ops.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{op}")?;
                }
                write!(f, "]")
            }
            OpKind::MultiRead(ops) => {
                write!(f, "multiRead [")?;
                for (i, (data, p)) in ops.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    let what = if *data { "getData" } else { "getChildren" };
                    write!(f, "{what} {p}")?;
                }
                write!(f, "]")
            }
            OpKind::GetEphemerals(p) => write!(f, "getEphemerals {p}"),
            OpKind::GetAllChildrenNumber(p) => write!(f, "getAllChildrenNumber {p}"),
            OpKind::AddWatch(p, m) => write!(f, "addWatch {p} {}", add_watch_mode_name(*m)),
            OpKind::RemoveWatches(p, t) => {
                write!(f, "removeWatches {p} {}", watcher_type_name(*t))
            }
            OpKind::CheckWatches(p, t) => write!(f, "checkWatches {p} {}", watcher_type_name(*t)),
            OpKind::AddAuth(u) => {
                let (user, pass) = USERS[*u];
                write!(f, "addauth digest {user}:{pass}")
            }
            OpKind::WhoAmI => write!(f, "whoAmI"),
            OpKind::Close => write!(f, "closeSession (then a new session in this slot)"),
        }
    }
}

/// An operation and the session slot that issues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub slot: usize,
    pub kind: OpKind,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}: {}", self.slot, self.kind)
    }
}

/// A seeded workload: `sessions` slots and the ops they issue, in global order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub seed: u64,
    pub sessions: usize,
    pub ops: Vec<Op>,
}

impl Workload {
    /// The workload of `seed`: 2 to 4 sessions, `n_ops` operations, none of which `avoid`
    /// (known divergences that would derail the comparison) returns true for.
    pub fn generate(seed: u64, n_ops: usize, avoid: impl Fn(&OpKind) -> bool) -> Workload {
        let mut g = Gen {
            rng: Rng::new(seed),
        };
        let sessions = 2 + g.rng.index(3);
        let ops = (0..n_ops)
            .map(|_| {
                let slot = g.rng.index(sessions);
                let mut kind = g.op();
                // Bounded: no avoided class covers more than a small part of the ops.
                for _ in 0..1000 {
                    if !avoid(&kind) {
                        break;
                    }
                    kind = g.op();
                }
                Op { slot, kind }
            })
            .collect();
        Workload {
            seed,
            sessions,
            ops,
        }
    }

    /// The same sessions with other ops (for shrinking).
    pub fn with_ops(&self, ops: Vec<Op>) -> Workload {
        Workload {
            seed: self.seed,
            sessions: self.sessions,
            ops,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} sessions (s0..s{}), {} ops, under a fresh root /R",
            self.seed,
            self.sessions,
            self.sessions - 1,
            self.ops.len()
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  #{i:<3} {op}")?;
        }
        Ok(())
    }
}

pub fn opname(op: OpCode) -> &'static str {
    match op {
        OpCode::Create => "create",
        OpCode::Create2 => "create2",
        OpCode::CreateContainer => "createContainer",
        OpCode::CreateTtl => "createTTL",
        other => other.name(),
    }
}

pub fn flags_name(flags: i32) -> String {
    match flags {
        0 => "persistent".into(),
        1 => "ephemeral".into(),
        2 => "persistent-seq".into(),
        3 => "ephemeral-seq".into(),
        4 => "container".into(),
        5 => "ttl".into(),
        6 => "ttl-seq".into(),
        other => format!("flags={other}"),
    }
}

pub fn add_watch_mode_name(mode: i32) -> String {
    match mode {
        0 => "persistent".into(),
        1 => "persistent-recursive".into(),
        other => format!("mode={other}"),
    }
}

pub fn watcher_type_name(t: i32) -> String {
    match t {
        1 => "children".into(),
        2 => "data".into(),
        3 => "any".into(),
        4 => "persistent".into(),
        5 => "persistent-recursive".into(),
        other => format!("type={other}"),
    }
}

struct Gen {
    rng: Rng,
}

impl Gen {
    fn one_of(&mut self, items: &[&'static str]) -> &'static str {
        items[self.rng.index(items.len())]
    }

    fn op(&mut self) -> OpKind {
        // Relative weights of the operation kinds.
        const W: [u32; 21] = [
            24, // create
            8,  // delete
            9,  // setData
            7,  // exists
            7,  // getData
            5,  // getChildren
            4,  // getChildren2
            3,  // getACL
            3,  // setACL
            1,  // sync
            0,  // check: see REFERENCE_GAPS
            7,  // multi
            2,  // multiRead
            2,  // getEphemerals
            2,  // getAllChildrenNumber
            3,  // addWatch
            2,  // removeWatches
            2,  // checkWatches
            2,  // addAuth
            1,  // whoAmI
            2,  // close
        ];
        match self.rng.weighted(&W) {
            0 => OpKind::Create(self.create()),
            1 => OpKind::Delete(self.path(), self.version()),
            2 => OpKind::SetData(self.path(), self.data(), self.version()),
            3 => OpKind::Exists(self.path(), self.rng.chance(50)),
            4 => OpKind::GetData(self.path(), self.rng.chance(50)),
            5 => OpKind::GetChildren(self.path(), self.rng.chance(50)),
            6 => OpKind::GetChildren2(self.path(), self.rng.chance(50)),
            7 => OpKind::GetAcl(self.path()),
            8 => OpKind::SetAcl(self.path(), self.acl(), self.version()),
            9 => OpKind::Sync(self.path()),
            10 => OpKind::Check(self.path(), self.version()),
            11 => {
                let n = if self.rng.chance(4) {
                    0
                } else {
                    1 + self.rng.index(4)
                };
                OpKind::Multi((0..n).map(|_| self.multi_op()).collect())
            }
            12 => {
                let n = 1 + self.rng.index(3);
                OpKind::MultiRead((0..n).map(|_| (self.rng.chance(50), self.path())).collect())
            }
            13 => OpKind::GetEphemerals(self.prefix()),
            14 => OpKind::GetAllChildrenNumber(self.path()),
            15 => {
                let mode = if self.rng.chance(3) {
                    2
                } else {
                    self.rng.index(2) as i32
                };
                OpKind::AddWatch(self.path(), mode)
            }
            16 => OpKind::RemoveWatches(self.path(), self.watcher_type()),
            17 => OpKind::CheckWatches(self.path(), self.watcher_type()),
            18 => OpKind::AddAuth(self.rng.weighted(&[6, 3, 1])),
            19 => OpKind::WhoAmI,
            _ => OpKind::Close,
        }
    }

    fn multi_op(&mut self) -> MultiOp {
        match self.rng.weighted(&[40, 20, 20, 20]) {
            0 => {
                let mut c = self.create();
                if c.opcode == OpCode::CreateTtl && !matches!(c.flags, 5 | 6) && c.ttl <= 0 {
                    // See REFERENCE_GAPS: Apache 3.8 may die of it.
                    c.ttl = 100;
                }
                MultiOp::Create(c)
            }
            1 => MultiOp::Delete(self.path(), self.version()),
            2 => MultiOp::SetData(self.path(), self.data(), self.version()),
            _ => MultiOp::Check(self.path(), self.version()),
        }
    }

    fn watcher_type(&mut self) -> i32 {
        if self.rng.chance(3) {
            *self.rng.pick(&[0, 9])
        } else {
            // 4 and 5 (persistent, persistent recursive): see REFERENCE_GAPS.
            1 + self.rng.index(3) as i32
        }
    }

    fn node(&mut self) -> PathSpec {
        let depth = 1 + self.rng.weighted(&[45, 40, 15]);
        let rel: Vec<&str> = (0..depth).map(|_| self.one_of(&NAMES)).collect();
        PathSpec::Node(rel.join("/"))
    }

    fn created_index(&mut self) -> u8 {
        self.rng.weighted(&[40, 25, 15, 10, 10]) as u8
    }

    /// A path for any operation.
    fn path(&mut self) -> PathSpec {
        self.path_weighted(&[70, 14, 2, 6, 6, 2])
    }

    /// A path for a create: more often below something created earlier.
    fn create_path(&mut self) -> PathSpec {
        self.path_weighted(&[72, 4, 10, 2, 8, 4])
    }

    /// A path of each kind with the given weights: a known node, an earlier created path, a
    /// child of one, the root, an invalid path, an odd but valid one.
    fn path_weighted(&mut self, weights: &[u32; 6]) -> PathSpec {
        match self.rng.weighted(weights) {
            0 => self.node(),
            1 => PathSpec::Created(self.created_index()),
            2 => PathSpec::CreatedChild(self.created_index(), self.one_of(&NAMES)),
            3 => PathSpec::Root,
            4 => PathSpec::Raw(self.one_of(&INVALID_PATHS)),
            _ => PathSpec::Raw(self.one_of(&ODD_VALID_PATHS)),
        }
    }

    /// A prefix for getEphemerals.
    fn prefix(&mut self) -> PathSpec {
        match self.rng.weighted(&[40, 40, 10, 10]) {
            0 => PathSpec::Root,
            1 => self.node(),
            2 => PathSpec::Raw("{R}/"),
            _ => PathSpec::Raw(self.one_of(&INVALID_PATHS)),
        }
    }

    fn version(&mut self) -> VersionSpec {
        match self.rng.weighted(&[45, 30, 15, 10]) {
            0 => VersionSpec::Any,
            1 => VersionSpec::Known,
            2 => VersionSpec::Wrong,
            _ => VersionSpec::Lit(*self.rng.pick(&[0, 1, 2, -2])),
        }
    }

    fn data(&mut self) -> DataSpec {
        match self.rng.weighted(&[5, 10, 80, 5]) {
            0 => DataSpec::Null,
            1 => DataSpec::Empty,
            2 => DataSpec::Small(self.rng.below(20) as u8),
            _ => DataSpec::Big,
        }
    }

    fn acl(&mut self) -> AclSpec {
        const ALL: [AclSpec; 13] = [
            AclSpec::Open,
            AclSpec::WorldRead,
            AclSpec::WorldCreateDelete,
            AclSpec::Creator,
            AclSpec::DigestU1,
            AclSpec::DigestU2,
            AclSpec::U1AdminWorldRead,
            AclSpec::U1ReadOnly,
            AclSpec::IpLocal,
            AclSpec::IpOther,
            AclSpec::Empty,
            AclSpec::BadScheme,
            AclSpec::BadDigest,
        ];
        if self.rng.chance(65) {
            AclSpec::Open
        } else {
            *self.rng.pick(&ALL)
        }
    }

    fn create(&mut self) -> CreateSpec {
        let flags = match self.rng.weighted(&[35, 20, 12, 12, 8, 6, 5, 2]) {
            7 => *self.rng.pick(&[7, -1]),
            f => f as i32,
        };
        let mut opcode = match flags {
            4 => OpCode::CreateContainer,
            5 | 6 => OpCode::CreateTtl,
            _ if self.rng.chance(50) => OpCode::Create,
            _ => OpCode::Create2,
        };
        if self.rng.chance(4) {
            opcode = *self.rng.pick(&[
                OpCode::Create,
                OpCode::Create2,
                OpCode::CreateContainer,
                OpCode::CreateTtl,
            ]);
        }
        let mut ttl = if opcode == OpCode::CreateTtl {
            *self.rng.pick(&[1, 100, 5000, 5000, 60_000, 0, -5])
        } else {
            -1
        };
        if opcode == OpCode::CreateTtl && !matches!(flags, 5 | 6) && ttl < 0 {
            // See REFERENCE_GAPS: this kills Apache 3.8.
            ttl = 0;
        }
        CreateSpec {
            path: self.create_path(),
            data: self.data(),
            acl: self.acl(),
            flags,
            opcode,
            ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_exactly() {
        assert_eq!(
            Workload::generate(42, 200, |_| false),
            Workload::generate(42, 200, |_| false)
        );
        assert_ne!(
            Workload::generate(42, 200, |_| false),
            Workload::generate(43, 200, |_| false)
        );
    }

    #[test]
    fn workloads_cover_every_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            for op in Workload::generate(seed, 150, |_| false).ops {
                seen.insert(op.kind.name());
            }
        }
        for kind in [
            "create",
            "create2",
            "createContainer",
            "createTTL",
            "delete",
            "setData",
            "multi",
            "multiRead",
            "addWatch",
            "removeWatches",
            "checkWatches",
            "addAuth",
            "closeSession",
            "getEphemerals",
            "getAllChildrenNumber",
            "whoAmI",
        ] {
            assert!(seen.contains(kind), "{kind} never generated");
        }
    }
}
