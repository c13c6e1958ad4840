//! Numbers, addresses and dates formatted the way Java prints them, since tools compare
//! Apache's output and zkrs's with the same parsers.

use std::net::SocketAddr;

/// Average of a summary as Apache computes it: `sum / count` as a double, rounded half-up to
/// four decimals; 0 when `count` is 0.
pub(super) fn summary_avg(count: u64, sum: f64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    round4_half_up(sum / count as f64)
}

/// Rounds the exact binary value of `v` to four decimals, ties away from zero (like Java's
/// `BigDecimal(v).setScale(4, HALF_UP)`), and returns the nearest double.
pub(super) fn round4_half_up(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    // Correct rounding of the exact value, ties to even.
    let rounded: f64 = format!("{v:.4}").parse().unwrap_or(v);
    // An exact tie at the fifth decimal needs v = k/32 (100000 = 2^5 * 5^5); only then can
    // ties-to-even and half-up differ.
    let scaled = v * 10000.0;
    if (v * 32.0).fract() == 0.0 && scaled.abs().fract() == 0.5 {
        let away = scaled.trunc() + scaled.signum();
        return away / 10000.0;
    }
    rounded
}

/// Formats like Java's `Double.toString`: `0.0`, `2.0667`, `1.0E7`, `5.0E-4`.
pub(crate) fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    if (1e-3..1e7).contains(&v.abs()) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exponent}")
        } else {
            format!("{mantissa}.0E{exponent}")
        }
    }
}

/// Formats like Java's `InetSocketAddress.toString` for an unresolved peer:
/// `/127.0.0.1:2181`, `/[0:0:0:0:0:0:0:1]:2181` (IPv4-mapped IPv6 prints as IPv4).
pub(super) fn java_socket_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            if let Some(v4) = a.ip().to_ipv4_mapped() {
                return format!("/{}:{}", v4, a.port());
            }
            let segments: Vec<String> =
                a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
            let scope = if a.scope_id() != 0 {
                format!("%{}", a.scope_id())
            } else {
                String::new()
            };
            format!("/[{}{}]:{}", segments.join(":"), scope, a.port())
        }
    }
}

/// Formats like Java's `Date.toString` in UTC: `Wed Nov 25 11:06:08 UTC 2026`.
pub(super) fn java_date(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%a %b %d %H:%M:%S UTC %Y").to_string(),
        None => ms.to_string(),
    }
}
