//! Access control: authentication schemes (world, digest, ip, super) and ACL checks with
//! Apache ZooKeeper's semantics.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;
use zkrs_proto::opcode::perms;
use zkrs_proto::{Acl, ErrorCode, Id};

/// `user:base64(sha1("user:password"))`, the id a digest ACL names.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// What a connection has proven about itself. Every connection starts with its `ip` id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthInfo {
    pub ids: Vec<Id>,
}

impl AuthInfo {
    pub fn for_remote(ip: IpAddr) -> Self {
        AuthInfo {
            ids: vec![Id::new("ip", ip_string(ip))],
        }
    }

    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|id| id.scheme == "super")
    }

    fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Handles `addauth scheme credentials`: `digest` adds an identity, `ip` is accepted (the
/// address is already known); any other scheme fails as Apache's server does for a scheme
/// it has no provider for.
pub fn add_auth(
    info: &mut AuthInfo,
    scheme: &str,
    credentials: &[u8],
    super_digest: Option<&str>,
) -> Result<(), ErrorCode> {
    match scheme {
        "digest" => {
            let cred = std::str::from_utf8(credentials).map_err(|_| ErrorCode::AuthFailed)?;
            let id = digest_id(cred);
            if super_digest == Some(id.as_str()) {
                info.add(Id::new("super", ""));
            }
            info.add(Id::new("digest", id));
            Ok(())
        }
        // Apache's ip provider accepts any credentials and vouches for the peer address,
        // which every connection already has.
        "ip" => Ok(()),
        _ => Err(ErrorCode::AuthFailed),
    }
}

fn ip_matches(client: &str, acl: &str) -> bool {
    let (net, bits) = match acl.split_once('/') {
        Some((n, b)) => match b.parse::<u32>() {
            Ok(bits) => (n, Some(bits)),
            Err(_) => return false,
        },
        None => (acl, None),
    };
    let (Ok(client), Ok(net)) = (client.parse::<IpAddr>(), net.parse::<IpAddr>()) else {
        return false;
    };
    let (c, n, width): (u128, u128, u32) = match (client, net) {
        (IpAddr::V4(c), IpAddr::V4(n)) => (u32::from(c) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(c), IpAddr::V6(n)) => (u128::from(c), u128::from(n), 128),
        _ => return false,
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (c >> shift) == (n >> shift)
}

fn valid_ip_acl(id: &str) -> bool {
    let (net, bits) = match id.split_once('/') {
        Some((n, b)) => (n, Some(b)),
        None => (id, None),
    };
    let Ok(addr) = net.parse::<IpAddr>() else {
        return false;
    };
    match bits {
        None => true,
        Some(b) => match b.parse::<u32>() {
            Ok(bits) => bits <= if addr.is_ipv4() { 32 } else { 128 },
            Err(_) => false,
        },
    }
}

/// Whether `auth` grants `perm` on a node with `acl` (`ZooKeeperServer.checkACL`).
pub fn check(acl: &[Acl], perm: i32, auth: &AuthInfo) -> Result<(), ErrorCode> {
    if acl.is_empty() || auth.is_super() {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for id in &auth.ids {
            if id.scheme != a.id.scheme {
                continue;
            }
            let matched = match id.scheme.as_str() {
                "ip" => ip_matches(&id.id, &a.id.id),
                "digest" => id.id == a.id.id,
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// Validates and expands the ACL of a create or setACL (`PrepRequestProcessor.fixupACL`):
/// `auth` entries become the connection's authenticated ids, unknown schemes and malformed
/// ids are `InvalidACL`, duplicates go.
pub fn fixup(acl: &[Acl], auth: &AuthInfo) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let mut push = |a: Acl| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for a in acl {
        match a.id.scheme.as_str() {
            "world" if a.id.id == "anyone" => push(a.clone()),
            "auth" => {
                let mut any = false;
                for id in auth.ids.iter().filter(|id| id.scheme == "digest") {
                    push(Acl {
                        perms: a.perms,
                        id: id.clone(),
                    });
                    any = true;
                }
                if !any {
                    return Err(ErrorCode::InvalidAcl);
                }
            }
            "digest" if a.id.id.split(':').count() == 2 => push(a.clone()),
            "ip" if valid_ip_acl(&a.id.id) => push(a.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    Ok(out)
}

/// The ACL `getACL` shows a caller without ADMIN permission: digest hashes are masked.
pub fn masked_for_reader(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", format!("{user}:x")),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// The permission a `getACL` needs.
pub const GET_ACL_PERMS: i32 = perms::READ | perms::ADMIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_apache() {
        // Values printed by Apache's DigestAuthenticationProvider main for the same input.
        assert_eq!(
            digest_id("super:superpw"),
            "super:g9oN2HttPfn8MMWJZ2r45Np/LIA="
        );
        assert_eq!(digest_id("u:p"), "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    }

    #[test]
    fn checks() {
        let user = digest_id("u:p");
        let acl = vec![Acl::new(perms::READ, "digest", &user)];
        let mut auth = AuthInfo::for_remote("127.0.0.1".parse().unwrap());
        assert_eq!(check(&acl, perms::READ, &auth), Err(ErrorCode::NoAuth));
        add_auth(&mut auth, "digest", b"u:p", None).unwrap();
        assert_eq!(check(&acl, perms::READ, &auth), Ok(()));
        assert_eq!(check(&acl, perms::WRITE, &auth), Err(ErrorCode::NoAuth));
        let ip_acl = vec![Acl::new(perms::ALL, "ip", "127.0.0.0/8")];
        assert_eq!(check(&ip_acl, perms::WRITE, &auth), Ok(()));
        let other = vec![Acl::new(perms::ALL, "ip", "10.0.0.1")];
        assert_eq!(check(&other, perms::WRITE, &auth), Err(ErrorCode::NoAuth));
    }

    #[test]
    fn super_digest_bypasses() {
        let mut auth = AuthInfo::default();
        let sup = digest_id("super:pw");
        add_auth(&mut auth, "digest", b"super:pw", Some(&sup)).unwrap();
        let acl = vec![Acl::new(perms::READ, "digest", "x:y")];
        assert_eq!(check(&acl, perms::ADMIN, &auth), Ok(()));
    }

    #[test]
    fn fixup_expands_auth_and_rejects_bad() {
        let mut auth = AuthInfo::for_remote("127.0.0.1".parse().unwrap());
        let want = vec![Acl::new(perms::ALL, "auth", "")];
        assert_eq!(fixup(&want, &auth), Err(ErrorCode::InvalidAcl));
        add_auth(&mut auth, "digest", b"u:p", None).unwrap();
        let got = fixup(&want, &auth).unwrap();
        assert_eq!(got, vec![Acl::new(perms::ALL, "digest", &digest_id("u:p"))]);
        assert_eq!(fixup(&[], &auth), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup(&[Acl::new(1, "bogus", "x")], &auth),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[Acl::new(1, "ip", "300.1.1.1")], &auth),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[Acl::new(1, "digest", "nocolon")], &auth),
            Err(ErrorCode::InvalidAcl)
        );
    }
}
