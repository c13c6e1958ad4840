//! Dates as Java's `Date.toString()` prints them (`Wed Nov 25 10:58:48 UTC 2026`), in the
//! local time zone with its abbreviation, which chrono does not provide: the zone comes from
//! `TZ` (a zoneinfo name, a file path, or a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`)
//! or `/etc/localtime`, read from the system's TZif files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate};

/// A POSIX TZ rule (also the footer of TZif v2+ files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixTz {
    std_name: String,
    /// Seconds east of UTC.
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Dst {
    name: String,
    offset: i32,
    start: (Rule, i32),
    end: (Rule, i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u16),
    /// `n`: day 0..=365, February 29 counted.
    Julian0(u16),
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month(u32, u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tzif {
    transitions: Vec<i64>,
    /// Index into `types` for each transition.
    indices: Vec<usize>,
    /// (offset east of UTC, is DST, abbreviation)
    types: Vec<(i32, bool, String)>,
    footer: Option<PosixTz>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Zone {
    Tzif(Tzif),
    Posix(PosixTz),
}

impl Zone {
    fn utc() -> Zone {
        Zone::Posix(PosixTz {
            std_name: "UTC".into(),
            std_offset: 0,
            dst: None,
        })
    }

    /// Offset east of UTC and abbreviation at `t` (seconds since the epoch).
    fn at(&self, t: i64) -> (i32, String) {
        match self {
            Zone::Posix(p) => p.at(t),
            Zone::Tzif(z) => z.at(t),
        }
    }
}

fn local_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| zone_from(std::env::var("TZ").ok().as_deref()))
}

fn zoneinfo_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("TZDIR") {
        dirs.push(PathBuf::from(d));
    }
    for d in [
        "/usr/share/zoneinfo",
        "/usr/lib/zoneinfo",
        "/usr/share/lib/zoneinfo",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

fn read_tzif(path: &Path) -> Option<Zone> {
    let bytes = std::fs::read(path).ok()?;
    parse_tzif(&bytes).map(Zone::Tzif)
}

/// The zone for a `TZ` value (`None`: unset).
fn zone_from(tz: Option<&str>) -> Zone {
    let Some(tz) = tz else {
        return read_tzif(Path::new("/etc/localtime")).unwrap_or_else(Zone::utc);
    };
    let tz = tz.strip_prefix(':').unwrap_or(tz);
    if tz.is_empty() {
        return Zone::utc();
    }
    if tz.starts_with('/') {
        if let Some(z) = read_tzif(Path::new(tz)) {
            return z;
        }
    } else if !tz.contains("..") {
        for dir in zoneinfo_dirs() {
            if let Some(z) = read_tzif(&dir.join(tz)) {
                return z;
            }
        }
    }
    match parse_posix(tz) {
        Some(p) => Zone::Posix(p),
        // Java falls back to GMT for a zone it does not know.
        None => Zone::Posix(PosixTz {
            std_name: "GMT".into(),
            std_offset: 0,
            dst: None,
        }),
    }
}

/// `Date.toString()` of `ms` milliseconds since the epoch, in the local zone.
pub fn java_date(ms: i64) -> String {
    java_date_in(local_zone(), ms)
}

fn java_date_in(zone: &Zone, ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (offset, abbr) = zone.at(secs);
    let Some(utc) = DateTime::from_timestamp(secs, 0) else {
        return ms.to_string();
    };
    let local = utc.naive_utc() + chrono::Duration::seconds(i64::from(offset));
    format!(
        "{} {} {}",
        local.format("%a %b %d %H:%M:%S"),
        java_abbreviation(&abbr, offset),
        local.year()
    )
}

/// tzdata uses numeric abbreviations (`+04`) where Java prints `GMT+04:00`.
fn java_abbreviation(abbr: &str, offset: i32) -> String {
    if abbr.is_empty() || abbr.starts_with('+') || abbr.starts_with('-') {
        let sign = if offset < 0 { '-' } else { '+' };
        let o = offset.unsigned_abs();
        return format!("GMT{sign}{:02}:{:02}", o / 3600, (o % 3600) / 60);
    }
    abbr.to_string()
}

impl Tzif {
    fn at(&self, t: i64) -> (i32, String) {
        let ty = |i: usize| {
            self.types
                .get(i)
                .map(|(o, _, a)| (*o, a.clone()))
                .unwrap_or((0, "UTC".into()))
        };
        if self.transitions.is_empty() || t < self.transitions[0] {
            if self.transitions.is_empty() {
                if let Some(f) = &self.footer {
                    return f.at(t);
                }
            }
            // The first non-DST type, else type 0.
            let first = self.types.iter().position(|(_, dst, _)| !dst).unwrap_or(0);
            return ty(first);
        }
        let last = self.transitions.len() - 1;
        if t >= self.transitions[last] {
            if let Some(f) = &self.footer {
                return f.at(t);
            }
        }
        let i = match self.transitions.binary_search(&t) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        ty(self.indices.get(i).copied().unwrap_or(0))
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn i32(&mut self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }

    fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|s| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            i64::from_be_bytes(a)
        })
    }
}

