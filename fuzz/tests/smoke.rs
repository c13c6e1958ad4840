//! Runs each fuzz target's body over a seeded pseudo-random corpus on stable Rust.
//!
//! libFuzzer needs nightly (or `RUSTC_BOOTSTRAP=1`) to instrument the code; this test does
//! not, so every `cargo test` still throws a bounded set of hostile inputs at the decoders
//! and the config parser. The inputs are not purely random: pure noise almost never gets
//! past a length prefix, so most cases are built from the formats' own pieces (frames with
//! plausible lengths, real opcodes, jute strings, zoo.cfg keys) and then damaged.

use std::path::{Path, PathBuf};

use zkrs_proto::frame::find_frame;
use zkrs_proto::{ConnectRequest, Reader, Record, Request, RequestHeader};
use zkrs_server::config::Config;

/// Inputs per target. Debug builds get through this in a few seconds.
const CASES: usize = 20_000;

/// xorshift64*: tiny, deterministic, and needs no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0); the slight modulo bias does not matter here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("seed directory entry").path();
            let data = std::fs::read(&path).expect("readable seed");
            (path, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Damages a valid input the ways a fuzzer would: flip, overwrite, insert, delete,
/// truncate, duplicate a slice.
fn mutate(rng: &mut Rng, mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.pick(&[0x00, 0x7f, 0x80, 0xff, b'\\', b'=', b':', b'\n']);
            }
            2 => {
                let i = rng.below(len + 1);
                let extra = rng.bytes(8);
                data.splice(i..i, extra);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(len - i) + 1;
                data.drain(i..i + n);
            }
            4 => data.truncate(rng.below(len + 1)),
            _ if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(16)) + 1;
                let slice = data[i..i + n].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, slice);
            }
            _ => {}
        }
    }
    data
}

// ---- frames ----

const OPCODES: &[i32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102,
    103, 104, 105, 106, 107, -10, -11, -1, 10, 999,
];

/// One jute-looking field: an integer, a long, a bool, a string or buffer (sometimes with a
/// lying length), a vector length, or a multi header.
fn jute_field(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(7) {
        0 => {
            let v = rng.pick(&[0, 1, -1, 2, 31, i32::MAX, i32::MIN, 0x7fff_fff0]);
            out.extend_from_slice(&v.to_be_bytes());
        }
        1 => out.extend_from_slice(&(rng.next() as i64).to_be_bytes()),
        2 => out.push(rng.below(3) as u8),
        3 | 4 => {
            let body: Vec<u8> = match rng.below(4) {
                0 => b"/".to_vec(),
                1 => rng
                    .pick::<&[u8]>(&[b"/a", b"/zookeeper", b"world", b"anyone", b"digest"])
                    .to_vec(),
                2 => vec![0xff, 0xfe],
                _ => rng.bytes(12),
            };
            let len: i32 = match rng.below(8) {
                0 => -1,
                1 => body.len() as i32 + 1 + rng.below(4) as i32,
                2 => -2,
                _ => body.len() as i32,
            };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&body);
        }
        5 => {
            let n = rng.pick(&[0i32, 1, 2, -1, 1000, i32::MAX]);
            out.extend_from_slice(&n.to_be_bytes());
        }
        _ => {
            let op: i32 = rng.pick(&[1, 2, 5, 13, 15, 19, 21, 4, 8, -1, 3]);
            out.extend_from_slice(&op.to_be_bytes());
            out.push(u8::from(op == -1 || rng.chance(6)));
            out.extend_from_slice(&(-1i32).to_be_bytes());
        }
    }
}

