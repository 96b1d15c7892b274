//! The deployspec's offline rules: what AWS would reject (name and tag formats, ranges), what
//! could never work (a deadlocking rollout, a zero timeout), and what contradicts the template
//! (a container port that is not mapped, a migration container that does not exist). Every
//! problem of the file is reported at once, each with its key path and the fix. `validate`,
//! `plan` and `release` all run these before any AWS call.

use super::file::{BlueGreenSection, SpecFile, Strategy};
use crate::error::{InputError, Problems};
use crate::taskdef::TaskDefinition;
use crate::taskdef::rules::valid_name;
use std::path::Path;
use std::time::Duration;

/// An ECS cluster is named by its name or its ARN.
fn valid_cluster(s: &str) -> bool {
    match s.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            parts.len() == 5
                && parts[0].starts_with("aws")
                && parts[1] == "ecs"
                && parts[4].strip_prefix("cluster/").is_some_and(valid_name)
        }
        None => valid_name(s),
    }
}

/// ECR repository names (`API_CreateRepository`): 2–256 characters of lowercase path components
/// `[a-z0-9]+(?:[._-][a-z0-9]+)*` separated by `/`. A full URI (`host[:port]/path`) has its
/// path checked by the same rule (the OCI distribution spec's).
pub(crate) fn valid_repository(s: &str) -> bool {
    let path = match s.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => rest,
        _ => s,
    };
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|w| !w.is_empty() && w.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()))
    };
    (2..=256).contains(&path.len()) && path.split('/').all(component)
}

fn valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn positive(p: &mut Problems, field: &str, d: Duration) {
    if d.is_zero() {
        p.at(field, "must be more than 0", "write e.g. \"90s\", \"10m\"");
    }
}

/// Rules on the deployspec alone.
pub(crate) fn validate(path: &Path, f: &SpecFile) -> Result<(), InputError> {
    let mut p = Problems::new(path);
    names(f, &mut p);
    tag_rule("image.tag", &f.image.tag, &mut p);
    if let Some(n) = f.service.desired_count
        && n < 0
    {
        p.at("service.desired_count", format!("{n} is negative"), "use 0 or more");
    }
    rolling(f, &mut p);
    migration(f, &mut p);
    super::service_rules::definition(f, &mut p);
    super::analysis_rules::analysis(f, &mut p);
    builds(f, &mut p);
    match (f.deploy.strategy, &f.deploy.blue_green) {
        (Strategy::BlueGreen, None) => p.at(
            "deploy.blue_green",
            "strategy \"blue-green\" needs a [deploy.blue_green] section",
            "add [deploy.blue_green] with at least container_port",
        ),
        (Strategy::BlueGreen, Some(bg)) => {
            blue_green(bg, &mut p);
            ca_file(path, bg, &mut p);
        }
        _ => {}
    }
    if f.task_definition.keep_revisions == Some(0) {
        p.at(
            "task_definition.keep_revisions",
            "0 would leave no revision to roll back to",
            "keep at least 1, or remove the key to keep every revision",
        );
    }
    positive(&mut p, "deploy.timeout", f.deploy.timeout);
    positive(&mut p, "rollback.timeout", f.rollback.timeout);
    if let Some(l) = &f.lock {
        lock(l, &mut p);
    }
    if f.service.depends_on.contains(&f.service.name) {
        p.at("service.depends_on", "a service cannot depend on itself", "remove its own name");
    }
    p.finish()
}

/// `[lock]`: a bucket name S3 accepts, a lease that outlives a renewal interval.
fn lock(l: &super::file::LockSection, p: &mut Problems) {
    let b = &l.bucket;
    let chars = b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends = b.starts_with(|c: char| c.is_ascii_alphanumeric()) && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&b.len()) || !chars || !ends {
        p.at(
            "lock.bucket",
            format!("invalid bucket name {b:?}"),
            "an S3 bucket name is 3-63 lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit",
        );
    }
    if l.prefix.starts_with('/') || l.prefix.ends_with('/') {
        p.at("lock.prefix", format!("{:?} starts or ends with /", l.prefix), "write it without leading or trailing slashes");
    }
    if l.ttl < Duration::from_secs(60) {
        p.at("lock.ttl", "a lease shorter than a minute would expire between renewals", "use 60s or more (default 10m)");
    }
    positive(p, "lock.wait", l.wait);
}

