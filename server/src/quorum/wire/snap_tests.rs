//! The SNAP stream against Apache's own bytes (`snap_body.bin`, written by
//! `SerializeUtils.serializeSnapshot`, and `snap_tree.txt`, the same tree listed from
//! Apache's `DataTree`; see the fixtures' README), round trips of seeded random trees, and
//! malformed streams.

use std::collections::{BTreeMap, BTreeSet};

use zkrs_proto::{Acl, Id};

use super::*;
use crate::quorum::wire::packet::DEFAULT_MAX_BUFFER;
use crate::txn::{ttl_owner, CreateKind, Txn, TxnHeader, CONTAINER_OWNER};

const BODY: &[u8] = include_bytes!("../../../tests/fixtures/quorum/snap_body.bin");
const LISTING: &str = include_str!("../../../tests/fixtures/quorum/snap_tree.txt");

const S1: i64 = 0x0100_0000_0000_0001;
const S2: i64 = 0x0100_0000_0000_0002;

/// One node as Apache's listing shows it.
#[derive(Debug, PartialEq)]
struct Listed {
    data: Option<Vec<u8>>,
    /// czxid mzxid ctime mtime version cversion aversion ephemeralOwner pzxid
    stat: [i64; 9],
    acl: Vec<Acl>,
}

struct Listing {
    last_zxid: i64,
    digest: i64,
    sessions: BTreeMap<i64, i32>,
    nodes: BTreeMap<String, Listed>,
}

fn listing() -> Listing {
    let mut l = Listing {
        last_zxid: 0,
        digest: 0,
        sessions: BTreeMap::new(),
        nodes: BTreeMap::new(),
    };
    for line in LISTING.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "last_zxid" => l.last_zxid = f[1].parse().unwrap(),
            "digest" => l.digest = f[1].parse().unwrap(),
            "session" => {
                l.sessions
                    .insert(f[1].parse().unwrap(), f[2].parse().unwrap());
            }
            "node" => {
                let data = match f[2] {
                    "null" => None,
                    "-" => Some(Vec::new()),
                    h => Some(
                        (0..h.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                            .collect(),
                    ),
                };
                let mut stat = [0i64; 9];
                for (i, v) in f[3..12].iter().enumerate() {
                    stat[i] = v.parse().unwrap();
                }
                let acl = f[12]
                    .split(',')
                    .map(|a| {
                        let mut p = a.splitn(3, ':');
                        let perms = p.next().unwrap().parse().unwrap();
                        Acl {
                            perms,
                            id: Id::new(p.next().unwrap(), p.next().unwrap()),
                        }
                    })
                    .collect();
                l.nodes.insert(f[1].to_string(), Listed { data, stat, acl });
            }
            other => panic!("unknown listing line {other}"),
        }
    }
    l
}

fn listed(node: NodeRef<'_>) -> Listed {
    let s = node.stored();
    Listed {
        data: node.data().map(<[u8]>::to_vec),
        stat: [
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            i64::from(s.version),
            i64::from(s.cversion),
            i64::from(s.aversion),
            s.ephemeral_owner,
            s.pzxid,
        ],
        acl: node.acl().to_vec(),
    }
}

#[test]
fn apaches_snapshot_reads_as_apache_lists_it() {
    let want = listing();
    let mut rest = BODY;
    let t = read_snap(&mut rest, want.last_zxid, DEFAULT_MAX_BUFFER).unwrap();
    assert!(
        rest.is_empty(),
        "{} bytes left after the terminator",
        rest.len()
    );
    assert_eq!(t.last_zxid(), want.last_zxid);
    assert_eq!(t.node_count(), want.nodes.len());
    for (path, node) in &want.nodes {
        let got = t.get(path).unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(&listed(got), node, "{path}");
    }
    let sessions: BTreeMap<i64, i32> = t.sessions().map(|(id, s)| (*id, s.timeout_ms)).collect();
    assert_eq!(sessions, want.sessions);
    assert_eq!(t.digest(), want.digest, "Apache's getTreeDigest()");
    assert_eq!(t.compute_digest(), want.digest);
    let set = |it: &mut dyn Iterator<Item = &String>| it.cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        set(&mut t.ephemerals_of(S1)),
        BTreeSet::from(["/eph".to_string()])
    );
    assert_eq!(
        set(&mut t.ephemerals_of(S2)),
        BTreeSet::from(["/deep/a/b/c".to_string()])
    );
    assert_eq!(
        set(&mut t.containers()),
        BTreeSet::from(["/cont".to_string()])
    );
    assert_eq!(
        set(&mut t.ttl_nodes()),
        BTreeSet::from(["/ttl".to_string()])
    );
    // The client view: null data, and cversion as creations plus deletions.
    assert_eq!(t.get("/app/null").unwrap().data(), None);
    assert_eq!(t.get("/app").unwrap().stat().cversion, 5 * 2 - 4);
    // Written back, the loaded tree is Apache's bytes again: the system nodes (-1 for
    // the ones born open, READ_ACL_UNSAFE and aversion -1 for /zookeeper/config), the
    // cache numbering and the children's order all survive the trip.
    let mut again = Vec::new();
    write_snap(&t, &mut again).unwrap();
    assert!(
        again == BODY,
        "Apache's bytes do not survive read_snap + write_snap"
    );
    // Apache's config node: read-only, aversion -1, as our tree makes it.
    let fresh = DataTree::new();
    assert_eq!(
        listed(t.get(crate::tree::CONFIG).unwrap()),
        listed(fresh.get(crate::tree::CONFIG).unwrap())
    );
}

