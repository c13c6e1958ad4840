//! The super user's password: read from the cluster's Secret, or made once with a random
//! password when the Secret does not exist yet. Never rewritten (the members' digest must
//! keep matching it), so it is created, not applied.

use std::io::Read as _;

use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, Client};

use super::Error;
use crate::builders::{super_secret, super_secret_name, PASSWORD_KEY};
use crate::validate::Cluster;

/// The cluster's super password, creating its Secret if needed.
pub async fn super_password(client: &Client, c: &Cluster) -> Result<String, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &c.namespace);
    let name = super_secret_name(&c.name);
    if let Some(secret) = api.get_opt(&name).await.map_err(|source| Error::Secret {
        name: name.clone(),
        source,
    })? {
        return password_of(&name, &secret);
    }
    let password = random_password().map_err(Error::Random)?;
    match api
        .create(&PostParams::default(), &super_secret(c, &password))
        .await
    {
        Ok(_) => Ok(password),
        // Another reconcile made it first: use theirs.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let secret = api.get(&name).await.map_err(|source| Error::Secret {
                name: name.clone(),
                source,
            })?;
            password_of(&name, &secret)
        }
        Err(source) => Err(Error::Secret { name, source }),
    }
}

fn password_of(name: &str, secret: &Secret) -> Result<String, Error> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(PASSWORD_KEY))
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::BadSecret {
            name: name.to_string(),
        })
}

/// 24 random bytes as hex.
pub fn random_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
