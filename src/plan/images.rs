//! The images of a release: the release container's and each `[build.<container>]`'s — which
//! exist, which this release builds, which it cannot find — and the build stage they make.

use super::{LiveImage, PlanOptions, StageAction};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the build stage does with one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageAction {
    /// The tag is not in its registry: build and push it.
    Build,
    /// The ECR repository does not exist: create it, then build and push.
    CreateRepositoryAndBuild,
    /// The tag exists and `--force-build` builds it again.
    Rebuild,
    /// The tag exists: nothing to build.
    Exists,
    /// The tag is not there and nothing builds it: the release stops at the build stage.
    Missing,
    /// `--skip-build`: taken as it is.
    Skipped,
}

impl ImageAction {
    /// Whether the build stage builds this image.
    pub fn builds(self) -> bool {
        matches!(self, ImageAction::Build | ImageAction::CreateRepositoryAndBuild | ImageAction::Rebuild)
    }
}

/// One image in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedImage {
    pub container: String,
    /// What the task definition gets: `<repository>:<tag>`, or `<repository>@<digest>` with
    /// `image.pin_digest` and a digest known.
    pub image: String,
    /// The tag's digest in its registry now (before any build).
    pub digest: Option<String>,
    pub action: ImageAction,
    /// What was observed (for the build stage).
    #[serde(skip)]
    pub live: LiveImage,
}

/// Each image's action. `pin_digest` puts every known digest (the release's and the built
/// sidecars') into the task definition instead of the tag.
pub fn plan_images(images: Vec<LiveImage>, opts: &PlanOptions, pin_digest: bool) -> Vec<PlannedImage> {
    images
        .into_iter()
        .map(|live| {
            let action = match (&live.digest, &live.target.build) {
                _ if opts.skip_build => ImageAction::Skipped,
                (Some(_), _) if !opts.force_build => ImageAction::Exists,
                (_, None) => ImageAction::Missing,
                _ if live.repository_missing => ImageAction::CreateRepositoryAndBuild,
                (Some(_), Some(_)) => ImageAction::Rebuild,
                (None, Some(_)) => ImageAction::Build,
            };
            let image = match (&live.digest, pin_digest && !opts.force_build) {
                (Some(d), true) => format!("{}@{d}", live.repository_uri),
                _ => live.image(),
            };
            PlannedImage { container: live.target.container.clone(), image, digest: live.digest.clone(), action, live }
        })
        .collect()
}

/// The images by container, as the task definition takes them.
pub fn by_container(images: &[PlannedImage]) -> BTreeMap<String, String> {
    images.iter().map(|i| (i.container.clone(), i.image.clone())).collect()
}

/// Where an image lives, for the plan: "ECR", or the other registry's host.
fn place(live: &LiveImage) -> String {
    match crate::registry::ImageRef::parse(&live.image()).map(|r| (r.location(), r.host)) {
        Some((crate::registry::Location::Oci, host)) => host,
        _ => "ECR".into(),
    }
}

/// One image's line in the build stage.
fn phrase(i: &PlannedImage, several: bool) -> String {
    let image = i.live.image();
    let of = if several { format!(" (container {})", i.container) } else { String::new() };
    match i.action {
        ImageAction::Exists => format!("{image} exists in {} ({}){of}", place(&i.live), i.digest.as_deref().unwrap_or("-")),
        ImageAction::Missing => format!(
            "FAILS: {image} is not in {}{of} and the deployspec has no [build] section; the release will stop here (push the image, pass an existing --image-tag, or add [build])",
            if i.live.repository_missing { "ECR (the repository does not exist)".to_string() } else { place(&i.live) }
        ),
        ImageAction::CreateRepositoryAndBuild => {
            format!("create ECR repository {}, then build and push {image}{of}", i.live.target.repository)
        }
        ImageAction::Rebuild => format!("build and push {image}{of} (--force-build)"),
        ImageAction::Build => format!("build and push {image}{of}"),
        ImageAction::Skipped => format!("{image}{of}: --skip-build"),
    }
}

/// The build stage: skipped when nothing is to be built, else the images it builds (and, said
/// to fail, any it cannot find).
pub fn build_action(images: &[PlannedImage], opts: &PlanOptions) -> StageAction {
    let several = images.len() > 1;
    if opts.skip_build {
        return StageAction::Skip { reason: "--skip-build".into() };
    }
    let (todo, there): (Vec<&PlannedImage>, Vec<&PlannedImage>) = images.iter().partition(|i| i.action != ImageAction::Exists);
    if todo.is_empty() {
        return StageAction::Skip { reason: there.iter().map(|i| phrase(i, several)).collect::<Vec<_>>().join("; ") };
    }
    StageAction::Run { detail: todo.iter().map(|i| phrase(i, several)).collect::<Vec<_>>().join("; ") }
}
