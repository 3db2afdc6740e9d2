//! `aios mcp list|tools|call`: the configured tool servers, their tools, and one-off
//! calls. A call of a tool annotated read-only runs at once; any other call becomes a
//! one-step run (workflow `mcp-call`) whose step is proposed in the inbox, decided and
//! committed like any other.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::ui::{self, Progress};
use super::{CmdResult, Ctx, Exit};
use crate::cli::{McpArgs, McpCallArgs, McpCommand};
use crate::engine::{self, NewRun};
use crate::error::Error;
use crate::mcp::{McpError, McpPool, ToolInfo, schema};

pub fn mcp(ctx: &Ctx, args: McpArgs) -> CmdResult {
    match args.command {
        McpCommand::List(a) => list(ctx, a.json),
        McpCommand::Tools(a) => tools(ctx, &a.server, a.json),
        McpCommand::Call(a) => call(ctx, a),
    }
}

/// An MCP failure as a command error: an unknown server is "not found" (exit 3);
/// a server that cannot be used fails the command (exit 1).
fn failure(e: McpError) -> Error {
    match e {
        McpError::NotConfigured { .. } => Error::not_found(e.to_string())
            .with_hint("`aios mcp list` shows the configured servers"),
        other => {
            let hint = match &other {
                McpError::Start { .. } => Some(format!(
                    "check [mcp.{}] in the config; `aios mcp list` shows each server's status",
                    other.server()
                )),
                _ => None,
            };
            let e = Error::other(other.to_string());
            match hint {
                Some(h) => e.with_hint(h),
                None => e,
            }
        }
    }
}

fn list(ctx: &Ctx, as_json: bool) -> CmdResult {
    let pool = ctx.mcp_pool()?;
    let names: Vec<String> = pool.settings().servers.keys().cloned().collect();
    // Every server is asked at once; each answers within its startup_timeout.
    let results = pool.block_on({
        let pool = pool.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for (i, name) in names.iter().enumerate() {
                let (pool, name) = (pool.clone(), name.clone());
                set.spawn(async move { (i, pool.list_live(&name).await) });
            }
            let mut out: Vec<Option<Result<Arc<[ToolInfo]>, McpError>>> =
                (0..names.len()).map(|_| None).collect();
            while let Some(Ok((i, r))) = set.join_next().await {
                out[i] = Some(r);
            }
            out
        }
    });
    let results = results.map_err(failure)?;
    let rows: Vec<Json> = pool
        .settings()
        .servers
        .values()
        .zip(results)
        .map(|(cfg, r)| {
            let (status, tools, error) = match r {
                Some(Ok(t)) => ("ok", Some(t.len()), None),
                Some(Err(e)) => ("failed", None, Some(e.to_string())),
                None => ("failed", None, Some("the check did not finish".to_string())),
            };
            json!({
                "name": cfg.name,
                "transport": cfg.transport_name(),
                "target": cfg.target(),
                "status": status,
                "tools": tools,
                "error": error,
            })
        })
        .collect();
    pool.shutdown();
    if as_json {
        ui::print_json(&Json::Array(rows));
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        ui::println(&format!(
            "no MCP servers; add one to {} as [mcp.NAME] with command = [...] or url = \"...\"",
            pool.settings().origin
        ));
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let w = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = s.bold(&format!(
        "{:<w$}  {:<9}  {:<6}  {:>5}  TARGET",
        "NAME", "TRANSPORT", "STATUS", "TOOLS"
    ));
    out.push('\n');
    for r in &rows {
        let status = r["status"].as_str().unwrap_or("");
        let tools = r["tools"]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<w$}  {:<9}  {:<6}  {:>5}  {}\n",
            r["name"].as_str().unwrap_or(""),
            r["transport"].as_str().unwrap_or(""),
            status,
            tools,
            r["target"].as_str().unwrap_or("")
        ));
        if let Some(e) = r["error"].as_str() {
            let e = e.replace('\n', "\n    ");
            out.push_str(&format!("  {}\n", s.dim(&format!("error: {e}"))));
        }
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

fn listing(pool: &McpPool, server: &str) -> Result<Arc<[ToolInfo]>, Error> {
    pool.block_on(pool.list_live(server))
        .and_then(|r| r)
        .map_err(failure)
}