fn names(f: &SpecFile, p: &mut Problems) {
    if !valid_cluster(&f.service.cluster) {
        p.at(
            "service.cluster",
            format!("invalid cluster {:?}", f.service.cluster),
            "a cluster name is 1-255 letters, digits, hyphens and underscores (or the cluster's ARN)",
        );
    }
    if !valid_name(&f.service.name) {
        p.at(
            "service.name",
            format!("invalid service name {:?}", f.service.name),
            "a service name is 1-255 letters, digits, hyphens and underscores",
        );
    }
    if let Some(r) = &f.service.region
        && !valid_region(r)
    {
        p.at("service.region", format!("invalid region {r:?}"), "write a region code such as \"us-east-1\"");
    }
    if !valid_name(&f.task_definition.container) {
        p.at(
            "task_definition.container",
            format!("invalid container name {:?}", f.task_definition.container),
            "a container name is 1-255 letters, digits, hyphens and underscores",
        );
    }
    if !valid_repository(&f.image.repository) {
        p.at(
            "image.repository",
            format!("invalid repository {:?}", f.image.repository),
            "an ECR repository name is 2-256 lowercase letters, digits and . _ - / (or a full URI host/path)",
        );
    }
}

fn rolling(f: &SpecFile, p: &mut Problems) {
    let r = &f.deploy.rolling;
    let (min, max) = (r.minimum_healthy_percent, r.maximum_percent);
    if !(0..=100).contains(&min) {
        p.at("deploy.rolling.minimum_healthy_percent", format!("{min} is out of range"), "use 0 to 100");
    }
    if !(100..=1000).contains(&max) {
        p.at("deploy.rolling.maximum_percent", format!("{max} is out of range"), "use 100 or more (ECS default 200)");
    }
    // The deadlock `plan` refuses, wherever it holds without the live service: for the spec's
    // desired count, or for every count (min 100 % and max 100 %).
    let counts: Vec<i32> = match f.service.desired_count {
        Some(d) if d > 0 => vec![d],
        _ if min >= 100 && max <= 100 => vec![1],
        _ => vec![],
    };
    for d in counts {
        let (floor, ceiling) = crate::rounding::floor_ceiling(d, min, max);
        if floor >= d && ceiling <= d {
            p.at(
                "deploy.rolling",
                format!(
                    "minimum_healthy_percent {min} / maximum_percent {max} with {d} task(s) gives a floor of {floor} and a ceiling of {ceiling}: ECS can neither stop an old task nor start a new one, so the deployment would never progress"
                ),
                "raise maximum_percent (e.g. 200) or lower minimum_healthy_percent (e.g. 50)",
            );
        }
    }
    for (i, a) in r.alarms.iter().enumerate() {
        if a.trim().is_empty() || a.len() > 255 {
            p.at(
                format!("deploy.rolling.alarms[{i}]"),
                format!("invalid alarm name {a:?}"),
                "give the CloudWatch alarm's name (1-255 characters)",
            );
        }
    }
}

fn migration(f: &SpecFile, p: &mut Problems) {
    let Some(m) = &f.migration else { return };
    if m.command.is_empty() {
        p.at("migration.command", "empty command", "give the command as a list, e.g. [\"bin/migrate\", \"up\"]");
    }
    for (i, a) in m.command.iter().enumerate() {
        if a.is_empty() {
            p.at(format!("migration.command[{i}]"), "empty argument", "remove it, or give it a value");
        }
    }
    positive(p, "migration.timeout", m.timeout);
    if let Some(c) = &m.container
        && !valid_name(c)
    {
        p.at("migration.container", format!("invalid container name {c:?}"), "name a container of the template");
    }
}

/// The lifecycle events an ECS AppSpec may hook (CodeDeploy User Guide, "AppSpec 'hooks'
/// section for an Amazon ECS deployment"): a name outside these fails at CreateDeployment, after
/// the revision was registered, so it is refused offline.
pub(crate) const ECS_APPSPEC_HOOKS: [&str; 5] =
    ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"];

