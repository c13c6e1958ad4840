//! The text zkCli prints: Stat blocks, ACL entries, watch events, the messages of
//! `CliWrapperException` and `KeeperException`, and the path checks of `PathUtils`.

use zkrs_client::{perms, Acl, Error, EventType, KeeperState, Stat};

use super::tz;

/// `StatPrinter.print`: the eleven `name = value` lines.
pub fn stat_lines(stat: &Stat) -> Vec<String> {
    vec![
        format!("cZxid = 0x{:x}", stat.czxid),
        format!("ctime = {}", tz::java_date(stat.ctime)),
        format!("mZxid = 0x{:x}", stat.mzxid),
        format!("mtime = {}", tz::java_date(stat.mtime)),
        format!("pZxid = 0x{:x}", stat.pzxid),
        format!("cversion = {}", stat.cversion),
        format!("dataVersion = {}", stat.version),
        format!("aclVersion = {}", stat.aversion),
        format!("ephemeralOwner = 0x{:x}", stat.ephemeral_owner),
        format!("dataLength = {}", stat.data_length),
        format!("numChildren = {}", stat.num_children),
    ]
}

/// `ZooDefs.Perms` as zkCli's getAcl prints them (`cdrwa` order).
pub fn perm_string(p: i32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ] {
        if p & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// jute's `Utils.toCSVString`: a leading `'` and a few characters escaped.
fn csv_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// What getAcl prints for one entry: the jute `Id.toString()` (which ends with a newline),
/// then `: perms`.
pub fn acl_entry(acl: &Acl) -> String {
    format!(
        "{},{}\n: {}",
        csv_string(&acl.id.scheme),
        csv_string(&acl.id.id),
        perm_string(acl.perms)
    )
}

pub fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::None => "None",
        EventType::NodeCreated => "NodeCreated",
        EventType::NodeDeleted => "NodeDeleted",
        EventType::NodeDataChanged => "NodeDataChanged",
        EventType::NodeChildrenChanged => "NodeChildrenChanged",
        EventType::DataWatchRemoved => "DataWatchRemoved",
        EventType::ChildWatchRemoved => "ChildWatchRemoved",
        EventType::PersistentWatchRemoved => "PersistentWatchRemoved",
    }
}

pub fn keeper_state_name(s: KeeperState) -> &'static str {
    match s {
        KeeperState::Disconnected => "Disconnected",
        KeeperState::SyncConnected => "SyncConnected",
        KeeperState::AuthFailed => "AuthFailed",
        KeeperState::ConnectedReadOnly => "ConnectedReadOnly",
        KeeperState::SaslAuthenticated => "SaslAuthenticated",
        KeeperState::Expired => "Expired",
        KeeperState::Closed => "Closed",
    }
}

/// `WatchedEvent.toString()`; a session event has no path (`null`).
pub fn event_string(state: KeeperState, t: EventType, path: Option<&str>) -> String {
    format!(
        "WatchedEvent state:{} type:{} path:{}",
        keeper_state_name(state),
        event_type_name(t),
        path.unwrap_or("null")
    )
}

/// What zkCli prints for an event: `printMessage("WATCHER::")` and `printMessage(event)`,
/// each preceded by an empty line.
pub fn watcher_block(event: &str) -> String {
    format!("\nWATCHER::\n\n{event}\n")
}

