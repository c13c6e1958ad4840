//! `wchs`, `wchc`, `wchp`.

use super::*;

#[test]
fn watches() {
    let (s0, s1) = (0x100000d07290000_i64, 0x100000d07290001_i64);
    let snap = ServerSnapshot {
        watch_summary: WatchSummary {
            connections: 2,
            paths: 4,
            watches: 5,
        },
        watches_by_session: vec![
            (s0, vec!["/app".into(), "/other".into()]),
            (s1, vec!["/missing".into(), "/app".into(), "/app/x".into()]),
        ],
        watches_by_path: vec![
            ("/missing".into(), vec![s1]),
            ("/app".into(), vec![s0, s1]),
            ("/app/x".into(), vec![s1]),
            ("/other".into(), vec![s0]),
        ],
        ..apache_standalone()
    };
    for w in [
        FourLetterWord::Wchs,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
    ] {
        assert_eq!(
            render(w, &snap),
            fixture(&format!("standalone/{}.txt", w.name())),
            "{w}"
        );
        assert_eq!(
            render(w, &apache_standalone()),
            fixture(&format!("standalone_empty/{}.txt", w.name())),
            "empty {w}"
        );
    }
}
