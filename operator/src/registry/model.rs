//! The registry as the gateway sees it: a pure function from the znodes under the base path
//! to services and their live members, and the change counters long polls wait on.
//!
//! Layouts, under the base path (`/registry` by default):
//! * `<service>/<member>`: a member per child of a service node. Its data is an address
//!   (the course's providers, the project's `ServiceRegistry`) or a Curator JSON
//!   `ServiceInstance` (Curator's `<basePath>/<serviceName>/<instanceId>`);
//! * `<member>` with an address as data, directly under the base path (the course's first
//!   example, `/registry/provider0000000001` = `rmi://host:port/HelloService`): a member of
//!   the service its address names (the RMI name, the first segment of the URL path).
//!
//! Members whose data cannot be read as an endpoint are left out and listed as
//! [`Problem`]s, so one bad registration never hides the others.

use std::collections::BTreeMap;

use serde::Serialize;

use super::address::{is_json, parse_address, parse_curator, AddressError, Endpoint};

/// The znodes one or two levels under the base path, by path relative to it (`svc`,
/// `svc/member`), with their data.
pub type RawTree = BTreeMap<String, Vec<u8>>;

/// Which convention a member was registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// An address as data.
    Address,
    /// A Curator service-discovery JSON instance.
    Curator,
}

/// A live member of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The znode's name (`provider0000000003`, Curator's instance id).
    pub id: String,
    /// The znode's path relative to the base path.
    pub znode: String,
    pub layout: Layout,
    /// The data as the provider wrote it (Curator's JSON is not repeated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub endpoint: Endpoint,
}

/// A member left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub znode: String,
    pub error: String,
}

/// Services and their members, derived from a [`RawTree`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct View {
    /// Every service node and every service a member names, members ordered by znode.
    pub services: BTreeMap<String, Vec<Member>>,
    pub problems: Vec<Problem>,
}

/// Reads the services out of the tree.
pub fn view(tree: &RawTree) -> View {
    let mut v = View::default();
    for (znode, data) in tree {
        match znode.split_once('/') {
            Some((service, id)) => match member(znode, id, data) {
                Ok(m) => v.services.entry(service.to_string()).or_default().push(m),
                Err(e) => v.problems.push(problem(znode, e)),
            },
            // A service node: present even with no members. Service nodes carry no data
            // in either layout; a node with data here is a member of the flat layout.
            None if data.is_empty() => {
                v.services.entry(znode.clone()).or_default();
            }
            None => match flat_member(znode, data) {
                Ok((service, m)) => v.services.entry(service).or_default().push(m),
                Err(e) => v.problems.push(problem(znode, e)),
            },
        }
    }
    for members in v.services.values_mut() {
        members.sort_by(|a, b| a.znode.cmp(&b.znode));
    }
    v
}

fn problem(znode: &str, e: impl std::fmt::Display) -> Problem {
    Problem {
        znode: znode.to_string(),
        error: e.to_string(),
    }
}

fn member(znode: &str, id: &str, data: &[u8]) -> Result<Member, AddressError> {
    if is_json(data) {
        let instance = parse_curator(data)?;
        return Ok(Member {
            id: id.to_string(),
            znode: znode.to_string(),
            layout: Layout::Curator,
            address: None,
            endpoint: instance.endpoint,
        });
    }
    let endpoint = parse_address(data)?;
    Ok(Member {
        id: id.to_string(),
        znode: znode.to_string(),
        layout: Layout::Address,
        address: Some(String::from_utf8_lossy(data).trim().to_string()),
        endpoint,
    })
}

#[derive(Debug, thiserror::Error)]
enum FlatError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("a member directly under the base path needs a service name in its address (rmi://host:port/Name)")]
    NoServiceName,
}

fn flat_member(znode: &str, data: &[u8]) -> Result<(String, Member), FlatError> {
    let m = member(znode, znode, data)?;
    let service = m
        .endpoint
        .path
        .as_deref()
        .and_then(|p| p.split(['/', '?', '#']).next())
        .filter(|s| !s.is_empty())
        .ok_or(FlatError::NoServiceName)?
        .to_string();
    Ok((service, m))
}

