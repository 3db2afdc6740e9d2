//! An action rendered for a person, per kind (file, http, shell, email; anything else
//! as pretty JSON), and a unified diff with its lines coloured.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use serde_json::Value as Json;

use super::Theme;

fn kv(k: &str, v: String, t: Theme) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{k}: "), t.bold()), Span::raw(v)])
}

/// Quote an argument the way a shell would need it.
fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// An action rendered for a person, by its `kind`; kinds this build does not know
/// show as pretty JSON.
pub(super) fn action_lines(a: &Json, lines: &mut Vec<Line<'static>>, t: Theme) {
    let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
    match a["kind"].as_str().unwrap_or("") {
        "file" => {
            let append = a["append"].as_bool().unwrap_or(false);
            let content = s("content");
            lines.push(kv(
                if append { "append to" } else { "write" },
                format!(
                    "{} ({})",
                    s("path"),
                    crate::text::count(content.len(), "byte")
                ),
                t,
            ));
            lines.push(kv("in", s("root"), t));
            lines.push(Line::raw(""));
            for l in content.lines() {
                lines.push(Line::raw(l.to_string()));
            }
        }
        "http" => {
            let mut url = s("url");
            if let Some(q) = a["query"].as_object()
                && !q.is_empty()
            {
                let qs: Vec<String> = q
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                url = format!("{url}?{}", qs.join("&"));
            }
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", s("method")), t.bold()),
                Span::raw(url),
            ]));
            if let Some(h) = a["headers"].as_object() {
                for (k, v) in h {
                    lines.push(kv(k, v.as_str().unwrap_or("").to_string(), t));
                }
            }
            if let Some(k) = a["idempotency_key"].as_str() {
                lines.push(Line::styled(format!("Idempotency-Key: {k}"), t.dim()));
            }
            if !a["json"].is_null() {
                lines.push(Line::raw(""));
                json_lines(&a["json"], lines);
            } else if let Some(b) = a["body"].as_str() {
                lines.push(Line::raw(""));
                for l in b.lines() {
                    lines.push(Line::raw(l.to_string()));
                }
            }
            if let Some(e) = a["expect_status"].as_array()
                && !e.is_empty()
            {
                let e: Vec<String> = e.iter().map(|v| v.to_string()).collect();
                lines.push(Line::styled(
                    format!("expects status {}", e.join(", ")),
                    t.dim(),
                ));
            }
        }
        "shell" => {
            let argv: Vec<String> = a["argv"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|x| shell_quote(x.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled("$ ", t.bold()),
                Span::raw(argv.join(" ")),
            ]));
            lines.push(kv("in", s("cwd"), t));
            if let Some(env) = a["env"].as_object() {
                for (k, v) in env {
                    lines.push(kv("env", format!("{k}={}", v.as_str().unwrap_or("")), t));
                }
            }
        }
        "email" => {
            for h in ["from", "to", "cc", "bcc", "reply_to", "subject"] {
                let v = match &a[h] {
                    Json::Null => continue,
                    Json::String(s) => s.clone(),
                    Json::Array(v) => v
                        .iter()
                        .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    v => v.to_string(),
                };
                let name = match h {
                    "reply_to" => "Reply-To".to_string(),
                    h => format!("{}{}", h[..1].to_uppercase(), &h[1..]),
                };
                lines.push(kv(&name, v, t));
            }
            lines.push(Line::raw(""));
            let body = a["body"].as_str().or(a["text"].as_str()).unwrap_or("");
            for l in body.lines() {
                lines.push(Line::raw(l.to_string()));
            }
        }
        _ => json_lines(a, lines),
    }
}

pub(super) fn json_lines(v: &Json, lines: &mut Vec<Line<'static>>) {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    for l in pretty.lines() {
        lines.push(Line::raw(l.to_string()));
    }
}

pub(super) fn diff_lines(diff: &str, lines: &mut Vec<Line<'static>>, t: Theme) {
    for l in diff.lines() {
        let style = if l.starts_with("+++") || l.starts_with("---") {
            t.bold()
        } else if l.starts_with('+') {
            t.fg(Color::Green)
        } else if l.starts_with('-') {
            t.fg(Color::Red)
        } else if l.starts_with("@@") {
            t.fg(Color::Cyan)
        } else {
            Style::new()
        };
        lines.push(Line::styled(l.to_string(), style));
    }
}
