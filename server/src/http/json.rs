//! A JSON value with ordered keys and the layout Apache's AdminServer writes (Jackson's
//! default pretty printer: `"key" : value`, two-space indents, `[ a, b ]` and `{ }`), so
//! an answer reads like Apache's when a person compares them. Key order is kept because
//! Apache's responses are ordered maps (the data, then `command`, then `error`).

use std::fmt::Write as _;

/// A JSON value; objects keep their keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// A number already formatted (e.g. a double as Java prints it, `0.0`, `2.0667`).
    Number(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// An unsigned figure; the view's counters never reach `i64::MAX`, saturate if they do.
    pub fn uint(v: u64) -> Json {
        Json::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// A double as Java's `Double.toString` prints it, which is what Jackson writes.
    pub fn double(v: f64) -> Json {
        Json::Number(java_double(v))
    }

    /// Jackson's pretty-printed text.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Number(n) => out.push_str(n),
            Json::Str(s) => quote(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Json::Array(items) => {
                // Jackson keeps array elements on the line of the bracket.
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push_str(" ]");
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{ }"),
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    indent(out, depth + 1);
                    quote(out, k);
                    out.push_str(" : ");
                    v.write(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Java's `Double.toString`, as the four-letter words print doubles.
pub(crate) use crate::fourlw::java_double;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_arrays_are_laid_out_like_jacksons_pretty_printer() {
        let v = Json::Object(vec![
            ("connections".into(), Json::Array(vec![])),
            ("map".into(), Json::Object(vec![])),
            (
                "nested".into(),
                Json::Object(vec![("a".into(), Json::Int(-1))]),
            ),
            (
                "list".into(),
                Json::Array(vec![Json::str("/a"), Json::str("/b")]),
            ),
            ("avg".into(), Json::double(0.0)),
            ("command".into(), Json::str("x")),
            ("error".into(), Json::Null),
        ]);
        assert_eq!(
            v.pretty(),
            "{\n  \"connections\" : [ ],\n  \"map\" : { },\n  \"nested\" : {\n    \"a\" : -1\n  },\n  \
             \"list\" : [ \"/a\", \"/b\" ],\n  \"avg\" : 0.0,\n  \"command\" : \"x\",\n  \"error\" : null\n}"
        );
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            Json::str("a\"b\\c\nd\u{1}").pretty(),
            "\"a\\\"b\\\\c\\nd\\u0001\""
        );
    }

    #[test]
    fn doubles_print_like_java() {
        for (v, want) in [
            (0.0, "0.0"),
            (2.0667, "2.0667"),
            (13115.0, "13115.0"),
            (12345678.0, "1.2345678E7"),
            (1e7, "1.0E7"),
            (0.0001, "1.0E-4"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(java_double(v), want, "{v}");
        }
    }
}