struct Header {
    version: u8,
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

fn header(c: &mut Cursor<'_>) -> Option<Header> {
    if c.take(4)? != b"TZif" {
        return None;
    }
    let version = c.take(1)?[0];
    c.take(15)?;
    let mut n = [0usize; 6];
    for v in &mut n {
        *v = c.u32()? as usize;
    }
    Some(Header {
        version,
        isut: n[0],
        isstd: n[1],
        leap: n[2],
        time: n[3],
        types: n[4],
        chars: n[5],
    })
}

/// Parses a TZif file (RFC 8536), using the 64-bit data and footer of version 2+.
fn parse_tzif(bytes: &[u8]) -> Option<Tzif> {
    let mut c = Cursor { b: bytes, pos: 0 };
    let h1 = header(&mut c)?;
    let wide = h1.version >= b'2';
    let h = if wide {
        // Skip the version 1 body.
        let v1_len = h1.time * 5 + h1.types * 6 + h1.chars + h1.leap * 8 + h1.isstd + h1.isut;
        c.take(v1_len)?;
        header(&mut c)?
    } else {
        h1
    };
    let mut transitions = Vec::new();
    for _ in 0..h.time {
        transitions.push(if wide { c.i64()? } else { i64::from(c.i32()?) });
    }
    let indices: Vec<usize> = c.take(h.time)?.iter().map(|&i| usize::from(i)).collect();
    let mut raw_types = Vec::new();
    for _ in 0..h.types {
        let off = c.i32()?;
        let t = c.take(2)?;
        raw_types.push((off, t[0] != 0, usize::from(t[1])));
    }
    let chars = c.take(h.chars)?.to_vec();
    c.take(h.leap * if wide { 12 } else { 8 } + h.isstd + h.isut)?;
    let types = raw_types
        .into_iter()
        .map(|(off, dst, ai)| {
            let tail = chars.get(ai..).unwrap_or(&[]);
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            (off, dst, String::from_utf8_lossy(&tail[..end]).into_owned())
        })
        .collect();
    let footer = if wide {
        let rest = &bytes[c.pos..];
        let text = String::from_utf8_lossy(rest);
        let line = text.trim_start_matches('\n').lines().next().unwrap_or("");
        if line.is_empty() {
            None
        } else {
            parse_posix(line)
        }
    } else {
        None
    };
    Some(Tzif {
        transitions,
        indices,
        types,
        footer,
    })
}

struct PosixParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl PosixParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn name(&mut self) -> Option<String> {
        if self.peek() == Some(b'<') {
            let start = self.i + 1;
            let len = self.s[start..].iter().position(|&b| b == b'>')?;
            self.i = start + len + 1;
            return Some(String::from_utf8_lossy(&self.s[start..start + len]).into_owned());
        }
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        if self.i - start < 3 {
            return None;
        }
        Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn number(&mut self) -> Option<i32> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn hms(&mut self) -> Option<i32> {
        let sign = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                -1
            }
            Some(b'+') => {
                self.i += 1;
                1
            }
            _ => 1,
        };
        let mut secs = self.number()? * 3600;
        for unit in [60, 1] {
            if self.peek() == Some(b':') {
                self.i += 1;
                secs += self.number()? * unit;
            } else {
                break;
            }
        }
        Some(sign * secs)
    }

    fn rule(&mut self) -> Option<(Rule, i32)> {
        let rule = match self.peek()? {
            b'J' => {
                self.i += 1;
                Rule::Julian1(u16::try_from(self.number()?).ok()?)
            }
            b'M' => {
                self.i += 1;
                let m = self.number()?;
                if self.peek() != Some(b'.') {
                    return None;
                }
                self.i += 1;
                let w = self.number()?;
                if self.peek() != Some(b'.') {
                    return None;
                }
                self.i += 1;
                let d = self.number()?;
                if !(1..=12).contains(&m) || !(1..=5).contains(&w) || !(0..=6).contains(&d) {
                    return None;
                }
                Rule::Month(m as u32, w as u32, d as u32)
            }
            _ => Rule::Julian0(u16::try_from(self.number()?).ok()?),
        };
        let time = if self.peek() == Some(b'/') {
            self.i += 1;
            self.hms()?
        } else {
            7200
        };
        Some((rule, time))
    }
}

/// Parses a POSIX TZ string (`EST5EDT,M3.2.0,M11.1.0`, `<+03>-3`, `UTC0`).
fn parse_posix(s: &str) -> Option<PosixTz> {
    let mut p = PosixParser {
        s: s.as_bytes(),
        i: 0,
    };
    let std_name = p.name()?;
    // POSIX offsets are west of UTC.
    let std_offset = -p.hms()?;
    if p.peek().is_none() {
        return Some(PosixTz {
            std_name,
            std_offset,
            dst: None,
        });
    }
    let dst_name = p.name()?;
    let dst_offset = match p.peek() {
        Some(b',') | None => std_offset + 3600,
        _ => -p.hms()?,
    };
    let (start, end) = if p.peek() == Some(b',') {
        p.i += 1;
        let start = p.rule()?;
        if p.peek() != Some(b',') {
            return None;
        }
        p.i += 1;
        (start, p.rule()?)
    } else {
        ((Rule::Month(3, 2, 0), 7200), (Rule::Month(11, 1, 0), 7200))
    };
    if p.peek().is_some() {
        return None;
    }
    Some(PosixTz {
        std_name,
        std_offset,
        dst: Some(Dst {
            name: dst_name,
            offset: dst_offset,
            start,
            end,
        }),
    })
}

