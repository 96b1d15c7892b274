//! The simulator's log of mutating calls, typed: tests match the call and its arguments rather
//! than grep text. `Display` is the one-line form the sandbox and test messages show.

/// One mutating call the simulated account accepted (or, for `docker`, the simulated registry).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mutation {
    /// An image tag written to a repository (a seeded image or a promoted manifest).
    PutImage {
        repository: String,
        tag: String,
    },
    CreateRepository {
        repository: String,
    },
    RegisterTaskDefinition {
        family: String,
        revision: usize,
    },
    DeregisterTaskDefinition {
        family: String,
        revision: usize,
    },
    /// `foreign`: made by someone else (a colleague's deployment the fault matrix injects).
    /// `desired_count`: what the call set (`None`: left as it was).
    /// `settings`: the `[service.definition]` fields it changed (deployspec names).
    UpdateService {
        service: String,
        task_definition: String,
        desired_count: Option<i32>,
        foreign: bool,
        /// Not read back from a saved sandbox (the names are the binary's own strings).
        #[serde(skip_deserializing, default)]
        settings: Vec<&'static str>,
    },
    CreateService {
        service: String,
        task_definition: String,
        desired_count: i32,
    },
    /// TagResource on a service: the keys it set.
    TagResource {
        arn: String,
        keys: Vec<String>,
    },
    ContinueServiceDeployment {
        arn: String,
        action: String,
    },
    StopServiceDeployment {
        arn: String,
    },
    /// A one-off task: the task-definition ARN it runs and the command override.
    RunTask {
        task_definition: String,
        command: Vec<String>,
    },
    StopTask {
        arn: String,
    },
    CreateDeployment {
        id: String,
        task_definition: String,
        /// The deployment config CreateDeployment named (None: the group's own).
        config: Option<String>,
    },
    ContinueDeployment {
        id: String,
        wait_type: String,
    },
    StopDeployment {
        id: String,
        rollback: bool,
    },
    /// RegisterScalableTarget setting `DynamicScalingInSuspended`.
    SuspendScaleIn {
        resource_id: String,
        suspended: bool,
    },
    DockerLogin {
        registry: String,
    },
    /// The watch's temporary EventBridge rule and SQS queue (#28): created, and deleted.
    PutRule {
        name: String,
    },
    DeleteRule {
        name: String,
    },
    CreateQueue {
        name: String,
    },
    DeleteQueue {
        name: String,
    },
    DockerPush {
        image: String,
    },
}

impl Mutation {
    /// The API operation (or docker command) it stands for.
    pub(crate) fn op(&self) -> &'static str {
        match self {
            Mutation::PutImage { .. } => "PutImage",
            Mutation::CreateRepository { .. } => "CreateRepository",
            Mutation::RegisterTaskDefinition { .. } => "RegisterTaskDefinition",
            Mutation::DeregisterTaskDefinition { .. } => "DeregisterTaskDefinition",
            Mutation::UpdateService { .. } => "UpdateService",
            Mutation::CreateService { .. } => "CreateService",
            Mutation::TagResource { .. } => "TagResource",
            Mutation::ContinueServiceDeployment { .. } => "ContinueServiceDeployment",
            Mutation::StopServiceDeployment { .. } => "StopServiceDeployment",
            Mutation::RunTask { .. } => "RunTask",
            Mutation::StopTask { .. } => "StopTask",
            Mutation::CreateDeployment { .. } => "CreateDeployment",
            Mutation::ContinueDeployment { .. } => "ContinueDeployment",
            Mutation::StopDeployment { .. } => "StopDeployment",
            Mutation::SuspendScaleIn { .. } => "RegisterScalableTarget",
            Mutation::DockerLogin { .. } => "docker login",
            Mutation::PutRule { .. } => "PutRule",
            Mutation::DeleteRule { .. } => "DeleteRule",
            Mutation::CreateQueue { .. } => "CreateQueue",
            Mutation::DeleteQueue { .. } => "DeleteQueue",
            Mutation::DockerPush { .. } => "docker push",
        }
    }

    /// An UpdateService by fgdeploy (not a foreign one) to a task definition ending in `td`.
    pub fn is_update_to(&self, td: &str) -> bool {
        matches!(self, Mutation::UpdateService { task_definition, foreign: false, .. } if task_definition.ends_with(td))
    }
}

