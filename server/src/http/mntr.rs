//! The `mntr` answer read back as key/value pairs: the one rendering of the server's
//! metrics (Apache's `mntr` table, its modes and defaults, in `crate::fourlw`) that the
//! `monitor` command and `/metrics` take their values from, so all three always agree.

use crate::fourlw::{render, FourLetterWord, ServerSnapshot};

use super::json::Json;

/// `mntr`'s lines without the `zk_` prefix, in its order.
pub struct MntrLines {
    lines: Vec<(String, String)>,
}

impl MntrLines {
    pub fn of(snap: &ServerSnapshot) -> Self {
        let text = render(FourLetterWord::Mntr, snap);
        let lines = text
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| {
                (
                    k.strip_prefix("zk_").unwrap_or(k).to_string(),
                    v.to_string(),
                )
            })
            .collect();
        MntrLines { lines }
    }

    /// The raw text of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A key as a number for Prometheus (absent or text: `None`).
    pub fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.parse::<f64>().ok())
    }

    /// An integer key as JSON (0 when absent, as Apache's gauges start).
    pub fn int(&self, key: &str) -> Json {
        Json::Int(self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Every key with its JSON value: integers and doubles as numbers (doubles keep the
    /// digits Java printed), anything else as a string, as Apache's `monitor` types them.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Json)> {
        self.lines.iter().map(|(k, v)| (k.as_str(), typed(v)))
    }
}

fn typed(v: &str) -> Json {
    if let Ok(i) = v.parse::<i64>() {
        return Json::Int(i);
    }
    let looks_numeric = v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'E'));
    if looks_numeric && v.parse::<f64>().is_ok() {
        return Json::Number(v.to_string());
    }
    Json::str(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_as_apache_types_them() {
        assert_eq!(typed("12"), Json::Int(12));
        assert_eq!(typed("-1"), Json::Int(-1));
        assert_eq!(typed("0.0"), Json::Number("0.0".into()));
        assert_eq!(typed("1.5E7"), Json::Number("1.5E7".into()));
        assert_eq!(
            typed("leading - broadcast"),
            Json::str("leading - broadcast")
        );
        assert_eq!(
            typed("3.9.0-zkrs, built on x"),
            Json::str("3.9.0-zkrs, built on x")
        );
    }

    #[test]
    fn a_fresh_standalone_view_reads_back_its_fixed_keys() {
        let snap = ServerSnapshot::new("v".into(), "d".into(), Default::default());
        let m = MntrLines::of(&snap);
        assert_eq!(m.get("server_state"), Some("standalone"));
        assert_eq!(m.number("last_client_response_size"), Some(-1.0));
        assert_eq!(m.get("quorum_size"), None);
    }
}
