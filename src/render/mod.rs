//! Renderers: turn engine events, plans and reports into output. The only place (with `cli`)
//! that knows about terminals.
//!
//! - `tty`: an indicatif spinner with the live rollout counts, lines above it;
//! - `plain`: timestamped lines (CI logs);
//! - `github`: plain lines plus `::group::` per stage and `::warning::`/`::error::` annotations
//!   (chosen when `GITHUB_ACTIONS=true`);
//! - `json`: one JSON object per event (NDJSON), chosen by `--output json`.

pub(crate) mod documents;
mod human;
pub mod schema;

pub(crate) use human::report_text;
pub use human::{history_text, lock_text, plan_text, rollback_plan_text, status_text, verify_text};

use crate::engine::{Event, EventSink};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Tty,
    Plain,
    Github,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Pick the style: `--output json` wins, then GitHub Actions, then a TTY, else plain.
pub(crate) fn choose_style(json: bool, github: bool, tty: bool) -> Style {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if json {
        Style::Json
    } else if github {
        Style::Github
    } else if tty && !dumb {
        Style::Tty
    } else {
        Style::Plain
    }
}

/// A line on stdout, scrubbed of every tainted value ([`crate::taint::scrub`]): every command
/// prints through here, [`outln!`] or the [`Renderer`].
pub(crate) fn out(s: &str) {
    println!("{}", crate::taint::scrub(s));
}

/// A line on stderr, scrubbed like [`out`].
pub(crate) fn err(s: &str) {
    eprintln!("{}", crate::taint::scrub(s));
}

/// `println!` through [`out`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::render::out(&format!($($t)*)) };
}
/// `eprintln!` through [`err`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::render::err(&format!($($t)*)) };
}
pub(crate) use {errln, outln};

/// stderr for the `-v` logs (tracing), scrubbed like [`out`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::taint::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Colours: only on a TTY, never with NO_COLOR set.
/// The version of the JSON contract: every event and document carries it as `schema_version`.
/// Within one major version, changes are additive only (new fields, new events); the schemas are
/// in `docs/schema/`.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// A JSON event or document with its `schema_version`.
pub(crate) fn with_schema_version(mut v: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("schema_version".into(), SCHEMA_VERSION.into());
    }
    v
}

/// One line of JSON output (an event or a document), with its `schema_version`.
pub(crate) fn json_line(v: serde_json::Value) -> String {
    with_schema_version(v).to_string()
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set or TERM=dumb.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub(crate) fn resolve(self, tty: bool) -> bool {
        match self {
            ColorChoice::Auto => use_color(tty),
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

/// Colours: only on a TTY, never with NO_COLOR set or TERM=dumb.
pub(crate) fn use_color(tty: bool) -> bool {
    tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::env::var("TERM").is_ok_and(|t| t != "dumb")
}

/// Whether this process already wrote its terminal `finished` event (JSON): the edge then does
/// not write an `error` event after it (one terminal event per stream).
static FINISHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn finished_written() -> bool {
    FINISHED.load(std::sync::atomic::Ordering::SeqCst)
}

pub(crate) struct Renderer {
    style: Style,
    verbosity: Verbosity,
    color: bool,
    bar: Option<ProgressBar>,
    out: Mutex<Box<dyn Write + Send>>,
    /// Fleet releases: name the service on every line.
    prefix_service: std::sync::atomic::AtomicBool,
}

impl Renderer {
    pub(crate) fn new(style: Style, verbosity: Verbosity, color: bool, out: Box<dyn Write + Send>) -> Renderer {
        let bar = (style == Style::Tty && verbosity != Verbosity::Quiet).then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        Renderer { style, verbosity, color, bar, out: Mutex::new(out), prefix_service: false.into() }
    }

    /// Prefix every human line with its service (fleet releases).
    pub(crate) fn prefix_service(&self) {
        self.prefix_service.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn print(&self, s: &str) {
        let write = || {
            if let Ok(mut o) = self.out.lock() {
                let _ = writeln!(o, "{}", crate::taint::scrub(s));
                let _ = o.flush();
            }
        };
        match &self.bar {
            // The spinner lives on stderr; lines go to stdout with the spinner hidden meanwhile.
            Some(pb) => pb.suspend(write),
            None => write(),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        self.finish();
    }
}

impl EventSink for Renderer {
    fn emit(&self, at: f64, service: &str, event: &Event) {
        if matches!(event, Event::Finished { .. }) {
            FINISHED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if self.style == Style::Json {
            let mut v = serde_json::to_value(event).unwrap_or_default();
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("at".into(), human::rfc3339(at).into());
                m.insert("service".into(), service.into());
            }
            self.print(&json_line(v));
            return;
        }
        let Some((level, text)) = human::event_line(event, self.color) else { return };
        if self.verbosity == Verbosity::Quiet && level == human::Level::Info {
            return;
        }
        if let (Some(pb), Event::Progress { .. }) = (&self.bar, event) {
            pb.set_message(crate::taint::scrub(&text).into_owned());
        }
        let stamp = human::clock(at);
        let text = if self.prefix_service.load(std::sync::atomic::Ordering::Relaxed) && !service.is_empty() {
            format!("{service}: {text}")
        } else {
            text
        };
        let line = if self.style == Style::Tty { text.clone() } else { format!("[{stamp}] {text}") };
        if self.style == Style::Github {
            match event {
                Event::StageStarted { stage } => return self.print(&format!("::group::{}", stage.name())),
                Event::StageFinished { .. } => {
                    self.print(&line);
                    return self.print("::endgroup::");
                }
                Event::Warning { message } => return self.print(&format!("::warning::{message}")),
                // The failure report's verdict and fix as an error annotation (#26): it shows on
                // the run's summary page, beside the line.
                Event::Report { report } => {
                    self.print(&line);
                    let d = &report.diagnosis;
                    return self.print(&format!(
                        "::error title=Why the release failed::{}",
                        annotation(&format!("{}\nfix: {}", d.summary, d.fix))
                    ));
                }
                Event::Finished { exit_code, message, .. } if *exit_code != 0 && *exit_code != 2 => {
                    self.print(&line);
                    return self.print(&format!("::error::{}", message.replace('\n', "%0A")));
                }
                _ => {}
            }
        }
        self.print(&line);
    }
}

/// A workflow command's message: `%`, CR and LF escaped as GitHub's runner reads them.
fn annotation(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("lock"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_style_writes_every_line() {
        for style in [Style::Tty, Style::Plain, Style::Github, Style::Json] {
            let buf = Buf::default();
            let r = Renderer::new(style, Verbosity::Normal, false, Box::new(buf.clone()));
            for i in 0..20 {
                r.emit(0.0, "web", &Event::Info { message: format!("line {i}") });
            }
            r.finish();
            let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8");
            assert_eq!(text.lines().filter(|l| l.contains("line ")).count(), 20, "{style:?}: {text}");
        }
    }
}
