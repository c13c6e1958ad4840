//! The reconfig client: authenticated as `super` (reconfig is restricted to it), it asks
//! any serving member for incremental reconfigs (add a joiner or a removed member, remove
//! a voter, the leader often, turn a voter into an observer and back), from the version
//! its member knows, from -1, or from a stale one, and now and then two at once.
//!
//! Each answer must be Apache's: success, or BadVersion, ReconfigInProgress,
//! NewConfigNoQuorum, BadArguments (too few voters left). A success names the committed
//! reconfig, whose configuration is the one asked for applied to the configuration it
//! replaced, and that one had the asked version.

use rand::Rng;
use zkrs_proto::request::ReconfigRequest;
use zkrs_proto::{AuthPacket, ErrorCode, ReplyHeader, Request};

use crate::quorum::election::Sid;

use super::super::reconfig::committed_config;
use super::configs::same_members;
use super::world::{server_line, Role, Sim, SUPER_PASSWORD};

/// Apache's clients authenticate with this xid.
const AUTH_XID: i32 = -4;

/// A reconfig asked for.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub joining: Option<String>,
    pub leaving: Option<String>,
    /// `fromConfig`: the version it must replace, or -1 for any.
    pub from: i64,
}

impl Sim {
    /// One step of the reconfig client: connect, authenticate, or ask.
    pub fn reconfig_step(&mut self) {
        let Some(c) = self.admin else {
            return;
        };
        let Some((sid, conn)) = self.clients[c].at else {
            self.client_connect(c);
            return;
        };
        if self.clients[c].handshaking {
            return;
        }
        if self.clients[c].authed != Some(conn) {
            let auth = Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: SUPER_PASSWORD.as_bytes().to_vec(),
            });
            self.clients[c].authed = Some(conn);
            self.clients[c].pending.push_back((AUTH_XID, false));
            self.send_request(sid, conn, AUTH_XID, auth);
            return;
        }
        // Two at once now and then: the second finds the first in flight.
        let asks = if self.rng.gen_bool(0.25) { 2 } else { 1 };
        for _ in 0..asks {
            if self.clients[c].at != Some((sid, conn)) {
                return;
            }
            let ask = self.choose_ask(sid);
            let cl = &mut self.clients[c];
            cl.next_xid += 1;
            let xid = cl.next_xid;
            cl.pending.push_back((xid, true));
            cl.reconfigs.insert(xid, ask.clone());
            self.log(|| format!("reconfig client asks {sid} (xid {xid}): {ask:?}"));
            let req = Request::Reconfig(ReconfigRequest {
                joining_servers: ask.joining,
                leaving_servers: ask.leaving,
                new_members: None,
                cur_config_id: ask.from,
            });
            self.send_request(sid, conn, xid, req);
        }
    }

    fn send_request(&mut self, sid: Sid, conn: u64, xid: i32, req: Request) {
        let now = self.now();
        if let Some(h) = self.m(sid).harness() {
            h.now = now;
            h.request(conn, xid, req);
        }
        self.absorb(sid);
    }

    /// A change of the configuration member `sid` knows, from its version, -1, or an
    /// older one.
    fn choose_ask(&mut self, sid: Sid) -> Ask {
        let known = self.mr(sid).ensemble.committed().clone();
        let voters: Vec<Sid> = known.voters().into_iter().collect();
        let observers: Vec<Sid> = known.observers().into_iter().collect();
        let outside: Vec<Sid> = (1..=self.n as Sid)
            .filter(|s| known.member(*s).is_none())
            .collect();
        let leader = (1..=self.n as Sid)
            .find(|&s| matches!(self.mr(s).role, Role::Leading { serving: true, .. }));
        let pick = |rng: &mut rand::rngs::StdRng, v: &[Sid]| v[rng.gen_range(0..v.len())];
        let (joining, leaving) = match self.rng.gen_range(0..10) {
            0..=3 if !outside.is_empty() => (
                Some(server_line(pick(&mut self.rng, &outside), false)),
                None,
            ),
            7 if !voters.is_empty() => {
                (Some(server_line(pick(&mut self.rng, &voters), true)), None)
            }
            8 if !observers.is_empty() => (
                Some(server_line(pick(&mut self.rng, &observers), false)),
                None,
            ),
            9 if !outside.is_empty() && !voters.is_empty() => (
                Some(server_line(pick(&mut self.rng, &outside), false)),
                Some(pick(&mut self.rng, &voters).to_string()),
            ),
            // Removals, the leader's often (it hands over to another voter). A committed
            // configuration always has a voter.
            _ => {
                let leaving = match leader.filter(|l| voters.contains(l)) {
                    Some(l) if self.rng.gen_bool(0.4) => l,
                    _ => voters.first().map_or(sid, |_| pick(&mut self.rng, &voters)),
                };
                (None, Some(leaving.to_string()))
            }
        };
        let older: Vec<i64> = self
            .configs
            .keys()
            .copied()
            .filter(|&v| v < known.version)
            .collect();
        let from = match self.rng.gen_range(0..10) {
            0..=6 => known.version,
            7 => -1,
            _ if !older.is_empty() => older[self.rng.gen_range(0..older.len())],
            _ => known.version + 1,
        };
        Ask {
            joining,
            leaving,
            from,
        }
    }

    /// The answer to a reconfig.
    pub(super) fn reconfig_reply(&mut self, c: usize, hdr: &ReplyHeader, ask: &Ask) {
        let allowed = [
            ErrorCode::BadVersion,
            ErrorCode::ReconfigInProgress,
            ErrorCode::NewConfigNoQuorum,
            ErrorCode::BadArguments,
        ];
        // What any request gets when its session expired or moved, or when the log of
        // the member that took it failed.
        let session = [
            ErrorCode::SessionExpired,
            ErrorCode::SessionMoved,
            ErrorCode::SystemError,
        ];
        if session.iter().any(|e| e.code() == hdr.err) {
            return;
        }
        if hdr.err != 0 {
            let known = allowed.iter().find(|e| e.code() == hdr.err);
            match known {
                Some(ErrorCode::BadVersion) if ask.from == -1 => self.fail(format!(
                    "client {c}: a reconfig from any version answered BadVersion"
                )),
                Some(e) => {
                    self.reconfig_errors += 1;
                    self.log(|| format!("client {c}: reconfig refused: {e:?}"));
                }
                None => self.fail(format!(
                    "client {c}: a reconfig answered error {}, not one of Apache's {allowed:?}",
                    hdr.err
                )),
            }
            return;
        }
        let Some(entry) = self
            .committed
            .binary_search_by_key(&hdr.zxid, |e| e.hdr.zxid)
            .ok()
            .map(|i| self.committed[i].clone())
        else {
            self.fail(format!(
                "client {c}: reconfig acknowledged at {:#x}, which is not committed",
                hdr.zxid
            ));
        };
        let Some(next) = committed_config(&entry) else {
            self.fail(format!(
                "client {c}: reconfig acknowledged at {:#x}, which is not a reconfig",
                hdr.zxid
            ));
        };
        let before = self.config_before(hdr.zxid).clone();
        if ask.from != -1 {
            let matches = self
                .configs
                .get(&ask.from)
                .is_some_and(|asked| same_members(asked, &before));
            if !matches {
                self.fail(format!(
                    "client {c}: a reconfig from version {:#x} replaced {before}",
                    ask.from
                ));
            }
        }
        let want = before
            .incremental(ask.joining.as_deref(), ask.leaving.as_deref())
            .unwrap_or_else(|e| self.fail(format!("client {c}: {ask:?} committed but: {e}")));
        if !same_members(&want, &next) {
            self.fail(format!(
                "client {c}: {ask:?} on {before} committed {next}, not {want}"
            ));
        }
        self.reconfigs_committed += 1;
        self.log(|| format!("client {c}: reconfig committed {next}"));
    }
}
