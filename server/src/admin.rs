//! Admin commands: the four-letter words answered on the client port. This is the async edge
//! of [`crate::fourlw`]: it performs the side effects of `crst`/`srst`, asks the core for an
//! inspection, and renders the answer from the one view ([`ServerSnapshot`]).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::core::{CoreMsg, Input};
use crate::fourlw::{self, DirSizes, FourLetterWord, Role, ServerSnapshot, TraceMask};
use crate::storage::DataDirs;

/// The version reported to clients and tools. Tools such as kazoo parse the leading
/// `x.y.z` to decide which features the server has: zkrs speaks ZooKeeper 3.9's protocol.
pub const COMPAT_VERSION: &str = "3.9.0";

pub fn version_string() -> String {
    format!("{COMPAT_VERSION}-zkrs-{}", env!("CARGO_PKG_VERSION"))
}

/// Whether the configured whitelist allows a word (Apache's rules: see
/// [`fourlw::Whitelist`]). The connection edge asks before reading anything more.
pub fn allowed(config: &Config, cmd: FourLetterWord) -> bool {
    config.four_letter_words.allows(cmd)
}

/// The answer to a four-letter word from `remote`, for a server in `role` (what the
/// replication layer publishes; [`Role::default`] standalone).
pub async fn four_letter_word(
    cmd: FourLetterWord,
    remote: SocketAddr,
    core: &mpsc::UnboundedSender<CoreMsg>,
    config: &Config,
    role: Role,
    trace_mask: &TraceMask,
) -> String {
    if !allowed(config, cmd) {
        return fourlw::not_in_whitelist(cmd);
    }
    match cmd {
        FourLetterWord::Crst => {
            let _ = core.send(CoreMsg::Input(Input::ResetConnStats));
        }
        FourLetterWord::Srst => {
            let _ = core.send(CoreMsg::Input(Input::ResetServerStats));
        }
        _ => {}
    }
    let mut snap = ServerSnapshot::new(version_string(), "unknown".to_string(), role);
    snap.trace_mask = trace_mask.get();
    if cmd.needs_snapshot() {
        let (tx, rx) = oneshot::channel();
        let inspection = match core.send(CoreMsg::Inspect(tx)) {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        match inspection {
            Some(i) => {
                snap.fill_from_core(&i, config);
                snap.count_asking_connection(remote);
                if cmd.prints_dir_sizes() {
                    snap.set_dir_sizes(dir_sizes(config).await);
                }
            }
            // The core is gone (shutting down): answer like a server that does not serve.
            None => snap.role.serving = false,
        }
    }
    fourlw::render(cmd, &snap)
}

/// The data and log directories' sizes, measured on a blocking thread (0 if it fails).
pub async fn dir_sizes(config: &Config) -> DirSizes {
    let dirs = DataDirs::new(&config.data_dir, &config.data_log_dir);
    tokio::task::spawn_blocking(move || DirSizes::of(&dirs))
        .await
        .unwrap_or_default()
}
