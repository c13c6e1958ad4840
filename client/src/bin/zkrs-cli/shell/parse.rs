//! Turning text into commands the way `zkCli.sh` does: the line tokenizer of
//! `ZooKeeperMain.MyCommandOptions`, an Apache commons-cli style option parser (flags,
//! options with values, bundling, `--`, option groups) with its error messages, and the
//! small Java parsing helpers whose behaviour users see (`Integer.decode`, `String.split`).

/// Java's `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// Splits a command line like `MyCommandOptions.parseCommand`: repeated `find()` of
/// `\s*([^"']\S*|"[^"]*"|'[^']*')\s*`, then surrounding quotes stripped from each token.
///
/// So `create /a "hello world"` gives `["create", "/a", "hello world"]`, an unterminated
/// quote is skipped (`"abc` gives `abc`), and a quote inside a word is kept (`a"b`).
pub fn tokenize(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        match match_at(&chars, pos) {
            Some((group, end)) => {
                tokens.push(strip_quotes(&chars[group.0..group.1]));
                pos = end.max(pos + 1);
            }
            None => pos += 1,
        }
    }
    tokens
}

/// The regex match starting exactly at `start`: the group's range and the match's end.
fn match_at(chars: &[char], start: usize) -> Option<((usize, usize), usize)> {
    let spaces = chars[start..]
        .iter()
        .take_while(|c| is_java_space(**c))
        .count();
    // `\s*` is greedy: try the longest run first, then give characters back.
    for k in (0..=spaces).rev() {
        let i = start + k;
        let Some(&c) = chars.get(i) else {
            continue;
        };
        let group_end = if c != '"' && c != '\'' {
            let mut j = i + 1;
            while j < chars.len() && !is_java_space(chars[j]) {
                j += 1;
            }
            Some(j)
        } else {
            chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .map(|off| i + 1 + off + 1)
        };
        if let Some(g) = group_end {
            let trailing = chars[g..].iter().take_while(|c| is_java_space(**c)).count();
            return Some(((i, g), g + trailing));
        }
    }
    None
}

/// `^(['"])(.*)(\1)$`: removes one pair of matching surrounding quotes.
fn strip_quotes(token: &[char]) -> String {
    let n = token.len();
    if n >= 2
        && (token[0] == '"' || token[0] == '\'')
        && token[n - 1] == token[0]
        && !token[1..n - 1]
            .iter()
            .any(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    {
        return token[1..n - 1].iter().collect();
    }
    token.iter().collect()
}

/// One option a command accepts, as declared with commons-cli (`new Option("v", true,
/// "version")`).
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    pub name: &'static str,
    pub has_arg: bool,
    pub desc: &'static str,
}

pub const fn flag(name: &'static str, desc: &'static str) -> OptSpec {
    OptSpec {
        name,
        has_arg: false,
        desc,
    }
}

pub const fn valued(name: &'static str, desc: &'static str) -> OptSpec {
    OptSpec {
        name,
        has_arg: true,
        desc,
    }
}

/// A set of mutually exclusive options (`OptionGroup`), possibly required.
#[derive(Debug, Clone, Copy)]
pub struct OptGroup {
    pub members: &'static [&'static str],
    pub required: bool,
}

/// The result of parsing: the options seen (first value wins, like `getOptionValue`) and the
/// remaining arguments, the command name first (`CommandLine.getArgs()`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    opts: Vec<(String, Option<String>)>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| n == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

fn unrecognized(token: &str) -> String {
    format!("org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {token}")
}

fn missing_argument(name: &str) -> String {
    format!("org.apache.commons.cli.MissingArgumentException: Missing argument for option: {name}")
}

