//! The bad-input corpus: every case exits with the documented code and a message that names the
//! file (and the field, where there is one) and the fix; never a panic.

use crate::harness::{TEMPLATE, Test, base_spec};
use fgdeploy::error::exit;

struct Case {
    name: &'static str,
    /// Spec text; `BASE` is replaced by a valid base spec.
    spec: &'static str,
    /// Template text; None = the valid default.
    template: Option<&'static str>,
    /// Command (`validate` is offline; `plan --sandbox` needs a live service).
    cmd: &'static [&'static str],
    code: i32,
    /// Substrings the error must contain (besides the file name and "fix:").
    expect: &'static [&'static str],
    /// Which file the message must name: "spec", "template" or "" (flags).
    names: &'static str,
}

const BASE: &str = "BASE";
const VALIDATE: &[&str] = &["validate"];
const SANDBOX_PLAN: &[&str] = &["plan", "--sandbox"];

fn cases() -> Vec<Case> {
    let c = |name, spec, template, cmd, code, expect, names| Case { name, spec, template, cmd, code, expect, names };
    vec![
        c("malformed TOML", "[service\ncluster = 1", None, VALIDATE, exit::INPUT, &["not valid TOML", "web.toml:1:"], "spec"),
        c(
            "unknown key",
            "BASE\n[rollback]\nautomatc = true\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["unknown field `automatc`", "field `rollback.automatc`"],
            "spec",
        ),
        c(
            "missing required key",
            "[service]\ncluster = \"c\"\n[image]\nrepository = \"r\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["missing field `name`", "field `service`"],
            "spec",
        ),
        c(
            "undefined env variable",
            "BASE\n[migration]\ncommand = [\"{{ env.FGDEPLOY_TEST_UNDEFINED }}\"]\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["FGDEPLOY_TEST_UNDEFINED", "migration.command[0]", "export"],
            "spec",
        ),
        c(
            "unknown variable",
            "BASE\n[build]\ncontext = \"{{ foo.bar }}\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["unknown variable", "build.context"],
            "spec",
        ),
        c("unterminated variable", "BASE\n[build]\ncontext = \"{{ git.sha\"\n", None, VALIDATE, exit::INPUT, &["unterminated"], "spec"),
        c(
            "bad duration",
            "BASE\n[deploy]\ntimeout = \"soon\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["invalid duration", "deploy.timeout"],
            "spec",
        ),
        c(
            "unknown strategy",
            "BASE\n[deploy]\nstrategy = \"yolo\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["unknown variant `yolo`", "deploy.strategy"],
            "spec",
        ),
        c(
            "percent out of range",
            "BASE\n[deploy.rolling]\nminimum_healthy_percent = 150\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["out of range", "minimum_healthy_percent"],
            "spec",
        ),
        c(
            "blue-green without section",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["deploy.blue_green"],
            "spec",
        ),
        c(
            "wrong value type",
            "[service]\ncluster = \"c\"\nname = \"s\"\ndesired_count = \"four\"\n[image]\nrepository = \"r\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["invalid type", "service.desired_count"],
            "spec",
        ),
        c(
            "invalid image tag",
            "[service]\ncluster = \"c\"\nname = \"s\"\n[image]\nrepository = \"r\"\ntag = \"not a tag!\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["invalid image tag", "image.tag"],
            "spec",
        ),
        c(
            "missing template file",
            "[service]\ncluster = \"c\"\nname = \"s\"\n[image]\nrepository = \"rep\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"nope.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["cannot read the task-definition template", "task_definition.template"],
            "spec",
        ),
        c(
            "malformed JSON template",
            BASE,
            Some("{\"family\": \"web\",\n  \"containerDefinitions\": [}"),
            VALIDATE,
            exit::INPUT,
            &["not valid JSON", "web.taskdef.json:2:"],
            "template",
        ),
        c(
            "unknown task-definition field",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"web","image":"x","portMapings":[]}]}"#),
            VALIDATE,
            exit::INPUT,
            &["unknown field `portMapings`", "containerDefinitions[0]"],
            "template",
        ),
        c(
            "unknown nested field",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"web","image":"x","healthCheck":{"command":["x"],"intervall":5}}]}"#),
            VALIDATE,
            exit::INPUT,
            &["intervall", "containerDefinitions[0].healthCheck"],
            "template",
        ),
        c(
            "undefined variable in template",
            BASE,
            Some(
                r#"{"family":"web","containerDefinitions":[{"name":"web","image":"{{ image }}","environment":[{"name":"X","value":"{{ env.FGDEPLOY_TEST_NOPE }}"}]}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["FGDEPLOY_TEST_NOPE", "containerDefinitions[0].environment[0].value"],
            "template",
        ),
        c(
            "wrong type in template",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"web","image":"x","memory":"lots"}]}"#),
            VALIDATE,
            exit::INPUT,
            &["invalid type", "containerDefinitions[0].memory"],
            "template",
        ),
        c(
            "bad Fargate cpu/memory",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"4096","containerDefinitions":[{"name":"web","image":"x"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["no task size", "memory must be"],
            "template",
        ),
        c(
            "bad Fargate cpu",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"300","memory":"512","containerDefinitions":[{"name":"web","image":"x"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["cpu must be one of", "field `cpu`"],
            "template",
        ),
        c(
            "Fargate without awsvpc",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"bridge","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"x"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["found \"bridge\"", "networkMode"],
            "template",
        ),
        c(
            "Fargate without task size",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"containerDefinitions":[{"name":"web","image":"x"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["task-level cpu and memory"],
            "template",
        ),
        c(
            "release container missing",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"app","image":"x"}]}"#),
            VALIDATE,
            exit::INPUT,
            &["\"web\"", "not in the task definition", "task_definition.container"],
            "template",
        ),
        c(
            "duplicate container names",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"web","image":"x"},{"name":"web","image":"y"}]}"#),
            VALIDATE,
            exit::INPUT,
            &["used twice", "containerDefinitions[1].name"],
            "template",
        ),
        c(
            "sidecar without image",
            BASE,
            Some(r#"{"family":"web","containerDefinitions":[{"name":"web"},{"name":"log"}]}"#),
            VALIDATE,
            exit::INPUT,
            &["\"log\" has no image", "containerDefinitions[1].image"],
            "template",
        ),
        c(
            "bad family",
            BASE,
            Some(r#"{"family":"web app","containerDefinitions":[{"name":"web","image":"x"}]}"#),
            VALIDATE,
            exit::INPUT,
            &["invalid family"],
            "template",
        ),
        c(
            "100/100 deadlock",
            "BASE\n[deploy.rolling]\nminimum_healthy_percent = 100\nmaximum_percent = 100\n",
            None,
            SANDBOX_PLAN,
            exit::INPUT,
            &["never progress", "deploy.rolling", "maximum_percent"],
            "spec",
        ),
        c(
            "outage behind a load balancer",
            "BASE\n[deploy.rolling]\nminimum_healthy_percent = 0\nmaximum_percent = 100\n",
            None,
            SANDBOX_PLAN,
            exit::INPUT,
            &["outage", "--allow-downtime"],
            "spec",
        ),
        // ----- AWS limits and formats, JSON hygiene, task-definition sanity (offline) -----
        c(
            "no essential container",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","essential":false}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["no container is essential", "containerDefinitions"],
            "template",
        ),
        c(
            "hostPort differs under awsvpc",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","portMappings":[{"containerPort":8080,"hostPort":80}]}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["hostPort 80 differs", "containerDefinitions[0].portMappings[0].hostPort"],
            "template",
        ),
        c(
            "port bound twice",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","portMappings":[{"containerPort":8080}]},{"name":"side","image":"x","portMappings":[{"containerPort":8080}]}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["bound twice", "containerDefinitions[1].portMappings[0]"],
            "template",
        ),
        c(
            "health check out of range",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","healthCheck":{"command":["CMD","true"],"interval":1,"retries":11}}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["healthCheck.interval", "use 5 to 300", "healthCheck.retries"],
            "template",
        ),
        c(
            "container memory above the task's",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","memory":1024}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["1024 MiB does not fit", "containerDefinitions[0].memory"],
            "template",
        ),
        c(
            "containers' cpu above the task's",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","cpu":200},{"name":"side","image":"x","cpu":100}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["adds up to 300"],
            "template",
        ),
        c(
            "not FARGATE-compatible",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["requiresCompatibilities", "FARGATE"],
            "template",
        ),
        c(
            "EC2-only fields",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","placementConstraints":[{"type":"memberOf","expression":"x"}],"containerDefinitions":[{"name":"web","image":"{{ image }}","links":["side"],"privileged":true},{"name":"side","image":"x"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["placementConstraints", "containerDefinitions[0].links", "containerDefinitions[0].privileged"],
            "template",
        ),
        c(
            "image placeholder outside the image",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","environment":[{"name":"IMG","value":"{{ image }}"}]}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["containerDefinitions[0].environment[0].value", "outside the release container's image"],
            "template",
        ),
        c(
            "pinned image in the release container",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"nginx:1.27"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["does not take", "allow_pinned_image"],
            "template",
        ),
        c(
            "dependsOn an unknown container",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","containerDefinitions":[{"name":"web","image":"{{ image }}","dependsOn":[{"containerName":"db","condition":"HEALTHY"}]}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["depends on \"db\"", "dependsOn[0].containerName"],
            "template",
        ),
        c(
            "duplicate JSON key",
            BASE,
            Some(
                "{\"family\":\"web\",\"networkMode\":\"awsvpc\",\"requiresCompatibilities\":[\"FARGATE\"],\"cpu\":\"256\",\n\"memory\":\"512\",\"memory\":\"1024\",\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"{{ image }}\"}]}",
            ),
            VALIDATE,
            exit::INPUT,
            &["duplicate key \"memory\"", "web.taskdef.json:2:"],
            "template",
        ),
        c(
            "reserved tag prefix",
            BASE,
            Some(
                r#"{"family":"web","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512","tags":[{"key":"aws:owner","value":"me"}],"containerDefinitions":[{"name":"web","image":"{{ image }}"}]}"#,
            ),
            VALIDATE,
            exit::INPUT,
            &["reserved aws: prefix", "tags[0].key"],
            "template",
        ),
        c(
            "invalid service name",
            "[service]\ncluster = \"demo\"\nname = \"my web\"\n[image]\nrepository = \"web\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["invalid service name", "service.name"],
            "spec",
        ),
        c(
            "invalid cluster and repository at once",
            "[service]\ncluster = \"de mo\"\nname = \"web\"\n[image]\nrepository = \"My_Repo\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["service.cluster", "image.repository", "invalid repository \"My_Repo\""],
            "spec",
        ),
        c(
            "invalid region",
            "[service]\ncluster = \"demo\"\nname = \"web\"\nregion = \"Mars-1\"\n[image]\nrepository = \"web\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["service.region"],
            "spec",
        ),
        c(
            "rolling and blue_green both present",
            "BASE\n[deploy.rolling]\nmaximum_percent = 200\n[deploy.blue_green]\ncontainer_port = 8080\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["both present", "field `deploy`"],
            "spec",
        ),
        c(
            // #23 item 7: an ECS AppSpec has no BeforeAllowTestTraffic; CreateDeployment would
            // refuse it after the revision was registered.
            "AppSpec hook name an ECS deployment does not have",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\n[deploy.blue_green.hooks]\nBeforeAllowTestTraffic = \"arn:aws:lambda:us-east-1:123456789012:function:smoke\"\nafterallowtraffic = \"smoke\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["deploy.blue_green.hooks.BeforeAllowTestTraffic", "AfterAllowTestTraffic", "did you mean AfterAllowTraffic?"],
            "spec",
        ),
        c(
            "container_port not mapped",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 9999\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["9999 is not a mapped port", "deploy.blue_green.container_port"],
            "spec",
        ),
        c(
            "checks that check nothing",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\n[[deploy.blue_green.checks]]\npath = \"/health\"\nconsecutive = 0\nstatus = 700\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["checks[0].consecutive", "checks[0].status", "700 is not an HTTP status"],
            "spec",
        ),
        c(
            "empty migration argument",
            "BASE\n[migration]\ncommand = [\"migrate\", \"\"]\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["migration.command[1]", "empty argument"],
            "spec",
        ),
        c(
            "migration container missing",
            "BASE\n[migration]\ncommand = [\"migrate\"]\ncontainer = \"db\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["migration container \"db\" is not in the template"],
            "spec",
        ),
        c(
            "zero timeouts",
            "BASE\n[migration]\ncommand = [\"migrate\"]\ntimeout = \"0s\"\n[rollback]\ntimeout = \"0s\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["migration.timeout", "rollback.timeout", "more than 0"],
            "spec",
        ),
        c("zero --timeout", BASE, None, &["release", "--sandbox", "--timeout", "0s"], exit::INPUT, &["--timeout"], ""),
        c("bad flag value", BASE, None, &["release", "--sandbox", "--timeout", "soon"], exit::INPUT, &["--timeout"], ""),
        c("unknown flag", BASE, None, &["plan", "--frobnicate"], exit::INPUT, &["--frobnicate"], ""),
        c(
            "service definition AWS would reject, all at once",
            "BASE\n[service.definition]\nplatform_version = \"latest\"\ndeployment_controller = \"EXTERNAL\"\n\n[service.definition.network]\nsubnets = [\"subnet-xyz\"]\n\n[[service.definition.capacity_provider_strategy]]\ncapacity_provider = \"FARGATE\"\nbase = 1\nweight = 1\n\n[[service.definition.capacity_provider_strategy]]\ncapacity_provider = \"FARGATE_SPOT\"\nbase = 2\n\n[[service.definition.load_balancers]]\ntarget_group_arn = \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1\"\ncontainer_name = \"web\"\ncontainer_port = 9090\n\n[service.definition.service_connect]\nenabled = true\n[[service.definition.service_connect.services]]\nport_name = \"grpc\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &[
                "service.definition.platform_version",
                "service.definition.deployment_controller",
                "EXTERNAL",
                "\"subnet-xyz\" is not a subnet id",
                "more than one capacity provider has a base",
                "service.definition.load_balancers[0].container_port",
                "9090 is not a mapped port",
                "service.definition.service_connect.services[0].port_name",
            ],
            "spec",
        ),
        c(
            "a service definition with an unknown propagate_tags value",
            "BASE\n[service.definition]\npropagate_tags = \"ALL\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["unknown variant `ALL`", "service.definition.propagate_tags"],
            "spec",
        ),
        // #29: bad [analysis] is refused offline, before any AWS call.
        c(
            "an unknown analysis metric",
            "BASE\n[[analysis.metrics]]\nmetric = \"error-budget\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics[0].metric", "unknown metric \"error-budget\"", "5xx-rate, latency-p50"],
            "spec",
        ),
        c(
            "a custom analysis metric with an empty query",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\n[[analysis.metrics]]\nmetric = \"custom\"\nquery = \"  \"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics[0].query", "a custom metric without a query", "metric-math expression"],
            "spec",
        ),
        c(
            "a negative analysis tolerance",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\n[[analysis.metrics]]\nmetric = \"5xx-rate\"\ntolerance = { relative = -0.1 }\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics[0].tolerance.relative", "-0.1 is negative", "a tolerance is 0 or more"],
            "spec",
        ),
        c(
            "target-group metrics on a rolling service",
            "BASE\n[[analysis.metrics]]\nmetric = \"latency-p99\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics[0].metric", "a rolling service has none per revision", "{{ revision }}"],
            "spec",
        ),
        c(
            "an analysis query with an unknown placeholder",
            "BASE\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"LINEAR\"\n[[analysis.metrics]]\nmetric = \"custom\"\nquery = \"m1 + {{ target_grup }}\"\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics[0].query", "target_grup", "{{ target_group }}"],
            "spec",
        ),
        c(
            "an analysis section without metrics and with an impossible confidence",
            "BASE\n[analysis]\nconfidence = 1.5\n",
            None,
            VALIDATE,
            exit::INPUT,
            &["analysis.metrics", "names no metric", "analysis.confidence", "1.5 is not a probability"],
            "spec",
        ),
    ]
}