/// `KeeperException.Code` values and `getCodeMessage`.
fn code_message(code: i32) -> String {
    match code {
        -1 => "SystemError".into(),
        -2 => "RuntimeInconsistency".into(),
        -3 => "DataInconsistency".into(),
        -4 => "ConnectionLoss".into(),
        -5 => "MarshallingError".into(),
        -6 => "Unimplemented".into(),
        -7 => "OperationTimeout".into(),
        -8 => "BadArguments".into(),
        -12 => "UnknownSession".into(),
        -13 => "NewConfigNoQuorum".into(),
        -14 => "ReconfigInProgress".into(),
        -100 => "APIError".into(),
        -101 => "NoNode".into(),
        -102 => "NoAuth".into(),
        -103 => "BadVersion".into(),
        -108 => "NoChildrenForEphemerals".into(),
        -110 => "NodeExists".into(),
        -111 => "Directory not empty".into(),
        -112 => "Session expired".into(),
        -113 => "Invalid callback".into(),
        -114 => "InvalidACL".into(),
        -115 => "AuthFailed".into(),
        -118 => "Session moved".into(),
        -119 => "Not a read-only call".into(),
        -120 => "Ephemeral node on local session".into(),
        -121 => "No such watcher".into(),
        -122 => "Request timeout".into(),
        -123 => "Reconfig is disabled".into(),
        -124 => "Session closed because client failed to authenticate".into(),
        -125 => "Quota has exceeded".into(),
        -127 => "Op throttled due to high load".into(),
        c => format!("Unknown error {c}"),
    }
}

/// The result code zkCli would see for a library error (client-side failures map to what
/// the Java client reports for them).
pub fn error_code(e: &Error) -> i32 {
    match e {
        Error::Multi { error, .. } => error_code(error),
        Error::Closed | Error::Connect(_) => -4,
        Error::InvalidPath(_) | Error::InvalidArgument(_) => -8,
        Error::InvalidConnectString(_) | Error::Protocol(_) => -5,
        other => other.code().map(|c| c.code()).unwrap_or(-1),
    }
}

/// `KeeperException.getMessage()`: `KeeperErrorCode = <message>[ for <path>]`.
pub fn keeper_message(code: i32, path: Option<&str>) -> String {
    // Java leaves out " for <path>" when the path is null or empty (a reconfig's is "").
    match path {
        Some(p) if !p.is_empty() => format!("KeeperErrorCode = {} for {p}", code_message(code)),
        _ => format!("KeeperErrorCode = {}", code_message(code)),
    }
}

/// `CliWrapperException`'s message for a failed operation on `path` (`None`: the Java
/// client would have no path, e.g. a client-side ACL check or a reconfig).
pub fn cli_error(e: &Error, path: Option<&str>) -> String {
    if let Error::Protocol(m) | Error::InvalidConnectString(m) = e {
        return m.clone();
    }
    let p = path.unwrap_or("null");
    match error_code(e) {
        -101 => format!("Node does not exist: {p}"),
        -108 => format!("Ephemerals cannot have children: {p}"),
        -110 => format!("Node already exists: {p}"),
        -111 => format!("Node not empty: {p}"),
        -119 => format!("Not a read-only call: {p}"),
        -114 => format!("Acl is not valid : {p}"),
        -102 => format!("Insufficient permission : {p}"),
        -8 => format!("Arguments are not valid : {p}"),
        -103 => format!("version No is not valid : {p}"),
        -14 => "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
            .into(),
        -13 => "No quorum of new config is connected and up-to-date with the leader of last \
                committed config - try invoking reconfiguration after new servers are connected \
                and synced"
            .into(),
        -125 => format!("Quota has exceeded : {p}"),
        code => keeper_message(code, path),
    }
}

/// `PathUtils.validatePath`, with its messages (`Path must start with / character`,
/// `Invalid path string "..." caused by ... @i`). A sequential create checks `path + "1"`.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), String> {
    let checked;
    let path = if sequential {
        checked = format!("{path}1");
        checked.as_str()
    } else {
        path
    };
    let units: Vec<u16> = path.encode_utf16().collect();
    if units.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if units[0] != u16::from(b'/') {
        return Err("Path must start with / character".into());
    }
    if units.len() == 1 {
        return Ok(());
    }
    if units[units.len() - 1] == u16::from(b'/') {
        return Err("Path must not end with / character".into());
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    let mut last = slash;
    let mut reason: Option<String> = None;
    for i in 1..units.len() {
        let c = units[i];
        let next_is_end = i + 1 == units.len() || units[i + 1] == slash;
        if c == 0 {
            reason = Some(format!("null character not allowed @{i}"));
            break;
        } else if c == slash && last == slash {
            reason = Some(format!("empty node name specified @{i}"));
            break;
        } else if c == dot && last == dot {
            if units[i - 2] == slash && next_is_end {
                reason = Some(format!("relative paths not allowed @{i}"));
                break;
            }
        } else if c == dot {
            if units[i - 1] == slash && next_is_end {
                reason = Some(format!("relative paths not allowed @{i}"));
                break;
            }
        } else if (c > 0x0000 && c <= 0x001f)
            || (0x007f..=0x009f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            reason = Some(format!("invalid character @{i}"));
            break;
        }
        last = c;
    }
    match reason {
        Some(r) => Err(format!("Invalid path string \"{path}\" caused by {r}")),
        None => Ok(()),
    }
}