/// Parses `argv` (the command name first) against `specs`, with commons-cli's behaviour and
/// error messages (`org.apache.commons.cli.UnrecognizedOptionException: ...`).
pub fn parse_options(
    specs: &[OptSpec],
    group: Option<OptGroup>,
    argv: &[String],
) -> Result<Parsed, String> {
    let find = |name: &str| specs.iter().find(|s| s.name == name);
    let is_known_option = |token: &str| {
        token.len() >= 2
            && token.starts_with('-')
            && !token.starts_with("--")
            && (find(&token[1..]).is_some()
                || token[1..]
                    .chars()
                    .next()
                    .is_some_and(|c| find(&c.to_string()).is_some()))
    };
    let mut parsed = Parsed::default();
    let mut selected: Option<String> = None;
    let mut select = |name: &str, parsed: &mut Parsed, value: Option<String>| {
        if let Some(g) = group {
            if g.members.contains(&name) {
                match &selected {
                    Some(prev) if prev != name => {
                        return Err(format!(
                            "org.apache.commons.cli.AlreadySelectedException: The option '{name}' \
                             was specified but an option from this group has already been \
                             selected: '{prev}'"
                        ));
                    }
                    _ => selected = Some(name.to_string()),
                }
            }
        }
        parsed.opts.push((name.to_string(), value));
        Ok(())
    };
    let mut i = 0;
    let mut only_args = false;
    while i < argv.len() {
        let token = &argv[i];
        i += 1;
        if only_args || !token.starts_with('-') || token == "-" {
            parsed.args.push(token.clone());
            continue;
        }
        if token == "--" {
            only_args = true;
            continue;
        }
        if token.starts_with("--") {
            return Err(unrecognized(token));
        }
        let body = &token[1..];
        if let Some(spec) = find(body) {
            let value = if spec.has_arg {
                match argv.get(i) {
                    Some(next) if !is_known_option(next) => {
                        i += 1;
                        Some(next.clone())
                    }
                    _ => return Err(missing_argument(spec.name)),
                }
            } else {
                None
            };
            select(spec.name, &mut parsed, value)?;
            continue;
        }
        // Bundled short options (`-sw`, `-v5`).
        let chars: Vec<char> = body.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let name = chars[j].to_string();
            let Some(spec) = find(&name) else {
                return Err(unrecognized(token));
            };
            if spec.has_arg {
                let rest: String = chars[j + 1..].iter().collect();
                let value = if !rest.is_empty() {
                    rest
                } else {
                    match argv.get(i) {
                        Some(next) if !is_known_option(next) => {
                            i += 1;
                            next.clone()
                        }
                        _ => return Err(missing_argument(spec.name)),
                    }
                };
                select(spec.name, &mut parsed, Some(value))?;
                break;
            }
            select(spec.name, &mut parsed, None)?;
            j += 1;
        }
    }
    if let Some(g) = group {
        if g.required && selected.is_none() {
            let names: Vec<String> = g
                .members
                .iter()
                .map(|m| {
                    let desc = find(m).map(|s| s.desc).unwrap_or("");
                    format!("-{m} {desc}")
                })
                .collect();
            return Err(format!(
                "org.apache.commons.cli.MissingOptionException: Missing required option: [{}]",
                names.join(", ")
            ));
        }
    }
    Ok(parsed)
}

/// `Integer.decode`: optional sign, then `0x`/`0X`/`#` hex, `0` octal, or decimal.
pub fn java_decode_int(s: &str) -> Option<i32> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, h)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with('-') || digits.starts_with('+') {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    let value = if neg { -magnitude } else { magnitude };
    i32::try_from(value).ok()
}

/// `Integer.parseInt`.
pub fn java_parse_int(s: &str) -> Option<i32> {
    if s.is_empty() || s == "+" || s == "-" {
        return None;
    }
    s.parse::<i32>().ok()
}

/// `Long.parseLong`.
pub fn java_parse_long(s: &str) -> Option<i64> {
    if s.is_empty() || s == "+" || s == "-" {
        return None;
    }
    s.parse::<i64>().ok()
}

