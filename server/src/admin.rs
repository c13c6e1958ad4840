//! Admin commands: the four-letter words answered on the client port.

use tokio::sync::{mpsc, oneshot};

use crate::core::CoreMsg;
use crate::net::NetSettings;

const WORDS: [&str; 14] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "envi", "wchs", "wchc", "wchp", "dirs",
    "isro", "srst",
];

/// The four-letter word a connection opened with, if it is one.
pub fn parse_four_letter_word(b: [u8; 4]) -> Option<&'static str> {
    let s = std::str::from_utf8(&b).ok()?;
    WORDS.iter().copied().find(|w| *w == s)
}

/// The answer to a four-letter word.
pub async fn four_letter_word(
    cmd: &'static str,
    core: &mpsc::UnboundedSender<CoreMsg>,
    settings: &NetSettings,
) -> String {
    if !settings.config.four_letter_allowed(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    match cmd {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "crst" => {
            let _ = core.send(CoreMsg::ResetConnStats);
            "Connection stats reset.\n".to_string()
        }
        "srst" => {
            let _ = core.send(CoreMsg::ResetServerStats);
            "Server stats reset.\n".to_string()
        }
        _ => {
            let (tx, rx) = oneshot::channel();
            if core.send(CoreMsg::Inspect(tx)).is_err() {
                return String::new();
            }
            match rx.await {
                Ok(i) => format!(
                    "Zxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
                    i.last_zxid, i.node_count
                ),
                Err(_) => String::new(),
            }
        }
    }
}
