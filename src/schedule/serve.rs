//! `aios serve`: an HTTP server (axum) that starts workflows on `POST /hooks/<name>`.
//!
//! Each request is checked by [`super::hooks::accept`] on a blocking thread with its
//! own journal connection (never a connection across `.await`); an accepted request
//! answers 202 with the run id at once, and the run is driven on a background
//! thread. Shutdown stops accepting, lets requests in flight answer, then waits for
//! the runs being driven to finish or reach a wait.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::hooks::{self, Credentials};
use crate::engine::{self, Mode, Quiet, RunEnv};
use crate::error::Result;
use crate::journal::Journal;

/// Opens a journal connection (one per request or driven run).
pub type OpenJournal = Arc<dyn Fn() -> Result<Journal> + Send + Sync>;

/// Told about each request's outcome (the command prints it).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// What the server needs.
pub struct Settings {
    pub open: OpenJournal,
    /// Where hook secrets live (`hooks/NAME.secret`).
    pub data_dir: PathBuf,
    /// Larger bodies get 413.
    pub max_body: usize,
    pub env: RunEnv,
    pub log: Log,
}

struct Shared {
    s: Settings,
    drivers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// Serve until `shutdown` completes, then wait for the runs being driven.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_body = settings.max_body;
    let shared = Arc::new(Shared {
        s: settings,
        drivers: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/hooks/{name}", post(hook))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    let handles: Vec<_> = std::mem::take(&mut *shared.drivers.lock().expect("not poisoned"));
    tokio::task::spawn_blocking(move || {
        for h in handles {
            let _ = h.join();
        }
    })
    .await
    .map_err(std::io::Error::other)?;
    Ok(())
}

fn header_str(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = header_str(&headers, hooks::SIGNATURE_HEADER);
    let authorization = header_str(&headers, header::AUTHORIZATION);
    let sh = shared.clone();
    let hook_name = name.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut journal = (sh.s.open)().map_err(|e| hooks::Refused {
            status: 500,
            message: e.message,
        })?;
        hooks::accept(
            &mut journal,
            &sh.s.data_dir,
            &hook_name,
            Credentials {
                signature: signature.as_deref(),
                authorization: authorization.as_deref(),
            },
            &body,
        )
    })
    .await;
    let (status, body) = match result {
        Ok(Ok(run)) => {
            drive(&shared, run);
            (
                StatusCode::ACCEPTED,
                json!({ "run_id": run, "status": "accepted" }),
            )
        }
        Ok(Err(r)) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({ "error": r.message }),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": format!("the request handler stopped: {e}") }),
        ),
    };
    (shared.s.log)(&match body["run_id"].as_i64() {
        Some(run) => format!("POST /hooks/{name}: {} run {run}", status.as_u16()),
        None => format!(
            "POST /hooks/{name}: {} {}",
            status.as_u16(),
            body["error"].as_str().unwrap_or("")
        ),
    });
    (status, axum::Json(body)).into_response()
}

/// Drive a just-created run on a thread of its own.
fn drive(shared: &Arc<Shared>, run: i64) {
    let sh = shared.clone();
    let handle = std::thread::spawn(move || {
        let outcome = (sh.s.open)()
            .and_then(|mut j| engine::resume(&mut j, run, &sh.s.env, &mut Quiet, Mode::Continue));
        match outcome {
            Ok(o) => (sh.s.log)(&format!("run {run}: {}", o.status)),
            Err(e) => (sh.s.log)(&format!("run {run}: stopped: {}", e.message)),
        }
    });
    let mut drivers = shared.drivers.lock().expect("not poisoned");
    drivers.retain(|h| !h.is_finished());
    drivers.push(handle);
}
