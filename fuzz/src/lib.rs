//! The bodies of the zkrs fuzz targets.
//!
//! They live here rather than in `fuzz_targets/` so that two drivers run the same code:
//! libFuzzer (`cargo fuzz run <target>`, nightly or `RUSTC_BOOTSTRAP=1`) and the plain
//! `cargo test` smoke test in `tests/smoke.rs`, which needs only stable Rust. Each body
//! panics only when it finds a bug: a decoder that panics, or a property that fails.

use zkrs_proto::frame::{find_frame, DEFAULT_MAX_FRAME};
use zkrs_proto::{ConnectRequest, Reader, Record, Request, RequestHeader, Writer};
use zkrs_server::config::Config;

/// Treats `data` as bytes arriving on a client connection: cuts frames off the front the
/// way the server's read loop does, and decodes each one both as a connect request (what
/// the first frame is) and as a request header plus body (what every later frame is).
pub fn frame_decoder(data: &[u8]) {
    let mut buf = data;
    loop {
        let (start, end) = match find_frame(buf, DEFAULT_MAX_FRAME) {
            Ok(Some(range)) => range,
            // Needs more bytes, or a length the connection would be closed for.
            Ok(None) | Err(_) => return,
        };
        assert!(
            start == 4 && start <= end && end <= buf.len(),
            "find_frame returned {start}..{end} for a buffer of {}",
            buf.len()
        );
        assert!(end - start <= DEFAULT_MAX_FRAME, "frame over the limit");
        let body = &buf[start..end];
        decode_connect(body);
        decode_request(body);
        // Every frame is at least its 4-byte prefix, so this always makes progress.
        buf = &buf[end..];
    }
}

/// A connect request must fill its frame; whatever decodes must encode back to bytes that
/// decode to the same value.
fn decode_connect(body: &[u8]) {
    if let Ok(req) = ConnectRequest::decode_exact(body) {
        let again = ConnectRequest::decode_exact(&req.to_bytes());
        assert_eq!(
            again.as_ref(),
            Ok(&req),
            "ConnectRequest does not round-trip"
        );
    }
}

/// A request header, then the body for its opcode. A decoded request must survive an
/// encode/decode round trip, and its accessors must not panic.
fn decode_request(body: &[u8]) {
    let mut r = Reader::new(body);
    let Ok(header) = RequestHeader::read(&mut r) else {
        return;
    };
    let rest = &body[r.position()..];
    let Ok(req) = Request::decode(header.op, rest) else {
        return;
    };
    let _ = (req.op(), req.path(), req.is_write());
    let mut w = Writer::new();
    req.write_body(&mut w);
    let again = Request::decode(header.op, &w.into_inner());
    assert_eq!(
        again.as_ref(),
        Ok(&req),
        "request with opcode {} does not round-trip",
        header.op
    );
}

/// Feeds `data`, as lossy UTF-8, to the zoo.cfg parser. Whatever it returns is fine as
/// long as it returns; an accepted config must also satisfy the parser's own promises.
pub fn config_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok((cfg, _warnings)) = Config::parse(&text, "fuzz.cfg") {
        assert!(
            cfg.min_session_timeout_ms() <= cfg.max_session_timeout_ms(),
            "accepted min session timeout above max"
        );
        assert!(cfg.tick_time_ms > 0, "accepted tickTime 0");
        assert!(cfg.autopurge_snap_retain_count >= 3, "retain count below 3");
        let ids: Vec<u64> = cfg.servers.iter().map(|s| s.id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "servers not sorted by unique id: {ids:?}"
        );
        assert!(ids.iter().all(|&id| id >= 1), "accepted server id 0");
        let _ = (
            cfg.client_addr(),
            cfg.is_standalone(),
            cfg.four_letter_words
                .allows(zkrs_server::FourLetterWord::Srvr),
        );
    }
}

/// Treats `data` as bytes from another server of the ensemble: an election connection
/// (handshake, then framed notifications) and the learner port (a stream of
/// `QuorumPacket`s). The checks live in the server crate, whose decoders are private.
/// Returns how many messages decoded.
pub fn quorum_decoders(data: &[u8]) -> usize {
    zkrs_server::fuzzing::decode_quorum_inputs(data)
}
