//! The admin and metrics routes and status codes, as Apache's Jetty servlets answer
//! (`JettyAdminServer.CommandServlet`, the Prometheus `MetricsServlet`): a known or unknown
//! command is `200` with JSON, `/commands` lists the primary names as links, any other
//! path is `404`, any method but GET (and HEAD) `405`.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::commands::{self, Context, Effect, COMMANDS};
use super::{prometheus, Source};
use crate::core::driver::CoreMsg;
use crate::core::Input;

const COMMANDS_URL: &str = "/commands";

/// Serves the admin commands until aborted (which ends the open connections too).
pub(super) async fn admin(listener: TcpListener, source: Arc<Source>) {
    accept_loop(listener, source, Route::Admin).await
}

/// Serves `/metrics` until aborted.
pub(super) async fn metrics(listener: TcpListener, source: Arc<Source>) {
    accept_loop(listener, source, Route::Metrics).await
}

#[derive(Clone, Copy)]
enum Route {
    Admin,
    Metrics,
}

async fn accept_loop(listener: TcpListener, source: Arc<Source>, route: Route) {
    super::serve_http(listener, move |req| {
        let source = source.clone();
        async move { handle(req, &source, route).await }
    })
    .await
}

async fn handle(req: Request<Incoming>, source: &Source, route: Route) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("HTTP method {} is not supported by this URL", req.method()),
        );
    }
    let path = req.uri().path().to_string();
    let args = query_args(req.uri().query().unwrap_or(""));
    match route {
        Route::Metrics if path == "/metrics" => {
            let snap = source.view(false).await;
            let mut r = Response::new(Full::new(Bytes::from(prometheus::render(&snap))));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus::CONTENT_TYPE),
            );
            r
        }
        Route::Admin if path == COMMANDS_URL || path == "/commands/" => {
            let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.primary()).collect();
            names.sort_unstable();
            let body: String = names
                .iter()
                .map(|n| format!("<a href=\"{COMMANDS_URL}/{n}\">{n}</a>\n<br/>\n"))
                .collect();
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r
        }
        Route::Admin if path.starts_with("/commands/") => {
            let name = &path[COMMANDS_URL.len() + 1..];
            let body = run_command(name, &args, source).await;
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "Not Found".to_string()),
    }
}

/// Runs a command: its effect on the core first (only while serving, as Apache refuses
/// server commands otherwise), then the answer from a fresh view.
async fn run_command(name: &str, args: &[(String, String)], source: &Source) -> String {
    let command = commands::lookup(name);
    if command.is_some_and(|c| c.primary() == "set_trace_mask") {
        // Kept whether or not the server serves (Apache's command needs no server); an
        // argument that is not a number changes nothing and is answered with the error.
        if let Ok(mask) = commands::trace_mask_arg(args) {
            source.trace_mask.set(mask);
        }
    }
    if let Some(effect) = command.and_then(|c| c.effect()) {
        if source.role.borrow().serving {
            let input = match effect {
                Effect::ResetConnStats => Input::ResetConnStats,
                Effect::ResetServerStats => Input::ResetServerStats,
            };
            // A core that is gone has no statistics to reset.
            let _ = source.core.send(CoreMsg::Input(input));
        }
    }
    let snap = source
        .view(command.is_some_and(|c| c.prints_dir_sizes()))
        .await;
    let last_snapshot = if command.is_some_and(|c| c.primary() == "last_snapshot") {
        newest_snapshot(&source.config).await
    } else {
        None
    };
    let ctx = Context {
        config: &source.config,
        args,
        last_snapshot,
        initial_configuration: source.initial_configuration.as_deref(),
    };
    commands::respond(name, &snap, &ctx).pretty()
}

/// The newest snapshot in the data dir: its zxid, and its file's time in seconds.
async fn newest_snapshot(config: &crate::config::Config) -> Option<(i64, i64)> {
    let dir = crate::storage::DataDirs::new(&config.data_dir, &config.data_log_dir).snap_dir;
    tokio::task::spawn_blocking(move || {
        let (zxid, path) = crate::storage::snapshot::list_snapshots(&dir)
            .ok()?
            .into_iter()
            .next()?;
        let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        let secs = written
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Some((zxid, secs))
    })
    .await
    .ok()
    .flatten()
}

/// `a=1&b=2` as pairs (values are taken as written; the only argument Apache reads,
/// `traceMask`, is a number).
fn query_args(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_arguments_are_split_into_pairs() {
        assert_eq!(
            query_args("traceMask=12&x&y="),
            vec![
                ("traceMask".to_string(), "12".to_string()),
                ("x".to_string(), String::new()),
                ("y".to_string(), String::new()),
            ]
        );
        assert!(query_args("").is_empty());
    }
}
