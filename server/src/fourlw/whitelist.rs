//! `4lw.commands.whitelist`: which words the server answers, with Apache's rules
//! (`FourLetterCommands.isEnabled` in 3.8). The config parser builds the one [`Whitelist`] a
//! server has; the connection edge asks it before anything else, even before reading the
//! 8 bytes that follow `stmk`.

use std::collections::BTreeSet;

use super::FourLetterWord;

/// The configuration key holding the comma-separated list of allowed words (`*` = all).
pub const WHITELIST_PROPERTY: &str = "4lw.commands.whitelist";

/// The set of words `4lw.commands.whitelist` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whitelist {
    allowed: BTreeSet<FourLetterWord>,
}

impl Whitelist {
    /// Parses the value of `4lw.commands.whitelist` (`None` when the key is absent).
    ///
    /// Entries are comma-separated and trimmed; `*` allows everything; unknown or empty
    /// entries are ignored (see [`Whitelist::unknown_entries`] to warn about them); `srvr`
    /// is always allowed, because Apache's `zkServer.sh status` depends on it.
    /// `read_only_mode_enabled` (Apache's `readonlymode.enabled`) additionally allows
    /// `isro`, which read-only clients use to find a read-write server.
    pub fn parse(value: Option<&str>, read_only_mode_enabled: bool) -> Self {
        let mut allowed = BTreeSet::new();
        for entry in value.unwrap_or("").split(',').map(str::trim) {
            if entry == "*" {
                allowed.extend(FourLetterWord::ALL);
            } else if let Some(word) = FourLetterWord::from_name(entry) {
                allowed.insert(word);
            }
        }
        if read_only_mode_enabled {
            allowed.insert(FourLetterWord::Isro);
        }
        allowed.insert(FourLetterWord::Srvr);
        Whitelist { allowed }
    }

    /// Entries of a whitelist value that name no word, probably typos (`stta`). None when the
    /// value contains `*`, which allows everything anyway.
    pub fn unknown_entries(value: &str) -> Vec<&str> {
        let entries = || value.split(',').map(str::trim).filter(|e| !e.is_empty());
        if entries().any(|e| e == "*") {
            return Vec::new();
        }
        entries()
            .filter(|e| FourLetterWord::from_name(e).is_none())
            .collect()
    }

    /// Everything allowed (`4lw.commands.whitelist=*`).
    pub fn all() -> Self {
        Whitelist {
            allowed: FourLetterWord::ALL.into_iter().collect(),
        }
    }

    /// Whether `cmd` may be answered; otherwise answer [`not_in_whitelist`].
    pub fn allows(&self, cmd: FourLetterWord) -> bool {
        self.allowed.contains(&cmd)
    }
}

impl Default for Whitelist {
    /// Apache's default since 3.5.3, when the key is absent: `srvr` only.
    fn default() -> Self {
        Whitelist::parse(None, false)
    }
}

/// The answer to a word that is not whitelisted, e.g.
/// `mntr is not executed because it is not in the whitelist.\n`.
pub fn not_in_whitelist(cmd: FourLetterWord) -> String {
    format!("{cmd} is not executed because it is not in the whitelist.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture of Apache 3.8.0 under a restricted whitelist, if there is one for `word`.
    fn capture(dir: &str, word: FourLetterWord) -> Option<String> {
        let path = format!(
            "{}/tests/fixtures/4lw/whitelist/{dir}/{word}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).ok()
    }

    #[test]
    fn refusal_text_matches_apache() {
        for w in FourLetterWord::ALL {
            if w == FourLetterWord::Srvr {
                continue;
            }
            assert_eq!(Some(not_in_whitelist(w)), capture("srvr_only", w), "{w}");
        }
    }

    #[test]
    fn rules_match_apaches_captures() {
        // (fixture directory, value of 4lw.commands.whitelist, readonlymode.enabled)
        let cases = [
            ("srvr_only", Some("srvr"), false),
            ("unset", None, false),
            ("ruok_stat", Some(" ruok , stat"), false),
            ("ruok_readonly_mode", Some("ruok"), true),
        ];
        for (dir, value, read_only) in cases {
            let wl = Whitelist::parse(value, read_only);
            let mut checked = 0;
            for w in FourLetterWord::ALL {
                let Some(captured) = capture(dir, w) else {
                    continue;
                };
                let refused = captured == not_in_whitelist(w);
                assert_eq!(wl.allows(w), !refused, "{dir}: {w}");
                checked += 1;
            }
            assert!(checked >= 4, "{dir}");
        }
    }

    #[test]
    fn default_allows_srvr_only() {
        let wl = Whitelist::default();
        assert_eq!(wl, Whitelist::parse(None, false));
        for w in FourLetterWord::ALL {
            assert_eq!(wl.allows(w), w == FourLetterWord::Srvr, "{w}");
        }
        // An empty value is no different from an absent key.
        assert_eq!(Whitelist::parse(Some(""), false), wl);
        assert_eq!(Whitelist::parse(Some(" , ,"), false), wl);
    }

    #[test]
    fn star_allows_everything_wherever_it_stands() {
        let all = Whitelist::parse(Some("*"), false);
        assert_eq!(all, Whitelist::all());
        assert!(FourLetterWord::ALL.into_iter().all(|w| all.allows(w)));
        assert_eq!(
            Whitelist::parse(Some("stat, *,bogus,,"), false),
            Whitelist::all()
        );
        assert_eq!(Whitelist::parse(Some("ruok, * "), false), Whitelist::all());
    }

    #[test]
    fn srvr_stays_allowed_and_matching_is_exact() {
        let wl = Whitelist::parse(Some("bogus,MNTR, mntr ,stat"), false);
        assert!(wl.allows(FourLetterWord::Mntr));
        assert!(wl.allows(FourLetterWord::Stat));
        assert!(wl.allows(FourLetterWord::Srvr));
        assert!(!wl.allows(FourLetterWord::Ruok));
        assert!(!wl.allows(FourLetterWord::Isro));
        // `isro` comes with read-only mode, whatever the list says.
        assert!(Whitelist::parse(Some("ruok"), true).allows(FourLetterWord::Isro));
    }

    #[test]
    fn unknown_entries_are_reported_for_warnings() {
        assert_eq!(
            Whitelist::unknown_entries(" stat ,stta,,MNTR, ruok"),
            vec!["stta", "MNTR"]
        );
        assert!(Whitelist::unknown_entries("stta,*").is_empty());
        assert!(Whitelist::unknown_entries("").is_empty());
    }
}
