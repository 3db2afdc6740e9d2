//! One LLM call outside any run (`aios llm prompt`): through a model alias, held
//! to the daily and monthly caps, shown on the observer's live line while in
//! flight, and journaled like a step's call (an `llm_call` event under run 0, step
//! `prompt`) before its reply is handed back. Like a step's call, its reply and
//! errors are redacted of every known secret value before they are journaled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{LiveCall, Observer};
use crate::agent::turns::{Next, Policy};
use crate::agent::{
    AgentRequest, AgentSettings, Backend, CallFailure, Form, Sampling, Turns, budget, heuristic,
    provider,
};
use crate::error::{Error, Result};
use crate::journal::{CallFilter, Event, Journal, LlmCall, LlmCallRecord};
use crate::secrets::Secrets;

/// What `aios llm prompt` asks.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    pub alias: String,
    pub system: Option<String>,
    pub prompt: String,
    pub max_tokens: u32,
}

/// The journaled call, and its failure when it failed.
#[derive(Debug)]
pub struct PromptOutcome {
    pub record: LlmCallRecord,
    pub failure: Option<CallFailure>,
}

/// Make the call, journal it (redacted of `secrets`), and return what was
/// journaled.
pub fn prompt(
    journal: &mut Journal,
    settings: &AgentSettings,
    secrets: &Secrets,
    p: PromptRequest,
    observer: &mut dyn Observer,
) -> Result<PromptOutcome> {
    let target = settings
        .resolve(&p.alias)
        .map_err(|e| Error::invalid(e).with_hint("aios llm models lists the configured aliases"))?;
    let req = AgentRequest {
        models: vec![p.alias.clone()],
        system: p.system,
        prompt: p.prompt,
        json: false,
        schema: None,
        offline: None,
        max_tokens: p.max_tokens,
        context: None,
        sampling: Sampling::default(),
        tools: Vec::new(),
        max_turns: 8,
    };
    let Next::Call(call) = Turns::default().next(&req, Policy::default()) else {
        return Err(Error::other("internal: a prompt without a model"));
    };
    let chat = crate::agent::chat(&req, &call, Form::Text, &target.sampling);
    let mut record = LlmCall {
        step: "prompt".into(),
        attempt: 1,
        alias: target.alias.clone(),
        provider: target.provider_name().to_string(),
        model: target.model.clone(),
        request: crate::agent::request_record(&target, &chat, None, 0),
        response: None,
        error: None,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        latency_ms: 0,
        http_attempts: 0,
        heuristic: target.is_heuristic(),
        finish_reason: None,
        failure: None,
        persona: None,
        tool_calls: Vec::new(),
    };
    let started = Instant::now();
    let mut failure = None;
    match &target.backend {
        Backend::Heuristic => record.response = Some(heuristic::draft_text(&req)),
        Backend::Provider(pc) => {
            let estimate = budget::estimate(&target, &chat);
            let (day, month) = budget::period_starts(journal.now());
            let ledger = budget::Ledger {
                day_spent: journal.llm_spent_since(day)?,
                month_spent: journal.llm_spent_since(month)?,
                daily_cap: settings.caps.daily_usd,
                monthly_cap: settings.caps.monthly_usd,
                ..budget::Ledger::default()
            };
            if let Err(stop) = budget::check(&ledger, estimate) {
                return Err(Error::conflict(format!(
                    "a call to `{}` (about {}) would pass the {} cap: {} of {} spent",
                    target.alias,
                    budget::usd(stop.estimate),
                    stop.cap.as_str(),
                    budget::usd(stop.spent),
                    budget::usd(stop.limit),
                ))
                .with_hint("raise [budget] in the config file, or pick a free alias with -m"));
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::other(format!("cannot start the executor: {e}")))?;
            let client = provider::client(pc)
                .map_err(|e| Error::other(format!("cannot build the HTTP client: {e}")))?;
            let pieces = Arc::new(AtomicU64::new(0));
            let (pc2, model, chat2, counter) = (
                pc.clone(),
                target.model.clone(),
                chat.clone(),
                pieces.clone(),
            );
            let mut handle = rt.spawn(async move {
                provider::call(&client, &pc2, &model, &chat2, pc2.timeout, Some(counter)).await
            });
            let live = observer.wants_live();
            let result = loop {
                if !live {
                    break rt.block_on(&mut handle);
                }
                let tick = rt.block_on(async {
                    tokio::time::timeout(Duration::from_millis(200), &mut handle).await
                });
                match tick {
                    Ok(r) => break r,
                    Err(_) => observer.live(&[LiveCall {
                        step: "prompt".into(),
                        model: format!("{}/{}", pc.name, target.model),
                        elapsed: started.elapsed(),
                        tokens: pc.stream.then(|| pieces.load(Ordering::Relaxed)),
                    }]),
                }
            };
            if live {
                observer.live(&[]);
            }
            let result = result.map_err(|e| Error::other(format!("the call stopped: {e}")))?;
            match super::driver::redact_result(secrets, result) {
                Ok(r) => {
                    record.response = Some(r.text);
                    record.tokens_in = r.tokens_in;
                    record.tokens_out = r.tokens_out;
                    record.cost_usd = target.cost(r.tokens_in, r.tokens_out);
                    record.http_attempts = r.http_attempts;
                    record.finish_reason = r.finish;
                }
                Err(f) => {
                    record.error = Some(f.full());
                    record.http_attempts = f.http_attempts;
                    record.failure = Some(f.kind.as_str().to_string());
                    failure = Some(f);
                }
            }
        }
    }
    record.latency_ms = started.elapsed().as_millis() as u64;
    // The prompt itself is the operator's, but it is kept too: no value in it either.
    let mut event = Event::LlmCall(Box::new(record));
    super::driver::redact_event(secrets, &mut event);
    journal.commit(0, &[event])?;
    let record = journal
        .llm_calls(&CallFilter {
            run: Some(0),
            limit: Some(1),
            ..CallFilter::default()
        })?
        .pop()
        .ok_or_else(|| Error::storage("the call was journaled but cannot be read back"))?;
    Ok(PromptOutcome { record, failure })
}
