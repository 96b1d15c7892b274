//! `promote`: give an image that is already in ECR another tag without rebuilding it
//! (BatchGetImage → PutImage with the exact manifest bytes and media type).

use super::observe::repository_name;
use super::watch::retrying;
use crate::error::{Error, Result};
use crate::ports::{PortError, Ports};
use crate::spec::Spec;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    pub repository: String,
    pub from_tag: String,
    pub to_tag: String,
    pub digest: Option<String>,
    /// False when `to_tag` already pointed at this manifest ("already exists" is success).
    pub created: bool,
}

pub async fn promote(spec: &Spec, ports: &Ports, from: &str, to: &str) -> Result<PromoteReport> {
    let repo = repository_name(&spec.file.image.repository);
    let clock = ports.clock.as_ref();
    let manifest = retrying(clock, || ports.ecr.manifest(&repo, from)).await?.ok_or_else(|| {
        Error::Aws(PortError::NotFound {
            op: "ecr:BatchGetImage".into(),
            message: format!("{repo}:{from} is not in ECR; push it first (fgdeploy release builds it)"),
        })
    })?;
    let created = match retrying(clock, || ports.ecr.put_manifest(&repo, to, &manifest)).await {
        Ok(c) => c,
        Err(PortError::Rejected { code, .. }) if code == "ImageTagAlreadyExistsException" => {
            return Err(Error::Aws(PortError::Rejected {
                op: "ecr:PutImage".into(),
                code,
                message: format!("{repo}:{to} exists and the repository's tags are immutable; promote to a new tag"),
            }));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(PromoteReport { repository: repo, from_tag: from.into(), to_tag: to.into(), digest: manifest.digest, created })
}
