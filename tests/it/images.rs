//! Several images per service on the simulator: `[build.<container>]` builds a sidecar's image in
//! the same release as the release container's, in parallel; the plan lists each; the task
//! definition gets each; `pin_digest` pins each; a failing build is reported with the others'
//! outcome and nothing is registered; and the deployspec rules around the sidecar builds. The
//! same against the real registry and real Docker is in `registry.rs`.

use crate::harness::{Test, base_spec, spec_dir_with};
use fgdeploy::engine::{Engine, Event, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::error::exit;
use fgdeploy::plan::ImageAction;
use fgdeploy::sandbox::seeded;
use fgdeploy::sim::{Faults, Mutation};
use fgdeploy::spec::Spec;
use std::sync::Arc;

pub const TWO_CONTAINERS: &str = r#"{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{ image }}", "memory": 384, "portMappings": [{"containerPort": 8080}]},
    {"name": "log-router", "image": "{{ images['log-router'] }}", "memory": 128, "essential": false}
  ]
}"#;

const BUILDS: &str = "\n[build]\ncontext = \"app\"\n\n[build.log-router]\nrepository = \"log-router\"\ncontext = \"router\"\n";

/// A deployspec with `extra` appended, the two-container template and the two build contexts.
fn two_builds(extra: &str, template: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, path) = spec_dir_with(&format!("{}{extra}", base_spec("demo", "web")), template);
    for ctx in ["app", "router"] {
        std::fs::create_dir_all(dir.path().join(ctx)).expect("context");
        std::fs::write(dir.path().join(ctx).join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
    }
    (dir, path)
}

struct Released {
    result: Result<fgdeploy::engine::ReleaseReport, fgdeploy::error::Error>,
    events: Vec<Event>,
    sim: fgdeploy::sim::Sim,
}