/// `String.split(sep)` for a one-character literal separator: trailing empty strings are
/// removed, and a string without the separator gives itself.
pub fn java_split(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Java's `String.compareTo`: by UTF-16 code units (differs from byte order only for
/// characters above U+FFFF against U+E000..U+FFFF).
pub fn java_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Vec<String> {
        tokenize(line)
    }

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tokenizes_like_zkcli() {
        assert_eq!(t("ls /"), ["ls", "/"]);
        assert_eq!(t("  ls   /a  "), ["ls", "/a"]);
        assert_eq!(
            t("create /wzyy \"phone game\""),
            ["create", "/wzyy", "phone game"]
        );
        assert_eq!(
            t("create /q 'single quoted'"),
            ["create", "/q", "single quoted"]
        );
        assert_eq!(t("create /q a\"b"), ["create", "/q", "a\"b"]);
        assert_eq!(
            t("create /q \"unterminated"),
            ["create", "/q", "unterminated"]
        );
        assert_eq!(t("create /q \"\" acl"), ["create", "/q", "", "acl"]);
        assert_eq!(t("set /a \"x\"y"), ["set", "/a", "x", "y"]);
        assert_eq!(t("ls\t/a"), ["ls", "/a"]);
        assert!(t("").is_empty());
        // A blank line is one command named " " (the regex backtracks into the spaces), which
        // zkCli reports as not found.
        assert_eq!(t("   "), [" "]);
        // A leading quote that never closes: the regex backtracks into the whitespace.
        assert_eq!(t(" \"abc"), [" \"abc"]);
    }

    #[test]
    fn parses_options_like_commons_cli() {
        let specs = [
            flag("s", "stats"),
            valued("v", "version"),
            flag("w", "watch"),
        ];
        let p = parse_options(&specs, None, &argv(&["set", "-s", "-v", "3", "/a", "x"])).unwrap();
        assert!(p.has("s"));
        assert_eq!(p.value("v"), Some("3"));
        assert_eq!(p.args, ["set", "/a", "x"]);

        let p = parse_options(&specs, None, &argv(&["ls", "-sw", "/a"])).unwrap();
        assert!(p.has("s") && p.has("w"));
        let p = parse_options(&specs, None, &argv(&["ls", "/a", "-w"])).unwrap();
        assert!(p.has("w"));
        assert_eq!(p.args, ["ls", "/a"]);
        let p = parse_options(&specs, None, &argv(&["set", "-v5", "/a"])).unwrap();
        assert_eq!(p.value("v"), Some("5"));
        let p = parse_options(&specs, None, &argv(&["set", "-v", "-1", "/a"])).unwrap();
        assert_eq!(p.value("v"), Some("-1"));
        let p = parse_options(&specs, None, &argv(&["get", "--", "-x"])).unwrap();
        assert_eq!(p.args, ["get", "-x"]);
        let p = parse_options(&specs, None, &argv(&["set", "-v", "1", "-v", "2"])).unwrap();
        assert_eq!(p.value("v"), Some("1"));

        assert_eq!(
            parse_options(&specs, None, &argv(&["ls", "-x", "/"])).unwrap_err(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        assert_eq!(
            parse_options(&specs, None, &argv(&["create", "/a", "-1"])).unwrap_err(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -1"
        );
        assert_eq!(
            parse_options(&specs, None, &argv(&["ls", "--stats"])).unwrap_err(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: --stats"
        );
        assert_eq!(
            parse_options(&specs, None, &argv(&["set", "-v"])).unwrap_err(),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
    }

    #[test]
    fn option_groups() {
        let specs = [
            valued("n", "num soft quota"),
            valued("b", "bytes soft quota"),
            valued("N", "num hard quota"),
            valued("B", "bytes hard quota"),
        ];
        let group = Some(OptGroup {
            members: &["n", "b", "N", "B"],
            required: true,
        });
        assert_eq!(
            parse_options(&specs, group, &argv(&["setquota", "/a"])).unwrap_err(),
            "org.apache.commons.cli.MissingOptionException: Missing required option: \
             [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]"
        );
        assert_eq!(
            parse_options(
                &specs,
                group,
                &argv(&["setquota", "-n", "1", "-b", "2", "/a"])
            )
            .unwrap_err(),
            "org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified but \
             an option from this group has already been selected: 'n'"
        );
        let p = parse_options(&specs, group, &argv(&["setquota", "-N", "4", "/a"])).unwrap();
        assert_eq!(p.value("N"), Some("4"));
        // Multi-character option names (reconfig's -members, -file).
        let specs = [
            valued("members", "m"),
            valued("file", "f"),
            flag("s", "stats"),
        ];
        let p = parse_options(&specs, None, &argv(&["reconfig", "-members", "x,y", "-s"])).unwrap();
        assert_eq!(p.value("members"), Some("x,y"));
        assert!(p.has("s"));
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(java_decode_int("12"), Some(12));
        assert_eq!(java_decode_int("0x1f"), Some(31));
        assert_eq!(java_decode_int("#10"), Some(16));
        assert_eq!(java_decode_int("010"), Some(8));
        assert_eq!(java_decode_int("-3"), Some(-3));
        assert_eq!(java_decode_int("0"), Some(0));
        assert_eq!(java_decode_int("abc"), None);
        assert_eq!(java_decode_int(""), None);
        assert_eq!(java_decode_int("99999999999"), None);
        assert_eq!(java_parse_int("-1"), Some(-1));
        assert_eq!(java_parse_int("+7"), Some(7));
        assert_eq!(java_parse_int("1.5"), None);
        assert_eq!(java_parse_long("99999999999"), Some(99_999_999_999));
    }

    #[test]
    fn java_split_drops_trailing_empties() {
        assert_eq!(java_split("a,b", ','), ["a", "b"]);
        assert_eq!(java_split("a,,b,,", ','), ["a", "", "b"]);
        assert_eq!(java_split("", ','), [""]);
        assert!(java_split(",", ',').is_empty());
        assert_eq!(java_split("/a/b", '/'), ["", "a", "b"]);
    }

    #[test]
    fn java_string_order() {
        use std::cmp::Ordering;
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_cmp("B", "a"), Ordering::Less);
        // U+1F600 is a surrogate pair in UTF-16 (0xD83D...), below U+FFFD.
        assert_eq!(java_cmp("\u{1F600}", "\u{FFFD}"), Ordering::Less);
    }
}