impl std::fmt::Display for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self.op();
        match self {
            Mutation::PutImage { repository, tag } => write!(f, "{op} {repository}:{tag}"),
            Mutation::CreateRepository { repository } => write!(f, "{op} {repository}"),
            Mutation::RegisterTaskDefinition { family, revision } | Mutation::DeregisterTaskDefinition { family, revision } => {
                write!(f, "{op} {family}:{revision}")
            }
            Mutation::UpdateService { service, task_definition, desired_count, foreign, settings } => {
                let count = desired_count.map(|n| format!(" desiredCount={n}")).unwrap_or_default();
                let settings = if settings.is_empty() { String::new() } else { format!(" settings={}", settings.join(",")) };
                write!(f, "{op} {service} {task_definition}{count}{settings}{}", if *foreign { " (foreign)" } else { "" })
            }
            Mutation::CreateService { service, task_definition, desired_count } => {
                write!(f, "{op} {service} {task_definition} desiredCount={desired_count}")
            }
            Mutation::TagResource { arn, keys } => write!(f, "{op} {arn} {}", keys.join(",")),
            Mutation::ContinueServiceDeployment { arn, action } => write!(f, "{op} {arn} {action}"),
            Mutation::StopServiceDeployment { arn } | Mutation::StopTask { arn } => write!(f, "{op} {arn}"),
            Mutation::RunTask { task_definition, command } => write!(f, "{op} {task_definition} {command:?}"),
            Mutation::CreateDeployment { id, task_definition, .. } => write!(f, "{op} {id} {task_definition}"),
            Mutation::ContinueDeployment { id, wait_type } => write!(f, "{op} {id} {wait_type}"),
            Mutation::StopDeployment { id, rollback } => write!(f, "{op} {id} rollback={rollback}"),
            Mutation::SuspendScaleIn { resource_id, suspended } => write!(f, "{op} {resource_id} DynamicScalingInSuspended={suspended}"),
            Mutation::DockerLogin { registry } => write!(f, "{op} {registry}"),
            Mutation::PutRule { name }
            | Mutation::DeleteRule { name }
            | Mutation::CreateQueue { name }
            | Mutation::DeleteQueue { name } => {
                write!(f, "{op} {name}")
            }
            Mutation::DockerPush { image } => write!(f, "{op} {image}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mutation;

    #[test]
    fn shown_as_the_call_and_its_arguments() {
        let u = Mutation::UpdateService {
            service: "web".into(),
            task_definition: "arn:…/web:2".into(),
            desired_count: None,
            foreign: true,
            settings: vec![],
        };
        assert_eq!(u.to_string(), "UpdateService web arn:…/web:2 (foreign)");
        assert!(!u.is_update_to("web:2"), "a foreign update is not fgdeploy's");
        let ours = Mutation::UpdateService {
            service: "web".into(),
            task_definition: "arn:…/web:2".into(),
            desired_count: Some(3),
            foreign: false,
            settings: vec!["network"],
        };
        assert_eq!(ours.to_string(), "UpdateService web arn:…/web:2 desiredCount=3 settings=network");
        assert!(ours.is_update_to("web:2") && !ours.is_update_to("web:3"));
        let r = Mutation::RunTask { task_definition: "web:2".into(), command: vec!["bin/migrate".into()] };
        assert_eq!(r.to_string(), "RunTask web:2 [\"bin/migrate\"]");
        assert_eq!(Mutation::StopDeployment { id: "d-1".into(), rollback: true }.to_string(), "StopDeployment d-1 rollback=true");
    }
}
