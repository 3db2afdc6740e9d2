//! One request to the server. Checks, in this order, each refusal starting nothing:
//!
//! 1. the route: `POST /hooks/NAME` (another path `404`, another method `405`);
//! 2. the hook exists: `404`;
//! 3. the credentials, as far as the headers tell (right header, right form, a
//!    bearer token, a Stripe timestamp in its window): `401`;
//! 4. the size: a `Content-Length` over the limit `413` before anything is read; the
//!    body is then read up to the limit (`413` past it) within the read timeout
//!    (`408`);
//! 5. the signature against the body: `401`;
//! 6. the body: JSON whose values fit the workflow's inputs, `400`;
//! 7. recording: `202 {"run_id", "status": "accepted"}` once the run is in the
//!    journal, `503` with `Retry-After` when it cannot be recorded now.
//!
//! Every answer other than `202` is `{"error": "…"}`.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

use super::Shared;
use super::conn::ConnRef;
use super::recorder::Job;
use crate::schedule::hooks::{self, Refused, refused, unavailable};
use crate::schedule::signatures::{self, Presented};

/// Seconds a `503` asks the client to wait before trying again.
pub(super) const RETRY_AFTER_S: u32 = 2;

type Answer = Response<Full<Bytes>>;

pub(super) async fn handle(shared: Arc<Shared>, conn: ConnRef, req: Request<Incoming>) -> Answer {
    conn.begun();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let result = check_and_record(&shared, &conn, req).await;
    // Until the next request's body is read, the connection waits again.
    conn.begun();
    let line = match &result {
        Ok(run) => format!("{method} {path}: 202 run {run}"),
        Err((r, _)) => format!("{method} {path}: {} {}", r.status, r.message),
    };
    (shared.s.log)(&line);
    match result {
        Ok(run) => answer(
            StatusCode::ACCEPTED,
            json!({ "run_id": run, "status": "accepted" }),
            false,
        ),
        Err((r, body_unread)) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut a = answer(status, json!({ "error": r.message }), body_unread);
            let h = a.headers_mut();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
            }
            if status == StatusCode::METHOD_NOT_ALLOWED {
                h.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            a
        }
    }
}

/// A JSON answer; `close` when the request's body was not read (the connection
/// cannot carry another request after it).
fn answer(status: StatusCode, body: Json, close: bool) -> Answer {
    let mut a = Response::new(Full::new(Bytes::from(body.to_string())));
    *a.status_mut() = status;
    let h = a.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    a
}

/// The run id, or the refusal and whether the body was left unread.
async fn check_and_record(
    shared: &Arc<Shared>,
    conn: &ConnRef,
    req: Request<Incoming>,
) -> Result<i64, (Refused, bool)> {
    let unread = |r: Refused| (r, true);
    let Some(name) = req
        .uri()
        .path()
        .strip_prefix("/hooks/")
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(str::to_string)
    else {
        return Err(unread(refused(
            404,
            "not found: webhooks are POST /hooks/NAME",
        )));
    };
    if req.method() != Method::POST {
        return Err(unread(refused(
            405,
            format!("use POST /hooks/{name} (not {})", req.method()),
        )));
    }
    let hook = {
        let sh = shared.clone();
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            sh.read(|j| hooks::load(j, &sh.s.data_dir, &name, &sh.cache))
        })
        .await
        .map_err(|e| unread(unavailable(format!("the hook lookup stopped: {e}"))))?
        .map_err(|e| {
            unread(unavailable(format!(
                "the journal cannot be read: {}",
                e.message
            )))
        })?
        .map_err(unread)?
    };
    let settings = &hook.record.settings;
    let headers = req.headers();
    let presented = Presented {
        aios_signature: text(headers, signatures::AIOS_HEADER),
        authorization: text(headers, header::AUTHORIZATION.as_str()),
        github_signature: text(headers, signatures::GITHUB_HEADER),
        stripe_signature: text(headers, signatures::STRIPE_HEADER),
    };
    let body_check = signatures::check_headers(
        settings.format,
        &hook.secret,
        &presented,
        shared.s.clock.now().as_second(),
        settings.tolerance_s,
    )
    .map_err(|m| unread(refused(401, m)))?;
    let max = shared.s.max_body;
    let declared =
        text(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(unread(too_large(max)));
    }
    let body = read_body(req.into_body(), max, shared.s.read_timeout)
        .await
        .map_err(unread)?;
    conn.working();
    body_check
        .verify(&hook.secret, &body)
        .map_err(|m| (refused(401, m), false))?;
    let inputs = hooks::inputs(&hook, &body).map_err(|r| (r, false))?;
    // Secret inputs: the journal keeps placeholders, the values wait in the secret
    // store under the run's uid (written before the run is recorded).
    let (inputs, secret_values) = crate::workflow::split_secret_inputs(&hook.workflow, inputs);
    let uid = crate::engine::new_uid();
    let stash = (!secret_values.is_empty()).then(|| Stash {
        store: crate::secrets::Store::new(&shared.s.data_dir),
        uid: uid.clone(),
    });
    if let Some(st) = &stash {
        let (store, uid) = (st.store.clone(), uid.clone());
        let at = crate::clock::format_ms(shared.s.clock.now_ms());
        tokio::task::spawn_blocking(move || store.put_run(&uid, &secret_values, &at))
            .await
            .map_err(|e| {
                (
                    unavailable(format!("keeping the secret inputs stopped: {e}")),
                    false,
                )
            })?
            .map_err(|e| {
                (
                    unavailable(format!("the secret inputs cannot be kept: {}", e.message)),
                    false,
                )
            })?;
    }
    let (reply, answer) = oneshot::channel();
    let job = Job {
        source: hook.source.clone(),
        created: hooks::run_created(&hook, inputs, Some(uid)),
        reply,
    };
    let refused = |r: Refused| {
        if let Some(st) = &stash {
            st.forget();
        }
        Err((r, false))
    };
    if !shared.recorder.submit(job) {
        return refused(unavailable(
            "the server has too many requests waiting to be recorded",
        ));
    }
    match answer.await {
        Ok(Ok(run)) => Ok(run),
        Ok(Err(why)) => refused(unavailable(why)),
        Err(_) => refused(unavailable("the server is stopping")),
    }
}

/// A request's secret inputs, kept in the store before its run is recorded; forgotten
/// when the run is not recorded after all.
struct Stash {
    store: crate::secrets::Store,
    uid: String,
}

impl Stash {
    fn forget(&self) {
        let _ = self.store.remove_run(&self.uid);
    }
}

fn text<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn too_large(max: usize) -> Refused {
    refused(
        413,
        format!(
            "the body is larger than {}",
            crate::text::count(max, "byte")
        ),
    )
}

/// Read a body of at most `max` bytes within `timeout`.
async fn read_body(mut body: Incoming, max: usize, timeout: Duration) -> Result<Vec<u8>, Refused> {
    let read = async {
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| refused(400, format!("the body could not be read: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(too_large(max));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(refused(
                408,
                format!(
                    "the body did not arrive within {}",
                    crate::clock::format_duration(timeout)
                ),
            ))
        })
}
