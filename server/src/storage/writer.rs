//! The transaction log behind the write pipeline, and the thread that batches appends so that
//! one sync covers every proposal that arrived while the previous sync ran (group commit).

use thiserror::Error;
use tokio::sync::mpsc;

use crate::txn::{Txn, TxnHeader};

/// One logged transaction.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub hdr: TxnHeader,
    pub txn: std::sync::Arc<Txn>,
}

#[derive(Debug, Error)]
pub enum LogError {
    #[error("transaction log I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Durable storage of proposals. `append` may buffer; after `sync` returns, everything
/// appended is durable.
pub trait TxnLog: Send + 'static {
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), LogError>;
    fn sync(&mut self) -> Result<(), LogError>;
}

/// What the log writer reports back to the core.
#[derive(Debug)]
pub enum LogEvent {
    /// Every entry up to and including this zxid is durable.
    Durable(i64),
    /// Appending or syncing failed; entries from this zxid on are not durable.
    Failed { first_zxid: i64, error: String },
}

/// Runs the log writer on a blocking thread: takes every entry queued so far, appends them,
/// syncs once, reports, repeats.
pub fn spawn_writer<L: TxnLog>(
    mut log: L,
    mut rx: mpsc::UnboundedReceiver<LogEntry>,
    report: impl Fn(LogEvent) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("txn-log".into())
        .spawn(move || {
            let mut batch = Vec::new();
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let last = batch[batch.len() - 1].hdr.zxid;
                let first_zxid = batch[0].hdr.zxid;
                let result = log.append(&batch).and_then(|_| log.sync());
                batch.clear();
                match result {
                    Ok(()) => report(LogEvent::Durable(last)),
                    Err(e) => {
                        tracing::error!(error = %e, "transaction log failed; writes stop");
                        report(LogEvent::Failed {
                            first_zxid,
                            error: e.to_string(),
                        });
                        // Nothing after a failed write may become durable out of order.
                        return;
                    }
                }
            }
        })
}