/// Java's `List.toString()` of strings: `[a, b]`.
pub fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// `ConfigUtils.getClientConfigStr`: `version` and the client addresses of the servers, as
/// `config -c` prints them.
///
/// Java loads the config into a `Properties` and walks its entries, so the servers come in
/// the iteration order of the `ConcurrentHashMap` behind it, not in id order: bins in
/// index order (`spread(String.hashCode()) & (table size - 1)`), entries of one bin in
/// insertion order. The table starts at 16 bins and doubles whenever the entries reach
/// three quarters of it. (A resize may reorder entries that share a bin; with the few
/// keys of a config, `server.N` and `version`, they do not share one.)
pub fn client_config_string(config: &str) -> String {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => entries.push((key.to_string(), value.to_string())),
        }
    }
    let mut table = 16usize;
    while entries.len() >= table * 3 / 4 {
        table *= 2;
    }
    let bin = |key: &str| (java_spread_hash(key) as usize) & (table - 1);
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (bin(&entries[i].0), i));
    let mut version = String::new();
    let mut addrs: Vec<String> = Vec::new();
    for i in order {
        let (key, value) = &entries[i];
        if key == "version" {
            version = value.clone();
        }
        if !key.starts_with("server.") {
            continue;
        }
        match value.split_once(';') {
            Some((_, client)) => {
                let client = client.trim();
                if client.contains(':') {
                    addrs.push(client.to_string());
                } else {
                    addrs.push(format!("0.0.0.0:{client}"));
                }
            }
            None => addrs.push(String::new()),
        }
    }
    format!("{version} {}", addrs.join(","))
}

