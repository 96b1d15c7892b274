//! A fluent runner for the fgdeploy binary: `Test::new().args([..]).status(n)`, plus fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Test {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(self.stdout.contains(s), "stdout lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(self.stderr.contains(s), "stderr lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
    /// The JSON events on stdout (with --output json).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }
}

impl Test {
    pub fn new() -> Test {
        let mut env = BTreeMap::new();
        // Never reach a real AWS account from a test.
        env.insert("AWS_ACCESS_KEY_ID".into(), "testing".into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "testing".into());
        env.insert("AWS_REGION".into(), "us-east-1".into());
        env.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into());
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        env.insert("NO_COLOR".into(), "1".into());
        Test { args: Vec::new(), env, dir: None }
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, a: I) -> Test {
        self.args.extend(a.into_iter().map(|s| s.as_ref().to_string()));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Test {
        self.env.insert(k.into(), v.into());
        self
    }
    pub fn dir(mut self, d: &Path) -> Test {
        self.dir = Some(d.to_path_buf());
        self
    }
    pub fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fgdeploy"));
        cmd.args(&self.args).env_remove("GITHUB_ACTIONS").env_remove("FGDEPLOY_OUTPUT").envs(&self.env);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        let out = cmd.output().expect("run fgdeploy");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        };
        // The JSON contract: every event and document any test makes fgdeploy print is checked
        // against the schemas in docs/schema/.
        if self.args.windows(2).any(|w| w[0] == "--output" && w[1] == "json") {
            for v in out.events() {
                check_json(&v, "events");
                match v["event"].as_str() {
                    Some("plan") if v.get("exit_code").is_some() => check_json(&v, "plan"),
                    Some("status") => check_json(&v, "status"),
                    Some("history") => check_json(&v, "history"),
                    _ => {}
                }
            }
        }
        out
    }
    /// Run and assert the exit code.
    pub fn status(self, code: i32) -> Output {
        let args = self.args.join(" ");
        let out = self.run();
        assert_eq!(
            out.code, code,
            "fgdeploy {args}: exit {} (want {code})\n--- stdout\n{}\n--- stderr\n{}",
            out.code, out.stdout, out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "panic: {}", out.stderr);
        out
    }
}

pub const TEMPLATE: &str = r#"{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{ image }}", "memory": 512,
     "portMappings": [{"containerPort": 8080}],
     "environment": [{"name": "A", "value": "1"}]}
  ]
}"#;

/// A deployspec with `extra` appended, written with TEMPLATE into a fresh temp dir.
pub fn spec_dir(extra: &str) -> (tempfile::TempDir, PathBuf) {
    spec_dir_with(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE)
}

pub fn base_spec(cluster: &str, service: &str) -> String {
    format!(
        "[service]\ncluster = \"{cluster}\"\nname = \"{service}\"\ndesired_count = 4\n\n[image]\nrepository = \"web\"\ntag = \"v2\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n"
    )
}

pub fn spec_dir_with(spec: &str, template: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("web.taskdef.json"), template).expect("write template");
    let path = dir.path().join("web.toml");
    std::fs::write(&path, spec).expect("write spec");
    (dir, path)
}

/// The JSON schemas of docs/schema/, compiled once.
fn schema(name: &str) -> &'static jsonschema::Validator {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, &'static jsonschema::Validator>>> = std::sync::OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().expect("lock");
    cache.entry(name.to_string()).or_insert_with(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/schema/{name}.schema.json"));
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("schema")).expect("schema JSON");
        Box::leak(Box::new(jsonschema::validator_for(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
    })
}

/// Panic (naming the schema and every violation) unless `v` satisfies docs/schema/NAME.schema.json.
pub fn check_json(v: &serde_json::Value, name: &str) {
    let errors: Vec<String> = schema(name).iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "not a valid {name} document per docs/schema/{name}.schema.json: {errors:?}\n{v}");
}
