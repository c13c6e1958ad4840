//! The chroot suffix of a connect string: every path the user gives is sent with the prefix,
//! and every path the server returns (created names, event paths) is stripped of it.

use zkrs_proto::path::validate_path;

use crate::error::{Error, Result};

/// A chroot prefix (`/app`), or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot {
    /// Never `/` and never ending with `/`; empty means no chroot.
    prefix: String,
}

impl Chroot {
    /// Parses the chroot part of a connect string; `""` and `"/"` mean none.
    pub fn new(prefix: &str) -> Result<Chroot> {
        if prefix.is_empty() || prefix == "/" {
            return Ok(Chroot::default());
        }
        validate_path(prefix, false)?;
        Ok(Chroot {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix, or `None` without a chroot.
    pub fn prefix(&self) -> Option<&str> {
        if self.prefix.is_empty() {
            None
        } else {
            Some(&self.prefix)
        }
    }

    /// The server path of a client path (which must be valid).
    pub fn apply(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else if path == "/" {
            self.prefix.clone()
        } else {
            format!("{}{}", self.prefix, path)
        }
    }

    /// The client path of a server path. Paths outside the chroot are returned unchanged.
    pub fn strip(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            return path.to_string();
        }
        match path.strip_prefix(&self.prefix) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        }
    }

    /// Validates a client path and returns its server path. `sequential` allows the trailing
    /// `/` that a sequential create may use.
    pub fn server_path(&self, path: &str, sequential: bool) -> Result<String> {
        validate_path(path, sequential).map_err(Error::from)?;
        Ok(self.apply(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_strip() {
        let none = Chroot::new("/").unwrap();
        assert_eq!(none.apply("/a"), "/a");
        assert_eq!(none.strip("/a"), "/a");
        let c = Chroot::new("/app").unwrap();
        assert_eq!(c.prefix(), Some("/app"));
        assert_eq!(c.apply("/"), "/app");
        assert_eq!(c.apply("/x/y"), "/app/x/y");
        assert_eq!(c.strip("/app"), "/");
        assert_eq!(c.strip("/app/x"), "/x");
        assert_eq!(c.strip("/apple"), "/apple");
        assert_eq!(c.strip("/zookeeper"), "/zookeeper");
        assert!(Chroot::new("app").is_err());
        assert!(Chroot::new("/app/").is_err());
        assert!(c.server_path("x", false).is_err());
        assert_eq!(c.server_path("/s-", true).unwrap(), "/app/s-");
    }
}