/// `ConcurrentHashMap.spread(key.hashCode())` for a `String` key.
fn java_spread_hash(key: &str) -> u32 {
    let h = key.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    });
    (h ^ (h >> 16)) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkrs_client::Id;

    #[test]
    fn acl_lines() {
        let acl = Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        };
        assert_eq!(acl_entry(&acl), "'world,'anyone\n: cdrwa");
        let acl = Acl {
            perms: perms::READ | perms::ADMIN,
            id: Id::new("ip", "10.0.0.0/8,x"),
        };
        assert_eq!(acl_entry(&acl), "'ip,'10.0.0.0/8%2Cx\n: ra");
        assert_eq!(perm_string(0), "");
    }

    #[test]
    fn stat_block() {
        let stat = Stat {
            czxid: 2,
            mzxid: 0x1b,
            ctime: 0,
            mtime: 0,
            version: 1,
            cversion: 2,
            aversion: 0,
            ephemeral_owner: 0x1000_0a3c_d5e0_0001,
            data_length: 10,
            num_children: 3,
            pzxid: 0x1c,
        };
        let lines = stat_lines(&stat);
        assert_eq!(lines[0], "cZxid = 0x2");
        assert_eq!(lines[2], "mZxid = 0x1b");
        assert_eq!(lines[4], "pZxid = 0x1c");
        assert_eq!(lines[8], "ephemeralOwner = 0x10000a3cd5e00001");
        assert_eq!(lines[10], "numChildren = 3");
        let neg = Stat {
            ephemeral_owner: -1,
            ..stat
        };
        assert_eq!(stat_lines(&neg)[8], "ephemeralOwner = 0xffffffffffffffff");
    }

    #[test]
    fn events() {
        assert_eq!(
            event_string(KeeperState::SyncConnected, EventType::None, None),
            "WatchedEvent state:SyncConnected type:None path:null"
        );
        assert_eq!(
            event_string(
                KeeperState::SyncConnected,
                EventType::NodeDataChanged,
                Some("/x")
            ),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/x"
        );
        assert_eq!(watcher_block("E"), "\nWATCHER::\n\nE\n");
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            cli_error(&Error::NoNode, Some("/x")),
            "Node does not exist: /x"
        );
        assert_eq!(
            cli_error(&Error::NotEmpty, Some("/x")),
            "Node not empty: /x"
        );
        assert_eq!(
            cli_error(&Error::NodeExists, Some("/x")),
            "Node already exists: /x"
        );
        assert_eq!(
            cli_error(&Error::BadVersion, Some("/x")),
            "version No is not valid : /x"
        );
        assert_eq!(
            cli_error(&Error::NoAuth, Some("/x")),
            "Insufficient permission : /x"
        );
        assert_eq!(
            cli_error(&Error::NoChildrenForEphemerals, Some("/x")),
            "Ephemerals cannot have children: /x"
        );
        assert_eq!(
            cli_error(&Error::InvalidAcl, None),
            "Acl is not valid : null"
        );
        assert_eq!(
            cli_error(&Error::NoWatcher, Some("/a")),
            "KeeperErrorCode = No such watcher for /a"
        );
        assert_eq!(
            cli_error(&Error::ConnectionLoss, Some("/")),
            "KeeperErrorCode = ConnectionLoss for /"
        );
        assert_eq!(
            cli_error(&Error::ReconfigDisabled, None),
            "KeeperErrorCode = Reconfig is disabled"
        );
        assert_eq!(
            cli_error(&Error::SessionExpired, Some("/a")),
            "KeeperErrorCode = Session expired for /a"
        );
    }

    #[test]
    fn paths_like_path_utils() {
        assert_eq!(validate_path("/", false), Ok(()));
        assert_eq!(validate_path("/a/b", false), Ok(()));
        assert_eq!(
            validate_path("a", false).unwrap_err(),
            "Path must start with / character"
        );
        assert_eq!(
            validate_path("", false).unwrap_err(),
            "Path length must be > 0"
        );
        assert_eq!(
            validate_path("/a/", false).unwrap_err(),
            "Path must not end with / character"
        );
        assert_eq!(validate_path("/a/", true), Ok(()));
        assert_eq!(
            validate_path("/a//b", false).unwrap_err(),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            validate_path("/a/../b", false).unwrap_err(),
            "Invalid path string \"/a/../b\" caused by relative paths not allowed @4"
        );
        assert_eq!(
            validate_path("/a/./b", false).unwrap_err(),
            "Invalid path string \"/a/./b\" caused by relative paths not allowed @3"
        );
        assert_eq!(
            validate_path("/a\u{1}", false).unwrap_err(),
            "Invalid path string \"/a\u{1}\" caused by invalid character @2"
        );
        assert_eq!(
            validate_path("/a//", true).unwrap_err(),
            "Invalid path string \"/a//1\" caused by empty node name specified @3"
        );
        assert_eq!(validate_path("/a.b/..c", false), Ok(()));
    }

    #[test]
    fn client_config() {
        assert_eq!(client_config_string(""), " ");
        let cfg = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                   server.2=h2:2888:3888;2182\nversion=100000000";
        // Java's hash order: `server.2` falls in bin 4, `server.1` in bin 5.
        assert_eq!(
            client_config_string(cfg),
            "100000000 0.0.0.0:2182,0.0.0.0:2181"
        );
        // As zkCli.sh 3.8 printed it for a three-member ensemble.
        let cfg = "server.1=127.1.0.4:2888:3888:participant;127.1.0.4:2181\n\
                   server.2=127.1.0.5:2888:3888:participant;127.1.0.5:2181\n\
                   server.3=127.1.0.6:2888:3888:participant;127.1.0.6:2181\nversion=10000000d";
        assert_eq!(
            client_config_string(cfg),
            "10000000d 127.1.0.5:2181,127.1.0.4:2181,127.1.0.6:2181"
        );
    }
}
