//! znode path syntax, as `PathUtils.validatePath` checks it.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Invalid path string \"{path}\" caused by {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: &'static str,
}

/// Checks a path; for a sequential create the server checks `path + "1"` as Apache does, so
/// that `/a/` is a valid prefix there.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), PathError> {
    if sequential {
        let mut p = String::with_capacity(path.len() + 1);
        p.push_str(path);
        p.push('1');
        return validate(&p).map_err(|reason| PathError {
            path: path.to_string(),
            reason,
        });
    }
    validate(path).map_err(|reason| PathError {
        path: path.to_string(),
        reason,
    })
}

fn validate(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("path length must be > 0");
    }
    if !path.starts_with('/') {
        return Err("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("path must not end with / character");
    }
    let chars: Vec<char> = path.chars().collect();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_is_end = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err("null character not allowed");
        } else if c == '/' && last == '/' {
            return Err("empty node name specified");
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && next_is_end {
                return Err("relative paths not allowed");
            }
        } else if c == '.' {
            if last == '/' && next_is_end {
                return Err("relative paths not allowed");
            }
        } else if ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
        {
            return Err("invalid character");
        }
    }
    Ok(())
}

/// The parent of a valid path (`/` for top-level nodes, `None` for `/`).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a path.
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a/...",
            "/zookeeper/quota",
        ] {
            assert!(validate_path(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "/a/", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a\u{1}",
        ] {
            assert!(validate_path(bad, false).is_err(), "{bad}");
        }
        assert!(validate_path("/a/", true).is_ok());
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
