//! `verify`: a read-only preflight against the account — what the task definition and the
//! service name must exist before a release can work: the image in its registry (unless the
//! release builds it), every `secrets[].valueFrom` (SSM parameter or Secrets Manager secret),
//! the awslogs log groups (unless `awslogs-create-group`), the task and execution roles (and that
//! they trust `ecs-tasks.amazonaws.com`), the subnets and security groups of the service, the
//! migration and blue/green overrides, and the target groups. Every problem at once, each naming
//! the file, the field and the fix; `release` runs it before any mutating call unless
//! `--skip-verify`. A read fgdeploy may not make (AccessDenied) is reported as not checked, not
//! as a problem: the deployer need not hold every permission the task's roles use.

use super::watch::retrying;
use crate::error::{InputError, Result};
use crate::plan::{Live, Plan, Stage};
use crate::ports::{PortResult, Ports};
use crate::spec::Spec;
use crate::taskdef::TaskDefinition;
use serde::Serialize;

/// One thing `verify` looked at.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub(crate) struct VerifyCheck {
    /// What was checked, e.g. `secret arn:aws:secretsmanager:…`.
    pub(crate) what: String,
    /// `Some(true)`: exists; `Some(false)`: a problem; `None`: could not be checked.
    pub(crate) ok: Option<bool>,
    pub(crate) detail: String,
}

/// Everything `verify` looked at, and the problems as one input error.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    pub(crate) checks: Vec<VerifyCheck>,
    #[serde(skip)]
    problems: Vec<InputError>,
}

impl VerifyReport {
    /// `Err` with every problem (exit 3), else `Ok`.
    pub(crate) fn into_result(self) -> std::result::Result<VerifyReport, InputError> {
        InputError::all(self.problems.clone()).map(|()| self)
    }
}

/// Collects checks and problems.
struct Checks<'a> {
    spec: &'a Spec,
    report: VerifyReport,
}

impl Checks<'_> {
    /// Record the answer about `what`; a `false` is a problem in `field` of `file` with `fix`.
    fn record(&mut self, what: String, answer: PortResult<bool>, (file, field, fix): (&std::path::Path, &str, &str)) {
        let (ok, detail) = match answer {
            Ok(true) => (Some(true), "exists".to_string()),
            Ok(false) => (Some(false), "does not exist".to_string()),
            Err(e) => (None, format!("not checked: {e}")),
        };
        if ok == Some(false) {
            self.report.problems.push(InputError::new(file, format!("{what} {detail}"), fix).at_field(field));
        }
        self.report.checks.push(VerifyCheck { what, ok, detail });
    }
}

/// The Secrets Manager secret a `valueFrom` names (`arn:…:secret:name-AbCdEf`, without the
/// `:json-key:version-stage:version-id` suffix), or `None` for an SSM parameter.
/// Any partition (`aws`, `aws-cn`, `aws-us-gov`, the ISO ones): `arn:<partition>:secretsmanager:…`.
pub(crate) fn secret_of(value_from: &str) -> Option<String> {
    let mut parts = value_from.split(':');
    let is_secret =
        parts.next() == Some("arn") && parts.next().is_some_and(|p| p.starts_with("aws")) && parts.next() == Some("secretsmanager");
    is_secret.then(|| value_from.split(':').take(7).collect::<Vec<_>>().join(":"))
}

/// Run every check; the report carries the problems (see [`VerifyReport::into_result`]).
pub(crate) async fn verify(spec: &Spec, ports: &Ports, plan: &Plan, live: &Live) -> Result<VerifyReport> {
    let mut c = Checks { spec, report: VerifyReport { checks: Vec::new(), problems: Vec::new() } };
    for i in &plan.images {
        let release = i.container == spec.container();
        if i.action.builds() && plan.runs(Stage::Build) {
            c.report.checks.push(VerifyCheck {
                what: format!("image {}", i.image),
                ok: Some(true),
                detail: "built by this release".into(),
            });
        } else {
            let found = Ok(i.digest.is_some());
            let fix = if release {
                "push it, pass an --image-tag that exists, or add a [build] section"
            } else {
                "push it, or let the release build it"
            };
            let field = if release { "image.tag".to_string() } else { format!("build.{}.tag", i.container) };
            c.record(format!("image {}", i.image), found, (&spec.path, &field, fix));
        }
    }
    task_definition_checks(&mut c, ports, &plan.desired_task_definition).await;
    let built: Vec<&str> = plan.images.iter().map(|i| i.container.as_str()).collect();
    image_checks(&mut c, ports, &plan.desired_task_definition, (&live.repository_uri, &built)).await;
    network_checks(&mut c, ports, live).await;
    target_group_checks(&mut c, ports, live).await;
    Ok(c.report)
}

