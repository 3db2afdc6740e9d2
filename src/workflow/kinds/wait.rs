//! `wait`: pause the run until a time (`duration` from when the step starts, or
//! `until` an instant). Sleeps once prepared; never proposed, has no `timeout`.

use super::{Asks, Idempotent, Policy, StepFields, StepKind, Timeout};
use crate::template::is_template;
use crate::workflow::Tmpl;
use crate::workflow::diag::Diagnostic;
use crate::workflow::read::{get, key_span};

/// `kind = "wait"`: pause the run until a time. Exactly one of the two is set.
#[derive(Debug, Clone)]
pub struct WaitSpec {
    /// `duration = "2d"`: from when the step starts waiting.
    pub duration: Option<std::time::Duration>,
    /// `until = "{{ ... }}"`: a template rendering an RFC 3339 instant.
    pub until: Option<Tmpl>,
}

impl StepKind for WaitSpec {
    const NAME: &'static str = "wait";
    const FIELDS: &'static [&'static str] = &["duration", "until"];
    const POLICY: Policy = Policy {
        asks: Asks::Never,
        timeout: Timeout::Forbidden("a wait step ends at its `duration` or `until`"),
        idempotent: Idempotent::Always,
        timer: true,
    };

    fn read(f: StepFields<'_, '_>) -> Option<WaitSpec> {
        let StepFields {
            cx, t, span, uses, ..
        } = f;
        let duration = get(t, "duration").and_then(|v| cx.duration("duration", v));
        let until = get(t, "until").and_then(|v| cx.tmpl("until", v, uses));
        match (get(t, "duration"), get(t, "until")) {
            (Some(_), Some(_)) => cx.push(
                Diagnostic::new("a wait step takes `duration` or `until`, not both")
                    .at(key_span(t, "until").unwrap_or(span))
                    .label("second end time")
                    .hint("duration = \"2d\" waits from when the step starts; until = \"{{ ... }}\" names an RFC 3339 instant"),
            ),
            (None, None) => cx.push(
                Diagnostic::new("a wait step needs `duration` or `until`")
                    .at(span)
                    .label("no end time")
                    .hint("add duration = \"2d\", or until = \"{{ inputs.launch_at }}\" (an RFC 3339 instant)"),
            ),
            _ => {}
        }
        if let (Some(u), Some(v)) = (&until, get(t, "until"))
            && !is_template(u)
            && u.parse::<jiff::Timestamp>().is_err()
        {
            cx.push(
                Diagnostic::new(format!("`until` is not an RFC 3339 instant: `{u}`"))
                    .at(v.span())
                    .label("not an instant")
                    .hint("write it like 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00"),
            );
        }
        Some(WaitSpec { duration, until })
    }
}
