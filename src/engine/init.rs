//! `init`: write a deployspec and task-definition template from a live service, so that the
//! first `plan` on them shows no change.

use super::watch::retrying;
use crate::error::{Error, InputError, Result};
use crate::ports::ServiceState;
use crate::ports::{PortError, Ports};
use crate::states::DeploymentStrategy;
use crate::taskdef;
use crate::taskdef::TaskDefinition;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub cluster: String,
    pub service: String,
    pub dir: PathBuf,
    pub force: bool,
    /// The container that gets the released image; default: the one whose image is in ECR.
    pub container: Option<String>,
    pub application: Option<String>,
    pub deployment_group: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InitReport {
    pub deployspec: PathBuf,
    pub(crate) template: PathBuf,
    pub(crate) container: String,
    pub strategy: String,
    pub(crate) warnings: Vec<String>,
}

/// `AppECS-<cluster>-<service>` / `DgpECS-…`, each part cut to 46 characters (as `aws ecs deploy`).
pub fn default_codedeploy_names(cluster: &str, service: &str) -> (String, String) {
    let cut = |s: &str| s.chars().take(46).collect::<String>();
    (format!("AppECS-{}-{}", cut(cluster), cut(service)), format!("DgpECS-{}-{}", cut(cluster), cut(service)))
}

/// `repo:tag` → (repo, Some(tag)); `repo@sha256:…` → (repo, None); a registry port is not a tag.
pub(super) fn split_image(image: &str) -> (String, Option<String>) {
    if let Some((repo, _)) = image.split_once('@') {
        return (repo.to_string(), None);
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), Some(tag.to_string())),
        _ => (image.to_string(), None),
    }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

pub async fn init(ports: &Ports, o: &InitOptions) -> Result<InitReport> {
    let clock = ports.clock.as_ref();
    let svc = retrying(clock, || ports.ecs.describe_service(&o.cluster, &o.service))
        .await?
        .ok_or_else(|| super::no_such_service(&o.cluster, &o.service))?;
    let reg = retrying(clock, || ports.ecs.describe_task_definition(&svc.task_definition)).await?;
    let mut td = reg.definition.clone();
    if let Some(tags) = &mut td.tags {
        tags.retain(|t| !t.key.as_deref().unwrap_or("").starts_with("fgdeploy:"));
    }
    let container = release_container(o, &td, &reg.arn)?;
    let live_image = taskdef::image_of(&td, &container).unwrap_or_default().to_string();
    let (repository, tag) = split_image(&live_image);
    let mut warnings = Vec::new();

    // The template: the live definition without what ECS fills in, the image as a variable.
    let mut template = taskdef::normalize(&td);
    if let Some(cs) = template.get_mut("containerDefinitions").and_then(|c| c.as_array_mut()) {
        for c in cs.iter_mut().filter(|c| c["name"] == container.as_str()) {
            c["image"] = "{{ image }}".into();
        }
    }
    let template_text = serde_json::to_string_pretty(&template).map_err(|e| Error::Internal(e.to_string()))? + "\n";

    let cluster_name = svc.cluster_arn.rsplit('/').next().unwrap_or(&o.cluster).to_string();
    let file_stem = svc.name.clone();
    let mut spec = spec_head(&svc, &cluster_name, (&repository, tag.as_deref()), &container, &mut warnings);
    let strategy = if svc.deployment_controller == crate::ports::Controller::CodeDeploy {
        spec.push_str(&codedeploy_section(ports, o, (&svc, &td, &container), &cluster_name, &mut warnings).await?);
        "blue-green".to_string()
    } else if let Some(section) = native_section(&svc, &td, &container) {
        spec.push_str(&section);
        "blue-green".to_string()
    } else {
        spec.push_str(&rolling_section(&svc));
        "rolling".to_string()
    };

    spec.push_str(&definition_section(&svc, strategy == "blue-green")?);

    let (spec_path, template_path) = write_files(o, &file_stem, &template_text, &spec)?;
    Ok(InitReport { deployspec: spec_path, template: template_path, container, strategy, warnings })
}

/// `[service]`, `[image]` and `[task_definition]` of the written deployspec: the live tag (or
/// the digest warning), so that the first plan shows no image change.
fn spec_head(
    svc: &ServiceState,
    cluster_name: &str,
    (repository, tag): (&str, Option<&str>),
    container: &str,
    warnings: &mut Vec<String>,
) -> String {
    let mut spec = format!(
        "# Written by `fgdeploy init` from the live service {}.\n# Review it, commit it, and see the README's configuration reference for every key.\n\n[service]\ncluster = {}\nname = {}\n\n[image]\nrepository = {}\n",
        svc.arn,
        toml_str(cluster_name),
        toml_str(&svc.name),
        toml_str(repository)
    );
    match tag {
        Some(t) => spec.push_str(&format!(
            "# The live tag, so that the first plan shows no change; releases usually use \"{{{{ git.sha }}}}\".\ntag = {}\n",
            toml_str(t)
        )),
        None => {
            spec.push_str("pin_digest = true   # the live service runs a digest\n");
            warnings.push("the live image is pinned by digest; the first plan will show the image as a change".into());
        }
    }
    spec.push_str(&format!(
        "\n[task_definition]\ntemplate = {}\ncontainer = {}\n",
        toml_str(&format!("{}.taskdef.json", svc.name)),
        toml_str(container)
    ));
    spec
}

