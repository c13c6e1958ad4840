//! `zkrs-recipe-demo`: the client recipes as separate processes, for trying them by hand and
//! for the multi-process tests. Each role prints one line per state change.
//!
//! ```text
//! zkrs-recipe-demo provider  <connect> <service> <address>    register, then wait
//! zkrs-recipe-demo candidate <connect> <dir> <name>           "leader" / "follower"
//! zkrs-recipe-demo locker    <connect> <dir> <counter> <n>    n exclusive increments
//! ```

use std::time::Duration;

use anyhow::{bail, Context, Result};
use zkrs_client::recipes::election::{Candidate, Leadership};
use zkrs_client::recipes::lock::Lock;
use zkrs_client::recipes::registry::ServiceRegistry;
use zkrs_client::{Client, CreateMode, Error};

/// Short, so that a killed process's session (and its ephemerals) goes quickly.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);

async fn connect(servers: &str) -> Result<Client> {
    Client::builder(servers)
        .session_timeout(SESSION_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("connecting to {servers}"))
}

async fn provider(servers: &str, service: &str, address: &str) -> Result<()> {
    let client = connect(servers).await?;
    let registry = ServiceRegistry::new(&client, "/services")?;
    let registration = registry.register(service, address).await?;
    println!("registered {}", registration.path());
    // Until killed: the instance lives as long as the session.
    std::future::pending::<()>().await;
    Ok(())
}

async fn candidate(servers: &str, dir: &str, name: &str) -> Result<()> {
    let client = connect(servers).await?;
    let mut me = Candidate::join(&client, dir, name.as_bytes()).await?;
    let mut last = None;
    loop {
        let now = me.leadership();
        if last != Some(now) {
            match now {
                Leadership::Leader => println!("leader"),
                Leadership::Follower => println!("follower"),
                Leadership::Ended => {
                    println!("ended");
                    return Ok(());
                }
            }
            last = Some(now);
        }
        me.changed().await;
    }
}

/// `n` times: take the lock, check that nobody else holds it (an ephemeral marker that must
/// not exist), increment a counter node with a version check, release.
async fn locker(servers: &str, dir: &str, counter: &str, n: u32) -> Result<()> {
    let client = connect(servers).await?;
    let lock = Lock::new(&client, dir)?;
    let marker = format!("{counter}-holder");
    for _ in 0..n {
        let guard = lock.acquire().await?;
        match client.create(&marker, b"", CreateMode::Ephemeral).await {
            Ok(_) => {}
            Err(Error::NodeExists) => bail!("VIOLATION: someone else holds the lock"),
            Err(e) => return Err(e.into()),
        }
        let (data, stat) = client.get_data(counter).await?;
        let value: u64 = String::from_utf8_lossy(&data).parse().unwrap_or(0);
        client
            .set_data(
                counter,
                (value + 1).to_string().as_bytes(),
                Some(stat.version),
            )
            .await?;
        client.delete(&marker, None).await?;
        guard.release().await?;
    }
    println!("done");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["provider", servers, service, address] => provider(servers, service, address).await,
        ["candidate", servers, dir, name] => candidate(servers, dir, name).await,
        ["locker", servers, dir, counter, n] => {
            locker(servers, dir, counter, n.parse().context("n: a number")?).await
        }
        _ => bail!(
            "usage: zkrs-recipe-demo provider <connect> <service> <address>\n\
             \x20      zkrs-recipe-demo candidate <connect> <dir> <name>\n\
             \x20      zkrs-recipe-demo locker <connect> <dir> <counter> <n>"
        ),
    }
}
