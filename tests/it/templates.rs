//! The template engine end to end: account lookups answered before the real load (the sandbox's
//! stand-ins here; moto in `moto.rs`), listed in the plan, SecureStrings never shown, a failing
//! lookup reported with its fix before any change; a build command rendered by the same engine.

use crate::harness::{TEMPLATE, Test, base_spec, spec_dir_with};
use fgdeploy::error::exit;

const LOOKUP_TEMPLATE: &str = r#"{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{ image }}", "memory": 512,
     "portMappings": [{"containerPort": 8080}],
     "environment": [
       {"name": "DB_URL", "value": "{{ ssm('/app/secure/db_url') }}"},
       {"name": "QUEUE", "value": "{{ cfn_output('queues', 'Url') }}"},
       {"name": "SUBNET", "value": "{{ tfstate('aws_subnet.a.id') }}"},
       {"name": "STAGE", "value": "{{ env('FGDEPLOY_TEST_STAGE_UNSET', 'staging') }}"},
       {"name": "QUOTED", "value": "{{ env.FGDEPLOY_TEST_QUOTED }}"}
     ],
     "secrets": [{"name": "API", "valueFrom": "{{ secret_arn('api-key') }}"}]}
  ]
}"#;

const STATE: &str = r#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_subnet", "name": "a", "instances": [{"attributes": {"id": "subnet-0123456789abcdef0"}}]}]}"#;

fn spec_with_lookups() -> (tempfile::TempDir, std::path::PathBuf) {
    // The SecureString in a plaintext environment value is accepted explicitly (#24).
    let spec = format!(
        "{}allow_plaintext = [\"containerDefinitions[web].environment[DB_URL]\"]\n\n[lookups]\ntfstate_file = \"terraform.tfstate\"\n",
        base_spec("demo", "web")
    );
    let (dir, path) = spec_dir_with(&spec, LOOKUP_TEMPLATE);
    std::fs::write(dir.path().join("terraform.tfstate"), STATE).expect("state");
    (dir, path)
}

#[test]
fn lookups_are_answered_listed_and_secure_strings_never_shown() {
    let (_dir, path) = spec_with_lookups();
    let f = path.to_str().expect("utf-8");
    let out = Test::new().env("FGDEPLOY_TEST_QUOTED", "a \"quoted\" \\ value").args(["plan", "-f", f, "--sandbox"]).status(exit::CHANGES);
    out.stdout_has("Lookups:")
        .stdout_has("ssm(\"/app/secure/db_url\") = (secret)")
        .stdout_has("cfn_output(\"queues\", \"Url\") = sandbox:queues:Url")
        .stdout_has("tfstate(\"aws_subnet.a.id\") = subnet-0123456789abcdef0")
        .stdout_has("secret_arn(\"api-key\") = arn:aws:secretsmanager:us-east-1:123456789012:secret:api-key-AbCdEf");
    assert!(!out.stdout.contains("sandbox:ssm:/app/secure/db_url"), "a SecureString is never printed:\n{}", out.stdout);
    let json = Test::new().env("FGDEPLOY_TEST_QUOTED", "x").args(["plan", "-f", f, "--sandbox", "--output", "json"]).status(exit::CHANGES);
    assert!(!json.stdout.contains("sandbox:ssm:/app/secure/db_url"), "nor in JSON:\n{}", json.stdout);
    assert!(json.stdout.contains("\"lookups\""), "{}", json.stdout);
    // #24: the lookups' calls are AWS calls of the run and count in its totals.
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("one JSON document");
    for op in ["ssm:GetParameter", "cloudformation:DescribeStacks", "secretsmanager:DescribeSecret"] {
        assert!(doc["api_calls"][op].as_u64().is_some_and(|n| n >= 1), "{op} counted: {}", doc["api_calls"]);
    }
}

#[test]
fn a_failing_lookup_names_itself_and_the_fix_before_any_change() {
    let spec = format!("{}\n[lookups]\ntfstate_file = \"missing.tfstate\"\n", base_spec("demo", "web"));
    let (_dir, path) = spec_dir_with(&spec, LOOKUP_TEMPLATE);
    let f = path.to_str().expect("utf-8");
    let out = Test::new().env("FGDEPLOY_TEST_QUOTED", "x").args(["release", "-f", f, "--sandbox"]).status(exit::INPUT);
    out.stderr_has("lookup tfstate(\"aws_subnet.a.id\") failed").stderr_has("missing.tfstate").stderr_has("lookups.tfstate_file");
    // An unset variable without a default, and must_env, name the variable and how to set it.
    let t = TEMPLATE.replace("\"value\": \"1\"", "\"value\": \"{{ must_env('FGDEPLOY_TEST_NOPE') }}\"");
    let (_d, p) = spec_dir_with(&base_spec("demo", "web"), &t);
    Test::new()
        .args(["validate", "-f", p.to_str().expect("utf-8")])
        .status(exit::INPUT)
        .stderr_has("FGDEPLOY_TEST_NOPE is not set")
        .stderr_has("export FGDEPLOY_TEST_NOPE");
}