/// The container that gets the released image: `--container`, else the one whose image is in
/// ECR, else the first essential one.
fn release_container(o: &InitOptions, td: &TaskDefinition, arn: &str) -> Result<String> {
    match &o.container {
        Some(c) if td.container_definitions.iter().any(|x| &x.name == c) => Ok(c.clone()),
        Some(c) => Err(Error::usage(
            format!("container {c:?} is not in {arn}"),
            format!("pick one of: {}", td.container_definitions.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")),
        )),
        None => td
            .container_definitions
            .iter()
            .find(|c| c.image.as_deref().is_some_and(|i| i.contains(".dkr.ecr.")))
            .or_else(|| td.container_definitions.iter().find(|c| c.essential != Some(false)))
            .or(td.container_definitions.first())
            .map(|c| c.name.clone())
            .ok_or_else(|| Error::usage(format!("{arn} has no containers"), "check the service's task definition")),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| InputError::new(path, format!("cannot write: {e}"), "check the folder's permissions").into())
}

/// Write the deployspec and its template into `o.dir`, never over an existing file unless `--force`.
fn write_files(o: &InitOptions, file_stem: &str, template_text: &str, spec: &str) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(&o.dir)
        .map_err(|e| InputError::new(&o.dir, format!("cannot create the folder: {e}"), "pass --dir with a writable folder"))?;
    let spec_path = o.dir.join(format!("{file_stem}.toml"));
    let template_path = o.dir.join(format!("{file_stem}.taskdef.json"));
    for p in [&spec_path, &template_path] {
        if p.exists() && !o.force {
            return Err(InputError::new(
                p,
                "exists already; init never overwrites a file",
                "pass --force to overwrite it, or --dir to write elsewhere",
            )
            .into());
        }
    }
    write(&template_path, template_text)?;
    write(&spec_path, spec)?;
    Ok((spec_path, template_path))
}

