//! Leader election: three candidates on three sessions; when the leader's session closes,
//! the next one takes over.
//!
//! ```sh
//! cargo run -p zkrs-client --example leader_election -- 127.0.0.1:2181
//! ```

use std::time::Duration;

use zkrs_client::recipes::election::Candidate;
use zkrs_client::{Client, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let servers = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let mut clients = Vec::new();
    let mut candidates = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let client = Client::connect(&servers).await?;
        let candidate = Candidate::join(&client, "/election/demo", name.as_bytes()).await?;
        // Follow each candidate's standing as it changes.
        let mut standing = candidate.subscribe();
        tokio::spawn(async move {
            loop {
                let now = *standing.borrow_and_update();
                println!("{name}: {now:?}");
                if standing.changed().await.is_err() {
                    break;
                }
            }
        });
        clients.push(client);
        candidates.push(candidate);
    }
    let limit = Duration::from_secs(10);
    let _ = tokio::time::timeout(limit, candidates[0].wait_until_leader()).await;
    if let Some((path, data)) = Candidate::current_leader(&clients[0], "/election/demo").await? {
        println!("leader: {path} ({})", String::from_utf8_lossy(&data));
    }

    // The leader's session ends: beta takes over.
    clients[0].close().await;
    let _ = tokio::time::timeout(limit, candidates[1].wait_until_leader()).await;
    if let Some((path, data)) = Candidate::current_leader(&clients[1], "/election/demo").await? {
        println!("leader: {path} ({})", String::from_utf8_lossy(&data));
    }
    for c in candidates.drain(1..) {
        c.resign().await?;
    }
    for c in clients {
        c.close().await;
    }
    Ok(())
}