#[test]
fn the_old_variable_syntax_and_jinja_expressions_both_work() {
    let spec = format!(
        "{}\n[migration]\ncommand = [\"{{{{ env.FGDEPLOY_TEST_CMD }}}}\", \"{{% if env.FGDEPLOY_TEST_CMD == 'migrate' %}}up{{% else %}}down{{% endif %}}\", \"{{{{ env('FGDEPLOY_TEST_UNSET_X', 'fallback') }}}}\"]\n",
        base_spec("demo", "web")
    );
    let (_d, p) = spec_dir_with(&spec, TEMPLATE);
    let out = Test::new().env("FGDEPLOY_TEST_CMD", "migrate").args(["plan", "-f", p.to_str().expect("utf-8"), "--sandbox"]).run();
    assert!(out.stdout.contains("migrate up fallback"), "{}\n{}", out.stdout, out.stderr);
}

/// The answers land in the task definition as values, escaped by the JSON serializer.
#[tokio::test]
async fn answers_land_in_the_task_definition_escaped() {
    let (_dir, path) = spec_with_lookups();
    let scan = fgdeploy::spec::scan(&path, None).expect("scan");
    assert_eq!(scan.lookups.len(), 4, "{:?}", scan.lookups);
    let answers = fgdeploy::engine::answer_lookups(&scan, &fgdeploy::sandbox::lookup_ports()).await.expect("answers");
    // SAFETY of the test: a variable name no other test uses.
    let spec = {
        let vars = fgdeploy::vars::Vars::from_process(path.parent().expect("dir"))
            .with_env([("FGDEPLOY_TEST_QUOTED".to_string(), "a \"quoted\" \\ value".to_string())].into())
            .with_lookups(std::sync::Arc::new(fgdeploy::lookups::LookupTable::answered(answers)));
        fgdeploy::spec::Spec::load_with(&path, None, vars).expect("load")
    };
    let td = spec.render_task_definition("r/web:1").expect("render");
    let env: std::collections::BTreeMap<String, String> = td.container_definitions[0]
        .environment
        .iter()
        .flatten()
        .map(|e| (e.name.clone().unwrap_or_default(), e.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(env["DB_URL"], "sandbox:ssm:/app/secure/db_url", "a SecureString reaches the value that needs it");
    assert_eq!(env["SUBNET"], "subnet-0123456789abcdef0");
    assert_eq!(env["STAGE"], "staging");
    assert_eq!(env["QUOTED"], "a \"quoted\" \\ value");
    let json = serde_json::to_string(&td).expect("json");
    assert!(json.contains(r#"a \"quoted\" \\ value"#), "escaped where it lands: {json}");
    assert_eq!(spec.lookups().iter().filter(|l| l.value == "(secret)").count(), 1);
}

/// #24: a SecureString's value in a service tag is refused before any change (it would go
/// through TagResource in plaintext); accepted with `allow_plaintext`, it never reaches the JSON
/// plan (its `service_tags` said it in clear while `service_changes` and the human plan said
/// `(redacted)`).
#[test]
fn a_secure_string_in_a_service_tag_is_refused_or_redacted_in_the_json_plan() {
    let tags = "\n[service.definition]\ntags = { team = \"payments\", db = \"{{ ssm('/app/secure/db_url') }}\" }\n";
    let (_dir, path) = spec_dir_with(&format!("{}{tags}", base_spec("demo", "web")), TEMPLATE);
    let f = path.to_str().expect("utf-8");
    let refused = Test::new().args(["plan", "-f", f, "--sandbox"]).status(exit::INPUT);
    refused.stderr_has("service.definition.tags.db").stderr_has("allow_plaintext");
    assert!(!refused.stderr.contains("sandbox:ssm:/app/secure/db_url"), "{}", refused.stderr);
    let allowed = format!("{}allow_plaintext = [\"service.definition.tags.db\"]\n{tags}", base_spec("demo", "web"));
    let (_dir, path) = spec_dir_with(&allowed, TEMPLATE);
    let f = path.to_str().expect("utf-8");
    let json = Test::new().args(["plan", "-f", f, "--sandbox", "--output", "json"]).status(exit::CHANGES);
    assert!(!json.stdout.contains("sandbox:ssm:/app/secure/db_url"), "{}", json.stdout);
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("one JSON document");
    assert_eq!(doc["plan"]["service_tags"]["db"], "(redacted)", "{}", doc["plan"]);
    assert_eq!(doc["plan"]["service_tags"]["team"], "payments");
}

/// #24: a credential-shaped value under a harmless name (`GREETING=ghp_…`) is refused offline
/// (`validate`, exit 3), the field named and the value never shown.
#[test]
fn a_token_shaped_value_in_a_plaintext_field_is_refused_offline() {
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let t = TEMPLATE.replace("\"value\": \"1\"", &format!("\"value\": \"{token}\""));
    let (_d, p) = spec_dir_with(&base_spec("demo", "web"), &t);
    let out = Test::new().args(["validate", "-f", p.to_str().expect("utf-8")]).status(exit::INPUT);
    out.stderr_has("credential-shaped").stderr_has("secrets");
    assert!(!out.stderr.contains(token) && !out.stdout.contains(token), "{}", out.stderr);
}

/// #24: a credential-shaped value a field is allowed to hold in plaintext is accepted (no exit 3)
/// and not printed by `plan` or `release`, human or JSON. (The sandbox's live revision carries the
/// same value, so no diff shows it here: the redaction of a changed value is shown by
/// `taint::redaction::a_credential_allowed_in_plaintext_is_still_hidden_in_a_diff` and, for a
/// tag that changes, by `an_allowed_credential_in_a_service_tag_is_never_shown`.)
#[test]
fn an_allowed_token_shaped_value_is_accepted_and_not_printed() {
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let t = TEMPLATE.replace("\"value\": \"1\"", &format!("\"value\": \"Bearer {token}\""));
    let spec = format!("{}allow_plaintext = [\"containerDefinitions[web].environment[A]\"]\n", base_spec("demo", "web"));
    let (_d, p) = spec_dir_with(&spec, &t);
    let f = p.to_str().expect("utf-8");
    for (cmd, code) in [("plan", exit::CHANGES), ("release", exit::OK)] {
        for output in ["human", "json"] {
            let out = Test::new().args([cmd, "-f", f, "--sandbox", "--output", output, "-v"]).status(code);
            assert!(!out.stdout.contains(token) && !out.stderr.contains(token), "{cmd} {output}: {}", out.stdout);
        }
    }
}

/// #24: a credential-shaped service tag allowed in plaintext is never shown: `plan` and `release`
/// (human with -v, JSON) show `(redacted)` in the tags and in the service changes.
#[test]
fn an_allowed_credential_in_a_service_tag_is_never_shown() {
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let spec = format!(
        "{}allow_plaintext = [\"service.definition.tags.api\"]\n\n[service.definition]\ntags = {{ team = \"payments\", api = \"{token}\" }}\n",
        base_spec("demo", "web")
    );
    let (_d, p) = spec_dir_with(&spec, TEMPLATE);
    let f = p.to_str().expect("utf-8");
    for (cmd, code) in [("plan", exit::CHANGES), ("release", exit::OK)] {
        for output in ["human", "json"] {
            let out = Test::new().args([cmd, "-f", f, "--sandbox", "--output", output, "-v"]).status(code);
            assert!(!out.stdout.contains(token) && !out.stderr.contains(token), "{cmd} {output}: {}", out.stdout);
        }
    }
}

/// #24: a failing lookup is placed where it stands — the template's field and line (not shown:
/// an environment line may hold a secret) — and an AccessDenied gets the permission to add, not
/// "create the parameter".
#[tokio::test]
async fn a_failing_lookup_is_placed_at_its_field_and_access_denied_names_the_permission() {
    let (_dir, path) = spec_with_lookups();
    let scan = fgdeploy::spec::scan(&path, None).expect("scan");
    let mut faults = fgdeploy::sim::Faults::default();
    faults.denied.insert("ssm:GetParameter".into());
    let sim = fgdeploy::sim::Sim::new(fgdeploy::sim::World::new(faults));
    let e = fgdeploy::engine::answer_lookups(&scan, &sim.ports()).await.expect_err("denied");
    let text = e.to_string();
    assert!(text.contains("web.taskdef.json") && text.contains("containerDefinitions[0].environment[0].value"), "{text}");
    assert!(text.contains("allow ssm:GetParameter on parameter /app/secure/db_url"), "{text}");
    assert!(!text.contains("create the parameter"), "{text}");
    assert!(text.contains("at line 11") && !text.contains("sandbox:ssm"), "placed on its line, never shown: {text}");
}

/// #24: values planted through every taint source — a credential-shaped value under a harmless
/// name, an SSM SecureString, a Secrets Manager secret read through Parameter Store's
/// `/aws/reference/secretsmanager/` path, and an environment variable named in
/// `task_definition.redact` — reach no output of the read and release commands: human and JSON,
/// verbose logs, a failed release with its rollback (`--scenario unhealthy`) and its
/// `--summary-file`.
#[test]
fn planted_secrets_reach_no_output_of_any_command() {
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let redacted_var = "planted-by-redact-7f3a9c";
    let t = TEMPLATE
        .replace("\"environment\": [", "\"environment\": [{\"name\": \"GREETING\", \"value\": \"{{ env.FGDEPLOY_TEST_REDACTED }}\"}, ");
    let t = t.replace("\"value\": \"1\"", &format!("\"value\": \"Bearer {token}\""));
    let spec = format!(
        "{}allow_plaintext = [\"containerDefinitions[web].environment[A]\", \"containerDefinitions[web].environment[GREETING]\", \"service.definition.tags.db\", \"service.definition.tags.vault\"]\nredact = [\"FGDEPLOY_TEST_REDACTED\"]\n\n[service.definition]\ntags = {{ db = \"{{{{ ssm('/app/secure/db_url') }}}}\", vault = \"{{{{ ssm('/aws/reference/secretsmanager/vault') }}}}\" }}\n",
        base_spec("demo", "web")
    );
    let (d, p) = spec_dir_with(&spec, &t);
    let f = p.to_str().expect("utf-8");
    let summary = d.path().join("summary.json");
    let summary_path = summary.to_str().expect("utf-8");
    let planted = [token, "sandbox:ssm:/app/secure/db_url", "sandbox:ssm:/aws/reference/secretsmanager/vault", redacted_var];
    // (`validate` answers lookups from AWS: shown with a token and no lookup in
    // `a_token_shaped_value_in_a_plaintext_field_is_refused_offline`.)
    let commands: [&[&str]; 8] = [
        &["plan", "--sandbox"],
        &["release", "--sandbox", "--summary-file", summary_path],
        &["release", "--sandbox", "--scenario", "unhealthy", "--summary-file", summary_path],
        &["status", "--sandbox"],
        &["history", "--sandbox"],
        &["wait", "--sandbox"],
        &["rollback", "--sandbox", "--dry-run"],
        &["verify", "--sandbox"],
    ];
    for cmd in commands {
        for output in ["human", "json"] {
            let mut args: Vec<&str> = cmd.to_vec();
            args.extend(["-f", f, "--output", output, "-v"]);
            let out = Test::new().env("FGDEPLOY_TEST_REDACTED", redacted_var).args(&args).run();
            let failed_release = cmd.contains(&"unhealthy");
            assert!(
                matches!(out.code, 0 | 2) || (failed_release && out.code != 0),
                "{args:?} ran to its end: exit {}\n{}",
                out.code,
                out.stderr
            );
            let written = std::fs::read_to_string(&summary).unwrap_or_default();
            for p in planted {
                assert!(!out.stdout.contains(p) && !out.stderr.contains(p), "{args:?} shows {p}:\n{}\n{}", out.stdout, out.stderr);
                assert!(!written.contains(p), "{args:?}: the summary file shows {p}:\n{written}");
            }
        }
    }
    assert!(summary.exists(), "the summary file was written");
}

/// #24: a value from each taint source in a plaintext field is refused offline (exit 3, the
/// field named, the value never shown): an environment variable named in `redact`, and a Secrets
/// Manager secret read through `/aws/reference/secretsmanager/`.
#[test]
fn redacted_variables_and_secrets_manager_references_are_refused_in_plaintext_fields() {
    let t = TEMPLATE.replace("\"value\": \"1\"", "\"value\": \"{{ env.FGDEPLOY_TEST_REDACTED }}\"");
    let spec = format!("{}redact = [\"FGDEPLOY_TEST_REDACTED\"]\n", base_spec("demo", "web"));
    let (_d, p) = spec_dir_with(&spec, &t);
    let f = p.to_str().expect("utf-8");
    let out = Test::new().env("FGDEPLOY_TEST_REDACTED", "hunter2-but-longer").args(["plan", "-f", f, "--sandbox"]).status(exit::INPUT);
    out.stderr_has("containerDefinitions[web].environment[A]").stderr_has("task_definition.redact").stderr_has("valueFrom");
    assert!(!out.stderr.contains("hunter2-but-longer") && !out.stdout.contains("hunter2-but-longer"), "{}", out.stderr);

    let spec = format!(
        "{}\n[service.definition]\ntags = {{ vault = \"{{{{ ssm('/aws/reference/secretsmanager/vault') }}}}\" }}\n",
        base_spec("demo", "web")
    );
    let (_d, p) = spec_dir_with(&spec, TEMPLATE);
    let out = Test::new().args(["plan", "-f", p.to_str().expect("utf-8"), "--sandbox"]).status(exit::INPUT);
    out.stderr_has("service.definition.tags.vault").stderr_has("secret value");
    assert!(!out.stderr.contains("sandbox:ssm:/aws/reference"), "{}", out.stderr);
}