/// `[deploy]` for a CODE_DEPLOY service: the CodeDeploy application, group and configuration.
async fn codedeploy_section(
    ports: &Ports,
    o: &InitOptions,
    (svc, td, container): (&ServiceState, &TaskDefinition, &str),
    cluster_name: &str,
    warnings: &mut Vec<String>,
) -> Result<String> {
    let clock = ports.clock.as_ref();
    let mut spec = String::new();
    let (app_default, group_default) = default_codedeploy_names(cluster_name, &svc.name);
    let app = o.application.clone().unwrap_or(app_default);
    let group = o.deployment_group.clone().unwrap_or(group_default);
    let dg = match retrying(clock, || ports.codedeploy.deployment_group(&app, &group)).await {
        Ok(g) => Some(g),
        Err(PortError::NotFound { .. }) => {
            warnings.push(format!("CodeDeploy deployment group {app}/{group} not found; pass --application and --deployment-group"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let port = svc
        .load_balancers
        .iter()
        .find(|l| l.container_name.as_deref() == Some(container))
        .and_then(|l| l.container_port)
        .or_else(|| {
            td.container_definitions.iter().find(|c| c.name == container).and_then(|c| c.port_mappings.as_ref()?.first()?.container_port)
        })
        .unwrap_or(80);
    spec.push_str(&format!(
        "\n[deploy]\nstrategy = \"blue-green\"\n\n[deploy.blue_green]\napplication = {}\ndeployment_group = {}\n",
        toml_str(&app),
        toml_str(&group)
    ));
    if let Some(c) = dg.as_ref().and_then(|g| g.deployment_config.clone()) {
        spec.push_str(&format!("deployment_config = {}\n", toml_str(&c)));
    }
    spec.push_str(&format!("container_port = {port}\n"));
    if let Some(g) = &dg {
        if g.ready_action != Some(crate::states::ReadyAction::StopDeployment) {
            spec.push_str("# The group continues to production traffic by itself (CONTINUE_DEPLOYMENT), so test-listener\n# checks cannot gate it; set its deploymentReadyOption to STOP_DEPLOYMENT to add [[deploy.blue_green.checks]].\n");
        } else {
            spec.push_str("\n# Checks against the test listener before production traffic moves:\n# [[deploy.blue_green.checks]]\n# path = \"/health\"\n# status = 200\n");
        }
    }
    Ok(spec)
}

/// `[service.definition]`: every managed setting as the live service has it, so that the first
/// plan shows no change (TOML allows the table after `[deploy]`).
/// `blue_green`: the load balancers are the `[deploy.blue_green]` section's (CodeDeploy's AppSpec
/// or ECS-native's advancedConfiguration), not written here.
fn definition_section(svc: &ServiceState, blue_green: bool) -> Result<String> {
    #[derive(Serialize, schemars::JsonSchema)]
    struct File<'a> {
        service: Service<'a>,
    }
    #[derive(Serialize, schemars::JsonSchema)]
    struct Service<'a> {
        definition: &'a crate::servicedef::ServiceDefinition,
    }
    let mut def = crate::servicedef::ServiceDefinition::from_live(&svc.settings());
    if blue_green && svc.deployment_controller == crate::ports::Controller::Ecs {
        def.load_balancers = None;
    }
    let text = toml::to_string(&File { service: Service { definition: &def } }).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(format!(
        "\n# The service's own settings, as they are live. fgdeploy manages what is written here (remove a key\n# to leave it alone); `release --create` creates the service from it.\n{text}"
    ))
}

/// An ECS-native blue/green service (strategy BLUE_GREEN, LINEAR or CANARY): its strategy, bake
/// time, steps and the load balancer's `advancedConfiguration`, so that the first plan shows no
/// change. `check_budget` and `checks` are left for the user (none live).
fn native_section(svc: &ServiceState, td: &TaskDefinition, container: &str) -> Option<String> {
    let c = &svc.deployment_config;
    let strategy = c.native_strategy()?;
    let lb = svc.load_balancers.iter().find(|l| l.advanced.is_some()).or(svc.load_balancers.first());
    let port = lb.and_then(|l| l.container_port).or_else(|| {
        let c = td.container_definitions.iter().find(|c| c.name == container)?;
        c.port_mappings.iter().flatten().find_map(|p| p.container_port)
    });
    let mut out = format!("\n[deploy]\nstrategy = \"blue-green\"\n\n[deploy.blue_green]\necs_strategy = {}\n", toml_str(strategy.as_str()));
    if let Some(b) = c.bake_time_minutes {
        out.push_str(&format!("bake_time_minutes = {b}\n"));
    }
    if let Some((p, m)) = c.linear.filter(|_| *strategy == DeploymentStrategy::Linear) {
        out.push_str(&format!("linear_step_percent = {p:?}\nlinear_step_bake_minutes = {m}\n"));
    }
    if let Some((p, m)) = c.canary.filter(|_| *strategy == DeploymentStrategy::Canary) {
        out.push_str(&format!("canary_percent = {p:?}\ncanary_bake_minutes = {m}\n"));
    }
    out.push_str(&format!("container_port = {}\n", port.unwrap_or(80)));
    if let Some(a) = lb.and_then(|l| l.advanced.as_ref()) {
        out.push_str(&format!(
            "alternate_target_group_arn = {}\nproduction_listener_rule = {}\nload_balancer_role_arn = {}\n",
            toml_str(&a.alternate_target_group_arn),
            toml_str(&a.production_listener_rule),
            toml_str(&a.role_arn)
        ));
        if let Some(t) = &a.test_listener_rule {
            out.push_str(&format!("test_listener_rule = {}\n", toml_str(t)));
        }
    }
    out.push_str("# Add [[deploy.blue_green.checks]] to gate the release on the test traffic (see the README).\n");
    Some(out)
}

/// `[deploy]` for a rolling service: its live deployment configuration.
fn rolling_section(svc: &ServiceState) -> String {
    let c = &svc.deployment_config;
    let cb = c.circuit_breaker.clone();
    let alarms = c.alarms.clone().filter(|a| a.enable);
    let mut newer = String::new();
    if let Some(r) = cb.as_ref().and_then(|b| b.reset_on_healthy_task) {
        newer.push_str(&format!("circuit_breaker_reset_on_healthy_task = {r}\n"));
    }
    if let Some((kind, value)) = cb.as_ref().and_then(|b| b.threshold.clone()) {
        newer.push_str(&format!("circuit_breaker_threshold = {{ type = {}, value = {value} }}\n", toml_str(&kind)));
    }
    format!(
        "\n[deploy]\nstrategy = \"rolling\"\n\n[deploy.rolling]\nminimum_healthy_percent = {}\nmaximum_percent = {}\ncircuit_breaker = {}\ncircuit_breaker_rollback = {}\n{newer}alarms = [{}]\nalarm_rollback = {}\n",
        c.minimum_healthy_percent.unwrap_or(100),
        c.maximum_percent.unwrap_or(200),
        cb.as_ref().is_some_and(|b| b.enable),
        cb.as_ref().is_some_and(|b| b.rollback),
        alarms.as_ref().map(|a| a.names.iter().map(|n| toml_str(n)).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        alarms.as_ref().is_none_or(|a| a.rollback),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_images() {
        assert_eq!(default_codedeploy_names("demo", "web"), ("AppECS-demo-web".into(), "DgpECS-demo-web".into()));
        assert_eq!(split_image("1.dkr.ecr.x.amazonaws.com/web:v1"), ("1.dkr.ecr.x.amazonaws.com/web".into(), Some("v1".into())));
        assert_eq!(split_image("localhost:5000/web"), ("localhost:5000/web".into(), None));
        assert_eq!(split_image("r/web@sha256:abc"), ("r/web".into(), None));
    }
}
