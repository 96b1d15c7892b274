//! One error type for the whole library. Each variant knows its exit code; the CLI edge renders
//! it once. The exit codes are documented in the README ("Exit codes") and are the same for
//! every command.

use crate::ports::PortError;
use std::fmt;
use std::path::PathBuf;

/// Documented exit codes (terraform-like: 0 nothing to do / success, 2 changes pending).
pub mod exit {
    /// Success; for `plan` and `--dry-run`: nothing would change.
    pub const OK: i32 = 0;
    /// A bug in fgdeploy (please report it).
    pub const INTERNAL: i32 = 1;
    /// `plan` / `--dry-run` only: the plan has changes.
    pub const CHANGES: i32 = 2;
    /// Bad input: flags, deployspec, task definition, unsafe settings. Nothing was changed.
    pub const INPUT: i32 = 3;
    /// AWS refused or failed a call (credentials, permissions, missing resource). Nothing was
    /// changed unless the message says otherwise.
    pub const AWS: i32 = 4;
    /// Another deployment is in progress on the service; nothing was changed (`--force` overrides).
    pub const CONFLICT: i32 = 5;
    /// The migration task failed; nothing the service uses was changed.
    pub const MIGRATION_FAILED: i32 = 6;
    /// The release failed and was rolled back: the service is healthy on the previous version.
    pub const ROLLED_BACK: i32 = 7;
    /// The release failed and the rollback failed too, or the state is unknown: a human must act.
    pub const MANUAL_ACTION: i32 = 8;
    /// Interrupted with `on_interrupt = "detach"`: the deployment goes on without fgdeploy.
    pub const DETACHED: i32 = 9;
    /// Building or pushing the image failed (or no builder is available); nothing was changed.
    pub const BUILD_FAILED: i32 = 10;
    /// A gated blue/green release completed, but not through fgdeploy's gate: someone (or
    /// something) continued it before fgdeploy's checks passed. The new revision serves; the
    /// message says what the checks found against it afterwards.
    pub const GATE_BYPASSED: i32 = 11;
    /// Another run holds the service's lease (`[lock]`): this run waited `lock.wait` /
    /// `--lock-timeout` and changed nothing, or the lease was taken from it mid-run (broken, or
    /// taken over after it expired) and it stopped changing anything.
    pub const LOCKED: i32 = 12;
    /// Superseded: another deployment (a colleague's UpdateService, a console deploy, another
    /// pipeline without the lease) replaced this release's while fgdeploy watched it. fgdeploy
    /// did not roll it back: the newer deployment is someone's.
    pub const SUPERSEDED: i32 = 13;
}

/// Where in an input file something is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    None,
    /// 1-based line and column.
    LineCol(usize, usize),
    /// A field path such as `containerDefinitions[0].image` or `deploy.rolling.maximum_percent`.
    Field(String),
}

/// One input problem as data (the JSON error document's `problems`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Problem {
    pub(crate) file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) column: Option<usize>,
    pub(crate) message: String,
    pub(crate) fix: String,
}

/// Bad input in a file or on the command line: names the file, the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub(crate) file: PathBuf,
    pub(crate) location: Location,
    pub message: String,
    pub fix: Box<str>,
    /// Further problems found in the same check (every problem of a file is reported at once).
    pub(crate) also: Vec<InputError>,
    /// The line of the file it stands on, for a snippet with a caret.
    pub(crate) source: Option<Box<crate::spans::SourceSpan>>,
}

impl InputError {
    pub(crate) fn new(file: impl Into<PathBuf>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        InputError {
            file: file.into(),
            location: Location::None,
            message: message.into(),
            fix: fix.into().into_boxed_str(),
            also: Vec::new(),
            source: None,
        }
    }

    /// Find this problem (and those attached) in `text`, the content of `file`: a field path in a
    /// TOML file through its spans, a line and column as they are.
    pub(crate) fn located(mut self, file: &std::path::Path, text: &str) -> Self {
        if self.file == file && self.source.is_none() {
            let toml = file.extension().is_some_and(|e| e == "toml");
            self.source = match &self.location {
                Location::LineCol(l, c) => crate::spans::line_col(text, *l, *c),
                Location::Field(p) if toml => crate::spans::toml_field(text, p),
                // A template's environment and secrets may hold values that must not be shown.
                Location::Field(p) if p.contains("environment") || p.contains("secrets") => {
                    crate::spans::json_field(text, p).map(crate::spans::SourceSpan::hidden)
                }
                Location::Field(p) => crate::spans::json_field(text, p),
                _ => None,
            }
            .map(|s| Box::new(s.guarded()));
        }
        self.also = std::mem::take(&mut self.also).into_iter().map(|a| a.located(file, text)).collect();
        self
    }

    /// `Ok` when `problems` is empty, else the first with the others attached.
    pub(crate) fn all(problems: Vec<InputError>) -> Result<(), InputError> {
        let mut it = problems.into_iter();
        match it.next() {
            None => Ok(()),
            Some(mut first) => {
                first.also.extend(it);
                Err(first)
            }
        }
    }

    /// Every problem as data.
    pub(crate) fn problems(&self) -> Vec<Problem> {
        self.clone()
            .flatten()
            .into_iter()
            .map(|p| Problem {
                file: p.file.display().to_string(),
                field: match &p.location {
                    Location::Field(f) => Some(f.clone()),
                    _ => None,
                },
                line: p.source.as_ref().map(|s| s.line),
                column: p.source.as_ref().map(|s| s.col),
                message: p.message,
                fix: p.fix.into_string(),
            })
            .collect()
    }

