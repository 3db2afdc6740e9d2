//! The terminal: raw mode and the alternate screen entered and always restored (a
//! guard plus a panic hook), and the loop that feeds keys, resizes, mouse events
//! and polls to [`update`], has the [`Runtime`] perform what it asks and draws.

use std::collections::VecDeque;
use std::io::{self, Stdout};
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::message::Msg;
use super::model::Model;
use super::runtime::{Runtime, TuiSettings};
use super::{update, view};
use crate::error::{Error, Result};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub(super) fn term_error(e: io::Error) -> Error {
    Error::other(format!("terminal: {e}"))
}

pub(super) fn enter_terminal() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    Ok(())
}

/// Put the terminal back as it was. Safe to call more than once.
pub(super) fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped: on quit, on error and while unwinding.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Run the TUI until the operator quits.
pub fn run(settings: TuiSettings) -> Result<()> {
    let poll_every = settings.poll;
    let mut rt = Runtime::new(settings)?;
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut model = Model::new(rt.model_settings(), rt.settings.clock.now_ms(), size);
    let first = rt.poll(&model, true)?;

    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    let _guard = Guard;
    enter_terminal().map_err(term_error)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(term_error)?;
    term.clear().map_err(term_error)?;

    let mut queue: VecDeque<Msg> = first.into();
    let mut last_poll = Instant::now();
    loop {
        while let Some(msg) = queue.pop_front() {
            for cmd in update(&mut model, msg) {
                queue.extend(rt.perform(cmd, &model, Some(&mut term))?);
            }
        }
        if model.quit {
            break;
        }
        term.draw(|f| view(&model, f)).map_err(term_error)?;
        let wait = poll_every
            .saturating_sub(last_poll.elapsed())
            .min(Duration::from_millis(100));
        if event::poll(wait).map_err(term_error)? {
            match event::read().map_err(term_error)? {
                TermEvent::Key(k) => queue.push_back(Msg::Key(k)),
                TermEvent::Resize(w, h) => queue.push_back(Msg::Resize(w, h)),
                TermEvent::Mouse(e) => queue.push_back(Msg::Mouse(e)),
                _ => {}
            }
        }
        if last_poll.elapsed() >= poll_every {
            queue.extend(rt.poll(&model, false)?);
            last_poll = Instant::now();
        }
    }
    Ok(())
}
