//! Distributed lock: four sessions increment a counter node under the lock; with mutual
//! exclusion no increment is lost.
//!
//! ```sh
//! cargo run -p zkrs-client --example lock -- 127.0.0.1:2181
//! ```

use std::time::Duration;

use zkrs_client::recipes::lock::Lock;
use zkrs_client::{Client, CreateMode, Error, Result};

const WORKERS: usize = 4;
const ROUNDS: usize = 10;

#[tokio::main]
async fn main() -> Result<()> {
    let servers = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let admin = Client::connect(&servers).await?;
    match admin
        .create("/lock-demo-counter", b"0", CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(Error::NodeExists) => {}
        Err(e) => return Err(e),
    }
    admin.set_data("/lock-demo-counter", b"0", None).await?;

    let mut workers = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let client = Client::connect(&servers).await?;
        workers.spawn(async move {
            let lock = Lock::new(&client, "/locks/lock-demo")?;
            for _ in 0..ROUNDS {
                // Give up on a round after 30 s instead of waiting forever.
                let Some(guard) = lock.acquire_timeout(Duration::from_secs(30)).await? else {
                    println!("worker {w}: timed out");
                    continue;
                };
                let (data, _) = client.get_data("/lock-demo-counter").await?;
                let n: u64 = String::from_utf8_lossy(&data).parse().unwrap_or(0);
                client
                    .set_data("/lock-demo-counter", (n + 1).to_string().as_bytes(), None)
                    .await?;
                guard.release().await?;
            }
            client.close().await;
            Ok::<_, Error>(())
        });
    }
    while let Some(r) = workers.join_next().await {
        if let Ok(Err(e)) = r {
            println!("worker failed: {e}");
        }
    }
    let (data, _) = admin.get_data("/lock-demo-counter").await?;
    println!(
        "counter = {} (expected {})",
        String::from_utf8_lossy(&data),
        WORKERS * ROUNDS
    );
    admin.close().await;
    Ok(())
}
