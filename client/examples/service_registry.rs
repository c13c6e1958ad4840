//! Service registry: three providers register `billing` instances; a consumer follows the
//! live list and picks instances round robin while providers leave.
//!
//! ```sh
//! cargo run -p zkrs-client --example service_registry -- 127.0.0.1:2181
//! ```

use std::time::Duration;

use zkrs_client::recipes::registry::ServiceRegistry;
use zkrs_client::{Client, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let servers = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2181".to_string());

    // Each provider has its own session, as separate processes would.
    let mut providers = Vec::new();
    let mut registrations = Vec::new();
    for port in [8081, 8082, 8083] {
        let client = Client::connect(&servers).await?;
        let registry = ServiceRegistry::new(&client, "/services")?;
        registrations.push(
            registry
                .register("billing", &format!("10.0.0.1:{port}"))
                .await?,
        );
        providers.push(client);
    }

    let consumer = Client::connect(&servers).await?;
    let mut billing = ServiceRegistry::new(&consumer, "/services")?
        .discover("billing")
        .await?;
    let limit = Duration::from_secs(10);
    let _ = tokio::time::timeout(limit, billing.wait_for(|i| i.len() >= 3)).await;
    println!("instances: {:?}", billing.instances());
    for _ in 0..4 {
        if let Some(i) = billing.pick_round_robin() {
            println!("calling {} ({})", i.address, i.id);
        }
    }

    // The third provider deregisters, the first one's session ends: the list follows.
    if let Some(r) = registrations.pop() {
        r.deregister().await?;
    }
    providers.remove(0).close().await;
    let _ = tokio::time::timeout(limit, billing.wait_for(|i| i.len() <= 1)).await;
    println!("after two providers left: {:?}", billing.instances());

    drop(registrations);
    for p in providers {
        p.close().await;
    }
    consumer.close().await;
    Ok(())
}
