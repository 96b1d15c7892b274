//! `exec`: ECS Exec into a running task of the service. fgdeploy picks the task (the first
//! RUNNING one, or `--task`) and the container (the deployspec's, or `--container`), checks
//! that ECS Exec can work, opens the session with ExecuteCommand and returns what the Session
//! Manager plugin needs; the command layer hands it over (as `aws ecs execute-command` does).

use crate::error::{Error, Result};
use crate::ports::{ExecSession, Ports};
use crate::spec::Spec;
use crate::states::TaskStatus;

/// `fgdeploy exec`'s flags.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// A task id or ARN; default: the service's first RUNNING task.
    pub task: Option<String>,
    /// Default: `task_definition.container`.
    pub container: Option<String>,
    /// What to run, e.g. `/bin/sh`.
    pub command: String,
}

/// An open ECS Exec session and the target the plugin connects it to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ExecHandoff {
    pub(crate) session: ExecSession,
    /// `ecs:<cluster>_<task id>_<container runtime id>`: Session Manager's target.
    pub target: String,
    pub task: String,
    pub container: String,
}

/// Session Manager's target for a container of a task.
pub fn exec_target(cluster: &str, task: &str, runtime_id: &str) -> String {
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    let task = task.rsplit('/').next().unwrap_or(task);
    format!("ecs:{cluster}_{task}_{runtime_id}")
}

/// Choose the task and container, check ECS Exec, and open the session.
pub async fn exec_session(spec: &Spec, ports: &Ports, o: &ExecOptions) -> Result<ExecHandoff> {
    let (c, s) = (spec.cluster(), spec.service());
    let clock = ports.clock.as_ref();
    let svc = super::watch::retrying(clock, || ports.ecs.describe_service(c, s)).await?.ok_or_else(|| super::no_such_service(c, s))?;
    if !svc.enable_execute_command {
        return Err(Error::usage(
            format!("ECS Exec is not enabled on service {s}"),
            "enable it (UpdateService enableExecuteCommand=true, or the service definition) and start new tasks: it applies to tasks started after it is set; the task role needs the ssmmessages:* permissions",
        ));
    }
    let task = match &o.task {
        Some(t) => t.clone(),
        None => super::watch::retrying(clock, || ports.ecs.service_tasks(c, s)).await?.into_iter().next().ok_or_else(|| {
            Error::usage(format!("service {s} has no RUNNING task to exec into"), "start one (`fgdeploy scale --count 1`)")
        })?,
    };
    let container = o.container.clone().unwrap_or_else(|| spec.container().to_string());
    let tasks = super::watch::retrying(clock, || ports.ecs.describe_tasks(c, std::slice::from_ref(&task))).await?;
    let t = tasks.into_iter().next().ok_or_else(|| {
        Error::usage(format!("task {task} was not found in cluster {c}"), "pass a task of the service (`fgdeploy status`)")
    })?;
    if t.last_status != TaskStatus::Running {
        return Err(Error::usage(format!("task {task} is {}, not RUNNING", t.last_status), "exec into a RUNNING task"));
    }
    let runtime = t.containers.iter().find(|k| k.name == container).and_then(|k| k.runtime_id.clone()).ok_or_else(|| {
        let names: Vec<&str> = t.containers.iter().map(|k| k.name.as_str()).collect();
        Error::usage(format!("task {task} has no running container {container:?} (it has {names:?})"), "name one with --container")
    })?;
    // ExecuteCommand opens a session: not retried (a second one would be a second session).
    let session = ports.ecs.execute_command(c, &t.arn, &container, &o.command).await?;
    Ok(ExecHandoff { session, target: exec_target(c, &t.arn, &runtime), task: t.arn, container })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_session_target_names_cluster_task_and_runtime() {
        assert_eq!(
            super::exec_target("arn:aws:ecs:us-east-1:1:cluster/demo", "arn:aws:ecs:us-east-1:1:task/demo/abc123", "abc123-1111"),
            "ecs:demo_abc123_abc123-1111"
        );
        assert_eq!(super::exec_target("demo", "abc123", "r"), "ecs:demo_abc123_r");
    }
}