/// A view with the counters of a long poll: `index` grows with every change of the view,
/// and each service remembers the index of its last change (also after it vanished, so a
/// poll on it wakes when it goes).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub index: u64,
    pub view: View,
    #[serde(skip)]
    pub changed_at: BTreeMap<String, u64>,
    /// Whether the gateway is connected to the ensemble (it serves the last view if not).
    pub connected: bool,
}

impl Snapshot {
    /// The snapshot after the tree became `tree`. Unchanged services keep their index.
    pub fn next(&self, tree: &RawTree, connected: bool) -> Snapshot {
        let view = view(tree);
        if view == self.view {
            return Snapshot {
                connected,
                ..self.clone()
            };
        }
        let index = self.index + 1;
        let mut changed_at = self.changed_at.clone();
        let names = view.services.keys().chain(self.view.services.keys());
        for name in names {
            if view.services.get(name) != self.view.services.get(name) {
                changed_at.insert(name.clone(), index);
            }
        }
        Snapshot {
            index,
            view,
            changed_at,
            connected,
        }
    }

    /// The index of a service's last change (0: never seen).
    pub fn service_index(&self, service: &str) -> u64 {
        self.changed_at.get(service).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(nodes: &[(&str, &str)]) -> RawTree {
        nodes
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn both_layouts_and_the_flat_one_give_services() {
        let t = tree(&[
            ("hello", ""),
            ("hello/provider0000000001", "rmi://10.0.0.1:1099/Hello"),
            ("hello/instance-0000000002", "10.0.0.2:1099"),
            ("billing", ""),
            (
                "billing/6f1e",
                r#"{"name":"billing","id":"6f1e","address":"10.0.0.9","port":8080,"serviceType":"DYNAMIC"}"#,
            ),
            ("empty", ""),
            ("provider0000000007", "rmi://10.0.0.3:1099/Flat"),
        ]);
        let v = view(&t);
        assert_eq!(
            v.services.keys().collect::<Vec<_>>(),
            ["Flat", "billing", "empty", "hello"]
        );
        let hello: Vec<_> = v.services["hello"]
            .iter()
            .map(|m| m.endpoint.host.as_str())
            .collect();
        assert_eq!(hello, ["10.0.0.2", "10.0.0.1"], "ordered by znode");
        assert_eq!(v.services["billing"][0].layout, Layout::Curator);
        assert_eq!(v.services["billing"][0].endpoint.port, 8080);
        assert_eq!(v.services["Flat"][0].id, "provider0000000007");
        assert!(v.services["empty"].is_empty());
        assert!(v.problems.is_empty(), "{:?}", v.problems);
    }

    #[test]
    fn bad_members_are_skipped_and_reported() {
        let mut t = tree(&[
            ("s", ""),
            ("s/good", "10.0.0.1:80"),
            ("s/noport", "10.0.0.1"),
            ("s/json", "{\"address\":"),
            ("flat-without-name", "10.0.0.1:80"),
        ]);
        t.insert("s/binary".to_string(), vec![0xff, 0x00, 0xfe]);
        let v = view(&t);
        assert_eq!(v.services["s"].len(), 1);
        let bad: Vec<_> = v.problems.iter().map(|p| p.znode.as_str()).collect();
        assert_eq!(bad, ["flat-without-name", "s/binary", "s/json", "s/noport"]);
    }

    #[test]
    fn the_index_moves_only_for_services_that_changed() {
        let s0 = Snapshot::default();
        let s1 = s0.next(
            &tree(&[("a/1", "10.0.0.1:80"), ("b/1", "10.0.0.2:80")]),
            true,
        );
        assert_eq!(
            (s1.index, s1.service_index("a"), s1.service_index("b")),
            (1, 1, 1)
        );
        let s2 = s1.next(&tree(&[("a/1", "10.0.0.1:80")]), true);
        assert_eq!(
            (s2.index, s2.service_index("a"), s2.service_index("b")),
            (2, 1, 2)
        );
        let s3 = s2.next(&tree(&[("a/1", "10.0.0.1:80")]), false);
        assert_eq!(s3.index, 2, "no change, no new index");
        assert!(!s3.connected);
        assert_eq!(s3.service_index("never"), 0);
    }
}