fn appspec_hooks(bg: &BlueGreenSection, p: &mut Problems) {
    for (name, target) in &bg.hooks {
        let at = format!("deploy.blue_green.hooks.{name}");
        if !ECS_APPSPEC_HOOKS.contains(&name.as_str()) {
            let near = ECS_APPSPEC_HOOKS.iter().find(|h| h.eq_ignore_ascii_case(name)).map(|h| format!("did you mean {h}? "));
            p.at(
                at.clone(),
                format!("{name:?} is not a lifecycle event an ECS AppSpec can hook"),
                format!("{}use one of {}", near.unwrap_or_default(), ECS_APPSPEC_HOOKS.join(", ")),
            );
        }
        if target.trim().is_empty() {
            p.at(at, "the hook names no Lambda function", "give the function's name or ARN");
        }
    }
}

fn blue_green(bg: &BlueGreenSection, p: &mut Problems) {
    if let Some(t) = bg.gate_timeout
        && !(Duration::from_secs(60)..=Duration::from_secs(86400)).contains(&t)
    {
        p.at("deploy.blue_green.gate_timeout", "must be 1 minute to 24 hours (ECS's hook timeout range)", "write e.g. \"30m\"");
    }
    if !(1..=65535).contains(&bg.container_port) {
        p.at("deploy.blue_green.container_port", format!("{} is not a port", bg.container_port), "use 1 to 65535");
    }
    if !bg.ecs_strategy.is_native() {
        p.at(
            "deploy.blue_green.ecs_strategy",
            format!("unknown strategy {:?}", bg.ecs_strategy.as_str()),
            "use BLUE_GREEN, LINEAR or CANARY",
        );
    }
    for (field, v) in [
        ("bake_time_minutes", Some(bg.bake_time_minutes)),
        ("linear_step_bake_minutes", bg.linear_step_bake_minutes),
        ("canary_bake_minutes", bg.canary_bake_minutes),
    ] {
        if let Some(v) = v
            && !(0..=1440).contains(&v)
        {
            p.at(format!("deploy.blue_green.{field}"), format!("{v} is out of range"), "use 0 to 1440");
        }
    }
    if let Some(x) = bg.linear_step_percent
        && !(3.0..=100.0).contains(&x)
    {
        p.at("deploy.blue_green.linear_step_percent", format!("{x} is out of range"), "use 3 to 100");
    }
    if let Some(x) = bg.canary_percent
        && !(0.1..=100.0).contains(&x)
    {
        p.at("deploy.blue_green.canary_percent", format!("{x} is out of range"), "use 0.1 to 100");
    }
    positive(p, "deploy.blue_green.check_budget", bg.check_budget);
    appspec_hooks(bg, p);
    for (i, c) in bg.checks.iter().enumerate() {
        check_rules(i, c, p);
    }
}

/// One `[[deploy.blue_green.checks]]` entry: an absolute path, passes, an HTTP status, a
/// timeout, valid headers.
fn check_rules(i: usize, c: &crate::spec::CheckSection, p: &mut Problems) {
    let at = |f: &str| format!("deploy.blue_green.checks[{i}].{f}");
    if !c.path.starts_with('/') || c.path.chars().any(char::is_control) {
        p.at(at("path"), format!("{:?} is not an absolute path", c.path), "write the path as /health");
    }
    if c.consecutive < 1 {
        p.at(at("consecutive"), "0 passes would check nothing", "use 1 or more");
    }
    if !(100..=599).contains(&c.status) {
        p.at(at("status"), format!("{} is not an HTTP status", c.status), "use 100 to 599");
    }
    positive(p, &at("timeout"), c.timeout);
    if let Some(h) = &c.header
        && h.split(':').next().is_none_or(|n| n.trim().is_empty())
    {
        p.at(at("header"), format!("{h:?} names no header"), "write `name` or `name: value`");
    }
    for (k, v) in &c.headers {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() || reqwest::header::HeaderValue::from_str(v).is_err() {
            p.at(
                at(&format!("headers.{k}")),
                format!("{k:?}: {v:?} is not a valid HTTP header"),
                "use a token name and a value without control characters",
            );
        }
    }
}

/// `ca_file` must be readable PEM certificates, found now rather than during the checks.
fn ca_file(path: &Path, bg: &BlueGreenSection, p: &mut Problems) {
    let Some(f) = &bg.ca_file else { return };
    let file = path.parent().unwrap_or(Path::new(".")).join(f);
    match std::fs::read(&file) {
        Err(e) => p.at(
            "deploy.blue_green.ca_file",
            format!("cannot read {}: {e}", file.display()),
            "give a PEM file, relative to the deployspec's folder",
        ),
        Ok(pem) if reqwest::Certificate::from_pem_bundle(&pem).map_or(true, |c| c.is_empty()) => p.at(
            "deploy.blue_green.ca_file",
            format!("{} holds no PEM certificate", file.display()),
            "give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)",
        ),
        Ok(_) => {}
    }
}

