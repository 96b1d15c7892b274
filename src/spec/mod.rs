//! The deployspec: one TOML file per service (see `deployspecs/` and the README's configuration
//! reference). Loading expands variables, deserializes with field paths in errors, and checks
//! everything that can be checked without AWS.

pub(crate) mod analysis;
mod analysis_rules;
mod duration;
mod file;
pub(crate) mod rules;
mod service_rules;

pub use analysis::{AnalysisSection, Direction, MetricKind, MetricSection, OnInconclusive, ToleranceSection};
pub use file::*;

use crate::error::InputError;
use crate::taskdef::{self, TaskDefinition};
use crate::vars::Vars;
use std::path::{Path, PathBuf};

/// A loaded, checked deployspec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The deployspec file.
    pub path: PathBuf,
    pub file: SpecFile,
    /// The task-definition template file and its text (variables not yet expanded).
    pub(crate) template_path: PathBuf,
    template_text: String,
    /// The variables the deployspec was rendered with (environment, git, lookups' answers).
    vars: Vars,
    /// The AWS calls the template lookups made before the load (they count in a run's totals).
    pub(crate) lookup_calls: std::collections::BTreeMap<String, u64>,
}

/// One image a release puts into a container: where it lives and how it is built (if it is).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageTarget {
    pub(crate) container: String,
    /// An ECR repository name, or a full repository URI.
    pub(crate) repository: String,
    pub(crate) tag: String,
    pub(crate) create_repository: bool,
    pub(crate) build: Option<BuildSection>,
    /// The deployspec field naming the repository (for errors).
    pub(crate) field: String,
}

/// What a first, recording render of a deployspec and its template found: the account lookups
/// to answer before the real load, and where they read from.
#[derive(Debug, Clone)]
pub struct Scan {
    pub(crate) path: PathBuf,
    /// The variables of the scan (git asked once): the real load renders with them.
    pub(crate) vars: Vars,
    pub lookups: Vec<crate::lookups::Lookup>,
    /// Where each lookup stands: the file and the field (for errors).
    pub(crate) places: std::collections::BTreeMap<crate::lookups::Lookup, (PathBuf, String)>,
    pub(crate) region: Option<String>,
    /// `lookups.tfstate_file`, resolved against the deployspec's folder.
    pub(crate) tfstate_file: Option<PathBuf>,
    pub(crate) tfstate_url: Option<String>,
}