fn framed(rng: &mut Rng, body: &[u8], out: &mut Vec<u8>) {
    let len: i32 = match rng.below(12) {
        0 => body.len() as i32 + 1 + rng.below(8) as i32,
        1 => -1,
        2 => 0x0010_0000,
        3 => body.len().saturating_sub(1 + rng.below(4)) as i32,
        _ => body.len() as i32,
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

fn frame_case(rng: &mut Rng, seed_inputs: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(10) {
        0 => rng.bytes(64),
        1 | 2 => {
            let seed = seed_inputs[rng.below(seed_inputs.len())].clone();
            mutate(rng, seed)
        }
        _ => {
            let mut out = Vec::new();
            for _ in 0..=rng.below(3) {
                let mut body = Vec::new();
                // Header: xid and opcode.
                body.extend_from_slice(&(rng.next() as i32).to_be_bytes());
                body.extend_from_slice(&rng.pick(OPCODES).to_be_bytes());
                for _ in 0..rng.below(8) {
                    jute_field(rng, &mut body);
                }
                framed(rng, &body, &mut out);
            }
            out
        }
    }
}

#[test]
fn frame_seeds_are_valid_frames() {
    for (path, data) in seeds("frame_decoder") {
        let mut buf = data.as_slice();
        let mut frames = 0;
        while let Ok(Some((start, end))) = find_frame(buf, zkrs_proto::frame::DEFAULT_MAX_FRAME) {
            let body = &buf[start..end];
            let connect = ConnectRequest::decode_exact(body).is_ok();
            let request = first_frame_decodes(body_as_frame(body).as_slice());
            assert!(
                connect || request,
                "{}: frame {frames} decodes as nothing",
                path.display()
            );
            frames += 1;
            buf = &buf[end..];
        }
        assert!(
            buf.is_empty() && frames > 0,
            "{}: not whole frames",
            path.display()
        );
        zkrs_fuzz::frame_decoder(&data);
    }
}

#[test]
fn frame_decoder_survives_a_pseudo_random_corpus() {
    let seed_inputs: Vec<Vec<u8>> = seeds("frame_decoder").into_iter().map(|(_, d)| d).collect();
    let mut rng = Rng::new(0x5eed_f4a3_e000_0001);
    let mut decoded = 0;
    for _ in 0..CASES {
        let input = frame_case(&mut rng, &seed_inputs);
        zkrs_fuzz::frame_decoder(&input);
        if first_frame_decodes(&input) {
            decoded += 1;
        }
    }
    // Inputs that never get past the length prefix or the opcode would test little.
    assert!(
        decoded > CASES / 20,
        "only {decoded} of {CASES} inputs decoded"
    );
}

/// Whether the input's first frame decodes as a request.
fn first_frame_decodes(input: &[u8]) -> bool {
    let Ok(Some((start, end))) = find_frame(input, zkrs_proto::frame::DEFAULT_MAX_FRAME) else {
        return false;
    };
    let body = &input[start..end];
    let mut r = Reader::new(body);
    match RequestHeader::read(&mut r) {
        Ok(h) => Request::decode(h.op, &body[r.position()..]).is_ok(),
        Err(_) => false,
    }
}

fn body_as_frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

// ---- zoo.cfg ----

const KEYS: &[&str] = &[
    "tickTime",
    "initLimit",
    "syncLimit",
    "dataDir",
    "dataLogDir",
    "clientPort",
    "secureClientPort",
    "clientPortAddress",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "4lw.commands.whitelist",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "zookeeper.DigestAuthenticationProvider.superDigest",
    "superUser",
    "admin.serverPort",
    "admin.enableServer",
    "admin.serverAddress",
    "snapCount",
    "forceSync",
    "jute.maxbuffer",
    "preAllocSize",
    "standaloneEnabled",
    "reconfigEnabled",
    "dynamicConfigFile",
    "globalOutstandingLimit",
    "maxCnxns",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "localSessionsEnabled",
    "quorumListenOnAllIPs",
    "electionAlg",
    "peerType",
    "metricsProvider.className",
    "metricsProvider.httpPort",
    "server.1",
    "server.2",
    "server.3",
    "server.0",
    "server.-1",
    "server.9223372036854775807",
    "group.1",
    "weight.2",
    "ssl.keyStore.location",
    "zookeeper.server.1",
    "unknown",
    "k\\ ey",
    "\\u0041",
];

const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "2000",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-9223372036854775808",
    "0x10",
    "0x",
    "+5",
    "abc",
    "true",
    "NO",
    "*",
    "srvr, stat",
    "/data",
    "127.0.0.1",
    "::1",
    "[::1]",
    "localhost",
    "participant",
    "observer",
    "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    "super:",
    "1:2:3",
    "\\u00",
    "\\uFFFF",
    "\\",
    "é\u{0}",
];

fn server_value(rng: &mut Rng) -> String {
    let host = rng.pick(&[
        "zoo1",
        "127.0.0.1",
        "[::1]",
        "[::1",
        "",
        "a b",
        "[zoo]",
        "h",
    ]);
    let port = |rng: &mut Rng| rng.pick(&["2888", "3888", "2889", "0", "65536", "x", ""]);
    let mut v = format!("{host}:{}:{}", port(rng), port(rng));
    if rng.chance(3) {
        v.push(':');
        v.push_str(rng.pick(&["observer", "participant", "PARTICIPANT", "voter", ""]));
    }
    if rng.chance(3) {
        v.push(';');
        v.push_str(rng.pick(&[
            "2181",
            "0.0.0.0:2181",
            "[::1]:2181",
            "::1:2181",
            "x:1",
            "",
            ":",
        ]));
    }
    if rng.chance(20) {
        v.push_str("|h2:1:2");
    }
    v
}

fn config_case(rng: &mut Rng, seed_inputs: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(10) {
        0 => rng.bytes(80),
        1 | 2 => {
            let seed = seed_inputs[rng.below(seed_inputs.len())].clone();
            mutate(rng, seed)
        }
        _ => {
            let mut text = String::new();
            if !rng.chance(5) {
                text.push_str("dataDir=/d\n");
            }
            for _ in 0..rng.below(12) {
                match rng.below(10) {
                    0 => text.push_str(rng.pick(&["# c", "! c", "", "   ", "\\", "="])),
                    _ => {
                        let key = rng.pick(KEYS);
                        let sep = rng.pick(&["=", " = ", ":", " ", "\t=", "=="]);
                        let value = if key.contains("server.") && !rng.chance(4) {
                            server_value(rng)
                        } else {
                            rng.pick(VALUES).to_string()
                        };
                        text.push_str(key);
                        text.push_str(sep);
                        text.push_str(&value);
                        if rng.chance(15) {
                            text.push('\\');
                        }
                    }
                }
                text.push_str(rng.pick(&["\n", "\n", "\n", "\r\n", "\r"]));
            }
            text.into_bytes()
        }
    }
}

#[test]
fn config_seeds_parse() {
    for (path, data) in seeds("config_parser") {
        let text = String::from_utf8(data.clone()).expect("UTF-8 seed");
        if let Err(e) = Config::parse(&text, &path.display().to_string()) {
            panic!("seed does not parse: {e}");
        }
        zkrs_fuzz::config_parser(&data);
    }
}

#[test]
fn config_parser_survives_a_pseudo_random_corpus() {
    let seed_inputs: Vec<Vec<u8>> = seeds("config_parser").into_iter().map(|(_, d)| d).collect();
    let mut rng = Rng::new(0x5eed_c0f1_6000_0002);
    let mut accepted = 0;
    for _ in 0..CASES {
        let input = config_case(&mut rng, &seed_inputs);
        zkrs_fuzz::config_parser(&input);
        if Config::parse(&String::from_utf8_lossy(&input), "smoke.cfg").is_ok() {
            accepted += 1;
        }
    }
    // A corpus the parser rejects wholesale would only test the first line of each input.
    assert!(
        accepted > CASES / 20,
        "only {accepted} of {CASES} inputs parsed"
    );
}

// ---- quorum protocol ----

const PACKET_TYPES: &[i32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0, -1, 42,
];

const ADDRESSES: &[&str] = &[
    "127.0.0.1:3888",
    "[::1]:3889",
    "zoo1:3890",
    "0.0.0.0:3888",
    "[::]:1",
    "h:+5",
    "h:65536",
    "h:1:",
    "[::1]",
    "[h]x1",
    ":5",
    "h",
    "",
    "\u{fffd}:1",
];

fn be32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn be64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A length that is usually right and sometimes lies.
fn lying_len(rng: &mut Rng, real: usize) -> i32 {
    match rng.below(10) {
        0 => -1,
        1 => real as i32 + 1 + rng.below(4) as i32,
        2 => rng.pick(&[0, -2, i32::MAX, i32::MIN, 2049, 0x0020_0000]),
        3 => real.saturating_sub(1) as i32,
        _ => real as i32,
    }
}

fn handshake(rng: &mut Rng, out: &mut Vec<u8>) {
    let version: i64 = rng.pick(&[-65536, -65536, -65535, 5, -1, i64::MIN]);
    be64(out, version);
    if version >= 0 {
        return;
    }
    be64(out, rng.pick(&[1, 2, i64::MAX, -3]));
    let mut addr = String::new();
    for i in 0..=rng.below(3) {
        if i > 0 {
            addr.push('|');
        }
        addr.push_str(rng.pick(ADDRESSES));
    }
    be32(out, lying_len(rng, addr.len()));
    out.extend_from_slice(addr.as_bytes());
}

fn notification(rng: &mut Rng) -> Vec<u8> {
    let mut n = Vec::new();
    be32(&mut n, rng.pick(&[0, 1, 2, 3, 0, 4, -1]));
    for _ in 0..4 {
        be64(
            &mut n,
            rng.pick(&[0, 1, -1, 0x5_0000_0007, i64::MIN, i64::MAX]),
        );
    }
    match rng.below(6) {
        0 => n.truncate(28),
        1 => be32(&mut n, 1),
        2 => n.truncate(rng.below(44)),
        _ => {
            be32(&mut n, rng.pick(&[2, 2, 1, 3, -1]));
            let config: &[u8] = rng.pick(&[
                &b"server.1=127.0.0.1:2888:3888:participant\nversion=0"[..],
                b"",
                b"\xff\xfe",
            ]);
            be32(&mut n, lying_len(rng, config.len()));
            n.extend_from_slice(config);
        }
    }
    n
}

fn quorum_packet(rng: &mut Rng, out: &mut Vec<u8>) {
    be32(out, rng.pick(PACKET_TYPES));
    let random = rng.next() as i64;
    be64(
        out,
        rng.pick(&[-1, 0, 0x6_0000_0000, 0x6_0000_0002, random]),
    );
    let data: Vec<u8> = match rng.below(4) {
        0 => 0x10000i32.to_be_bytes().to_vec(),
        1 => {
            let mut li = Vec::new();
            be64(&mut li, 3);
            be32(&mut li, 0x10000);
            be64(&mut li, 0);
            li.truncate(rng.below(21));
            li
        }
        _ => rng.bytes(12),
    };
    be32(out, lying_len(rng, data.len()));
    out.extend_from_slice(&data);
    let ids = rng.pick(&[-1i32, -1, 0, 1, 2, -5, i32::MAX]);
    be32(out, ids);
    for _ in 0..ids.clamp(0, 3) {
        for s in [
            rng.pick(&["digest", "ip", ""]),
            rng.pick(&["a:b", "127.0.0.1", ""]),
        ] {
            be32(out, lying_len(rng, s.len()));
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn quorum_case(rng: &mut Rng, seed_inputs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(10) {
        0 => out = rng.bytes(64),
        1 | 2 => {
            let seed = seed_inputs[rng.below(seed_inputs.len())].clone();
            out = mutate(rng, seed);
        }
        3..=5 => {
            if !rng.chance(4) {
                handshake(rng, &mut out);
            }
            for _ in 0..=rng.below(3) {
                let body = notification(rng);
                be32(&mut out, lying_len(rng, body.len()));
                out.extend_from_slice(&body);
            }
        }
        _ => {
            for _ in 0..=rng.below(4) {
                quorum_packet(rng, &mut out);
            }
        }
    }
    out
}

#[test]
fn quorum_seeds_decode() {
    for (path, data) in seeds("quorum_decoders") {
        assert!(
            zkrs_fuzz::quorum_decoders(&data) >= 2,
            "{}: decodes as too little",
            path.display()
        );
    }
}

#[test]
fn quorum_decoders_survive_a_pseudo_random_corpus() {
    let seed_inputs: Vec<Vec<u8>> = seeds("quorum_decoders")
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let mut rng = Rng::new(0x5eed_2ab0_0000_0003);
    let mut decoded = 0;
    for _ in 0..CASES {
        let input = quorum_case(&mut rng, &seed_inputs);
        if zkrs_fuzz::quorum_decoders(&input) > 0 {
            decoded += 1;
        }
    }
    // Inputs that never get past a length check would test little.
    assert!(
        decoded > CASES / 5,
        "only {decoded} of {CASES} inputs decoded"
    );
}