/// An image tag as registries take it: 1-128 of [A-Za-z0-9_.-], not starting with . or -.
fn tag_rule(field: &str, tag: &str, p: &mut Problems) {
    if tag.is_empty()
        || tag.len() > 128
        || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || tag.starts_with(['.', '-'])
    {
        p.at(field, format!("invalid image tag {tag:?}"), "a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -");
    }
}

/// Two builds pushing one image would race each other's push.
fn one_image_per_build(f: &SpecFile, p: &mut Problems) {
    let release = f.build.as_ref().map(|_| (f.task_definition.container.as_str(), f.image.repository.as_str(), f.image.tag.as_str()));
    let sidecars =
        f.sidecar_builds.iter().map(|(c, b)| (c.as_str(), b.repository.as_deref().unwrap_or(""), b.tag.as_deref().unwrap_or(&f.image.tag)));
    let mut seen: Vec<(&str, &str, &str)> = Vec::new();
    for (c, repo, tag) in release.into_iter().chain(sidecars) {
        if let Some((other, _, _)) = seen.iter().find(|(_, r, t)| !repo.is_empty() && *r == repo && *t == tag) {
            p.at(
                format!("build.{c}.repository"),
                format!("containers {other:?} and {c:?} would both be built and pushed as {repo}:{tag}"),
                "give each built image its own repository (or tag); a container that runs another's image writes that image in the template instead of building it",
            );
        }
        seen.push((c, repo, tag));
    }
}

/// `[build]` and each `[build.<container>]`: paths, the command, and where each image goes.
fn builds(f: &SpecFile, p: &mut Problems) {
    let all = f.build.iter().map(|b| ("build".to_string(), b)).chain(f.sidecar_builds.iter().map(|(c, b)| (format!("build.{c}"), b)));
    for (at, b) in all {
        for (key, v) in [("context", &b.context), ("dockerfile", &b.dockerfile)] {
            if v.trim().is_empty() {
                p.at(format!("{at}.{key}"), "must not be empty", "give a path relative to the deployspec's folder");
            }
        }
        if let Some(cmd) = &b.command
            && (cmd.is_empty() || cmd.iter().any(|a| a.is_empty()))
        {
            p.at(format!("{at}.command"), "an empty command or argument", "give the command as a list of non-empty strings");
        }
    }
    if let Some(b) = &f.build {
        for (key, given) in
            [("repository", b.repository.is_some()), ("tag", b.tag.is_some()), ("create_repository", b.create_repository.is_some())]
        {
            if given {
                p.at(
                    format!("build.{key}"),
                    "the release container's image is set by [image], not by its build",
                    format!("move it to image.{key} (build.{key} is for the [build.<container>] of another container)"),
                );
            }
        }
    }
    one_image_per_build(f, p);
    for (c, b) in &f.sidecar_builds {
        match b.repository.as_deref().map(str::trim) {
            None | Some("") => p.at(
                format!("build.{c}.repository"),
                format!("the image built for container {c:?} has no repository"),
                "set repository to an ECR repository name or a full repository URI (e.g. \"ghcr.io/org/agent\")",
            ),
            Some(r) if r.contains(['@', ' ']) || r.rsplit('/').next().is_some_and(|last| last.contains(':')) => p.at(
                format!("build.{c}.repository"),
                format!("{r:?} is not a repository (no tag or digest belongs here)"),
                "give the repository alone and the tag as `tag`",
            ),
            Some(_) => {}
        }
        if let Some(tag) = &b.tag {
            tag_rule(&format!("build.{c}.tag"), tag, p);
        }
    }
}