fn hdr(session_id: i64, zxid: i64) -> TxnHeader {
    TxnHeader {
        session_id,
        cxid: 0,
        zxid,
        // The fixture program's clock: a second per counter step.
        time: 1_700_000_000_000 + (zxid & 0xffff) * 1000,
    }
}

/// The fixture's tree, built by the transactions `SnapFixtures.java` applies, with the
/// same zxids and times.
fn fixture_tree() -> DataTree {
    let mut t = DataTree::new();
    let mut tr = Vec::new();
    let mut zxid = 0x1_0000_0000i64;
    for (s, timeout) in [(S1, 30000), (S2, 10000)] {
        t.apply(
            &hdr(s, zxid),
            &Txn::CreateSession {
                timeout_ms: timeout,
            },
            &mut tr,
        );
    }
    let open = Acl::open_unsafe();
    let guarded = vec![
        Acl::new(31, "digest", "alice:XDdbcI0kiJY4NmAA5AoLZkYjgHI="),
        Acl::new(1, "world", "anyone"),
    ];
    let ip_only = vec![Acl::new(3, "ip", "10.0.0.0/8")];
    let persistent = CreateKind::Create { ephemeral: false };
    let ephemeral = CreateKind::Create { ephemeral: true };
    let steps: Vec<(i64, Txn)> = vec![
        (0, mk("/app", Some(b"app"), &open, persistent)),
        (
            0,
            mk(
                "/app/config",
                Some(&[0, 1, 0xff, 0x80, b'\n']),
                &guarded,
                persistent,
            ),
        ),
        (0, mk("/app/empty", Some(b""), &open, persistent)),
        (0, mk("/app/null", None, &guarded, persistent)),
        (0, mk("/app/gone", Some(b"x"), &open, persistent)),
        (
            0,
            Txn::Delete {
                path: "/app/gone".into(),
                container: false,
            },
        ),
        // Named from /app's cversion before the create, 4 (checked below).
        (0, mk("/app/seq-0000000004", Some(b"s"), &open, persistent)),
        (
            0,
            Txn::SetData {
                path: "/app".into(),
                data: Some(b"app v2".to_vec()),
                version: 1,
                reconfig: false,
            },
        ),
        (S1, mk("/eph", Some(b"e"), &open, ephemeral)),
        (0, mk("/cont", Some(b""), &open, CreateKind::Container)),
        (0, mk("/cont/item", Some(b"i"), &ip_only, persistent)),
        (0, mk("/ttl", Some(b"t"), &open, CreateKind::Ttl(5000))),
        (0, mk("/deep", None, &open, persistent)),
        (0, mk("/deep/a", None, &open, persistent)),
        (0, mk("/deep/a/b", None, &open, persistent)),
        (S2, mk("/deep/a/b/c", Some(b"leaf"), &ip_only, ephemeral)),
    ];
    for (owner, txn) in steps {
        if matches!(&txn, Txn::Create { path, .. } if path.contains("/seq-")) {
            assert_eq!(t.get("/app").unwrap().stored().cversion, 4);
        }
        zxid += 1;
        assert_eq!(t.apply(&hdr(owner, zxid), &txn, &mut tr).err, 0, "{txn:?}");
        if matches!(&txn, Txn::SetData { .. }) {
            // The program calls DataTree.setACL right after setData, without a zxid of
            // its own (setACL takes none).
            let set_acl = Txn::SetAcl {
                path: "/app/empty".into(),
                acl: guarded.clone(),
                aversion: 1,
            };
            assert_eq!(t.apply(&hdr(0, zxid), &set_acl, &mut tr).err, 0);
        }
    }
    assert_eq!(zxid, listing().last_zxid);
    t
}

