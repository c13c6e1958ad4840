//! Clients: each connects to a serving member, writes, reads, closes its session,
//! disconnects, and reattaches its session on another member after its member's role
//! ended. Replies must come in request order, and an acknowledged write must be in the
//! committed sequence with the session and cxid that asked for it.

use std::collections::VecDeque;

use zkrs_proto::request::{CreateRequest, PathVersion, PathWatch, SetDataRequest};
use zkrs_proto::{Acl, ConnectResponse, OpCode, Record, Request};

use crate::quorum::election::Sid;

use super::super::testkit::{new_session_request, split_reply};
use super::super::{ConnId, Input, Outgoing};
use super::world::Sim;

#[derive(Default)]
pub(super) struct Client {
    /// The member and connection in use.
    pub at: Option<(Sid, ConnId)>,
    /// The session and its password, once a connect response gave them.
    pub session: Option<(i64, Vec<u8>)>,
    pub handshaking: bool,
    /// Requests sent and not answered: xid, and whether a success is an acknowledged write.
    pub pending: VecDeque<(i32, bool)>,
    pub next_xid: i32,
    /// The connection this client authenticated on (the reconfig client).
    pub authed: Option<ConnId>,
    /// The reconfigs sent and not answered, by xid.
    pub reconfigs: std::collections::BTreeMap<i32, super::reconfig::Ask>,
}

impl Sim {
    pub(super) fn client_step(&mut self, c: usize) {
        let Some((sid, conn)) = self.clients[c].at else {
            self.client_connect(c);
            return;
        };
        if self.clients[c].handshaking {
            return;
        }
        let path = format!("/n{}", self.rng.gen_range_u(0..6));
        let req = match self.rng.gen_range_u(0..100) {
            0..=24 => Request::Create(
                OpCode::Create,
                CreateRequest {
                    path,
                    data: Some(vec![self.rng.gen_range_u(0..256) as u8]),
                    acl: Acl::open_unsafe(),
                    // Persistent or ephemeral.
                    flags: (self.rng.gen_range_u(0..2)) as i32,
                    ttl: -1,
                },
            ),
            25..=44 => Request::SetData(SetDataRequest {
                path,
                data: Some(vec![self.rng.gen_range_u(0..256) as u8]),
                version: -1,
            }),
            45..=51 => Request::Delete(PathVersion { path, version: -1 }),
            52..=56 => {
                let other = format!("/n{}", self.rng.gen_range_u(0..6));
                Request::Multi(
                    OpCode::Multi,
                    vec![
                        Request::Check(PathVersion {
                            path: path.clone(),
                            version: -1,
                        }),
                        Request::SetData(SetDataRequest {
                            path,
                            data: None,
                            version: -1,
                        }),
                        Request::Delete(PathVersion {
                            path: other,
                            version: -1,
                        }),
                    ],
                )
            }
            57..=76 => Request::GetData(PathWatch { path, watch: false }),
            77..=81 => Request::Sync("/".into()),
            82..=89 => Request::Ping,
            90..=93 => Request::CloseSession,
            _ => {
                self.log(|| format!("client {c} disconnects from {sid}"));
                self.forget_conn(c);
                self.feed(sid, Input::Disconnected { conn });
                return;
            }
        };
        let tracked = matches!(
            req,
            Request::Create(..) | Request::SetData(_) | Request::Delete(_) | Request::Multi(..)
        );
        let cl = &mut self.clients[c];
        cl.next_xid += 1;
        let xid = cl.next_xid;
        cl.pending.push_back((xid, tracked));
        self.log(|| format!("client {c} sends xid {xid} to {sid}: {req:?}"));
        let now = self.now();
        if let Some(h) = self.m(sid).harness() {
            h.now = now;
            h.request(conn, xid, req);
        }
        self.absorb(sid);
    }

    /// Connects to a random serving member, with the session the client has, if any.
    pub(super) fn client_connect(&mut self, c: usize) {
        let serving: Vec<Sid> = self
            .members
            .iter()
            .filter(|m| m.serves())
            .map(|m| m.sid)
            .collect();
        if serving.is_empty() {
            return;
        }
        let sid = serving[self.rng.gen_range_u(0..serving.len() as u64) as usize];
        let conn = self.next_conn;
        self.next_conn += 1;
        let mut req = new_session_request(2000 + 1000 * self.rng.gen_range_u(0..4) as i32);
        if let Some((id, passwd)) = &self.clients[c].session {
            req.session_id = *id;
            req.passwd = passwd.clone();
        }
        self.log(|| format!("client {c} connects to {sid} for {:#x}", req.session_id));
        let cl = &mut self.clients[c];
        cl.at = Some((sid, conn));
        cl.handshaking = true;
        cl.pending.clear();
        let now = self.now();
        if let Some(h) = self.m(sid).harness() {
            h.now = now;
            h.open(conn, req);
        }
        self.absorb(sid);
    }

