//! The build stage: every image the plan builds — the release container's and each
//! `[build.<container>]`'s — built and pushed in parallel after the repositories they need are
//! created and their registries logged in to, then confirmed in their registry (ECR by
//! BatchGetImage, any other registry through the v2 API), digests pinned when asked.

use crate::engine::Event;
use crate::engine::StageTime;
use crate::engine::watch::Looks;
use crate::error::{Error, Result};
use crate::plan::{ImageAction, Plan, PlannedImage, Stage, StageAction};
use crate::registry::{ImageRef, Location};
use crate::spec::Spec;

crate::engine::engine_part!(
    /// The build stage (and the push).
    Build
);

impl Build<'_> {
    /// The build stage: build and push what the plan builds (pinning digests when asked), or say why not.
    pub(crate) async fn build_stage(&self, spec: &Spec, plan: &mut Plan, stages: &mut Vec<StageTime>) -> Result<()> {
        match plan.stage(Stage::Build) {
            Some(StageAction::Run { .. }) => {
                let t = self.stage_start(Stage::Build);
                let digests = self.build_images(spec, &plan.images).await?;
                if spec.file.image.pin_digest {
                    for (i, digest) in &digests {
                        let pinned = format!("{}@{digest}", i.live.repository_uri);
                        crate::taskdef::set_image(&mut plan.desired_task_definition, &i.container, &pinned);
                        if i.container == spec.container() {
                            plan.image = pinned;
                        }
                    }
                }
                self.stage_end(Stage::Build, t, stages);
            }
            Some(StageAction::Skip { reason }) => self.emit(Event::StageSkipped { stage: Stage::Build, reason: reason.clone() }),
            None => {}
        }
        Ok(())
    }

    /// Build every image the plan builds, in parallel; returns each with its digest. Every
    /// failed build is reported (the others run to their end, never cut off mid-push).
    pub(crate) async fn build_images<'a>(&self, spec: &Spec, images: &'a [PlannedImage]) -> Result<Vec<(&'a PlannedImage, String)>> {
        if let Some(m) = images.iter().find(|i| i.action == ImageAction::Missing) {
            return Err(Error::Build(format!(
                "image {} is not in its registry and the deployspec has no [build] section, so fgdeploy cannot build it",
                m.live.image()
            )));
        }
        let todo: Vec<&PlannedImage> = images.iter().filter(|i| i.action.builds()).collect();
        // Every build's request first: a build command that cannot be rendered is bad input,
        // reported (all of them) before any repository is created or any login made.
        let mut requests = Vec::new();
        let mut problems = Vec::new();
        for i in &todo {
            match build_request(spec, i) {
                Ok(r) => requests.push(r),
                Err(Error::Input(e)) => problems.extend(e.flatten()),
                Err(e) => return Err(e),
            }
        }
        crate::error::InputError::all(problems)?;
        self.prepare_registries(&todo).await?;
        let several = todo.len() > 1;
        // Concurrent builds share the clock: a virtual one advances only when all of them wait.
        let clock = self.ports.clock.as_ref();
        let seats: Vec<Option<Seat<'_>>> = todo.iter().map(|_| several.then(|| Seat::take(clock))).collect();
        let results = futures_util::future::join_all(todo.iter().zip(requests).zip(seats).map(|((i, req), seat)| async move {
            let r = self.build_one(i, req, several).await;
            drop(seat);
            r
        }))
        .await;
        let count = todo.len();
        let mut built = Vec::new();
        let mut failed = Vec::new();
        for (i, r) in todo.into_iter().zip(results) {
            match r {
                Ok(d) => built.push((i, d)),
                Err(e) if !several => return Err(e),
                Err(e) => failed.push(format!("container {}: {e}", i.container)),
            }
        }
        if !failed.is_empty() {
            return Err(Error::Build(format!("{} of {count} builds failed:\n  {}", failed.len(), failed.join("\n  "))));
        }
        Ok(built)
    }

    /// Before any build: the ECR repositories to create, and one `docker login` per registry —
    /// ECR hosts with GetAuthorizationToken's token (valid for every ECR registry the caller may
    /// use), any other registry with the Docker credential store's credentials when it has some
    /// (the builder's Docker config is private to this run, so `docker push` would not see them).
    pub(crate) async fn prepare_registries(&self, todo: &[&PlannedImage]) -> Result<()> {
        for i in todo.iter().filter(|i| i.action == ImageAction::CreateRepositoryAndBuild) {
            let repo = crate::registry::repository_name(&i.live.target.repository);
            self.retry("ecr:CreateRepository", || self.ports.ecr.create_repository(&repo)).await?;
            self.info(format!("created ECR repository {repo}"));
        }
        let mut hosts: Vec<(String, Location)> =
            todo.iter().filter_map(|i| ImageRef::parse(&i.live.image())).map(|r| (r.host.clone(), r.location())).collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        hosts.dedup_by(|a, b| a.0 == b.0);
        let mut ecr = None;
        for (host, location) in hosts {
            let auth = match location {
                Location::Ecr { .. } => {
                    if ecr.is_none() {
                        ecr = Some(self.retry("ecr:GetAuthorizationToken", || self.ports.ecr.authorization()).await?);
                    }
                    ecr.clone().map(|a| crate::ports::RegistryAuth { endpoint: format!("https://{host}"), ..a })
                }
                Location::Oci => self.ports.registry.credentials(&host).map(|c| crate::ports::RegistryAuth {
                    username: c.username,
                    password: c.secret,
                    endpoint: host.clone(),
                }),
            };
            match auth {
                Some(a) => self.ports.builder.login(&a).await.map_err(|e| Error::Build(e.0))?,
                None => self.info(format!("no credentials for {host} in the Docker credential store: pushing without `docker login`")),
            }
        }
        Ok(())
    }

    /// Build and push one image, then confirm it in its registry; returns its digest.
    pub(crate) async fn build_one(&self, i: &PlannedImage, req: crate::ports::BuildRequest, several: bool) -> Result<String> {
        let image = req.image.clone();
        let prefix = if several { format!("[{}] ", i.container) } else { String::new() };
        let printed = self
            .ports
            .builder
            .build_and_push(&req, &|line| self.emit(Event::BuildLog { line: format!("{prefix}{line}") }))
            .await
            .map_err(|e| Error::Build(e.0))?;
        let digest = self
            .pushed_digest(i)
            .await?
            .ok_or_else(|| Error::Build(format!("the builder finished but the registry does not show {image}")))?;
        if let Some(p) = printed
            && p != digest
        {
            self.warn(format!("the builder printed digest {p} for {image}, the registry has {digest}; using the registry's"));
        }
        self.emit(Event::ImagePushed { image, digest: Some(digest.clone()) });
        Ok(digest)
    }

    /// The registry is the truth: the pushed tag's digest, asked a few times (a registry may
    /// show a push a moment late).
    pub(crate) async fn pushed_digest(&self, i: &PlannedImage) -> Result<Option<String>> {
        let target = &i.live.target;
        let oci =
            ImageRef::parse(&i.live.image()).filter(|r| crate::registry::is_full_uri(&target.repository) && r.location() == Location::Oci);
        let oci = &oci;
        // The digest of what was just pushed, read back (a registry may answer a moment late).
        self.read_back(Looks::now_then(5), || async move {
            match oci {
                Some(r) => self.retry("registry:HEAD manifest", || self.ports.registry.manifest_digest(r)).await,
                None => {
                    let repo = crate::registry::repository_name(&target.repository);
                    self.retry("ecr:BatchGetImage", || self.ports.ecr.image_digest(&repo, &target.tag)).await
                }
            }
        })
        .await
    }
}

