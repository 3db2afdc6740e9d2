//! One connection to a tool server and the small API callers use on it:
//! [`Session::list_tools`] and [`Session::call_tool`] (with a timeout and a progress
//! callback). A tool step's commit uses it; so will an agent's tool loop, which lists
//! a server's tools for the model and calls the ones it picks.
//!
//! Progress notifications are routed to the call that asked for them. Starting a
//! server is [`super::launch`]'s; the pool ([`super::pool`]) owns sessions and their
//! lifecycle.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest,
    Implementation, ListToolsRequest, ProgressNotificationParam, ProgressToken, RequestId,
    ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService, ServiceError};
use rmcp::{ClientHandler, Peer, RoleClient};
use serde_json::Value as Json;

use super::types::{Args, McpError, Progress, ProgressFn, ToolInfo, ToolResult};

/// Early progress notifications kept for a call whose callback is not registered yet.
const EARLY_PROGRESS: usize = 64;

/// What the client side of one connection shares with its handler.
pub(crate) struct ClientState {
    pub(super) server: Arc<str>,
    pub(super) progress: Mutex<HashMap<ProgressToken, ProgressFn>>,
    /// Notifications that arrived before their call registered its callback.
    pub(super) early: Mutex<VecDeque<ProgressNotificationParam>>,
    /// The tool listing, until the server says it changed.
    pub(super) tools: Mutex<Option<Arc<[ToolInfo]>>>,
    /// The last lines the server wrote on stderr.
    pub(super) stderr: Mutex<VecDeque<String>>,
    /// A call was abandoned (timed out): check the server answers before reuse.
    pub(super) suspect: AtomicBool,
    /// Resolved secret values given to the server, by name (for redaction).
    pub(super) secrets: Vec<(String, String)>,
    pub(super) pid: Option<u32>,
}

impl ClientState {
    pub(super) fn progress(&self, p: ProgressNotificationParam) {
        let cb = self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&p.progress_token)
            .cloned();
        match cb {
            Some(cb) => cb(to_progress(&p)),
            None => {
                let mut early = self.early.lock().unwrap_or_else(|e| e.into_inner());
                if early.len() >= EARLY_PROGRESS {
                    early.pop_front();
                }
                early.push_back(p);
            }
        }
    }

    /// Register `cb` for `token` and give it what arrived before.
    fn subscribe(self: &Arc<Self>, token: ProgressToken, cb: ProgressFn) -> Subscription {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), cb.clone());
        let early: Vec<ProgressNotificationParam> = {
            let mut q = self.early.lock().unwrap_or_else(|e| e.into_inner());
            let (mine, rest): (Vec<_>, Vec<_>) =
                q.drain(..).partition(|p| p.progress_token == token);
            q.extend(rest);
            mine
        };
        for p in early {
            cb(to_progress(&p));
        }
        Subscription {
            state: self.clone(),
            token,
        }
    }

    pub(super) fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

fn to_progress(p: &ProgressNotificationParam) -> Progress {
    Progress {
        progress: p.progress,
        total: p.total,
        message: p.message.clone(),
    }
}

/// Unregisters a call's progress callback when the call ends.
struct Subscription {
    state: Arc<ClientState>,
    token: ProgressToken,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.state
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token);
    }
}

/// The handler rmcp drives: list-changed notifications. (Progress is taken from the
/// transport, in order: see `launch::Observed`.)
#[derive(Clone)]
pub(crate) struct Client {
    state: Arc<ClientState>,
}

impl Client {
    pub(super) fn new(state: Arc<ClientState>) -> Client {
        Client { state }
    }
}

impl ClientHandler for Client {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        *self.state.tools.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("aios", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// A running connection, as the pool keeps it.
pub(crate) type Running = RunningService<RoleClient, Client>;

/// A connection to one server: cheap to clone, usable from any tokio runtime.
#[derive(Clone)]
pub struct Session {
    peer: Peer<RoleClient>,
    state: Arc<ClientState>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.state.server)
            .field("pid", &self.state.pid)
            .finish()
    }
}

