//! Cost estimates and cap checks. Pure: the driver reads what was spent from the
//! journal and passes it in.

use super::{Chat, Target};

/// Estimated tokens of a conversation: about four characters per token, plus a
/// little per message.
pub fn estimate_tokens_in(chat: &Chat) -> u64 {
    let chars: usize = chat.system.as_deref().map(str::len).unwrap_or(0)
        + chat
            .messages
            .iter()
            .map(|m| {
                m.content.len()
                    + m.tool_calls
                        .iter()
                        .map(|c| c.name.len() + json_len(&c.arguments))
                        .sum::<usize>()
            })
            .sum::<usize>()
        // The tools offered are part of the prompt too.
        + chat
            .tools
            .iter()
            .map(|t| t.name.len() + t.description.len() + json_len(&t.input_schema))
            .sum::<usize>();
    (chars as u64).div_ceil(4) + 8 * (chat.messages.len() as u64 + 1)
}

/// The length of `v` as compact JSON, counted without building the text (this
/// runs before every call of an agent's loop, whose conversation grows).
fn json_len(v: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// What a call may cost at most: its prompt, and a reply of `max_tokens`.
pub fn estimate(target: &Target, chat: &Chat) -> f64 {
    target.cost(estimate_tokens_in(chat), u64::from(chat.max_tokens))
}

/// Which cap a call would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Run,
    Daily,
    Monthly,
    /// The step's persona's `max_usd_day`.
    PersonaDaily,
    /// The step's persona's `max_usd_month`.
    PersonaMonthly,
}

impl Cap {
    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Run => "run",
            Cap::Daily => "daily",
            Cap::Monthly => "monthly",
            Cap::PersonaDaily => "persona's daily",
            Cap::PersonaMonthly => "persona's monthly",
        }
    }
}

/// Spending so far and the limits that apply to one call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ledger {
    pub run_spent: f64,
    pub day_spent: f64,
    pub month_spent: f64,
    pub run_cap: Option<f64>,
    pub daily_cap: Option<f64>,
    pub monthly_cap: Option<f64>,
    /// What the step's persona spent today and this month, and its own caps.
    pub persona_day_spent: f64,
    pub persona_month_spent: f64,
    pub persona_daily_cap: Option<f64>,
    pub persona_monthly_cap: Option<f64>,
    /// What the operator allowed this run beyond any cap (`approve --raise`).
    pub raised: f64,
}

/// A call that would pass a cap: which, its limit and what was spent against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    pub cap: Cap,
    pub limit: f64,
    pub spent: f64,
    pub estimate: f64,
}

/// Whether a call of `estimate` USD may be made. A free call is never stopped.
pub fn check(l: &Ledger, estimate: f64) -> Result<(), Stop> {
    if estimate <= 0.0 {
        return Ok(());
    }
    let caps = [
        (Cap::Run, l.run_cap, l.run_spent),
        (Cap::Daily, l.daily_cap, l.day_spent),
        (Cap::Monthly, l.monthly_cap, l.month_spent),
        (Cap::PersonaDaily, l.persona_daily_cap, l.persona_day_spent),
        (
            Cap::PersonaMonthly,
            l.persona_monthly_cap,
            l.persona_month_spent,
        ),
    ];
    for (cap, limit, spent) in caps {
        if let Some(limit) = limit
            && spent + estimate > limit + l.raised + 1e-12
        {
            return Err(Stop {
                cap,
                limit: limit + l.raised,
                spent,
                estimate,
            });
        }
    }
    Ok(())
}

/// The starts of the UTC day and month that hold `now` (milliseconds).
pub fn period_starts(now: crate::clock::Millis) -> (crate::clock::Millis, crate::clock::Millis) {
    use jiff::tz::TimeZone;
    let Ok(ts) = jiff::Timestamp::from_millisecond(now) else {
        return (now, now);
    };
    let date = ts.to_zoned(TimeZone::UTC).date();
    let start = |d: jiff::civil::Date| {
        d.to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(now)
    };
    (start(date), start(date.first_of_month()))
}

/// `$0.0123`: enough digits for cheap calls.
pub fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".into()
    } else if x.abs() < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::config::Backend;
    use crate::agent::{Message, Role};

    fn target(inp: f64, out: f64) -> Target {
        Target {
            alias: "m".into(),
            backend: Backend::Heuristic,
            model: "m".into(),
            usd_per_mtok_in: inp,
            usd_per_mtok_out: out,
            sampling: Default::default(),
        }
    }

    #[test]
    fn json_len_is_the_compact_texts_length() {
        let v = serde_json::json!({"a": [1, "é\"x", null], "b": {"c": 2.5}});
        assert_eq!(json_len(&v), v.to_string().len());
    }

    #[test]
    fn estimates_prompt_and_reply() {
        let chat = Chat {
            system: Some("x".repeat(400)),
            messages: vec![Message {
                tool_calls: Vec::new(),
                tool_call_id: None,
                role: Role::User,
                content: "y".repeat(400),
            }],
            max_tokens: 1000,
            json: false,
            sampling: Default::default(),
            form: Default::default(),
            schema: None,
            tools: Vec::new(),
            final_turn: false,
        };
        assert_eq!(estimate_tokens_in(&chat), 200 + 16);
        let e = estimate(&target(1.0, 10.0), &chat);
        assert!((e - (216.0 + 10_000.0) / 1e6).abs() < 1e-12);
        assert_eq!(estimate(&target(0.0, 0.0), &chat), 0.0);
    }

    #[test]
    fn caps_stop_calls_that_would_pass_them() {
        let l = Ledger {
            run_spent: 0.9,
            run_cap: Some(1.0),
            day_spent: 5.0,
            daily_cap: Some(10.0),
            ..Ledger::default()
        };
        assert!(check(&l, 0.05).is_ok());
        let s = check(&l, 0.2).unwrap_err();
        assert_eq!((s.cap, s.limit, s.spent), (Cap::Run, 1.0, 0.9));
        assert!(check(&Ledger { raised: 0.5, ..l }, 0.2).is_ok());
        let s = check(
            &Ledger {
                day_spent: 9.95,
                ..l
            },
            0.08,
        )
        .unwrap_err();
        assert_eq!(s.cap, Cap::Daily);
        // Free calls pass even over a cap.
        assert!(
            check(
                &Ledger {
                    run_spent: 2.0,
                    ..l
                },
                0.0
            )
            .is_ok()
        );
        assert_eq!(usd(0.5), "$0.50");
        let now: jiff::Timestamp = "2026-11-21T09:30:00Z".parse().unwrap();
        let (d, m) = period_starts(now.as_millisecond());
        assert_eq!(crate::clock::format_ms(d), "2026-11-21T00:00:00Z");
        assert_eq!(crate::clock::format_ms(m), "2026-11-01T00:00:00Z");
        assert_eq!(usd(0.0012), "$0.0012");
    }
}