fn tools(ctx: &Ctx, server: &str, as_json: bool) -> CmdResult {
    let pool = ctx.mcp_pool()?;
    let tools = listing(&pool, server)?;
    pool.shutdown();
    if as_json {
        ui::print_json(&serde_json::to_value(&*tools).unwrap_or(Json::Null));
        return Ok(Exit::Ok);
    }
    let s = ctx.ui.out();
    let mut out = format!(
        "{server}: {} tool{}\n",
        tools.len(),
        if tools.len() == 1 { "" } else { "s" }
    );
    for t in tools.iter() {
        out.push('\n');
        out.push_str(&s.bold(&t.name));
        if let Some(title) = &t.title {
            out.push_str(&format!("  {title}"));
        }
        out.push('\n');
        if let Some(d) = &t.description {
            for line in d.trim().lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str(&format!("  takes: {}\n", schema::takes(&t.input_schema)));
        out.push_str(&format!(
            "  {}\n",
            s.dim(&format!("annotations: {}", t.annotations.describe()))
        ));
    }
    ui::print(&out);
    Ok(Exit::Ok)
}

fn call(ctx: &Ctx, a: McpCallArgs) -> CmdResult {
    let args: Json = serde_json::from_str(&a.args).map_err(|e| {
        Error::invalid(format!("--args is not JSON: {e}"))
            .with_hint("give the arguments as a JSON object: --args '{\"message\": \"hi\"}'")
    })?;
    let Json::Object(args) = args else {
        return Err(Error::invalid("--args must be a JSON object")
            .with_hint("like --args '{\"a\": 1, \"b\": 2}'")
            .into());
    };
    let timeout = crate::workflow::parse_duration(&a.timeout).map_err(|e| {
        Error::invalid(format!("--timeout: {e}"))
            .with_hint(crate::workflow::duration::DURATION_HINT)
    })?;
    let pool = ctx.mcp_pool()?;
    let tools = listing(&pool, &a.server)?;
    let Some(tool) = tools.iter().find(|t| t.name == a.tool) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        let mut e = Error::not_found(format!("server `{}` has no tool `{}`", a.server, a.tool));
        e = match crate::workflow::suggest::did_you_mean(&a.tool, names.iter().copied()) {
            Some(d) => e.with_hint(d),
            None => e.with_hint(format!("`aios mcp tools {}` lists its tools", a.server)),
        };
        return Err(e.into());
    };
    let problems = schema::check(&tool.input_schema, &Json::Object(args.clone()), false);
    if !problems.is_empty() {
        return Err(Error::invalid(format!(
            "the arguments do not fit `{}`: {}",
            a.tool,
            schema::describe(&problems)
        ))
        .with_hint(format!(
            "`{}` takes: {}",
            a.tool,
            schema::takes(&tool.input_schema)
        ))
        .into());
    }
    if !tool.annotations.is_read_only() {
        return propose(ctx, &a, args, timeout, pool);
    }
    let quiet = a.quiet || a.json;
    let st = ctx.ui.err();
    let progress: Option<crate::mcp::ProgressFn> = (!quiet).then(|| {
        let tool = a.tool.clone();
        Arc::new(move |p: crate::mcp::Progress| {
            ui::eprint(&format!("{} {tool}: {}\n", st.dim("…"), p.line()));
        }) as crate::mcp::ProgressFn
    });
    let result = pool
        .block_on(async {
            let s = pool.session(&a.server).await?;
            let r = s.call_tool(&a.tool, args, Some(timeout), progress).await?;
            Ok::<_, McpError>((
                r.clone(),
                s.redact(r.output()),
                s.redact(Json::String(r.text())),
            ))
        })
        .and_then(|r| r)
        .map_err(failure)?;
    pool.shutdown();
    let (r, output, text) = result;
    if r.is_error {
        let text = text.as_str().unwrap_or("").trim().to_string();
        return Err(Error::other(format!(
            "tool `{}` on `{}` reported an error: {}",
            a.tool,
            a.server,
            if text.is_empty() {
                "(no message)"
            } else {
                &text
            }
        ))
        .into());
    }
    if a.json {
        ui::print_json(&output);
        return Ok(Exit::Ok);
    }
    match output {
        Json::Array(items) if r.structured.is_none() => {
            for item in items {
                match item {
                    Json::String(t) => ui::println(&t),
                    other => ui::println(&other.to_string()),
                }
            }
        }
        other => ui::print_json(&other),
    }
    Ok(Exit::Ok)
}

/// A call that needs approval: a one-step run whose `tool` step is proposed.
fn propose(
    ctx: &Ctx,
    a: &McpCallArgs,
    args: serde_json::Map<String, Json>,
    timeout: Duration,
    pool: Arc<McpPool>,
) -> CmdResult {
    pool.shutdown();
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let source = format!(
        "# made by `aios mcp call`\nname = \"mcp-call\"\ndescription = {desc}\n\n[inputs.args]\ntype = \"object\"\n\n[[steps]]\nid = \"call\"\nkind = \"tool\"\nserver = {server}\ntool = {tool}\nargs = \"{{{{ inputs.args }}}}\"\ntimeout = {timeout}\n",
        desc = quote(&format!("aios mcp call {} {}", a.server, a.tool)),
        server = quote(&a.server),
        tool = quote(&a.tool),
        timeout = quote(&format!("{}ms", timeout.as_millis())),
    );
    let wf = crate::workflow::load(&source, "mcp-call").map_err(|d| {
        Error::invalid(format!(
            "cannot make a call of `{}` on `{}`: {}",
            a.tool,
            a.server,
            d.first().map(|d| d.message.as_str()).unwrap_or("?")
        ))
    })?;
    let dir = std::env::current_dir()
        .map_err(|e| Error::other(format!("cannot read the working directory: {e}")))?;
    let mut journal = ctx.journal()?;
    let env = ctx.run_env()?;
    let mut progress = Progress::new(ctx.ui, a.quiet || a.json);
    let outcome = engine::start(
        &mut journal,
        NewRun {
            workflow: &wf,
            source: &source,
            path: None,
            dir: &dir,
            inputs: json!({ "args": Json::Object(args) }),
            uid: None,
            dry: None,
        },
        &env,
        &mut progress,
    )?;
    super::run::report(ctx, &journal, &outcome, a.json)
}