fn mk(path: &str, data: Option<&[u8]>, acl: &[Acl], kind: CreateKind) -> Txn {
    Txn::Create {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl: acl.to_vec(),
        kind,
        parent_cversion: -1,
    }
}

#[test]
fn the_same_tree_built_here_writes_apaches_bytes() {
    let t = fixture_tree();
    assert_eq!(t.digest(), listing().digest, "Apache's getTreeDigest()");
    assert_eq!(
        t.get("/ttl").unwrap().stored().ephemeral_owner,
        ttl_owner(5000)
    );
    assert_eq!(
        t.get("/cont").unwrap().stored().ephemeral_owner,
        CONTAINER_OWNER
    );
    let mut out = Vec::new();
    write_snap(&t, &mut out).unwrap();
    if out != BODY {
        let at = out
            .iter()
            .zip(BODY)
            .position(|(a, b)| a != b)
            .unwrap_or(out.len().min(BODY.len()));
        panic!(
            "bytes differ at {at} (ours {}, Apache's {}): ours {:02x?}, Apache's {:02x?}",
            out.len(),
            BODY.len(),
            &out[at..(at + 32).min(out.len())],
            &BODY[at..(at + 32).min(BODY.len())]
        );
    }
}

#[test]
fn signature_round_trips_and_a_wrong_one_is_refused() {
    let mut out = Vec::new();
    write_signature(&mut out).unwrap();
    assert_eq!(out, b"\0\0\0\x0aBenWasHere");
    read_signature(&mut out.as_slice()).unwrap();
    assert!(read_signature(&mut &b"\0\0\0\x0aBenWasHeRe"[..]).is_err());
    assert!(read_signature(&mut &b"\0\0\0\x0aBen"[..]).is_err());
    assert!(read_signature(&mut &b"\x7f\0\0\0BenWasHere"[..]).is_err());
    assert!(read_signature(&mut &b"\xff\xff\xff\xff"[..]).is_err());
}

#[test]
fn java_hashes() {
    // Values Java prints for "abc".hashCode(), "".hashCode(), Long.hashCode(1L << 32 | 1).
    assert_eq!(java_string_hash("abc"), 96354);
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_long_hash(1 << 32 | 1), 0);
    assert_eq!(java_long_hash(-1), 0);
    assert_eq!(grown_capacity(6), 8);
    assert_eq!(grown_capacity(7), 16);
    assert_eq!(grown_capacity(13), 32);
    assert_eq!(java_copy_capacity(2), 4);
    assert_eq!(java_copy_capacity(12), 32);
    // A character beyond the BMP as Java's writer sends it, two 3-byte surrogates.
    assert_eq!(
        java_string(vec![b'/', 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]).as_deref(),
        Some("/\u{1F600}")
    );
    assert_eq!(
        java_string(vec![b'/', 0xED, 0xA0, 0xBD]),
        None,
        "a lone surrogate"
    );
    assert_eq!(java_string(vec![0xFF]), None);
}