/// Sends `notifications/cancelled` when a call is dropped before its answer (the
/// step's deadline passed), and marks the session for a liveness check.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    state: Arc<ClientState>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        self.state.suspect.store(true, Ordering::SeqCst);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let peer = self.peer.clone();
            rt.spawn(async move {
                let _ = peer
                    .notify_cancelled(rmcp::model::CancelledNotificationParam::new(
                        Some(id),
                        Some("the caller stopped waiting".into()),
                    ))
                    .await;
            });
        }
    }
}

impl Session {
    pub(super) fn new(peer: Peer<RoleClient>, state: Arc<ClientState>) -> Session {
        Session { peer, state }
    }

    /// The server's name in the config.
    pub fn server(&self) -> &str {
        &self.state.server
    }

    /// The process id of a stdio server.
    pub fn pid(&self) -> Option<u32> {
        self.state.pid
    }

    /// Whether the connection has ended (the server exited or hung up).
    pub fn is_closed(&self) -> bool {
        self.peer.is_transport_closed()
    }

    /// Whether a call was abandoned since the last check.
    pub(crate) fn is_suspect(&self) -> bool {
        self.state.suspect.load(Ordering::SeqCst)
    }

    /// Ask the server for its tools again, bypassing every cache: it answers (the
    /// session may be reused) or not.
    pub(crate) async fn probe(&self, within: Duration) -> bool {
        let req = ClientRequest::ListToolsRequest(ListToolsRequest::default());
        let ok = match self
            .peer
            .send_request_with_option(req, PeerRequestOptions::with_timeout(within))
            .await
        {
            Ok(h) => h.await_response().await.is_ok(),
            Err(_) => false,
        };
        if ok {
            self.state.suspect.store(false, Ordering::SeqCst);
        }
        ok
    }

    /// The tools listed on this connection, unless the server said they changed.
    pub(crate) fn known_tools(&self) -> Option<Arc<[ToolInfo]>> {
        self.state
            .tools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every tool the server offers (listed once, until it says its list changed).
    pub async fn list_tools(&self, timeout: Duration) -> Result<Arc<[ToolInfo]>, McpError> {
        if let Some(t) = self.known_tools() {
            return Ok(t);
        }
        let what = "`tools/list`";
        let tools = match tokio::time::timeout(timeout, self.peer.list_all_tools()).await {
            Ok(r) => r.map_err(|e| self.error(what, e))?,
            Err(_) => {
                return Err(McpError::Timeout {
                    server: self.server().to_string(),
                    what: what.into(),
                    after: timeout,
                });
            }
        };
        let tools: Arc<[ToolInfo]> = tools.iter().map(ToolInfo::from_sdk).collect();
        *self.state.tools.lock().unwrap_or_else(|e| e.into_inner()) = Some(tools.clone());
        Ok(tools)
    }

    /// Call `tool` with `args`. `timeout` bounds the wait for the answer (the request
    /// is cancelled then); `progress` receives the server's progress notifications.
    /// A result with `isError` is returned as it is (see [`ToolResult::is_error`]).
    pub async fn call_tool(
        &self,
        tool: &str,
        args: Args,
        timeout: Option<Duration>,
        progress: Option<ProgressFn>,
    ) -> Result<ToolResult, McpError> {
        let what = format!("`tools/call {tool}`");
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        let req = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let opts = match timeout {
            Some(t) => PeerRequestOptions::with_timeout(t),
            None => PeerRequestOptions::no_options(),
        };
        let handle = self
            .peer
            .send_request_with_option(req, opts)
            .await
            .map_err(|e| self.error(&what, e))?;
        let mut guard = CancelOnDrop {
            peer: self.peer.clone(),
            state: self.state.clone(),
            id: Some(handle.id.clone()),
        };
        let _sub = progress.map(|cb| self.state.subscribe(handle.progress_token.clone(), cb));
        let answer = handle.await_response().await;
        guard.id = None;
        match answer {
            Ok(ServerResult::CallToolResult(r)) => Ok(ToolResult::from_sdk(&r)),
            Ok(_) => Err(McpError::Protocol {
                server: self.server().to_string(),
                what,
                message: "the answer is not a tool result (aios does not take part in multi-round or task calls)".into(),
            }),
            Err(e) => {
                if matches!(e, ServiceError::Timeout { .. }) {
                    self.state.suspect.store(true, Ordering::SeqCst);
                }
                Err(self.error(&what, e))
            }
        }
    }

    /// Replace the values of the secrets given to this server with `[secret NAME]`
    /// in every string of `v` (outputs are redacted before they are journaled).
    pub fn redact(&self, v: Json) -> Json {
        redact(v, &self.state.secrets)
    }

    fn error(&self, what: &str, e: ServiceError) -> McpError {
        let server = self.server().to_string();
        let what = what.to_string();
        match e {
            ServiceError::Timeout { timeout } => McpError::Timeout {
                server,
                what,
                after: timeout,
            },
            ServiceError::McpError(d) => McpError::Refused {
                server,
                what,
                message: d.message.to_string(),
            },
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                let tail = self.state.stderr_tail();
                let detail = if tail.trim().is_empty() {
                    " (it exited or hung up)".to_string()
                } else {
                    format!(
                        " (it exited or hung up); its last stderr lines:\n{}",
                        tail.trim_end()
                    )
                };
                McpError::Closed {
                    server,
                    what,
                    detail,
                }
            }
            other => McpError::Protocol {
                server,
                what,
                message: other.to_string(),
            },
        }
    }
}