#[test]
fn every_bad_input_exits_with_its_code_and_names_file_field_and_fix() {
    let mut table = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    for case in &cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec_text = case.spec.replace(BASE, &base_spec("demo", "web"));
        std::fs::write(dir.path().join("web.toml"), spec_text).expect("write spec");
        std::fs::write(dir.path().join("web.taskdef.json"), case.template.unwrap_or(TEMPLATE)).expect("write template");
        let spec = dir.path().join("web.toml");
        let mut args: Vec<String> = case.cmd.iter().map(|s| s.to_string()).collect();
        args.extend(["-f".to_string(), spec.display().to_string()]);
        let out = Test::new().args(&args).run();
        let msg = out.stderr.clone();
        let mut problems = Vec::new();
        if out.code != case.code {
            problems.push(format!("exit {} (want {})", out.code, case.code));
        }
        if msg.contains("panicked") {
            problems.push("panic".into());
        }
        for e in case.expect {
            if !msg.contains(e) {
                problems.push(format!("message lacks {e:?}"));
            }
        }
        let file = match case.names {
            "spec" => Some("web.toml"),
            "template" => Some("web.taskdef.json"),
            _ => None,
        };
        if let Some(f) = file {
            if !msg.contains(f) {
                problems.push(format!("message does not name {f}"));
            }
            if !msg.contains("fix:") {
                problems.push("message has no fix".into());
            }
        }
        table.push((case.name, out.code, problems.clone(), msg.lines().next().unwrap_or("").to_string()));
    }
    println!("{:<34} {:>4}  result", "bad input", "exit");
    for (name, code, problems, first) in &table {
        println!("{name:<34} {code:>4}  {}", if problems.is_empty() { format!("ok: {first}") } else { problems.join("; ") });
    }
    let failed: Vec<_> = table.iter().filter(|t| !t.2.is_empty()).collect();
    assert!(failed.is_empty(), "{} case(s) failed: {:?}", failed.len(), failed.iter().map(|t| (t.0, &t.2)).collect::<Vec<_>>());
}

