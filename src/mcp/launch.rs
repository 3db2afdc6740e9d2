//! Starting a tool server: a child process with only the environment it is given,
//! in its own process group, its stderr's last lines kept for messages; or a
//! streamable-HTTP connection with its headers. Then MCP's handshake, over a transport
//! that hands progress notifications to their calls in order ([`Observed`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{JsonRpcMessage, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleClient, ServiceExt};

use super::session::{Client, ClientState, Running, Session, new_state};
use super::types::McpError;

/// How many lines of a server's stderr are kept for messages.
const STDERR_LINES: usize = 20;

/// A transport that hands each progress notification to its call as it is read, in
/// order, before any later message (rmcp runs notification handlers as tasks of their
/// own, so a call's last progress could otherwise arrive after its result).
struct Observed<T> {
    inner: T,
    state: Arc<ClientState>,
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Observed<T> {
    type Error = T::Error;

    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        let state = self.state.clone();
        let next = self.inner.receive();
        async move {
            let msg = next.await;
            if let Some(JsonRpcMessage::Notification(n)) = &msg
                && let ServerNotification::ProgressNotification(p) = &n.notification
            {
                state.progress(p.params.clone());
            }
            msg
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// How to start one server, resolved (secrets included, in memory only).
pub(crate) enum Launch {
    Stdio {
        command: Vec<String>,
        env: Vec<(String, String)>,
        cwd: std::path::PathBuf,
    },
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
}

/// Start a server (or connect to it) and complete MCP's handshake. Must run on the
/// runtime that will own the connection.
pub(crate) async fn start(
    server: &str,
    launch: Launch,
    secrets: Vec<(String, String)>,
) -> Result<(Running, Session), McpError> {
    let failed = |message: String| McpError::Start {
        server: server.to_string(),
        message,
    };
    match launch {
        Launch::Stdio { command, env, cwd } => {
            let mut cmd = tokio::process::Command::new(&command[0]);
            cmd.args(&command[1..])
                .env_clear()
                .envs(env)
                .current_dir(&cwd)
                .kill_on_drop(true);
            // Like a shell step's child: it cannot read aios's memory.
            crate::secrets::process::isolate_child(&mut cmd);
            let mut wrap = process_wrap::tokio::CommandWrap::from(cmd);
            // Its own process group: a terminal's Ctrl-C reaches aios, which stops
            // the server itself; stopping the group stops what the server started.
            wrap.wrap(process_wrap::tokio::ProcessGroup::leader());
            let (proc, stderr) = rmcp::transport::TokioChildProcess::builder(wrap)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| {
                    failed(if e.kind() == std::io::ErrorKind::NotFound {
                        if cwd.is_dir() {
                            format!("program `{}` not found on PATH", command[0])
                        } else {
                            format!("its working directory `{}` does not exist", cwd.display())
                        }
                    } else {
                        format!("cannot start `{}`: {e}", command[0])
                    })
                })?;
            let pid = proc.id();
            let state = new_state(server, secrets, pid);
            let reader = stderr.map(|err| {
                let st = state.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncBufReadExt;
                    let mut lines = tokio::io::BufReader::new(err).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let mut q = st.stderr.lock().unwrap_or_else(|e| e.into_inner());
                        if q.len() >= STDERR_LINES {
                            q.pop_front();
                        }
                        q.push_back(line);
                    }
                })
            });
            let client = Client::new(state.clone());
            let observed = Observed {
                inner: proc,
                state: state.clone(),
            };
            match client.serve(observed).await {
                Ok(running) => {
                    let session = Session::new(running.peer().clone(), state);
                    Ok((running, session))
                }
                Err(e) => {
                    // Let the stderr reader collect why it stopped (it ends at EOF,
                    // which comes once the process is gone).
                    if let Some(r) = reader {
                        let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
                    }
                    let tail = state.stderr_tail();
                    use rmcp::service::ClientInitializeError as I;
                    let mut msg = match e {
                        I::ConnectionClosed(_) | I::TransportError { .. } => {
                            "it exited (or closed its output) before the MCP handshake finished"
                                .to_string()
                        }
                        other => format!("the MCP handshake failed: {other}"),
                    };
                    if !tail.trim().is_empty() {
                        msg.push_str(&format!("; its last stderr lines:\n{}", tail.trim_end()));
                    }
                    Err(failed(msg))
                }
            }
        }
        Launch::Http { url, headers } => {
            use rmcp::transport::StreamableHttpClientTransport;
            use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
            let mut map = HashMap::new();
            for (k, v) in headers {
                let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| failed(format!("`{k}` is not a valid header name")))?;
                let value = reqwest::header::HeaderValue::from_str(&v)
                    .map_err(|_| failed(format!("the value of header `{k}` is not valid")))?;
                map.insert(name, value);
            }
            let client = reqwest::Client::builder()
                .user_agent(concat!("aios/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| failed(format!("cannot build the HTTP client: {e}")))?;
            let cfg =
                StreamableHttpClientTransportConfig::with_uri(url.clone()).custom_headers(map);
            let transport = StreamableHttpClientTransport::with_client(client, cfg);
            let state = new_state(server, secrets, None);
            let client = Client::new(state.clone());
            let observed = Observed {
                inner: transport,
                state: state.clone(),
            };
            let running = client.serve(observed).await.map_err(|e| {
                let why = match &e {
                    rmcp::service::ClientInitializeError::TransportError { error, .. } => {
                        root_cause(error)
                    }
                    other => root_cause(other),
                };
                failed(format!("cannot connect to {url}: {why}"))
            })?;
            let session = Session::new(running.peer().clone(), state);
            Ok((running, session))
        }
    }
}

/// The innermost cause of an error (what went wrong on the wire, not the layers).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