fn redact(v: Json, secrets: &[(String, String)]) -> Json {
    if secrets.is_empty() {
        return v;
    }
    match v {
        Json::String(mut s) => {
            for (name, value) in secrets {
                if value.len() >= 4 && s.contains(value.as_str()) {
                    s = s.replace(value.as_str(), &format!("[secret {name}]"));
                }
            }
            Json::String(s)
        }
        Json::Array(a) => Json::Array(a.into_iter().map(|x| redact(x, secrets)).collect()),
        Json::Object(m) => Json::Object(
            m.into_iter()
                .map(|(k, x)| (k, redact(x, secrets)))
                .collect(),
        ),
        other => other,
    }
}

pub(super) fn new_state(
    server: &str,
    secrets: Vec<(String, String)>,
    pid: Option<u32>,
) -> Arc<ClientState> {
    Arc::new(ClientState {
        server: server.into(),
        progress: Mutex::new(HashMap::new()),
        early: Mutex::new(VecDeque::new()),
        tools: Mutex::new(None),
        stderr: Mutex::new(VecDeque::new()),
        suspect: AtomicBool::new(false),
        secrets,
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_replaces_given_secret_values_only() {
        let secrets = vec![("TOKEN".to_string(), "s3cr3t-value".to_string())];
        let v = json!({"env": "TOKEN=s3cr3t-value\nOTHER=x", "n": 1, "list": ["s3cr3t-value"]});
        assert_eq!(
            redact(v, &secrets),
            json!({"env": "TOKEN=[secret TOKEN]\nOTHER=x", "n": 1, "list": ["[secret TOKEN]"]})
        );
        // Values too short to be told apart from ordinary text are left alone.
        let short = vec![("A".to_string(), "x".to_string())];
        assert_eq!(redact(json!("xyz"), &short), json!("xyz"));
    }

    #[test]
    fn progress_before_subscription_is_replayed_to_its_call() {
        let state = new_state("s", Vec::new(), None);
        let token = ProgressToken(rmcp::model::NumberOrString::Number(7));
        let other = ProgressToken(rmcp::model::NumberOrString::Number(8));
        let note = |t: &ProgressToken, n: f64| {
            let mut p = ProgressNotificationParam::new(t.clone(), n);
            p.total = Some(4.0);
            p
        };
        state.progress(note(&token, 1.0));
        state.progress(note(&other, 1.0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let sub = state.subscribe(
            token.clone(),
            Arc::new(move |p: Progress| s2.lock().unwrap().push(p.line())),
        );
        state.progress(note(&token, 2.0));
        assert_eq!(*seen.lock().unwrap(), vec!["1/4", "2/4"]);
        // The other call's early notification is kept for it.
        assert_eq!(state.early.lock().unwrap().len(), 1);
        drop(sub);
        state.progress(note(&token, 3.0));
        assert_eq!(seen.lock().unwrap().len(), 2, "unsubscribed on drop");
    }
}