// ---- random trees ----

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_tree(rng: &mut Rng) -> DataTree {
    let mut t = DataTree::new();
    let mut tr = Vec::new();
    let acls = [
        Acl::open_unsafe(),
        Acl::read_unsafe(),
        vec![
            Acl::new(31, "digest", "u:h="),
            Acl::new(1, "world", "anyone"),
        ],
        vec![Acl::new(7, "ip", "127.0.0.1")],
    ];
    let sessions: Vec<i64> = (0..1 + rng.below(4))
        .map(|i| 0x0200_0000_0000_0000 + i as i64 * 977)
        .collect();
    let mut zxid = 0x5_0000_0000i64;
    for &s in &sessions {
        zxid += 1;
        let timeout_ms = 2000 + rng.below(40000) as i32;
        t.apply(&hdr(s, zxid), &Txn::CreateSession { timeout_ms }, &mut tr);
    }
    let mut paths = vec!["/".to_string()];
    for _ in 0..rng.below(120) {
        zxid += 1;
        let op = rng.below(10);
        let target = paths[rng.below(paths.len())].clone();
        let txn = if op < 6 || paths.len() < 2 {
            let name = match rng.below(4) {
                0 => format!("n{}", rng.below(1000)),
                1 => format!("seq-{:010}", rng.below(100)),
                2 => "é\u{1F600}".to_string(),
                _ => format!("x{}", rng.below(30)),
            };
            let path = if target == "/" {
                format!("/{name}")
            } else {
                format!("{target}/{name}")
            };
            let data = match rng.below(3) {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some((0..rng.below(40)).map(|_| rng.next() as u8).collect()),
            };
            let kind = match rng.below(5) {
                0 => CreateKind::Create { ephemeral: true },
                1 => CreateKind::Container,
                2 => CreateKind::Ttl(1 + rng.below(100000) as i64),
                _ => CreateKind::Create2 { ephemeral: false },
            };
            // Ephemerals cannot have children, as in Apache; keep them as leaves by
            // never choosing them as parents below.
            if !matches!(kind, CreateKind::Create { ephemeral: true }) && !path.contains("/seq-") {
                paths.push(path.clone());
            }
            let owner = sessions[rng.below(sessions.len())];
            let rc = t.apply(
                &hdr(owner, zxid),
                &Txn::Create {
                    path,
                    data,
                    acl: acls[rng.below(acls.len())].clone(),
                    kind,
                    parent_cversion: -1,
                },
                &mut tr,
            );
            let _ = rc;
            continue;
        } else if op < 7 {
            if target == "/" || t.get(&target).is_some_and(|n| n.has_children()) {
                continue;
            }
            paths.retain(|p| p != &target);
            Txn::Delete {
                path: target,
                container: false,
            }
        } else if op < 9 {
            let Some(n) = t.get(&target) else { continue };
            let version = n.stored().version + 1;
            Txn::SetData {
                path: target,
                data: Some(vec![b'v'; rng.below(10)]),
                version,
                reconfig: false,
            }
        } else {
            let Some(n) = t.get(&target) else { continue };
            Txn::SetAcl {
                aversion: n.stored().aversion + 1,
                path: target,
                acl: acls[rng.below(acls.len())].clone(),
            }
        };
        t.apply(&hdr(0, zxid), &txn, &mut tr);
    }
    if rng.below(2) == 0 {
        // A quota on a subtree: its stats must be rebuilt from the loaded tree.
        let q = "/zookeeper/quota/n1/zookeeper_limits".to_string();
        for (i, p) in [
            "/n1",
            "/zookeeper/quota/n1",
            &q,
            "/zookeeper/quota/n1/zookeeper_stats",
        ]
        .into_iter()
        .enumerate()
        {
            zxid += 1;
            let data = if i == 2 {
                b"count=10,bytes=100".to_vec()
            } else {
                Vec::new()
            };
            t.apply(
                &hdr(0, zxid),
                &mk(
                    p,
                    Some(&data),
                    &Acl::open_unsafe(),
                    CreateKind::Create2 { ephemeral: false },
                ),
                &mut tr,
            );
        }
    }
    t
}

/// Everything a reader can observe, in a canonical form.
#[allow(clippy::type_complexity)]
fn observe(
    t: &DataTree,
) -> (
    BTreeMap<String, (Listed, Vec<String>)>,
    BTreeMap<i64, i32>,
    BTreeMap<i64, Vec<String>>,
    BTreeSet<String>,
    BTreeSet<String>,
    i64,
    i64,
) {
    let mut nodes = BTreeMap::new();
    for (path, n) in t.iter_nodes() {
        nodes.insert(
            path,
            (
                listed(n),
                n.child_names()
                    .into_iter()
                    .map(String::from)
                    .collect::<Vec<_>>(),
            ),
        );
    }
    let sessions: BTreeMap<i64, i32> = t.sessions().map(|(id, s)| (*id, s.timeout_ms)).collect();
    let ephemerals: BTreeMap<i64, Vec<String>> = sessions
        .keys()
        .map(|&s| (s, t.ephemerals_of(s).cloned().collect()))
        .collect();
    let containers: BTreeSet<String> = t.containers().cloned().collect();
    let ttls: BTreeSet<String> = t.ttl_nodes().cloned().collect();
    // Not `approximate_data_size`: the live tree does not count the data it gives a new
    // quota stats node, while a loaded one does (a gap in `tree/`, not in this codec).
    (
        nodes,
        sessions,
        ephemerals,
        containers,
        ttls,
        t.digest(),
        t.last_zxid(),
    )
}

