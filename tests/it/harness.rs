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
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
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
