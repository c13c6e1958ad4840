//! Process figures, Java formats and latency bookkeeping.

use super::structure::zkrs_snapshot;
use super::*;

#[test]
fn environment_from_process() {
    let e = Environment::from_process();
    assert!(!e.host_name.is_empty());
    assert!(!e.os_name.is_empty() && !e.os_arch.is_empty());
    assert_eq!(e.java_compiler, "<NA>");
    let snap = ServerSnapshot {
        environment: e,
        ..zkrs_snapshot()
    };
    let out = render(FourLetterWord::Envi, &snap);
    assert_eq!(out.lines().count(), 19);
    assert!(out.ends_with("MB\n"));
    if cfg!(target_os = "linux") {
        assert!(open_file_descriptor_count().unwrap() > 0);
        assert!(max_file_descriptor_count().unwrap() > 0);
    }
}

#[test]
fn java_number_formats() {
    assert_eq!(java_double(0.0), "0.0");
    assert_eq!(java_double(3.0), "3.0");
    assert_eq!(java_double(2.0667), "2.0667");
    assert_eq!(java_double(76.25), "76.25");
    assert_eq!(java_double(0.001), "0.001");
    assert_eq!(java_double(0.0005), "5.0E-4");
    assert_eq!(java_double(1e7), "1.0E7");
    assert_eq!(java_double(9999999.5), "9999999.5");
    assert_eq!(java_double(12345678.9), "1.23456789E7");
    assert_eq!(summary_avg(0, 0.0), 0.0);
    assert_eq!(summary_avg(12, 1.0), 0.0833);
    assert_eq!(summary_avg(12, 7.0), 0.5833);
    assert_eq!(summary_avg(13, 43.0), 3.3077);
    assert_eq!(summary_avg(3, 25.0), 8.3333);
    // Exact ties round half up (Java BigDecimal HALF_UP): 1/32 = 0.03125.
    assert_eq!(summary_avg(32, 1.0), 0.0313);
    assert_eq!(summary_avg(32, 3.0), 0.0938);
    assert_eq!(summary_avg(2, 1.0), 0.5);
}

#[test]
fn java_address_and_date_formats() {
    assert_eq!(java_socket_addr(&addr("127.0.0.1:2181")), "/127.0.0.1:2181");
    assert_eq!(java_socket_addr(&addr("[::1]:5")), "/[0:0:0:0:0:0:0:1]:5");
    assert_eq!(
        java_socket_addr(&addr("[fe80::1:abcd%1]:5")),
        "/[fe80:0:0:0:0:0:1:abcd%1]:5"
    );
    assert_eq!(
        java_socket_addr(&addr("[::ffff:10.0.0.1]:5")),
        "/10.0.0.1:5"
    );
    assert_eq!(
        java_date(utc_ms("2026-11-25T11:06:08Z")),
        "Wed Nov 25 11:06:08 UTC 2026"
    );
    assert_eq!(
        java_date(utc_ms("2026-01-05T01:02:03Z")),
        "Mon Jan 05 01:02:03 UTC 2026"
    );
}

#[test]
fn latency_stats_record() {
    let mut l = LatencyStats::default();
    assert_eq!(l.avg_ms(), 0.0);
    assert_eq!(l.min_printed(), 0);
    l.record(5);
    l.record(3);
    l.record(10);
    assert_eq!(l, latency(3, 18, 3, 10));
    assert_eq!(l.avg_ms(), 6.0);
}