/// The images of the other containers (sidecars), which this release does not build: in ECR of
/// this region (this account's or another's, by the registry id in the URI) with BatchGetImage,
/// anywhere else through the registry v2 API. An image in another region's ECR is not checked.
async fn image_checks(c: &mut Checks<'_>, ports: &Ports, td: &TaskDefinition, (own_repository, built): (&str, &[&str])) {
    use crate::registry::{ImageRef, Location};
    let own_region = ImageRef::parse(own_repository).and_then(|r| match r.location() {
        Location::Ecr { region, .. } => Some(region),
        Location::Oci => None,
    });
    let template = c.spec.template_path.clone();
    for k in td.container_definitions.iter().filter(|k| !built.contains(&k.name.as_str())) {
        let Some(image) = k.image.as_deref() else { continue };
        let field = format!("containerDefinitions[{}].image", k.name);
        let fix = "push the image, fix the reference, or `docker login` to the registry so that fgdeploy can see it";
        let Some(r) = ImageRef::parse(image) else {
            c.record(format!("image {image}"), Ok(false), (&template, &field, "write a valid image reference (registry/repository:tag)"));
            continue;
        };
        let answer = match r.location() {
            Location::Ecr { account, region } if Some(&region) == own_region.as_ref() => ecr_image(ports, &account, &r).await,
            Location::Ecr { region, .. } => Err(crate::ports::PortError::Unsupported {
                op: "ecr:BatchGetImage".into(),
                message: format!("the image is in ECR of {region}, another region"),
            }),
            Location::Oci => retrying(ports.clock.as_ref(), || ports.registry.manifest_exists(&r)).await,
        };
        c.record(format!("image {image}"), answer, (&template, &field, fix));
    }
}

/// An image in this region's ECR; one under a pull-through cache prefix that is not cached yet
/// is looked for upstream (ECR pulls it through on first use).
async fn ecr_image(ports: &Ports, account: &str, r: &crate::registry::ImageRef) -> PortResult<bool> {
    let clock = ports.clock.as_ref();
    if retrying(clock, || ports.ecr.image_exists_in(account, &r.repository, &r.reference)).await? {
        return Ok(true);
    }
    let Some(upstream) = retrying(clock, || ports.ecr.pull_through_upstream(&r.repository)).await? else { return Ok(false) };
    let rest = r.repository.split_once('/').map_or("", |(_, rest)| rest);
    let sep = if r.reference.starts_with("sha256:") { '@' } else { ':' };
    let Some(up) = crate::registry::ImageRef::parse(&format!("{upstream}/{rest}{sep}{}", r.reference)) else { return Ok(false) };
    let up = match up.host.as_str() {
        "registry-1.docker.io" if !up.repository.contains('/') => {
            crate::registry::ImageRef { repository: format!("library/{}", up.repository), ..up }
        }
        _ => up,
    };
    retrying(clock, || ports.registry.manifest_exists(&up)).await
}

async fn task_definition_checks(c: &mut Checks<'_>, ports: &Ports, td: &TaskDefinition) {
    let template = c.spec.template_path.clone();
    for k in &td.container_definitions {
        for s in k.secrets.iter().flatten() {
            let field = format!("containerDefinitions[{}].secrets[{}].valueFrom", k.name, s.name);
            let (what, answer) = match secret_of(&s.value_from) {
                Some(id) => (format!("secret {id}"), retrying(ports.clock.as_ref(), || ports.account.secret_exists(&id)).await),
                None => (
                    format!("SSM parameter {}", s.value_from),
                    retrying(ports.clock.as_ref(), || ports.account.parameter_exists(&s.value_from)).await,
                ),
            };
            c.record(what, answer, (&template, &field, "create it, or fix the name (the execution role reads it when a task starts)"));
        }
        let Some(l) = k.log_configuration.as_ref().filter(|l| l.log_driver == "awslogs") else { continue };
        let options = l.options.clone().unwrap_or_default();
        if let Some(group) = options.get("awslogs-group").filter(|_| options.get("awslogs-create-group").is_none_or(|v| v != "true")) {
            let field = format!("containerDefinitions[{}].logConfiguration.options.awslogs-group", k.name);
            // Where the container sends its logs: its awslogs-region, else the release's region.
            let region = options.get("awslogs-region").map(String::as_str);
            let answer = retrying(ports.clock.as_ref(), || ports.account.log_group_exists(region, group)).await;
            c.record(
                match region {
                    Some(r) => format!("log group {group} in {r}"),
                    None => format!("log group {group}"),
                },
                answer,
                (&template, &field, "create the log group, or set awslogs-create-group = \"true\""),
            );
        }
    }
    for (field, arn) in [("taskRoleArn", &td.task_role_arn), ("executionRoleArn", &td.execution_role_arn)] {
        let Some(arn) = arn else { continue };
        let what = format!("role {arn}");
        match retrying(ports.clock.as_ref(), || ports.account.role_trusts_ecs_tasks(arn)).await {
            Ok(Some(false)) => {
                let fix = "add ecs-tasks.amazonaws.com as a trusted service of the role";
                c.report.problems.push(
                    InputError::new(&template, format!("{what} does not trust ecs-tasks.amazonaws.com: tasks cannot assume it"), fix)
                        .at_field(field),
                );
                c.report.checks.push(VerifyCheck { what, ok: Some(false), detail: "not trusted by ECS tasks".into() });
            }
            answer => c.record(what, answer.map(|a| a.is_some()), (&template, field, "create the role, or fix the ARN")),
        }
    }
}

