//! Answering the account lookups a deployspec's templates make (`ssm`, `secret_arn`, `tfstate`,
//! `cfn_output`): read-only calls, each lookup once per run, all before the real load (and so
//! before any mutating call). Every failure is reported at once, naming the lookup and the fix.

use super::watch::retrying;
use crate::error::{Error, InputError};
use crate::lookups::{Answer, Lookup, tfstate_value};
use crate::ports::{PortError, Ports};
use crate::spec::Scan;
use std::collections::BTreeMap;

/// The answers to `scan`'s lookups.
pub async fn answer_lookups(scan: &Scan, ports: &Ports) -> Result<BTreeMap<Lookup, Answer>, Error> {
    let mut answers = BTreeMap::new();
    let mut problems = Vec::new();
    let mut state: Option<Result<serde_json::Value, String>> = None;
    for l in &scan.lookups {
        let r = match l {
            Lookup::Tfstate { address } => {
                let s = match &state {
                    Some(s) => s.clone(),
                    None => {
                        let s = tfstate(scan, ports).await;
                        state = Some(s.clone());
                        s
                    }
                };
                s.and_then(|s| tfstate_value(&s, address)).map(|value| Answer { value, secret: false })
            }
            other => account(other, ports).await,
        };
        match r {
            Ok(a) => {
                answers.insert(l.clone(), a);
            }
            Err(why) => {
                // Placed where the lookup stands (the deployspec's field, or the template's), so
                // the message points at the line; the fix follows the error.
                let (file, field) = scan.places.get(l).cloned().unwrap_or_else(|| (scan.path.clone(), "lookups".into()));
                let fix = if denied(&why) { permission(l) } else { fix(l) };
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                problems.push(InputError::new(&file, format!("lookup {l} failed: {why}"), fix).at_field(field).located(&file, &text));
            }
        }
    }
    InputError::all(problems)?;
    Ok(answers)
}

fn denied(why: &str) -> bool {
    why.contains("AccessDenied") || why.contains("not authorized") || why.contains("UnauthorizedOperation")
}

/// The permission a lookup needs, for an AccessDenied.
fn permission(l: &Lookup) -> String {
    match l {
        Lookup::Ssm { name } => format!(
            "allow ssm:GetParameter on parameter {name} to the role fgdeploy runs as (and kms:Decrypt on its key for a SecureString); see docs/iam-policy.json, TemplateLookups"
        ),
        Lookup::SecretArn { name } => format!("allow secretsmanager:DescribeSecret on secret {name} to the role fgdeploy runs as"),
        Lookup::CfnOutput { stack, .. } => format!("allow cloudformation:DescribeStacks on stack {stack} to the role fgdeploy runs as"),
        Lookup::Tfstate { .. } => "allow s3:GetObject on the state object (lookups.tfstate_url) to the role fgdeploy runs as".into(),
    }
}

fn fix(l: &Lookup) -> String {
    match l {
        Lookup::Ssm { .. } => "create the parameter (aws ssm put-parameter), fix its name, or allow ssm:GetParameter (and kms:Decrypt for a SecureString)".into(),
        Lookup::SecretArn { .. } => "create the secret, fix its name, or allow secretsmanager:DescribeSecret".into(),
        Lookup::CfnOutput { stack, .. } => format!("check the stack name and its Outputs (aws cloudformation describe-stacks --stack-name {stack})"),
        Lookup::Tfstate { .. } => {
            "set lookups.tfstate_file (a local state) or lookups.tfstate_url (s3://bucket/key), and check the resource address (terraform state list)".into()
        }
    }
}

fn said(e: PortError) -> String {
    match e {
        PortError::NotFound { message, .. } => format!("does not exist ({message})"),
        PortError::Rejected { code, message, .. } if code.contains("NotFound") || code == "ValidationError" => {
            format!("does not exist ({code}: {message})")
        }
        other => other.to_string(),
    }
}

async fn account(l: &Lookup, ports: &Ports) -> Result<Answer, String> {
    let clock = ports.clock.as_ref();
    let a = &ports.account;
    match l {
        Lookup::Ssm { name } => {
            retrying(clock, || a.parameter_value(name)).await.map(|(value, secret)| Answer { value, secret }).map_err(said)
        }
        Lookup::SecretArn { name } => {
            retrying(clock, || a.secret_arn(name)).await.map(|value| Answer { value, secret: false }).map_err(said)
        }
        Lookup::CfnOutput { stack, key } => match retrying(clock, || a.stack_output(stack, key)).await {
            Ok(Some(value)) => Ok(Answer { value, secret: false }),
            Ok(None) => Err(format!("stack {stack} has no output {key:?}")),
            Err(e) => Err(said(e)),
        },
        Lookup::Tfstate { .. } => Err("internal: tfstate is read from the state".into()),
    }
}

/// The Terraform state: the local file, or the S3 object.
async fn tfstate(scan: &Scan, ports: &Ports) -> Result<serde_json::Value, String> {
    let bytes = match (&scan.tfstate_file, &scan.tfstate_url) {
        (Some(f), _) => std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?,
        (None, Some(url)) => {
            let (bucket, key) = url
                .strip_prefix("s3://")
                .and_then(|r| r.split_once('/'))
                .ok_or_else(|| format!("lookups.tfstate_url {url:?} is not s3://bucket/key"))?;
            retrying(ports.clock.as_ref(), || ports.account.object(bucket, key)).await.map_err(|e| format!("{url}: {}", said(e)))?
        }
        (None, None) => return Err("no Terraform state is configured".into()),
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("the Terraform state is not JSON: {e}"))
}
