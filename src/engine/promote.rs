//! `promote`: give an image that is already in ECR another tag without rebuilding it
//! (BatchGetImage → PutImage with the exact manifest bytes and media type). Every image the
//! release builds at the release's tag is promoted with it: the release container's and each
//! `[build.<container>]` in ECR whose tag follows `image.tag`. Every manifest is read before the
//! first tag is written, so a missing one changes nothing.

use super::watch::retrying;
use crate::error::{Error, Result};
use crate::ports::{Manifest, PortError, Ports};
use crate::registry::{is_full_uri, repository_name};
use crate::spec::Spec;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PromoteReport {
    pub repository: String,
    pub(crate) from_tag: String,
    pub(crate) to_tag: String,
    pub(crate) digest: Option<String>,
    /// False when `to_tag` already pointed at this manifest ("already exists" is success).
    pub(crate) created: bool,
    /// The sidecar images promoted with it (`[build.<container>]` in ECR at the same tag).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<PromoteReport>,
}

/// The ECR repositories whose `from` tag is promoted: the release's, then each built sidecar's
/// that lives in ECR at the same tag.
fn repositories(spec: &Spec, from: &str) -> Vec<String> {
    let sidecars = spec.sidecar_targets().into_iter().filter(|t| {
        let ecr = !is_full_uri(&t.repository)
            || crate::registry::ImageRef::parse(&t.repository).is_some_and(|r| r.location() != crate::registry::Location::Oci);
        ecr && t.tag == from
    });
    std::iter::once(repository_name(&spec.file.image.repository)).chain(sidecars.map(|t| repository_name(&t.repository))).collect()
}

pub async fn promote(spec: &Spec, ports: &Ports, from: &str, to: &str) -> Result<PromoteReport> {
    let clock = ports.clock.as_ref();
    let mut manifests: Vec<(String, Manifest)> = Vec::new();
    for repo in repositories(spec, from) {
        let manifest = retrying(clock, || ports.ecr.manifest(&repo, from)).await?.ok_or_else(|| {
            Error::Aws(PortError::NotFound {
                op: "ecr:BatchGetImage".into(),
                message: format!("{repo}:{from} is not in ECR; push it first (fgdeploy release builds it); nothing was promoted"),
            })
        })?;
        manifests.push((repo, manifest));
    }
    let mut reports = Vec::new();
    for (repo, manifest) in manifests {
        let created = match retrying(clock, || ports.ecr.put_manifest(&repo, to, &manifest)).await {
            Ok(c) => c,
            Err(PortError::Rejected { code, .. }) if code == "ImageTagAlreadyExistsException" => {
                return Err(Error::Aws(PortError::Rejected {
                    op: "ecr:PutImage".into(),
                    code,
                    message: format!(
                        "{repo}:{to} exists and the repository's tags are immutable; promote to a new tag{}",
                        if reports.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (already given {to}: {})",
                                reports.iter().map(|r: &PromoteReport| r.repository.as_str()).collect::<Vec<_>>().join(", ")
                            )
                        }
                    ),
                }));
            }
            Err(e) => return Err(e.into()),
        };
        reports.push(PromoteReport {
            repository: repo,
            from_tag: from.into(),
            to_tag: to.into(),
            digest: manifest.digest,
            created,
            sidecars: Vec::new(),
        });
    }
    let mut report = reports.remove(0);
    report.sidecars = reports;
    Ok(report)
}