/// Every offline case above is refused the same way by `validate`, `plan --sandbox` and
/// `release --sandbox`: exit 3, no panic, well under 20 s, and nothing secret on screen.
#[test]
fn validate_plan_and_release_refuse_the_same_inputs_without_leaking_secrets() {
    const SECRET: &str = "hunter2-do-not-print";
    let mut failures = Vec::new();
    for case in cases().iter().filter(|c| c.cmd == VALIDATE) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("web.toml"), case.spec.replace(BASE, &base_spec("demo", "web"))).expect("spec");
        // A secret next to whatever is wrong: it must never be echoed.
        let template = case.template.unwrap_or(TEMPLATE).replacen(
            "\"containerDefinitions\"",
            &format!("\"tags\": [{{\"key\": \"DB_PASSWORD\", \"value\": \"{SECRET}\"}}], \"containerDefinitions\""),
            usize::from(!case.template.unwrap_or(TEMPLATE).contains("\"tags\"")),
        );
        std::fs::write(dir.path().join("web.taskdef.json"), template).expect("template");
        let spec = dir.path().join("web.toml").display().to_string();
        for cmd in [&["validate"][..], &["plan", "--sandbox"], &["release", "--sandbox"]] {
            let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            args.extend(["-f".into(), spec.clone()]);
            let started = std::time::Instant::now();
            let out = Test::new().args(&args).run();
            let took = started.elapsed();
            let all = format!("{}{}", out.stdout, out.stderr);
            if out.code != exit::INPUT || all.contains("panicked") || all.contains(SECRET) || took.as_secs() >= 20 {
                failures.push(format!(
                    "{} / {}: exit {} in {took:?}: {}",
                    case.name,
                    cmd.join(" "),
                    out.code,
                    all.lines().next().unwrap_or("")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every problem of a deployspec in one run, each with its line, a snippet and a caret; the same
/// problems as data in the JSON error document.
#[test]
fn problems_show_their_line_with_a_caret_and_as_json() {
    let spec = format!(
        "{}\n[deploy.rolling]\nmaximum_percent = 90\n\n[service.definition]\nplatform_version = \"latest\"\n",
        base_spec("demo", "web")
    );
    let (_d, path) = crate::harness::spec_dir_with(&spec, TEMPLATE);
    let f = path.to_str().expect("utf-8");
    let out = Test::new().args(["validate", "-f", f]).status(exit::INPUT);
    out.stderr_has("maximum_percent = 90\n")
        .stderr_has("|                   ^^")
        .stderr_has("platform_version = \"latest\"")
        .stderr_has("^^^^^^^^");
    let json = Test::new().args(["validate", "-f", f, "--output", "json"]).status(exit::INPUT);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.lines().last().expect("a line")).expect("JSON");
    crate::harness::check_json(&doc, "events");
    let problems = doc["problems"].as_array().expect("problems");
    assert!(problems.len() >= 2, "{doc}");
    let p = problems.iter().find(|p| p["field"] == "service.definition.platform_version").expect("the platform problem");
    let line = spec.lines().position(|l| l.starts_with("platform_version")).expect("line") + 1;
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(line as u64), Some(20)), "{p}");
    assert!(p["fix"].as_str().is_some_and(|f| f.contains("LATEST")), "{p}");
}

/// A task-definition template's problems are located in the JSON too: line, column, the line and
/// a caret under the value — in text and in the JSON error document — except a line of
/// `environment` or `secrets`, which is placed but never shown.
#[test]
fn template_problems_show_their_line_with_a_caret_and_environment_lines_are_never_shown() {
    let template = "{\n  \"family\": \"web\",\n  \"networkMode\": \"awsvpc\",\n  \"requiresCompatibilities\": [\"FARGATE\"],\n  \"cpu\": \"256\",\n  \"memory\": \"512\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\", \"image\": \"{{ image }}\", \"memory\": 384,\n     \"environment\": [{\"name\": \"DB_URL\", \"value\": \"postgres://app:hunter2@db/{{ env.FGDEPLOY_TEST_UNSET_DB }}\"}]},\n    {\"name\": \"log-router\",\n     \"image\": \"fluent/fluent-bit:3.0\",\n     \"memory\": 128, \"essential\": false}\n  ]\n}\n";
    let spec = format!("{}\n[build.log-router]\nrepository = \"log-router\"\n", base_spec("demo", "web"));
    let (_d, path) = crate::harness::spec_dir_with(&spec, &template.replace("{{ env.FGDEPLOY_TEST_UNSET_DB }}", "app"));
    let f = path.to_str().expect("utf-8");
    let out = Test::new().args(["validate", "-f", f]).status(exit::INPUT);
    out.stderr_has("web.taskdef.json")
        .stderr_has("11 |      \"image\": \"fluent/fluent-bit:3.0\",\n")
        .stderr_has("|               ^^^^^^^^^^^^^^^^^^^^^^^\n");
    let json = Test::new().args(["validate", "-f", f, "--output", "json"]).status(exit::INPUT);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.lines().last().expect("a line")).expect("JSON");
    let p = doc["problems"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["field"] == "containerDefinitions[1].image").cloned())
        .expect("the image problem");
    assert!(p["file"].as_str().is_some_and(|f| f.ends_with("web.taskdef.json")), "{p}");
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(11), Some(15)), "{p}");

    // An unset variable inside an environment value: placed, the line (a credential on it) not shown.
    let (_d, path) = crate::harness::spec_dir_with(&base_spec("demo", "web"), template);
    let out = Test::new().args(["validate", "-f", path.to_str().expect("utf-8")]).status(exit::INPUT);
    out.stderr_has("FGDEPLOY_TEST_UNSET_DB").stderr_has("at line 9, column").stderr_has("the line is not shown");
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

