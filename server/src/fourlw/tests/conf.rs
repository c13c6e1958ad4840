//! `conf`, `dirs` and `envi`.

use super::*;

#[test]
fn conf_and_dirs() {
    let snap = ServerSnapshot {
        conf: standalone_conf(),
        data_dir_size: 67108880,
        data_log_size: 457,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Conf, &snap),
        fixture("standalone/conf.txt")
    );
    assert_eq!(
        render(FourLetterWord::Dirs, &snap),
        fixture("standalone/dirs.txt")
    );

    let ens = |id: i64, client_port: i32, election: i32, quorum: i32| ServerSnapshot {
        role: role(if id == 3 {
            ServerMode::Leader
        } else {
            ServerMode::Follower
        }),
        conf: ConfInfo {
            client_port,
            data_dir: format!("/srv/zk4lw/run/ens{id}/data/version-2"),
            data_log_dir: format!("/srv/zk4lw/run/ens{id}/data/version-2"),
            server_id: id,
            quorum: Some(quorum_conf(election, quorum)),
            ..ConfInfo::default()
        },
        data_dir_size: 67109493,
        data_log_size: 67109493,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Conf, &ens(3, 56639, 44835, 44017)),
        fixture("leader/conf.txt")
    );
    assert_eq!(
        render(FourLetterWord::Conf, &ens(1, 60385, 59249, 32925)),
        fixture("follower/conf.txt")
    );

    let ro = ServerSnapshot {
        role: role(ServerMode::ReadOnly),
        conf: ConfInfo {
            client_port: 56677,
            data_dir: "/srv/zk4lw/run/ro/data/version-2".into(),
            data_log_dir: "/srv/zk4lw/run/ro/data/version-2".into(),
            server_id: 1,
            quorum: Some(QuorumConf {
                election_port: 39397,
                quorum_port: 55015,
                membership: None,
                ..quorum_conf(0, 0)
            }),
            ..ConfInfo::default()
        },
        data_dir_size: 597,
        data_log_size: 597,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Conf, &ro),
        fixture("read_only/conf.txt")
    );
}

#[test]
fn envi() {
    let snap = ServerSnapshot {
        environment: apache_environment(),
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Envi, &snap),
        fixture("standalone/envi.txt")
    );
}
