//! The in-process server: it serves like the process does, and a graceful stop closes its
//! connections and frees its port and data dir, so it can start again on both at once.

use std::io::Read;
use std::net::TcpStream;

use zkrs_tests::{open, skip_in_ensemble, InProcessServer, WAIT};

/// Why these tests do not run again in ensemble mode.
const IN_PROCESS_ONLY: &str = "these test the in-process standalone server of the harness, \
     which has no ensemble form; the standalone run covers them";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_frees_its_port_and_data_dir_and_restarts_on_them() {
    if skip_in_ensemble(IN_PROCESS_ONLY) {
        return;
    }
    let mut server = InProcessServer::start();
    let client = server.client().await;
    client.create("/kept", b"x", &open()).await.unwrap();
    drop(client);

    // An idle raw connection is closed by the stop.
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(WAIT)).unwrap();
    let addr = server.addr();
    tokio::task::block_in_place(|| server.restart());
    let mut buf = [0u8; 16];
    match idle.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection should have been closed by the stop, got {other:?}"),
    }

    // Same address and data dir: the node written before the stop is there.
    assert_eq!(server.addr(), addr);
    let client = server.client().await;
    let (data, _) = client.get_data("/kept").await.expect("recovered");
    assert_eq!(data, b"x");
    drop(client);
    tokio::task::block_in_place(|| server.stop());
}

#[test]
fn servers_in_one_process_get_distinct_addresses() {
    if skip_in_ensemble(IN_PROCESS_ONLY) {
        return;
    }
    let a = InProcessServer::start();
    let b = InProcessServer::start();
    assert_ne!(a.addr().ip(), b.addr().ip());
    assert_eq!(a.four_letter_word("ruok").unwrap(), "imok");
    assert_eq!(b.four_letter_word("ruok").unwrap(), "imok");
}