#[test]
fn random_trees_round_trip() {
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let t = random_tree(&mut rng);
        let mut bytes = Vec::new();
        write_snap(&t, &mut bytes).unwrap();
        write_signature(&mut bytes).unwrap();
        let mut rest = bytes.as_slice();
        let back = read_snap(&mut rest, t.last_zxid(), DEFAULT_MAX_BUFFER)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        read_signature(&mut rest).unwrap();
        assert!(rest.is_empty(), "seed {seed}");
        let (got, want) = (observe(&back), observe(&t));
        for (path, node) in &want.0 {
            assert_eq!(got.0.get(path), Some(node), "seed {seed}: {path}");
        }
        assert_eq!(got, want, "seed {seed}");
        assert_eq!(back.compute_digest(), t.digest(), "seed {seed}");
        let mut again = Vec::new();
        write_snap(&back, &mut again).unwrap();
        write_signature(&mut again).unwrap();
        assert_eq!(
            again, bytes,
            "seed {seed}: the loaded tree writes the same bytes"
        );
    }
}

// ---- malformed streams ----

fn read(bytes: &[u8]) -> Result<DataTree, SnapError> {
    read_snap(&mut &bytes[..], 1, DEFAULT_MAX_BUFFER)
}

/// A stream with no sessions, no ACLs and the given node records.
fn stream(nodes: &[(&str, i64)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.write_i32(0);
    w.write_i32(0);
    for (path, aref) in nodes {
        w.write_string(path);
        w.write_opt_buffer(Some(b"d"));
        w.write_i64(*aref);
        // StatPersisted: czxid, mzxid, ctime, mtime; three versions; owner, pzxid.
        for _ in 0..4 {
            w.write_i64(0);
        }
        for _ in 0..3 {
            w.write_i32(0);
        }
        w.write_i64(0);
        w.write_i64(0);
    }
    w.write_string("/");
    w.into_inner()
}

fn malformed(r: Result<DataTree, SnapError>) -> String {
    match r {
        Err(e @ SnapError::Malformed { .. }) => e.to_string(),
        other => panic!("expected a malformed stream, got {other:?}"),
    }
}

#[test]
fn every_truncation_is_an_error() {
    for len in 0..BODY.len() {
        match read(&BODY[..len]) {
            Err(SnapError::Truncated { .. }) => {}
            other => panic!("cut at {len}: {other:?}"),
        }
    }
}

#[test]
fn bad_streams_are_refused() {
    read(&stream(&[("", -1), ("/a", -1)])).unwrap();
    let e = malformed(read(&stream(&[("", -1), ("/a/b", -1)])));
    assert!(e.contains("before its parent"), "{e}");
    malformed(read(&stream(&[("/a", -1)])));
    malformed(read(&stream(&[])));
    malformed(read(&stream(&[("", -1), ("", -1)])));
    malformed(read(&stream(&[("", -1), ("/a", -1), ("/a", -1)])));
    malformed(read(&stream(&[("", -1), ("a", -1)])));
    malformed(read(&stream(&[("", -1), ("/a/", -1)])));
    let e = malformed(read(&stream(&[("", 7)])));
    assert!(e.contains("ACL 7"), "{e}");

    // A length over the limit, before anything is allocated for it.
    let mut big = stream(&[("", -1)]);
    big[8..12].copy_from_slice(&0x7fff_ffffi32.to_be_bytes());
    let e = malformed(read(&big));
    assert!(e.contains("limit"), "{e}");
    let mut small_limit = stream(&[("", -1), ("/abcdef", -1)]);
    assert!(read_snap(&mut small_limit.as_slice(), 1, 4).is_err());
    // A negative length other than -1, negative counts, a null ACL list, a null path.
    small_limit[8..12].copy_from_slice(&(-2i32).to_be_bytes());
    malformed(read(&small_limit));
    malformed(read(&[0xff, 0xff, 0xff, 0xfe]));
    malformed(read(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    let mut w = Writer::new();
    w.write_i32(0);
    w.write_i32(1);
    w.write_i64(1);
    w.write_i32(-1);
    malformed(read(&w.into_inner()));
    malformed(read(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    // Not UTF-8.
    let mut w = Writer::new();
    w.write_i32(0);
    w.write_i32(0);
    w.write_buffer(&[0xc3, 0x28]);
    malformed(read(&w.into_inner()));
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x5eed);
    let mut loaded = 0;
    for i in 0..3000 {
        let mut bytes = if i % 2 == 0 {
            BODY.to_vec()
        } else {
            Vec::new()
        };
        if bytes.is_empty() {
            bytes = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        } else {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        // The fuzz body: a stream that loads must write, load and write the same bytes.
        if read(&bytes).is_ok() {
            loaded += 1;
            crate::quorum::wire::fuzz::decode_quorum_inputs(&bytes);
        }
    }
    // Mutated data, times and versions still load: the round trip is exercised on them.
    assert!(loaded > 100, "only {loaded} mutated streams loaded");
}
