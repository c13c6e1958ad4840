//! The Java `.properties` syntax that zoo.cfg is written in.
//!
//! Apache ZooKeeper loads zoo.cfg with `java.util.Properties`, so a config that works there
//! has to mean the same here. That syntax is a little richer than `key=value`:
//!
//! - a line whose first non-blank character is `#` or `!` is a comment;
//! - the key ends at the first unescaped `=`, `:` or blank; blanks and at most one `=` or
//!   `:` separate it from the value (so `tickTime 2000` and `tickTime: 2000` both work);
//! - a line ending in an odd number of backslashes continues on the next line, whose
//!   leading blanks are dropped;
//! - backslash escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX`, and `\` before any other
//!   character stands for that character.
//!
//! Unlike Java we also drop trailing blanks from the value (Apache trims every value it
//! reads, so this changes nothing it would accept) and ignore a leading byte-order mark.

/// One `key=value` entry, with escapes resolved and both sides trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    /// 1-based number of the physical line the entry starts on.
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// A line that `java.util.Properties` would refuse, which is only a malformed `\uXXXX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    /// The key as far as it could be read, for the error message.
    pub key: String,
    pub message: String,
}

/// Java's blanks for key/value separation: space, tab and form feed.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Splits `text` into entries, in file order. Later duplicates are kept; the caller decides
/// what a repeated key means.
pub(crate) fn parse(text: &str) -> Result<Vec<Property>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((idx, raw)) = lines.next() {
        let first_line = idx + 1;
        let content = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = content.trim_start_matches(|c: char| is_blank(c) || c == '\r');
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines into one logical line. The trailing backslash that marks
        // a continuation is dropped; an escaped backslash (`\\`) at the end is not one.
        let mut logical = String::new();
        let mut part = trimmed;
        loop {
            if ends_with_odd_backslashes(part) {
                logical.push_str(&part[..part.len() - 1]);
                match lines.next() {
                    Some((_, next)) => {
                        let next = next.strip_suffix('\r').unwrap_or(next);
                        part = next.trim_start_matches(is_blank);
                    }
                    // Java drops a dangling continuation at end of input.
                    None => break,
                }
            } else {
                logical.push_str(part);
                break;
            }
        }
        out.push(split_entry(&logical, first_line)?);
    }
    Ok(out)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits one logical line into key and value and resolves escapes in both.
fn split_entry(logical: &str, line: usize) -> Result<Property, SyntaxError> {
    // Find where the key ends: the first unescaped blank, `=` or `:`.
    let mut key_end = logical.len();
    let mut escaped = false;
    for (i, c) in logical.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = i;
            break;
        }
    }
    let raw_key = &logical[..key_end];
    let mut rest = logical[key_end..].trim_start_matches(is_blank);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches(is_blank);
    }
    let key = unescape(raw_key).map_err(|message| SyntaxError {
        line,
        key: raw_key.to_string(),
        message,
    })?;
    let value = unescape(rest).map_err(|message| SyntaxError {
        line,
        key: key.clone(),
        message,
    })?;
    Ok(Property {
        line,
        key: key.trim().to_string(),
        value: value.trim().to_string(),
    })
}

/// Resolves Java properties escapes.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    u32::from_str_radix(&hex, 16).ok()
                } else {
                    None
                };
                match code {
                    // A lone UTF-16 surrogate has no `char`; Java would keep it in a
                    // broken string, we keep the replacement character instead.
                    Some(code) => out.push(char::from_u32(code).unwrap_or('\u{fffd}')),
                    None => return Err(format!("malformed \\uXXXX escape \"\\u{hex}\"")),
                }
            }
            Some(other) => out.push(other),
            // A lone trailing backslash was a continuation marker at end of input.
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(usize, String, String)> {
        parse(text)
            .expect("valid properties")
            .into_iter()
            .map(|p| (p.line, p.key, p.value))
            .collect()
    }

    fn one(line: usize, k: &str, v: &str) -> (usize, String, String) {
        (line, k.to_string(), v.to_string())
    }

    #[test]
    fn comments_blanks_and_separators() {
        let text = "# comment\n! also a comment\n\n   \n  a=1\nb = 2 \nc:3\nd 4\ne\t=\t5\nf\n  # indented comment\ng=\n";
        assert_eq!(
            kv(text),
            vec![
                one(5, "a", "1"),
                one(6, "b", "2"),
                one(7, "c", "3"),
                one(8, "d", "4"),
                one(9, "e", "5"),
                one(10, "f", ""),
                one(12, "g", ""),
            ]
        );
    }

    #[test]
    fn only_the_first_separator_splits() {
        assert_eq!(
            kv("server.1=host:2888:3888\nx==y\nk = : v"),
            vec![
                one(1, "server.1", "host:2888:3888"),
                one(2, "x", "=y"),
                one(3, "k", ": v")
            ]
        );
    }

    #[test]
    fn crlf_and_bom() {
        assert_eq!(
            kv("\u{feff}a=1\r\nb=2\r\n"),
            vec![one(1, "a", "1"), one(2, "b", "2")]
        );
    }

    #[test]
    fn continuation_lines_keep_the_first_line_number() {
        assert_eq!(
            kv("a=1\nlist=x,\\\n    y,\\\n    z\nb=2"),
            vec![one(1, "a", "1"), one(2, "list", "x,y,z"), one(5, "b", "2")]
        );
        // An escaped backslash at the end is not a continuation.
        assert_eq!(
            kv("a=x\\\\\nb=2"),
            vec![one(1, "a", "x\\"), one(2, "b", "2")]
        );
        // A continuation at end of input just ends the value.
        assert_eq!(kv("a=x\\"), vec![one(1, "a", "x")]);
        // A continued line that starts with # is not a comment.
        assert_eq!(kv("a=x\\\n#y"), vec![one(1, "a", "x#y")]);
    }

    #[test]
    fn escapes() {
        assert_eq!(kv(r"a\=b=c\:d\u0041\t!"), vec![one(1, "a=b", "c:dA\t!")]);
        assert_eq!(kv(r"sp\ ace=1"), vec![one(1, "sp ace", "1")]);
        let err = parse("x=1\nbad=\\u12").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.key, "bad");
        let err = parse("k\\uzzzz=1").unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(err.key, "k\\uzzzz");
        // A surrogate escape does not panic.
        assert_eq!(kv(r"a=\ud800"), vec![one(1, "a", "\u{fffd}")]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in [
            "\\", "\\\\", "=", ":", " = ", "\u{feff}", "\r", "\r\r\n", "é=ü\\", "\\u",
        ] {
            let _ = parse(text);
        }
    }
}