/// Each `[build.<container>]` names a container of the template other than the release one,
/// whose `image` takes `{{ images.<container> }}` (or `allow_pinned_image` says it may be replaced).
fn built_sidecars(f: &SpecFile, td: &TaskDefinition, raw: &serde_json::Value, p: &mut Problems, t: &mut Problems) {
    let names: Vec<&str> = td.container_definitions.iter().map(|c| c.name.as_str()).collect();
    let raw_containers = raw.get("taskDefinition").unwrap_or(raw).get("containerDefinitions").and_then(|c| c.as_array());
    for c in f.sidecar_builds.keys() {
        let Some(i) = names.iter().position(|n| n == c) else {
            p.at(
                format!("build.{c}"),
                format!("[build.{c}] builds an image for container {c:?}, which is not in the template (containers: {})", names.join(", ")),
                "name a container of the task-definition template",
            );
            continue;
        };
        let written = raw_containers.and_then(|a| a.get(i)).and_then(|k| k.get("image")).and_then(|v| v.as_str()).unwrap_or("");
        if !written.contains("images") && !f.task_definition.allow_pinned_image {
            t.at(
                format!("containerDefinitions[{i}].image"),
                format!("container {c:?} is built by [build.{c}] but its image is written as {written:?}: the built image would silently replace it"),
                format!("write \"image\": \"{{{{ images['{c}'] }}}}\", or set task_definition.allow_pinned_image = true"),
            );
        }
    }
}

/// `{{ image }}` stands as the release container's image and nowhere else (unless the deployspec
/// allows a pinned image).
fn image_placeholder_rules(f: &SpecFile, td: &TaskDefinition, raw: &serde_json::Value, t: &mut Problems) {
    let release = &f.task_definition.container;
    let mut at = Vec::new();
    crate::taskdef::rules::image_placeholders(raw.get("taskDefinition").unwrap_or(raw), "", &mut at);
    let index = td.container_definitions.iter().position(|c| &c.name == release);
    let expected = index.map(|i| format!("containerDefinitions[{i}].image"));
    let elsewhere: Vec<&String> = at.iter().filter(|a| Some(*a) != expected.as_ref()).collect();
    if !elsewhere.is_empty() {
        t.at(
            elsewhere[0].as_str(),
            "`{{ image }}` stands outside the release container's image",
            "use {{ image }} only as the release container's \"image\"",
        );
    }
    if let (Some(e), false) = (&expected, f.task_definition.allow_pinned_image)
        && !at.contains(e)
    {
        t.at(
            e.as_str(),
            format!("the release container {release:?} does not take `{{{{ image }}}}`: the released image would silently replace what is written there"),
            "write \"image\": \"{{ image }}\", or set task_definition.allow_pinned_image = true to replace the pinned image knowingly",
        );
    }
}

/// Rules between the deployspec and its (rendered) template. `raw` is the template's JSON before
/// variables were expanded (to see where `{{ image }}` stands).
pub(crate) fn validate_with_template(
    path: &Path,
    template_path: &Path,
    f: &SpecFile,
    td: &TaskDefinition,
    raw: &serde_json::Value,
) -> Result<(), InputError> {
    let mut p = Problems::new(path);
    let release = &f.task_definition.container;
    let names: Vec<&str> = td.container_definitions.iter().map(|c| c.name.as_str()).collect();
    if let Some(m) = &f.migration {
        let c = m.container.as_deref().unwrap_or(release);
        if !names.contains(&c) {
            p.at(
                "migration.container",
                format!("the migration container {c:?} is not in the template (containers: {})", names.join(", ")),
                "name a container of the template",
            );
        }
    }
    if f.deploy.strategy == Strategy::BlueGreen
        && let Some(bg) = &f.deploy.blue_green
        && let Some(c) = td.container_definitions.iter().find(|c| &c.name == release)
    {
        let mapped: Vec<i32> = c.port_mappings.iter().flatten().filter_map(|m| m.container_port).collect();
        if !mapped.contains(&bg.container_port) {
            p.at(
                "deploy.blue_green.container_port",
                format!("{} is not a mapped port of the release container {release:?} (mapped: {mapped:?})", bg.container_port),
                "use one of the container's portMappings, or add the port to them",
            );
        }
    }
    super::service_rules::with_template(f, td, &mut p);
    let mut t = Problems::new(template_path);
    built_sidecars(f, td, raw, &mut p, &mut t);
    image_placeholder_rules(f, td, raw, &mut t);
    let mut all = Vec::new();
    if let Err(e) = p.finish() {
        all.extend(e.flatten());
    }
    if let Err(e) = t.finish() {
        all.extend(e.flatten());
    }
    InputError::all(all)
}
