//! Keys while a popup is open: help, the quit / bulk / stale / edit confirmations, the reject
//! and snooze prompts, the cancel-run prompt, a choice's form (Tab between its inputs) and the inline editor;
//! and the text inputs they hold.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::decide::{approve_checked, decide_approve, submit};
use super::keys::is_ctrl;
use super::runs::cancel_reason;
use crate::journal::Decision;
use crate::tui::message::Cmd;
use crate::tui::model::{Approval, Model, Overlay};
use crate::tui::view::help_max_scroll;

pub(super) fn line_input(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

pub(super) fn editor(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(text.lines().map(str::to_string).collect());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

pub(super) fn overlay_key(m: &mut Model, k: KeyEvent) -> Vec<Cmd> {
    let overlay = std::mem::take(&mut m.overlay);
    let (next, cmds) = overlay_next(m, overlay, k);
    m.overlay = next;
    cmds
}

fn overlay_next(m: &mut Model, overlay: Overlay, k: KeyEvent) -> (Overlay, Vec<Cmd>) {
    let yes = matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y'));
    let no = matches!(
        k.code,
        KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q')
    );
    match overlay {
        Overlay::None => (Overlay::None, Vec::new()),
        Overlay::Help { scroll } => match k.code {
            KeyCode::Down | KeyCode::Char('j') => (
                Overlay::Help {
                    scroll: scroll.saturating_add(1).min(help_max_scroll(m.size)),
                },
                Vec::new(),
            ),
            KeyCode::Up | KeyCode::Char('k') => (
                Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                },
                Vec::new(),
            ),
            KeyCode::PageDown => (
                Overlay::Help {
                    scroll: scroll.saturating_add(10).min(help_max_scroll(m.size)),
                },
                Vec::new(),
            ),
            KeyCode::PageUp => (
                Overlay::Help {
                    scroll: scroll.saturating_sub(10),
                },
                Vec::new(),
            ),
            _ => (Overlay::None, Vec::new()),
        },
        Overlay::ConfirmQuit if yes => {
            m.quit = true;
            (Overlay::None, vec![Cmd::Quit])
        }
        Overlay::ConfirmQuit if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmQuit => (o, Vec::new()),
        Overlay::ConfirmBulk { approval, .. } if yes => {
            let cmds = approve_checked(m, approval);
            (std::mem::take(&mut m.overlay), cmds)
        }
        Overlay::ConfirmBulk { .. } if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmBulk { .. } => (o, Vec::new()),
        Overlay::ConfirmStale { approval, .. } if yes => {
            (Overlay::None, vec![decide_approve(approval, true)])
        }
        Overlay::ConfirmStale { .. } if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmStale { .. } => (o, Vec::new()),
        Overlay::ConfirmEdit { id, text, .. } if yes => {
            let cmds = approve_checked(
                m,
                Approval {
                    ids: vec![id],
                    edit: Some(text),
                    fields: Vec::new(),
                },
            );
            (std::mem::take(&mut m.overlay), cmds)
        }
        Overlay::ConfirmEdit { id, text, .. } if k.code == KeyCode::Char('e') => (
            Overlay::Editor {
                id,
                input: editor(&text),
                error: None,
            },
            Vec::new(),
        ),
        Overlay::ConfirmEdit { .. } if no => (Overlay::None, Vec::new()),
        o @ Overlay::ConfirmEdit { .. } => (o, Vec::new()),
        Overlay::Reject {
            ids,
            verb,
            mut input,
            error,
        } => match k.code {
            KeyCode::Esc => (Overlay::None, Vec::new()),
            KeyCode::Enter => {
                let reason = input.lines().join(" ").trim().to_string();
                if reason.is_empty() {
                    return (
                        Overlay::Reject {
                            ids,
                            verb,
                            input,
                            error: Some("a rejection needs a reason".into()),
                        },
                        Vec::new(),
                    );
                }
                (
                    Overlay::None,
                    vec![Cmd::Decide {
                        ids,
                        decision: Decision::Reject,
                        reason: Some(reason),
                        edit: None,
                        fields: Vec::new(),
                        confirm_stale: false,
                    }],
                )
            }
            _ => {
                input.input(k);
                (
                    Overlay::Reject {
                        ids,
                        verb,
                        input,
                        error,
                    },
                    Vec::new(),
                )
            }
        },
        Overlay::Snooze {
            ids,
            mut input,
            error,
        } => match k.code {
            KeyCode::Esc => (Overlay::None, Vec::new()),
            KeyCode::Enter => {
                let text = input.lines().join("").trim().to_string();
                match crate::workflow::parse_duration(&text) {
                    Ok(d) if !d.is_zero() => {
                        let until = m.now + d.as_millis() as i64;
                        (Overlay::None, vec![Cmd::Snooze { ids, until }])
                    }
                    Ok(_) => (
                        Overlay::Snooze {
                            ids,
                            input,
                            error: Some("snooze for more than 0s".into()),
                        },
                        Vec::new(),
                    ),
                    Err(e) => (
                        Overlay::Snooze {
                            ids,
                            input,
                            error: Some(format!("{e}; write it like 30m, 4h or 2d")),
                        },
                        Vec::new(),
                    ),
                }
            }
            _ => {
                input.input(k);
                (Overlay::Snooze { ids, input, error }, Vec::new())
            }
        },
        Overlay::Form(mut form) => {
            let last = form.fields.len().saturating_sub(1);
            match k.code {
                KeyCode::Esc => return (Overlay::None, Vec::new()),
                KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1).min(last),
                KeyCode::BackTab | KeyCode::Up => form.focus = form.focus.saturating_sub(1),
                KeyCode::Enter if form.focus < last => form.focus += 1,
                KeyCode::Enter => {
                    let cmds = submit(m, form);
                    return (std::mem::take(&mut m.overlay), cmds);
                }
                _ if is_ctrl(&k, 's') => {
                    let cmds = submit(m, form);
                    return (std::mem::take(&mut m.overlay), cmds);
                }
                _ => {
                    if let Some(f) = form.fields.get_mut(form.focus) {
                        f.text.input(k);
                        f.error = None;
                    }
                }
            }
            (Overlay::Form(form), Vec::new())
        }
        Overlay::Cancel { run, mut input } => match k.code {
            KeyCode::Esc => (Overlay::None, Vec::new()),
            KeyCode::Enter => {
                let reason = cancel_reason(&input.lines().join(" "));
                (Overlay::None, vec![Cmd::Cancel { run, reason }])
            }
            _ => {
                input.input(k);
                (Overlay::Cancel { run, input }, Vec::new())
            }
        },
        Overlay::Editor {
            id,
            mut input,
            error,
        } => {
            if k.code == KeyCode::Esc {
                return (Overlay::None, Vec::new());
            }
            if is_ctrl(&k, 's') {
                let text = input.lines().join("\n");
                return (
                    Overlay::Editor { id, input, error },
                    vec![Cmd::CheckEdit { id, text }],
                );
            }
            input.input(k);
            (Overlay::Editor { id, input, error }, Vec::new())
        }
    }
}