async fn release(extra: &str, faults: Faults) -> Released {
    let (_dir, path) = two_builds(extra, TWO_CONTAINERS);
    let spec = Spec::load(&path, None).expect("spec loads");
    let sim = seeded(&spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    Released { result, events: rec.events(), sim }
}

const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

#[tokio::test]
async fn a_release_builds_every_image_in_parallel_and_the_task_definition_gets_each() {
    let r = release(BUILDS, Faults::default()).await;
    let report = r.result.as_ref().unwrap_or_else(|e| panic!("release: {e}"));
    let plan = &report.plan;
    let planned: Vec<(&str, ImageAction)> = plan.images.iter().map(|i| (i.container.as_str(), i.action)).collect();
    assert_eq!(planned, [("web", ImageAction::Build), ("log-router", ImageAction::Build)]);
    let build = plan.stages.iter().find(|s| s.stage == fgdeploy::plan::Stage::Build).expect("build stage");
    let text = format!("{:?}", build.action);
    assert!(
        text.contains(&format!("build and push {ECR}/web:v2 (container web)"))
            && text.contains(&format!("build and push {ECR}/log-router:v2 (container log-router)")),
        "{text}"
    );
    // Both pushed, each confirmed in ECR and announced with its digest.
    let pushes: Vec<String> = r
        .sim
        .world()
        .mutations
        .iter()
        .filter_map(|(_, m)| match m {
            Mutation::DockerPush { image } => Some(image.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    let pushed: Vec<&Event> = r.events.iter().filter(|e| matches!(e, Event::ImagePushed { digest: Some(_), .. })).collect();
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    // In parallel: both builds started before either finished (their lines carry the container).
    let lines: Vec<String> =
        r.events.iter().filter_map(|e| if let Event::BuildLog { line } = e { Some(line.clone()) } else { None }).collect();
    let first_done = lines.iter().position(|l| l.contains("exporting to image")).expect("a build finished");
    let started: Vec<&String> = lines[..first_done].iter().filter(|l| l.contains("load build definition")).collect();
    assert_eq!(started.len(), 2, "both builds started before the first finished: {lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("[web] ") || l.starts_with("[log-router] ")), "{lines:?}");
    // The registered revision runs both new images.
    let td = r.sim.world().describe_task_definition("web:2").expect("web:2 registered").definition;
    assert_eq!(fgdeploy::taskdef::image_of(&td, "web"), Some(format!("{ECR}/web:v2").as_str()));
    assert_eq!(fgdeploy::taskdef::image_of(&td, "log-router"), Some(format!("{ECR}/log-router:v2").as_str()));
}

#[tokio::test]
async fn pin_digest_pins_every_built_image() {
    let (_dir, path) = two_builds(BUILDS, TWO_CONTAINERS);
    let text = std::fs::read_to_string(&path).expect("spec").replace("tag = \"v2\"", "tag = \"v2\"\npin_digest = true");
    std::fs::write(&path, text).expect("spec");
    let spec = Spec::load(&path, None).expect("spec loads");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let report = engine.release(&spec, &ReleaseOptions::default()).await.expect("release");
    let td = sim.world().describe_task_definition("web:2").expect("web:2").definition;
    assert_eq!(Some(report.plan.image.as_str()), fgdeploy::taskdef::image_of(&td, "web"), "the report names the pinned release image");
    assert!(report.plan.image.contains("/web@sha256:"), "{}", report.plan.image);
    for (container, repo) in [("web", "web"), ("log-router", "log-router")] {
        let image = fgdeploy::taskdef::image_of(&td, container).expect("image").to_string();
        let digest = sim.world().image_digest(repo, "v2").expect("pushed");
        assert_eq!(image, format!("{ECR}/{repo}@{digest}"), "{container}");
    }
}

#[tokio::test]
async fn a_failing_build_is_reported_after_the_others_end_and_nothing_is_registered() {
    let f = Faults { build_fails_for: ["log-router".to_string()].into(), ..Default::default() };
    let r = release(BUILDS, f).await;
    let Err(e) = r.result.as_ref() else { panic!("the release fails") };
    assert_eq!(e.exit_code(), exit::BUILD_FAILED, "{e}");
    assert!(e.to_string().contains("1 of 2 builds failed") && e.to_string().contains("container log-router"), "{e}");
    let w = r.sim.world();
    assert!(
        w.mutations.iter().any(|(_, m)| matches!(m, Mutation::DockerPush { image } if image.ends_with("/web:v2"))),
        "web was still built"
    );
    assert!(!w.mutations.iter().any(|(_, m)| matches!(m, Mutation::RegisterTaskDefinition { .. } | Mutation::UpdateService { .. })));
}

#[tokio::test]
async fn an_image_that_exists_is_not_built_again_and_the_plan_says_where_it_is() {
    let (_dir, path) = two_builds(BUILDS, TWO_CONTAINERS);
    let spec = Spec::load(&path, None).expect("spec loads");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    sim.world().put_image("log-router", "v2");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let r = engine.release(&spec, &ReleaseOptions { dry_run: true, ..Default::default() }).await.expect("plan");
    let planned: Vec<(&str, ImageAction)> = r.plan.images.iter().map(|i| (i.container.as_str(), i.action)).collect();
    assert_eq!(planned, [("web", ImageAction::Build), ("log-router", ImageAction::Exists)]);
    let text = fgdeploy::render::plan_text(&r.plan);
    assert!(text.contains(&format!("image of log-router: {ECR}/log-router:v2 (exists, sha256:")), "{text}");
    assert!(text.contains(&format!("build and push {ECR}/web:v2 (container web)")) && !text.contains("push {ECR}/log-router"), "{text}");
}

#[test]
fn the_plan_lists_each_image_in_text_and_json() {
    let (_dir, path) = two_builds(BUILDS, TWO_CONTAINERS);
    let f = path.to_str().expect("utf-8");
    Test::new()
        .args(["plan", "-f", f, "--sandbox"])
        .status(exit::CHANGES)
        .stdout_has(&format!("image of log-router: {ECR}/log-router:v2 (built by this release)"))
        .stdout_has(&format!("build and push {ECR}/log-router:v2 (container log-router)"));
    let out = Test::new().args(["plan", "-f", f, "--sandbox", "--output", "json"]).status(exit::CHANGES);
    let plan = out.events().into_iter().find(|e| e["event"] == "plan").expect("plan document");
    let images = plan["plan"]["images"].as_array().expect("images").clone();
    let got: Vec<(String, String)> =
        images.iter().map(|i| (i["container"].as_str().unwrap_or("").into(), i["action"].as_str().unwrap_or("").into())).collect();
    assert_eq!(got, [("web".to_string(), "build".to_string()), ("log-router".to_string(), "build".to_string())]);
}

/// Each rule of the sidecar builds, from the command line: file, field and fix, exit 3.
#[test]
fn sidecar_build_mistakes_are_named_with_field_and_fix() {
    let cases: [(&str, &str, &[&str]); 9] = [
        (
            "\n[build.metrics]\nrepository = \"metrics\"\n",
            &TWO_CONTAINERS.replace("{{ images['log-router'] }}", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32"),
            &["build.metrics", "container \"metrics\", which is not in the template", "log-router"],
        ),
        ("\n[build.log-router]\ncontext = \"router\"\n", TWO_CONTAINERS, &["build.log-router.repository", "has no repository"]),
        ("\n[build.log-router]\nrepository = \"log-router:1.0\"\n", TWO_CONTAINERS, &["build.log-router.repository", "as `tag`"]),
        (
            "\n[build]\ncontext = \"app\"\nrepository = \"other\"\n",
            TWO_CONTAINERS,
            &["build.repository", "set by [image]", "image.repository"],
        ),
        ("\n[build]\ncontext = \"app\"\n[build.web]\ncontext = \"app\"\n", TWO_CONTAINERS, &["build.web", "given twice"]),
        (
            BUILDS,
            &TWO_CONTAINERS.replace("{{ images['log-router'] }}", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32"),
            &["containerDefinitions[1].image", "would silently replace it", "images['log-router']"],
        ),
        (
            "\n[build.metrics]\nrepository = \"metrics\"\n",
            TWO_CONTAINERS,
            &["containerDefinitions[1].image", "no container \"log-router\" has an image in this release"],
        ),
        (
            "\n[build.log-router]\nrepository = \"log-router\"\ntag = \"-v1\"\ncommand = []\n",
            TWO_CONTAINERS,
            &["build.log-router.tag", "invalid image tag \"-v1\"", "build.log-router.command", "an empty command"],
        ),
        (
            "\n[build]\ncontext = \"app\"\n[build.log-router]\nrepository = \"web\"\n",
            TWO_CONTAINERS,
            &["build.log-router.repository", "would both be built and pushed as web:v2"],
        ),
    ];
    for (extra, template, wanted) in cases {
        let (_dir, path) = two_builds(extra, template);
        let out = Test::new().args(["validate", "-f", path.to_str().expect("utf-8")]).status(exit::INPUT);
        for w in wanted {
            out.stderr_has(w);
        }
    }
}

/// Only a sidecar's table: the release container is not built (the sandbox has its image, as
/// pushed by someone else), the sidecar is; `[build.<release container>]` is the release container's `[build]`.
#[tokio::test]
async fn a_table_per_container_decides_which_images_are_built() {
    for (extra, want) in [
        ("\n[build.log-router]\nrepository = \"log-router\"\ncontext = \"router\"\n", [ImageAction::Exists, ImageAction::Build]),
        (
            "\n[build.web]\ncontext = \"app\"\n[build.log-router]\nrepository = \"log-router\"\ncontext = \"router\"\n",
            [ImageAction::Build, ImageAction::Build],
        ),
    ] {
        let (_dir, path) = two_builds(extra, TWO_CONTAINERS);
        let spec = Spec::load(&path, None).expect("spec loads");
        assert_eq!(spec.file.build.is_some(), want[0] == ImageAction::Build, "{extra}");
        assert_eq!(spec.file.sidecar_builds.keys().collect::<Vec<_>>(), ["log-router"], "{extra}");
        let sim = seeded(&spec, Faults::default()).expect("seed");
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        let r = engine.release(&spec, &ReleaseOptions { dry_run: true, ..Default::default() }).await.expect("plan");
        let got: Vec<ImageAction> = r.plan.images.iter().map(|i| i.action).collect();
        assert_eq!(got, want, "{extra}");
    }
}

/// `promote` takes every built image at the release's tag with it — the release container's and
/// each `[build.<container>]` in ECR whose tag follows `image.tag` — and reads every manifest
/// before writing the first tag: with one missing, nothing is promoted.
#[tokio::test]
async fn promote_moves_every_built_image_or_none() {
    let extra = format!("{BUILDS}\n[build.metrics]\nrepository = \"metrics\"\ntag = \"1.0\"\ncontext = \"router\"\n");
    let template = TWO_CONTAINERS.replace(
        "\"essential\": false}",
        "\"essential\": false},\n    {\"name\": \"metrics\", \"image\": \"{{ images.metrics }}\", \"memory\": 64, \"essential\": false}",
    );
    let (_dir, path) = two_builds(&extra, &template);
    let spec = Spec::load(&path, Some("v1")).expect("spec loads");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    sim.world().put_image("web", "v1");
    sim.world().put_image("metrics", "1.0");
    let ports = sim.ports();
    let e = fgdeploy::engine::promote(&spec, &ports, "v1", "prod").await.expect_err("log-router:v1 is missing");
    assert!(e.to_string().contains("log-router:v1 is not in ECR") && e.to_string().contains("nothing was promoted"), "{e}");
    assert_eq!(sim.world().image_digest("web", "prod"), None, "nothing was promoted");

    sim.world().put_image("log-router", "v1");
    let report = fgdeploy::engine::promote(&spec, &ports, "v1", "prod").await.expect("promoted");
    let promoted: Vec<&str> = std::iter::once(&report).chain(&report.sidecars).map(|r| r.repository.as_str()).collect();
    assert_eq!(promoted, ["web", "log-router"], "metrics has a tag of its own and is left alone");
    for repo in ["web", "log-router"] {
        let v1 = sim.world().image_digest(repo, "v1");
        assert!(v1.is_some() && sim.world().image_digest(repo, "prod") == v1, "{repo}");
    }
    assert_eq!(sim.world().image_digest("metrics", "prod"), None);
}

/// Before any build: a missing repository created, one `docker login` per registry host (ECR's
/// token for each ECR host, another account's included), then the builds; each push confirmed
/// where it lives (the other account's image by BatchGetImage, not the v2 API) with no warning.
#[tokio::test]
async fn registries_are_prepared_once_each_before_the_builds() {
    let other = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
    let three = TWO_CONTAINERS.replace(
        "\"essential\": false}",
        "\"essential\": false},\n    {\"name\": \"agent\", \"image\": \"{{ images.agent }}\", \"memory\": 64, \"essential\": false}",
    );
    // The service as it ran before: from a deployspec that built only the release image.
    let before = three.replace("{{ images['log-router'] }}", "fluent-bit:1").replace("{{ images.agent }}", "agent:1");
    let (_d0, p0) = two_builds("\n[build]\ncontext = \"app\"\n", &before);
    let sim = seeded(&Spec::load(&p0, None).expect("spec"), Faults::default()).expect("seed");
    let extra = format!(
        "\n[build]\ncontext = \"app\"\n\n[build.log-router]\nrepository = \"log-router\"\ncreate_repository = true\ncontext = \"router\"\n\n[build.agent]\nrepository = \"{other}/agent\"\ncontext = \"router\"\n"
    );
    let (_dir, path) = two_builds(&extra, &three);
    let spec = Spec::load(&path, None).expect("spec loads");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let report = engine.release(&spec, &ReleaseOptions::default()).await.unwrap_or_else(|e| panic!("release: {e}"));
    let actions: Vec<ImageAction> = report.plan.images.iter().map(|i| i.action).collect();
    assert_eq!(actions, [ImageAction::Build, ImageAction::Build, ImageAction::CreateRepositoryAndBuild], "web, agent, log-router");
    let w = sim.world();
    let first_push = w.mutations.iter().position(|(_, m)| matches!(m, Mutation::DockerPush { .. })).expect("pushed");
    let created =
        w.mutations.iter().position(|(_, m)| matches!(m, Mutation::CreateRepository { repository } if repository == "log-router"));
    assert!(created.is_some_and(|c| c < first_push), "the repository is created before the builds: {:?}", w.mutations);
    let mut logins: Vec<(usize, String)> = w
        .mutations
        .iter()
        .enumerate()
        .filter_map(|(i, (_, m))| if let Mutation::DockerLogin { registry } = m { Some((i, registry.clone())) } else { None })
        .collect();
    assert!(logins.iter().all(|(i, _)| *i < first_push), "{logins:?}");
    logins.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(logins.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), [ECR.to_string(), other.to_string()], "one login per registry");
    let agent_digest = w.image_digest("agent", "v2").expect("pushed to the other account's ECR");
    drop(w);
    let events = rec.events();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::ImagePushed { image, digest: Some(d) } if image == &format!("{other}/agent:v2") && d == &agent_digest)
        ),
        "{events:?}"
    );
    let warnings: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Warning { .. })).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// One image: the build's lines as the builder printed them, its failure in the builder's own
/// words; a sidecar's build command with an undefined variable names its own field.
#[tokio::test]
async fn a_single_build_speaks_for_itself_and_a_sidecar_command_names_its_field() {
    let one = "\n[build]\ncontext = \"app\"\n";
    let template = TWO_CONTAINERS.replace("{{ images['log-router'] }}", "fluent-bit:1");
    let (_dir, path) = two_builds(one, &template);
    let spec = Spec::load(&path, None).expect("spec loads");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    engine.release(&spec, &ReleaseOptions::default()).await.unwrap_or_else(|e| panic!("release: {e}"));
    let lines: Vec<String> =
        rec.events().iter().filter_map(|e| if let Event::BuildLog { line } = e { Some(line.clone()) } else { None }).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with('#')), "not prefixed: {lines:?}");

    let sim = seeded(&spec, Faults { build_fails: true, ..Default::default() }).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let Err(e) = engine.release(&spec, &ReleaseOptions::default()).await else { panic!("the build fails") };
    assert!(e.to_string().contains("`docker buildx build` failed") && !e.to_string().contains("builds failed"), "{e}");

    let extra = format!("{BUILDS}command = [\"sh\", \"{{{{ env.FGDEPLOY_TEST_UNSET_BUILD_VAR }}}}\"]\n");
    let (_dir, path) = two_builds(&extra, TWO_CONTAINERS);
    let spec = Spec::load(&path, None).expect("spec loads (the command is rendered when it runs)");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let Err(e) = engine.release(&spec, &ReleaseOptions::default()).await else { panic!("the command cannot be rendered") };
    assert_eq!(e.exit_code(), exit::INPUT, "{e}");
    assert!(e.to_string().contains("build.log-router.command[1]") && e.to_string().contains("FGDEPLOY_TEST_UNSET_BUILD_VAR"), "{e}");
    assert!(sim.world().mutations.is_empty(), "reported before any change: {:?}", sim.world().mutations);
}

/// A tag is 1 to 128 characters, for a sidecar's image as for the release's.
#[test]
fn a_sidecar_tag_may_have_128_characters_not_129_nor_0() {
    for (len, code) in [(128, exit::OK), (129, exit::INPUT), (0, exit::INPUT)] {
        let extra = format!("{BUILDS}tag = \"{}\"\n", "a".repeat(len));
        let (_dir, path) = two_builds(&extra, TWO_CONTAINERS);
        let out = Test::new().args(["validate", "-f", path.to_str().expect("utf-8")]).status(code);
        if code == exit::INPUT {
            out.stderr_has("build.log-router.tag").stderr_has("invalid image tag");
        }
    }
}