    /// This problem and every one attached to it.
    pub fn flatten(mut self) -> Vec<InputError> {
        let also = std::mem::take(&mut self.also);
        let mut out = vec![self];
        for a in also {
            out.extend(a.flatten());
        }
        out
    }
    pub(crate) fn at_field(mut self, field: impl Into<String>) -> Self {
        self.location = Location::Field(field.into());
        self
    }
    pub(crate) fn at_line_col(mut self, line: usize, col: usize) -> Self {
        self.location = Location::LineCol(line, col);
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match &self.location {
            Location::None => {}
            Location::LineCol(l, c) => write!(f, ":{l}:{c}")?,
            Location::Field(p) => write!(f, ": field `{p}`")?,
        }
        write!(f, ": {}", self.message)?;
        if let Some(s) = &self.source {
            write!(f, "\n{s}")?;
        }
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        for more in &self.also {
            write!(f, "\n{more}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(Box<InputError>),
    #[error("{message}\n  fix: {fix}")]
    Usage { message: String, fix: String },
    #[error("{0}")]
    Aws(#[from] PortError),
    #[error("{0}")]
    Conflict(String),
    /// A one-off task (the migration, `fgdeploy run`) failed or could not run.
    #[error("{0}")]
    MigrationFailed(String),
    #[error("release failed and was rolled back: {reason}\n  the service is serving {serving}")]
    RolledBack { reason: String, serving: String },
    #[error("{reason}\n  MANUAL ACTION NEEDED: {state}\n  next: {next}")]
    ManualAction { reason: String, state: String, next: String },
    #[error("detached: {0}")]
    Detached(String),
    #[error("build failed, nothing was changed: {0}")]
    Build(String),
    #[error("internal error (a bug in fgdeploy, please report it): {0}")]
    Internal(String),
    /// The deployment completed outside fgdeploy's checks (the gate was bypassed).
    #[error(
        "the deployment completed outside fgdeploy's checks (gate bypassed): {reason}\n  checks run afterwards: {checks}\n  next: {next}"
    )]
    GateBypassed { reason: String, checks: String, next: String },
    /// Another deployment replaced this release's (not a failure of the release, not rolled back).
    #[error("superseded: {by} replaced this release's deployment; fgdeploy does not roll back someone else's deployment\n  next: {next}")]
    Superseded { by: String, next: String },
    /// Another run holds the service's lease.
    #[error(
        "{message}\n  held by: {holder}\n  next: wait for it, see `fgdeploy lock status`, or (if its runner is dead) `fgdeploy lock break`"
    )]
    Locked { message: String, holder: String },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Usage { .. } => exit::INPUT,
            Error::Aws(_) => exit::AWS,
            Error::Conflict(_) => exit::CONFLICT,
            Error::MigrationFailed(_) => exit::MIGRATION_FAILED,
            Error::RolledBack { .. } => exit::ROLLED_BACK,
            Error::ManualAction { .. } => exit::MANUAL_ACTION,
            Error::Detached(_) => exit::DETACHED,
            Error::Build(_) => exit::BUILD_FAILED,
            Error::Internal(_) => exit::INTERNAL,
            Error::GateBypassed { .. } => exit::GATE_BYPASSED,
            Error::Locked { .. } => exit::LOCKED,
            Error::Superseded { .. } => exit::SUPERSEDED,
        }
    }

    /// Bad input's problems as data (empty for other errors).
    pub(crate) fn problems(&self) -> Vec<Problem> {
        match self {
            Error::Input(e) => e.problems(),
            _ => Vec::new(),
        }
    }

    /// A short machine-readable name of the outcome, used in JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "input_error",
            Error::Usage { .. } => "usage_error",
            Error::Aws(_) => "aws_error",
            Error::Conflict(_) => "conflict",
            Error::MigrationFailed(_) => "migration_failed",
            Error::RolledBack { .. } => "rolled_back",
            Error::ManualAction { .. } => "manual_action_needed",
            Error::Detached(_) => "detached",
            Error::Build(_) => "build_failed",
            Error::Internal(_) => "internal_error",
            Error::GateBypassed { .. } => "gate_bypassed",
            Error::Locked { .. } => "locked",
            Error::Superseded { .. } => "superseded",
        }
    }

    pub(crate) fn usage(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), fix: fix.into() }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(Box::new(e))
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Collects every problem of one input file, so that all of them are reported at once.
#[derive(Debug)]
pub(crate) struct Problems {
    file: PathBuf,
    list: Vec<InputError>,
}

impl Problems {
    pub(crate) fn new(file: impl Into<PathBuf>) -> Self {
        Problems { file: file.into(), list: Vec::new() }
    }
    /// A problem at a field (a deployspec key path or a JSON path of the template).
    pub(crate) fn at(&mut self, field: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) {
        self.list.push(InputError::new(&self.file, message, fix).at_field(field));
    }
    pub(crate) fn finish(self) -> Result<(), InputError> {
        InputError::all(self.list)
    }
}

/// An error with its causes: reqwest's own text ("error sending request") says little alone.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = c.source();
    }
    parts.join(": ")
}