/// The service's subnets and security groups, and the migration's and blue/green's overrides.
async fn network_checks(c: &mut Checks<'_>, ports: &Ports, live: &Live) {
    let f = &c.spec.file;
    let live_net = live.service.network.as_ref();
    let mut sets: Vec<(&str, Vec<String>, Vec<String>)> = Vec::new();
    if let Some(n) = live_net {
        sets.push(("the service's networkConfiguration", n.subnets.clone(), n.security_groups.clone()));
    }
    if let Some(m) = &f.migration {
        sets.push(("migration", m.subnets.clone().unwrap_or_default(), m.security_groups.clone().unwrap_or_default()));
    }
    if let Some(bg) = &f.deploy.blue_green {
        sets.push(("deploy.blue_green", bg.subnets.clone().unwrap_or_default(), bg.security_groups.clone().unwrap_or_default()));
    }
    let path = c.spec.path.clone();
    for (section, subnets, groups) in sets {
        let fix = if section.starts_with("the service") {
            "fix the service's network configuration (UpdateService)"
        } else {
            "fix the ids in the deployspec"
        };
        for (kind, ids, answer) in [
            ("subnet", &subnets, retrying(ports.clock.as_ref(), || ports.account.missing_subnets(&subnets)).await),
            ("security group", &groups, retrying(ports.clock.as_ref(), || ports.account.missing_security_groups(&groups)).await),
        ] {
            for id in ids.iter() {
                let exists = answer.as_ref().map(|missing| !missing.contains(id)).map_err(Clone::clone);
                let field = format!("{section}.{}", if kind == "subnet" { "subnets" } else { "security_groups" });
                c.record(format!("{kind} {id} ({section})"), exists, (&path, &field, fix));
            }
        }
    }
}

async fn target_group_checks(c: &mut Checks<'_>, ports: &Ports, live: &Live) {
    let path = c.spec.path.clone();
    let mut groups: Vec<(String, &str)> =
        live.service.load_balancers.iter().filter_map(|l| l.target_group_arn.clone()).map(|t| (t, "the service's loadBalancers")).collect();
    if let Some(t) = c.spec.file.deploy.blue_green.as_ref().and_then(|b| b.alternate_target_group_arn.clone()) {
        groups.push((t, "deploy.blue_green.alternate_target_group_arn"));
    }
    for (arn, field) in groups {
        let answer = retrying(ports.clock.as_ref(), || ports.account.target_group_exists(&arn)).await;
        c.record(format!("target group {arn}"), answer, (&path, field, "create the target group, or fix the ARN"));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_manager_references_lose_their_json_key_suffix() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        assert_eq!(super::secret_of(arn).as_deref(), Some(arn));
        assert_eq!(super::secret_of(&format!("{arn}:password::")).as_deref(), Some(arn));
        assert_eq!(super::secret_of("arn:aws:ssm:us-east-1:123456789012:parameter/db/url"), None);
        assert_eq!(super::secret_of("/db/url"), None);
        // Other partitions (#23 item 9).
        let cn = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf";
        assert_eq!(super::secret_of(&format!("{cn}:password::")).as_deref(), Some(cn));
        let gov = "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db-AbCdEf";
        assert_eq!(super::secret_of(gov).as_deref(), Some(gov));
        assert_eq!(super::secret_of("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/db/url"), None);
    }
}