/// serde's problems do not stop at the first: every unknown key and every value of the wrong
/// type of the deployspec (its `[build.<container>]` tables included) and of the template in one
/// run, each located.
#[test]
fn every_type_error_and_unknown_key_is_reported_in_one_run() {
    let spec = format!(
        "{}desired_cout = 3\n\n[deploy]\ntimeout = 90\n\n[deploy.rolling]\nmaximum_percent = \"two hundred\"\n\n[build.log-router]\nrepository = \"log-router\"\ncache = \"yes\"\n",
        base_spec("demo", "web").replace("[image]", "[image]\npin_digest = \"true\"")
    );
    let (_d, path) = crate::harness::spec_dir_with(&spec, TEMPLATE);
    let json = Test::new().args(["validate", "-f", path.to_str().expect("utf-8"), "--output", "json"]).status(exit::INPUT);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.lines().last().expect("a line")).expect("JSON");
    let mut fields: Vec<String> =
        doc["problems"].as_array().expect("problems").iter().map(|p| p["field"].as_str().unwrap_or("-").to_string()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["build.log-router.cache", "deploy.rolling.maximum_percent", "deploy.timeout", "image.pin_digest", "task_definition.desired_cout"],
        "{doc}"
    );
    assert!(doc["problems"].as_array().expect("problems").iter().all(|p| p["line"].as_u64().is_some()), "each located: {doc}");

    let template =
        TEMPLATE.replace("\"memory\": 512,", "\"memory\": \"lots\", \"essentials\": true,").replace("\"cpu\": \"256\"", "\"cpu\": [256]");
    let (_d, path) = crate::harness::spec_dir_with(&base_spec("demo", "web"), &template);
    let out = Test::new().args(["validate", "-f", path.to_str().expect("utf-8")]).status(exit::INPUT);
    out.stderr_has("containerDefinitions[0].memory")
        .stderr_has("containerDefinitions[0].essentials")
        .stderr_has("field `cpu`: expected a string or a number");
}