    fn forget_conn(&mut self, c: usize) {
        let cl = &mut self.clients[c];
        cl.at = None;
        cl.pending.clear();
        cl.handshaking = false;
        cl.authed = None;
        cl.reconfigs.clear();
    }

    /// The member's role ended: its connections are gone.
    pub(super) fn drop_clients_of(&mut self, sid: Sid) {
        for c in 0..self.clients.len() {
            if self.clients[c].at.is_some_and(|(s, _)| s == sid) {
                self.forget_conn(c);
            }
        }
    }

    /// Every client leaves without closing its session (so that every session expires).
    pub(super) fn disconnect_all(&mut self) {
        for c in 0..self.clients.len() {
            if let Some((sid, conn)) = self.clients[c].at {
                self.forget_conn(c);
                self.feed(sid, Input::Disconnected { conn });
            }
            self.clients[c].session = None;
        }
    }

    /// What member `sid` sent to its client connections.
    pub(super) fn client_outputs(&mut self, sid: Sid, outs: Vec<(ConnId, Vec<Outgoing>)>) {
        for (conn, frames) in outs {
            let Some(c) = self
                .clients
                .iter()
                .position(|cl| cl.at == Some((sid, conn)))
            else {
                continue;
            };
            for out in frames {
                match out {
                    Outgoing::Close => {
                        if self.clients[c].handshaking {
                            self.clients[c].session = None;
                        }
                        self.forget_conn(c);
                        self.feed(sid, Input::Disconnected { conn });
                        break;
                    }
                    Outgoing::Frame(f) if self.clients[c].handshaking => {
                        let resp = ConnectResponse::decode_exact(&f[4..]).unwrap_or_else(|e| {
                            self.fail(format!("client {c}: a bad connect response: {e}"))
                        });
                        self.log(|| format!("client {c} has session {:#x}", resp.session_id));
                        let new = self.clients[c].session.is_none();
                        if new && resp.session_id != 0 && !self.creation_committed(resp.session_id)
                        {
                            self.fail(format!(
                                "client {c}: session {:#x} announced before its creation committed",
                                resp.session_id
                            ));
                        }
                        let cl = &mut self.clients[c];
                        cl.handshaking = false;
                        cl.session =
                            (resp.session_id != 0).then(|| (resp.session_id, resp.passwd.clone()));
                    }
                    Outgoing::Frame(f) | Outgoing::Reply(f) => self.client_reply(c, &f),
                }
            }
        }
    }

    fn creation_committed(&self, session: i64) -> bool {
        self.committed.iter().any(|e| {
            e.hdr.session_id == session && matches!(*e.txn, crate::txn::Txn::CreateSession { .. })
        })
    }

    fn client_reply(&mut self, c: usize, frame: &[u8]) {
        let (hdr, _) = split_reply(frame);
        if hdr.xid == -1 {
            return;
        }
        self.log(|| format!("client {c} gets {hdr:?}"));
        let Some((xid, tracked)) = self.clients[c].pending.pop_front() else {
            self.fail(format!("client {c}: reply {} to nothing", hdr.xid));
        };
        if hdr.xid != xid {
            self.fail(format!(
                "client {c}: reply to xid {} before xid {xid}",
                hdr.xid
            ));
        }
        if let Some(ask) = self.clients[c].reconfigs.remove(&xid) {
            self.reconfig_reply(c, &hdr, &ask);
        }
        if !tracked || hdr.err != 0 {
            return;
        }
        let session = self.clients[c].session.as_ref().map_or(0, |s| s.0);
        let found = self
            .committed
            .binary_search_by_key(&hdr.zxid, |e| e.hdr.zxid)
            .ok()
            .map(|i| &self.committed[i].hdr);
        match found {
            Some(h) if h.session_id == session && h.cxid == xid => self.acked += 1,
            other => self.fail(format!(
                "client {c}: write xid {xid} of session {session:#x} acknowledged at {:#x}, \
                 but the committed sequence holds {other:?} there",
                hdr.zxid
            )),
        }
    }
}

/// `gen_range` over u64 ranges without type annotations at every call.
pub(super) trait RangeU {
    fn gen_range_u(&mut self, r: std::ops::Range<u64>) -> u64;
}

impl<R: rand::Rng> RangeU for R {
    fn gen_range_u(&mut self, r: std::ops::Range<u64>) -> u64 {
        self.gen_range(r)
    }
}