/// What the builder is asked for one image: paths, platform (from the template's
/// `runtimePlatform` unless given) and the rendered build command.
fn build_request(spec: &Spec, i: &PlannedImage) -> Result<crate::ports::BuildRequest> {
    let b = i.live.target.build.as_ref().ok_or_else(|| Error::Internal(format!("no build for container {}", i.container)))?;
    let dir = spec.path.parent().unwrap_or(std::path::Path::new("."));
    let context = dir.join(&b.context);
    let dockerfile = context.join(&b.dockerfile);
    let image = i.live.image();
    let platform = b.platform.clone().or_else(|| {
        let rp = spec.render_task_definition(&spec.image_ref(&i.live.repository_uri)).ok()?.runtime_platform?;
        crate::build::platform_for(rp.cpu_architecture.as_deref(), rp.operating_system_family.as_deref())
    });
    let field = if i.container == spec.container() { "build.command".to_string() } else { format!("build.{}.command", i.container) };
    let command = match &b.command {
        Some(cmd) => Some(build_command(spec, cmd, (&image, &context, &dockerfile), platform.as_deref(), &field)?),
        None => None,
    };
    Ok(crate::ports::BuildRequest {
        image,
        repository_uri: i.live.repository_uri.clone(),
        context,
        dockerfile,
        target: b.target.clone(),
        args: b.args.clone(),
        platform,
        command,
        cache: b.cache,
    })
}

/// One of several concurrent users of the clock, for as long as it lives.
struct Seat<'a>(&'a dyn crate::ports::Clock);

impl<'a> Seat<'a> {
    fn take(clock: &'a dyn crate::ports::Clock) -> Seat<'a> {
        clock.join();
        Seat(clock)
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// A build command rendered by the template engine, with the build's `image`, `context`,
/// `dockerfile` and `platform` (and every other variable) defined.
fn build_command(
    spec: &Spec,
    cmd: &[String],
    (image, context, dockerfile): (&str, &std::path::Path, &std::path::Path),
    platform: Option<&str>,
    field: &str,
) -> Result<Vec<String>> {
    let extra = [
        ("context".to_string(), context.display().to_string()),
        ("dockerfile".to_string(), dockerfile.display().to_string()),
        ("platform".to_string(), platform.unwrap_or("linux/amd64").to_string()),
    ];
    let mut vars = spec.vars().clone().with_extra(extra.into_iter().collect());
    vars.set_image(image);
    cmd.iter()
        .enumerate()
        .map(|(i, a)| {
            vars.expand(a).map_err(|e| crate::error::InputError::new(&spec.path, e.message, e.fix).at_field(format!("{field}[{i}]")).into())
        })
        .collect()
}
