//! The Secret holding the cluster's super user password: the operator authenticates with
//! it to `reconfig`, and the members get only its digest (Apache's
//! `DigestAuthenticationProvider.superDigest`). Made once with a random password and
//! never rewritten: the members' digest must keep matching it.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use sha1::{Digest as _, Sha1};

use super::metadata;
use crate::validate::Cluster;

/// The key holding the password.
pub const PASSWORD_KEY: &str = "password";
/// The key holding `super:<base64 sha1>`, which the members' zoo.cfg gets.
pub const DIGEST_KEY: &str = "superDigest";
/// The user the password belongs to.
pub const SUPER_USER: &str = "super";

pub fn super_secret_name(cluster: &str) -> String {
    format!("{cluster}-super")
}

/// `super:base64(sha1("super:<password>"))`, as Apache's `DigestAuthenticationProvider`
/// computes it.
pub fn super_digest(password: &str) -> String {
    let hash = Sha1::digest(format!("{SUPER_USER}:{password}").as_bytes());
    format!(
        "{SUPER_USER}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

pub fn super_secret(c: &Cluster, password: &str) -> Secret {
    Secret {
        metadata: metadata(c, super_secret_name(&c.name), "server"),
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([
            (
                PASSWORD_KEY.to_string(),
                ByteString(password.as_bytes().to_vec()),
            ),
            (
                DIGEST_KEY.to_string(),
                ByteString(super_digest(password).into_bytes()),
            ),
        ])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_apaches() {
        // zkCli.sh's `addauth digest super:test` matches this digest (DigestAuthenticationProvider.generateDigest).
        assert_eq!(super_digest("test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }
}