/// Seconds since the epoch of midnight (UTC clock) of the day `rule` names in `year`.
fn rule_day(year: i32, rule: Rule) -> Option<i64> {
    let date = match rule {
        Rule::Julian1(n) => {
            let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let leap = NaiveDate::from_ymd_opt(year, 2, 29).is_some();
            let mut day = i64::from(n) - 1;
            if leap && n >= 60 {
                day += 1;
            }
            jan1 + chrono::Duration::days(day)
        }
        Rule::Julian0(n) => NaiveDate::from_ymd_opt(year, 1, 1)? + chrono::Duration::days(n.into()),
        Rule::Month(m, w, d) => {
            let first = NaiveDate::from_ymd_opt(year, m, 1)?;
            let first_wd = first.weekday().num_days_from_sunday();
            let mut day = 1 + (d + 7 - first_wd) % 7 + (w - 1) * 7;
            let days_in_month = if m == 12 {
                31
            } else {
                NaiveDate::from_ymd_opt(year, m + 1, 1)?.pred_opt()?.day()
            };
            while day > days_in_month {
                day -= 7;
            }
            NaiveDate::from_ymd_opt(year, m, day)?
        }
    };
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

impl PosixTz {
    fn at(&self, t: i64) -> (i32, String) {
        let standard = (self.std_offset, self.std_name.clone());
        let Some(dst) = &self.dst else {
            return standard;
        };
        let Some(year) =
            DateTime::from_timestamp(t + i64::from(self.std_offset), 0).map(|d| d.year())
        else {
            return standard;
        };
        let (Some(start_day), Some(end_day)) =
            (rule_day(year, dst.start.0), rule_day(year, dst.end.0))
        else {
            return standard;
        };
        // Transition times are in the local time in effect before them.
        let start = start_day + i64::from(dst.start.1) - i64::from(self.std_offset);
        let end = end_day + i64::from(dst.end.1) - i64::from(dst.offset);
        let in_dst = if start < end {
            t >= start && t < end
        } else {
            !(t >= end && t < start)
        };
        if in_dst {
            (dst.offset, dst.name.clone())
        } else {
            standard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        let z = Zone::utc();
        assert_eq!(java_date_in(&z, 0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-25T10:58:48Z
        assert_eq!(
            java_date_in(&z, 1_795_604_328_000),
            "Wed Nov 25 10:58:48 UTC 2026"
        );
        assert_eq!(java_date_in(&z, -1), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn posix_rules() {
        let z = Zone::Posix(parse_posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap());
        // 2026-01-15T12:00:00Z: winter.
        assert_eq!(
            java_date_in(&z, 1_768_478_400_000),
            "Thu Jan 15 13:00:00 CET 2026"
        );
        // 2026-07-01T12:00:00Z: summer.
        assert_eq!(
            java_date_in(&z, 1_782_907_200_000),
            "Wed Jul 01 14:00:00 CEST 2026"
        );
        let ny = Zone::Posix(parse_posix("EST5EDT,M3.2.0,M11.1.0").unwrap());
        // 2026-03-08T06:59:59Z is 01:59:59 EST; a second later it is 03:00:00 EDT.
        assert_eq!(
            java_date_in(&ny, 1_772_953_199_000),
            "Sun Mar 08 01:59:59 EST 2026"
        );
        assert_eq!(
            java_date_in(&ny, 1_772_953_200_000),
            "Sun Mar 08 03:00:00 EDT 2026"
        );
        let plus3 = Zone::Posix(parse_posix("<+03>-3").unwrap());
        assert_eq!(
            java_date_in(&plus3, 0),
            "Thu Jan 01 03:00:00 GMT+03:00 1970"
        );
        assert!(parse_posix("x").is_none());
        assert_eq!(zone_from(Some("")), Zone::utc());
    }

    #[test]
    fn tzif_files_when_present() {
        // Uses the system's zoneinfo when it is installed; the POSIX tests above cover the
        // rules otherwise.
        for dir in zoneinfo_dirs() {
            let berlin = dir.join("Europe/Berlin");
            if let Some(z) = read_tzif(&berlin) {
                assert_eq!(
                    java_date_in(&z, 1_782_907_200_000),
                    "Wed Jul 01 14:00:00 CEST 2026"
                );
                assert_eq!(
                    java_date_in(&z, 1_768_478_400_000),
                    "Thu Jan 15 13:00:00 CET 2026"
                );
                // Before 1970 and far in the future (footer rule).
                assert_eq!(
                    java_date_in(&z, 4_102_444_800_000),
                    "Fri Jan 01 01:00:00 CET 2100"
                );
                return;
            }
        }
    }
}