/// Render the deployspec and its template with a recording lookup table. Errors are the
/// deployspec's parse errors; anything else is reported by the real load.
pub fn scan(path: &Path, image_tag: Option<&str>) -> Result<Scan, InputError> {
    let table = std::sync::Arc::new(crate::lookups::LookupTable::recording());
    let dir = path.parent().unwrap_or(Path::new("."));
    let plain = Vars::from_process(dir);
    let vars = plain.clone().with_lookups(table.clone());
    let text = std::fs::read_to_string(path).map_err(|e| {
        InputError::new(path, format!("cannot read the deployspec: {e}"), "check the path given with -f (deployspecs live in deployspecs/)")
    })?;
    // Every string of the deployspec and of its template, whatever fails (the real load reports it).
    let raw: serde_json::Value = match toml::from_str::<toml::Table>(&text) {
        Ok(t) => serde_json::to_value(t).unwrap_or_default(),
        Err(_) => {
            return Err(file::parse(path, &text, &vars, image_tag)
                .err()
                .unwrap_or_else(|| InputError::new(path, "not valid TOML", "fix the TOML syntax")));
        }
    };
    vars.record_json(path, &raw, &mut Vec::new());
    let at = |a: &str, b: &str| raw.get(a).and_then(|s| s.get(b)).and_then(|v| v.as_str()).and_then(|v| vars.expand(v).ok());
    let template_path = at("task_definition", "template").map(|t| dir.join(t));
    if let Some(t) = template_path.as_ref().and_then(|t| std::fs::read_to_string(t).ok())
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(&t)
    {
        let mut v = vars.clone();
        v.set_image("stand-in.invalid/scan:0");
        // Every container that may have an image in this release: the release one, and the
        // tables of `[build]` (a stand-in for each, so that the strings around them are recorded).
        let mut images: std::collections::BTreeMap<String, String> = raw
            .get("build")
            .and_then(|b| b.as_object())
            .map(|b| {
                b.iter()
                    .filter(|(k, t)| t.is_object() && *k != "args")
                    .map(|(k, _)| (k.clone(), "stand-in.invalid/scan:0".into()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(c) = at("task_definition", "container") {
            images.insert(c, "stand-in.invalid/scan:0".into());
        }
        v.set_images(images);
        v.record_json(template_path.as_deref().unwrap_or(path), &json, &mut Vec::new());
    }
    Ok(Scan {
        path: path.to_path_buf(),
        vars: plain,
        places: table.lookups().iter().filter_map(|l| Some((l.clone(), table.place(l)?))).collect(),
        lookups: table.lookups(),
        region: at("service", "region"),
        tfstate_file: at("lookups", "tfstate_file").map(|f| dir.join(f)),
        tfstate_url: at("lookups", "tfstate_url"),
    })
}

/// Parse and check deployspec text (no file access, no template): the fuzzing entry point.
pub fn parse_text(path: &Path, text: &str, vars: &Vars) -> Result<SpecFile, InputError> {
    let f = file::parse(path, text, vars, None)?;
    rules::validate(path, &f)?;
    Ok(f)
}

impl Spec {
    /// The commit of the deployspec's checkout (`git rev-parse HEAD`), when it is one.
    pub(crate) fn commit(&self) -> Option<String> {
        self.vars.git_sha()
    }

    /// Read and check a deployspec. `image_tag` overrides `image.tag` (`--image-tag`).
    pub fn load(path: &Path, image_tag: Option<&str>) -> Result<Spec, InputError> {
        let vars = Vars::from_process(path.parent().unwrap_or(Path::new(".")));
        Self::load_with(path, image_tag, vars)
    }

    /// Load with the answers to the lookups `scan` found.
    pub fn load_answered(
        path: &Path,
        image_tag: Option<&str>,
        answers: std::collections::BTreeMap<crate::lookups::Lookup, crate::lookups::Answer>,
    ) -> Result<Spec, InputError> {
        Self::load_scanned(&scan(path, image_tag)?, image_tag, answers)
    }

    /// The real load after `scan`: its variables, with the answers to its lookups.
    pub(crate) fn load_scanned(
        scan: &Scan,
        image_tag: Option<&str>,
        answers: std::collections::BTreeMap<crate::lookups::Lookup, crate::lookups::Answer>,
    ) -> Result<Spec, InputError> {
        let table = std::sync::Arc::new(crate::lookups::LookupTable::answered(answers));
        Self::load_with(&scan.path, image_tag, scan.vars.clone().with_lookups(table))
    }

    pub fn load_with(path: &Path, image_tag: Option<&str>, vars: Vars) -> Result<Spec, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::new(
                path,
                format!("cannot read the deployspec: {e}"),
                "check the path given with -f (deployspecs live in deployspecs/)",
            )
        })?;
        let file = file::parse(path, &text, &vars, image_tag).map_err(|e| e.located(path, &text))?;
        // Every problem of the deployspec and of its template at once, not the first of each.
        let mut problems: Vec<InputError> = rules::validate(path, &file).err().map(InputError::flatten).unwrap_or_default();
        let dir = path.parent().unwrap_or(Path::new("."));
        let template_path = dir.join(&file.task_definition.template);
        let template_text = match std::fs::read_to_string(&template_path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(
                    InputError::new(
                        path,
                        format!("cannot read the task-definition template {}: {e}", template_path.display()),
                        "the path is relative to the deployspec's folder; fix `task_definition.template`",
                    )
                    .at_field("task_definition.template"),
                );
                return Err(InputError::all(problems).err().unwrap_or_else(|| InputError::new(path, "invalid", "fix it")));
            }
        };
        let spec = Spec { path: path.to_path_buf(), file, template_path, template_text, vars, lookup_calls: Default::default() };
        // Validate the template now, with a stand-in image, so errors surface before any AWS call.
        match spec.render_task_definition("stand-in.invalid/validate:0") {
            Ok(td) => {
                problems.extend(spec.plaintext_secrets(&td));
                let raw: serde_json::Value = serde_json::from_str(&spec.template_text).unwrap_or_default();
                if let Err(e) = rules::validate_with_template(&spec.path, &spec.template_path, &spec.file, &td, &raw) {
                    problems.extend(e.flatten());
                }
            }
            Err(e) => problems.extend(e.flatten()),
        }
        // Each analysis query renders for a side (stand-ins for the side's names).
        let stand_in = analysis::QUERY_VARS.map(|k| (k, format!("stand-in-{k}")));
        problems.extend((0..spec.analysis_metrics().len()).filter_map(|i| spec.render_analysis_query(i, &stand_in).err()));
        let template_text = spec.template_text.clone();
        let problems = problems.into_iter().map(|p| p.located(path, &text).located(&spec.template_path, &template_text)).collect();
        InputError::all(problems)?;
        Ok(spec)
    }

    /// Secret or credential-shaped values in plaintext fields of `td` and of the service's tags,
    /// outside `task_definition.allow_plaintext` (see [`crate::taint`]).
    fn plaintext_secrets(&self, td: &TaskDefinition) -> Vec<InputError> {
        let (secrets, allowed) = (self.secret_values(), &self.file.task_definition.allow_plaintext);
        let mut out = crate::taint::refuse_plaintext(&self.template_path, &crate::taskdef::plaintext_fields(td), &secrets, allowed);
        let tags: Vec<(String, String)> = self
            .file
            .service
            .definition
            .iter()
            .flat_map(|d| d.tags.iter().flatten())
            .map(|(k, v)| (format!("service.definition.tags.{k}"), v.clone()))
            .collect();
        out.extend(crate::taint::refuse_plaintext(&self.path, &tags, &secrets, allowed));
        out
    }

    /// The tainted values of this spec: the secret lookups' answers and the values of the
    /// environment variables named in `task_definition.redact` (marked for [`crate::taint::scrub`]).
    pub(crate) fn secret_values(&self) -> Vec<String> {
        let mut out = self.vars.lookups().secrets();
        let env = self.vars.env();
        out.extend(self.file.task_definition.redact.iter().filter_map(|n| env.get(n)).filter(|v| !v.is_empty()).cloned());
        crate::taint::mark(out.clone());
        out
    }

    /// The metrics of `[analysis]` (none without it).
    pub fn analysis_metrics(&self) -> &[MetricSection] {
        self.file.analysis.as_ref().map_or(&[], |a| a.metrics.as_slice())
    }

    /// The query of analysis metric `i` for one side: `side` names its `target_group`,
    /// `load_balancer` and `revision`. An empty string for a built-in metric.
    pub(crate) fn render_analysis_query(&self, i: usize, side: &[(&str, String)]) -> Result<String, InputError> {
        let Some(q) = self.analysis_metrics().get(i).and_then(|m| m.query.as_deref()) else { return Ok(String::new()) };
        let extra = side.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        self.vars.clone().with_extra(extra).expand(q).map_err(|e| {
            InputError::new(
                &self.path,
                e.message,
                format!("{}; a query also knows {{{{ target_group }}}}, {{{{ load_balancer }}}} and {{{{ revision }}}}", e.fix),
            )
            .at_field(format!("analysis.metrics[{i}].query"))
        })
    }

    pub fn cluster(&self) -> &str {
        &self.file.service.cluster
    }
    pub fn service(&self) -> &str {
        &self.file.service.name
    }
    pub(crate) fn container(&self) -> &str {
        &self.file.task_definition.container
    }

    /// The task definition to register for `image`, each built sidecar taking its image at the
    /// same tag as the release's (`<its repository>:<image.tag>` — a stand-in where only the
    /// release image is known).
    pub fn render_task_definition(&self, image: &str) -> Result<TaskDefinition, InputError> {
        let tag = image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or("latest", |(_, t)| t);
        let mut images: std::collections::BTreeMap<String, String> =
            self.sidecar_targets().into_iter().map(|t| (t.container, format!("{}:{tag}", t.repository))).collect();
        images.insert(self.container().to_string(), image.to_string());
        self.render_task_definition_with(&images)
    }

    /// The task definition to register with these images: the release container's (which must
    /// be there) and the built sidecars' (each put into its container, as the release image is).
    pub(crate) fn render_task_definition_with(
        &self,
        images: &std::collections::BTreeMap<String, String>,
    ) -> Result<TaskDefinition, InputError> {
        let image = images.get(self.container()).cloned().unwrap_or_default();
        let mut vars = self.vars.clone();
        vars.set_image(&image);
        vars.set_images(images.clone());
        let mut td = taskdef::parse(&self.template_path, &self.template_text, &vars)?;
        taskdef::validate(&td, self.container(), &self.template_path)?;
        for (container, image) in images {
            taskdef::set_image(&mut td, container, image);
        }
        Ok(td)
    }

    /// Every image this release puts into a container: the release container's first (built
    /// when `[build]` says so), then each `[build.<container>]`.
    pub(crate) fn image_targets(&self) -> Vec<ImageTarget> {
        let i = &self.file.image;
        let release = ImageTarget {
            container: self.container().to_string(),
            repository: i.repository.clone(),
            tag: i.tag.clone(),
            create_repository: i.create_repository,
            build: self.file.build.clone(),
            field: "image.repository".into(),
        };
        std::iter::once(release).chain(self.sidecar_targets()).collect()
    }

    /// The `[build.<container>]` images.
    pub(crate) fn sidecar_targets(&self) -> Vec<ImageTarget> {
        self.file
            .sidecar_builds
            .iter()
            .map(|(c, b)| ImageTarget {
                container: c.clone(),
                repository: b.repository.clone().unwrap_or_default(),
                tag: b.tag.clone().unwrap_or_else(|| self.file.image.tag.clone()),
                create_repository: b.create_repository.unwrap_or(false),
                build: Some(b.clone()),
                field: format!("build.{c}.repository"),
            })
            .collect()
    }

    /// The variables for a later render (build commands).
    pub(crate) fn vars(&self) -> &Vars {
        &self.vars
    }

    /// The account lookups the templates made, answered (for the plan; secrets hidden).
    pub fn lookups(&self) -> Vec<crate::lookups::Resolved> {
        self.vars.lookups().resolved()
    }

    /// The full image reference for a repository URI.
    pub(crate) fn image_ref(&self, repository_uri: &str) -> String {
        format!("{repository_uri}:{}", self.file.image.tag)
    }
}
