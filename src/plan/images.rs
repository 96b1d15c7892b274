//! The images of a release: the release container's and each `[build.<container>]`'s — which
//! exist, which this release builds, which it cannot find — and the build stage they make.

use super::model::{ImageAction, PlannedImage};
use super::{LiveImage, PlanOptions, StageAction};
use std::collections::BTreeMap;

/// Each image's action. `pin_digest` puts every known digest (the release's and the built
/// sidecars') into the task definition instead of the tag.
pub(super) fn plan_images(images: Vec<LiveImage>, opts: &PlanOptions, pin_digest: bool) -> Vec<PlannedImage> {
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
pub(super) fn by_container(images: &[PlannedImage]) -> BTreeMap<String, String> {
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
pub(super) fn build_action(images: &[PlannedImage], opts: &PlanOptions) -> StageAction {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BuildSection, ImageTarget};

    fn build() -> BuildSection {
        BuildSection {
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            target: None,
            args: Default::default(),
            platform: None,
            cache: true,
            command: None,
            repository: None,
            tag: None,
            create_repository: None,
        }
    }

    fn live(container: &str, uri: &str, digest: Option<&str>, built: bool, missing_repo: bool) -> LiveImage {
        LiveImage {
            target: ImageTarget {
                container: container.into(),
                repository: uri.rsplit('/').next().unwrap_or(uri).into(),
                tag: "v2".into(),
                create_repository: missing_repo,
                build: built.then(build),
                field: "image.repository".into(),
            },
            repository_uri: uri.into(),
            digest: digest.map(str::to_string),
            repository_missing: missing_repo,
        }
    }

    const ECR: &str = "1.dkr.ecr.us-east-1.amazonaws.com";

    fn actions(images: Vec<LiveImage>, opts: &PlanOptions) -> Vec<ImageAction> {
        plan_images(images, opts, false).into_iter().map(|i| i.action).collect()
    }

    #[test]
    fn each_image_gets_the_action_its_registry_and_build_call_for() {
        let all = || {
            vec![
                live("web", &format!("{ECR}/web"), Some("sha256:a"), true, false),
                live("agent", &format!("{ECR}/agent"), None, true, false),
                live("router", &format!("{ECR}/router"), None, true, true),
                live("fixed", "ghcr.io/acme/fixed", None, false, false),
            ]
        };
        use ImageAction::*;
        assert_eq!(actions(all(), &PlanOptions::default()), [Exists, Build, CreateRepositoryAndBuild, Missing]);
        let force = PlanOptions { force_build: true, ..Default::default() };
        assert_eq!(actions(all(), &force), [Rebuild, Build, CreateRepositoryAndBuild, Missing]);
        let skip = PlanOptions { skip_build: true, ..Default::default() };
        assert_eq!(actions(all(), &skip), [Skipped, Skipped, Skipped, Skipped]);
        assert!(Build.builds() && Rebuild.builds() && CreateRepositoryAndBuild.builds());
        assert!(!Exists.builds() && !Missing.builds() && !Skipped.builds());
    }

    #[test]
    fn pin_digest_pins_known_digests_unless_rebuilt() {
        let images = || {
            vec![
                live("web", &format!("{ECR}/web"), Some("sha256:a"), true, false),
                live("agent", &format!("{ECR}/agent"), None, true, false),
            ]
        };
        let pinned = plan_images(images(), &PlanOptions::default(), true);
        assert_eq!(pinned[0].image, format!("{ECR}/web@sha256:a"));
        assert_eq!(pinned[1].image, format!("{ECR}/agent:v2"), "no digest yet: the tag (pinned after the build)");
        let force = plan_images(images(), &PlanOptions { force_build: true, ..Default::default() }, true);
        assert_eq!(force[0].image, format!("{ECR}/web:v2"), "rebuilt: the old digest is not the one to run");
        let plain = plan_images(images(), &PlanOptions::default(), false);
        assert_eq!(by_container(&plain).get("web"), Some(&format!("{ECR}/web:v2")));
    }

    #[test]
    fn the_build_stage_says_what_it_builds_and_where_the_others_are() {
        let opts = PlanOptions::default();
        let one = plan_images(vec![live("web", &format!("{ECR}/web"), None, true, false)], &opts, false);
        assert_eq!(build_action(&one, &opts), StageAction::Run { detail: format!("build and push {ECR}/web:v2") });
        let there = plan_images(
            vec![
                live("web", &format!("{ECR}/web"), Some("sha256:a"), true, false),
                live("agent", "ghcr.io/acme/agent", Some("sha256:b"), true, false),
            ],
            &opts,
            false,
        );
        assert_eq!(
            build_action(&there, &opts),
            StageAction::Skip {
                reason: format!(
                    "{ECR}/web:v2 exists in ECR (sha256:a) (container web); ghcr.io/acme/agent:v2 exists in ghcr.io (sha256:b) (container agent)"
                )
            }
        );
        let mixed = plan_images(
            vec![live("web", &format!("{ECR}/web"), None, false, true), live("agent", "ghcr.io/acme/agent", Some("sha256:b"), true, false)],
            &opts,
            false,
        );
        let StageAction::Run { detail } = build_action(&mixed, &opts) else { panic!("runs") };
        assert!(
            detail.starts_with(&format!("FAILS: {ECR}/web:v2 is not in ECR (the repository does not exist) (container web)")),
            "{detail}"
        );
        assert!(!detail.contains("agent"), "an image that is there is not in the run's detail: {detail}");
        assert_eq!(
            build_action(&mixed, &PlanOptions { skip_build: true, ..Default::default() }),
            StageAction::Skip { reason: "--skip-build".into() }
        );
        let rebuild = plan_images(
            vec![live("web", &format!("{ECR}/web"), Some("sha256:a"), true, true)],
            &PlanOptions { force_build: true, ..Default::default() },
            false,
        );
        assert_eq!(rebuild[0].action, ImageAction::CreateRepositoryAndBuild);
        assert_eq!(
            build_action(&rebuild, &opts),
            StageAction::Run { detail: format!("create ECR repository web, then build and push {ECR}/web:v2") }
        );
    }
}
