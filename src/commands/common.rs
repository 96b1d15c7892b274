//! What every command shares: its context (the renderer and the style), loading the deployspec
//! (with its account lookups answered), the ports (AWS or the sandbox), the `-f` files, and the
//! names every command module uses.

pub(super) use super::discover;
pub(super) use crate::cli::*;
pub(super) use crate::engine::{Engine, Interrupt, ReleaseOptions};
pub(super) use crate::error::{Error, exit};
pub(super) use crate::ports::Ports;
pub(super) use crate::render::documents::Document;
pub(super) use crate::render::{self, Renderer, Style, Verbosity};
pub(super) use crate::sandbox;
pub(super) use crate::spec::Spec;
pub(super) use std::io::IsTerminal;
pub(super) use std::path::PathBuf;
pub(super) use std::sync::Arc;

pub(crate) struct Ctx {
    pub(super) renderer: Arc<Renderer>,
    pub(super) style: Style,
}

pub(crate) fn ctx(cli: &Cli) -> Ctx {
    let tty = std::io::stdout().is_terminal();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let style = render::choose_style(cli.output == Output::Json, github, tty);
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let color = cli.color.resolve(tty);
    Ctx { renderer: Arc::new(Renderer::new(style, verbosity, color, Box::new(std::io::stdout()))), style }
}

/// Load a deployspec: a first render finds the account lookups its templates make; they are
/// answered (read-only calls, or the sandbox's stand-ins) and the real load renders with them.
pub(crate) async fn load(args: &SpecArgs, target: &TargetArgs) -> Result<Spec, Error> {
    let path = match &args.file {
        Some(p) => p.clone(),
        None => discover::discover_one(&std::env::current_dir().unwrap_or_default())?,
    };
    load_path(&path, args.image_tag.as_deref(), target).await
}

pub(crate) async fn load_path(path: &std::path::Path, image_tag: Option<&str>, target: &TargetArgs) -> Result<Spec, Error> {
    let scan = crate::spec::scan(path, image_tag)?;
    let (answers, calls) = match (scan.lookups.is_empty(), target.sandbox) {
        (true, _) => Default::default(),
        (false, sandbox) => {
            let ports = if sandbox { crate::sandbox::lookup_ports() } else { crate::aws::connect(scan.region.as_deref()).await? };
            let answers = crate::engine::answer_lookups(&scan, &ports).await;
            (answers?, ports.calls.snapshot())
        }
    };
    let mut spec = Spec::load_scanned(&scan, image_tag, answers)?;
    // The lookups' calls are AWS calls of this run: they count in its totals.
    spec.lookup_calls = calls;
    Ok(spec)
}

pub(crate) async fn ports_for(spec: &Spec, target: &TargetArgs, renderer: &Renderer, style: Style) -> Result<Ports, Error> {
    if target.sandbox {
        if style != Style::Json {
            use crate::engine::EventSink;
            renderer.emit(
                crate::sim::EPOCH,
                spec.service(),
                &crate::engine::Event::Info {
                    message: format!(
                        "SANDBOX: rehearsal against the built-in simulator (scenario {:?}); no AWS call is made, times are virtual",
                        target.scenario
                    ),
                },
            );
        }
        let ports = sandbox_world(target, Some(spec), || sandbox::world_for(spec, target.scenario))?.ports();
        ports.calls.add_all(&spec.lookup_calls);
        Ok(ports)
    } else {
        let ports = crate::aws::connect(spec.file.service.region.as_deref()).await?;
        ports.calls.add_all(&spec.lookup_calls);
        Ok(ports)
    }
}

/// The sandbox's world: the one `--sandbox-state` saved, else a new one from `seed` (saved there
/// when the flag is given).
pub(crate) fn sandbox_world(
    target: &TargetArgs,
    spec: Option<&Spec>,
    seed: impl FnOnce() -> Result<crate::sim::Sim, Error>,
) -> Result<crate::sim::Sim, Error> {
    let Some(path) = &target.sandbox_state else { return seed() };
    let unusable = |e: std::io::Error| {
        Error::usage(
            format!("--sandbox-state {}: {e}", path.display()),
            "give a file fgdeploy may write (it creates it on first use), or remove a file it did not write",
        )
    };
    let sim = match crate::sim::Sim::load(path).map_err(unusable)? {
        // A saved account's test listener is this process's to serve (ECS-native checks).
        Some(sim) => {
            if let Some(spec) = spec {
                sandbox::serve_native_test_url(spec, target.scenario)?;
            }
            sim
        }
        None => seed()?,
    };
    sim.persisted(path, target.sandbox_pace as f64 / 1000.0).map_err(unusable)
}

/// `-f` values: files as given; a folder means every `*.toml` in it, sorted.
pub(crate) fn expand_files(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    if files.is_empty() {
        return discover::discover(&std::env::current_dir().unwrap_or_default());
    }
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let found = discover::toml_files(f)?;
            if found.is_empty() {
                return Err(crate::error::InputError::new(
                    f,
                    "no *.toml deployspecs in this folder",
                    "pass the folder that holds them, or files",
                )
                .into());
            }
            out.extend(found);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// `--summary-file` must be writable before the release starts (not found out at its end).
pub(crate) fn check_writable(path: Option<&std::path::Path>) -> Result<(), Error> {
    let Some(path) = path else { return Ok(()) };
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new().append(true).create(true).open(path);
    if !existed && opened.is_ok() {
        let _ = std::fs::remove_file(path);
    }
    opened.map(|_| ()).map_err(|e| {
        Error::usage(
            format!("--summary-file {}: cannot write there: {e}", path.display()),
            "give a path in a writable folder (the folder must exist)",
        )
    })
}
