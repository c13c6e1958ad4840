//! Encoding of what the server sends: replies, notifications, connect responses.

use zkrs_proto::opcode::xid;
use zkrs_proto::{
    ConnectResponse, KeeperState, Record, ReplyHeader, Response, WatcherEvent, Writer,
};

/// A whole reply frame (length prefix included).
pub fn reply_frame(xid: i32, zxid: i64, err: i32, body: &Response) -> Vec<u8> {
    let mut w = Writer::frame();
    ReplyHeader { xid, zxid, err }.write(&mut w);
    if err == 0 || matches!(body, Response::Multi(_)) {
        body.write(&mut w);
    }
    w.finish_frame()
}

/// An error reply: the header alone.
pub fn error_frame(xid: i32, zxid: i64, err: i32) -> Vec<u8> {
    reply_frame(xid, zxid, err, &Response::Empty)
}

/// A watch notification (xid -1).
pub fn notification_frame(event_type: i32, path: &str) -> Vec<u8> {
    let mut w = Writer::frame();
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .write(&mut w);
    WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected.code(),
        path: path.to_string(),
    }
    .write(&mut w);
    w.finish_frame()
}

pub fn connect_frame(resp: &ConnectResponse) -> Vec<u8> {
    let mut w = Writer::frame();
    resp.write(&mut w);
    w.finish_frame()
}
