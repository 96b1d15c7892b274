//! The one template engine (minijinja, undefined values are errors) for deployspecs,
//! task-definition templates and build commands. Every string value is a template on its own,
//! rendered where it stands, so a value that lands in JSON is escaped by the serializer, never by
//! hand.
//!
//! Variables: `env.NAME`, `git.sha`, `git.short_sha`, `git.branch`, `image` (task-definition
//! templates and build commands), `images.<container>`. Functions: `env("NAME", "default")`,
//! `must_env("NAME")`, and the account lookups `ssm`, `secret_arn`, `tfstate`, `cfn_output`
//! (`crate::lookups`). An undefined variable is an error, never an empty string.

use crate::lookups::{Lookup, LookupTable};
use minijinja::value::{Object, Value};
use minijinja::{Environment, Error as MjError, ErrorKind, State, UndefinedBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why a variable could not be expanded; the caller adds file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarError {
    pub(crate) message: String,
    pub(crate) fix: String,
}

/// git, asked once and only when a template uses it (a spec that does not works outside a
/// checkout).
#[derive(Debug)]
struct Git {
    dir: PathBuf,
    sha: OnceLock<Result<String, String>>,
    branch: OnceLock<Result<String, String>>,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    match std::process::Command::new("git").arg("-C").arg(dir).args(args).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(format!("cannot run git: {e}")),
    }
}

impl Git {
    fn sha(&self) -> &Result<String, String> {
        self.sha.get_or_init(|| {
            let sha = git(&self.dir, &["rev-parse", "HEAD"])?;
            // Uncommitted changes to tracked files: the commit does not describe the build.
            let dirty = git(&self.dir, &["status", "--porcelain", "--untracked-files=no"]).is_ok_and(|s| !s.is_empty());
            Ok(if dirty { format!("{sha}-dirty") } else { sha })
        })
    }
    /// The branch; on a detached checkout (CI) the CI's own variable for it.
    fn branch(&self, env: &BTreeMap<String, String>) -> &Result<String, String> {
        self.branch.get_or_init(|| match git(&self.dir, &["rev-parse", "--abbrev-ref", "HEAD"]) {
            Ok(b) if b != "HEAD" => Ok(b),
            other => ["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME"]
                .iter()
                .find_map(|k| env.get(*k).filter(|v| !v.is_empty()).cloned())
                .ok_or_else(|| other.err().unwrap_or_else(|| "a detached HEAD names no branch".into())),
        })
    }
}

/// What the templates see. Cheap to clone.
#[derive(Clone)]
pub struct Vars {
    env: Arc<BTreeMap<String, String>>,
    git: Arc<Git>,
    image: Option<String>,
    images: BTreeMap<String, String>,
    extra: BTreeMap<String, String>,
    lookups: Arc<LookupTable>,
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Environment values may be secrets: names only.
        f.debug_struct("Vars").field("env", &self.env.keys().collect::<Vec<_>>()).field("image", &self.image).finish_non_exhaustive()
    }
}

/// `env.NAME` and `env("NAME", default)`.
#[derive(Debug)]
struct EnvObject(Arc<BTreeMap<String, String>>);

impl Object for EnvObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).map(|v| Value::from(v.as_str()))
    }
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, MjError> {
        let name = args.first().and_then(Value::as_str).ok_or_else(|| MjError::new(ErrorKind::InvalidOperation, "env() takes a name"))?;
        match (self.0.get(name), args.get(1)) {
            (Some(v), _) => Ok(Value::from(v.as_str())),
            (None, Some(default)) => Ok(default.clone()),
            (None, None) => Err(MjError::new(ErrorKind::UndefinedError, format!("environment variable {name} is not set"))),
        }
    }
}

#[derive(Debug)]
struct GitObject(Arc<Git>, Arc<BTreeMap<String, String>>);

impl Object for GitObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let sha = || self.0.sha().as_ref().ok();
        match key.as_str()? {
            "sha" => sha().map(|s| Value::from(s.as_str())),
            "short_sha" => sha().map(|s| {
                let short: String = s.chars().take(12).collect();
                Value::from(if s.ends_with("-dirty") { format!("{short}-dirty") } else { short })
            }),
            "branch" => self.0.branch(&self.1).as_ref().ok().map(|b| Value::from(b.as_str())),
            _ => None,
        }
    }
}

fn lookup_fn(t: &Arc<LookupTable>, l: Lookup) -> Result<String, MjError> {
    t.get(l).map_err(|e| MjError::new(ErrorKind::InvalidOperation, e))
}

impl Vars {
    /// Variables from the process environment; git is asked in `dir`.
    pub fn from_process(dir: &Path) -> Self {
        // A deployspec given as `web.toml` has the parent "": that is the current folder.
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        Vars {
            env: Arc::new(std::env::vars().collect()),
            git: Arc::new(Git { dir: dir.to_path_buf(), sha: OnceLock::new(), branch: OnceLock::new() }),
            image: None,
            images: BTreeMap::new(),
            extra: BTreeMap::new(),
            lookups: Arc::new(LookupTable::default()),
        }
    }

    /// The checkout's commit, when the folder is a git checkout with one.
    pub(crate) fn git_sha(&self) -> Option<String> {
        self.git.sha().as_ref().ok().cloned()
    }

    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = Arc::new(env);
        self
    }

    pub fn with_git_sha(self, sha: impl Into<String>) -> Self {
        let _ = self.git.sha.set(Ok(sha.into()));
        self
    }

    pub fn with_lookups(mut self, lookups: Arc<LookupTable>) -> Self {
        self.lookups = lookups;
        self
    }

    /// Named values of one render (a build command's `context`, `dockerfile`, `platform`).
    pub(crate) fn with_extra(mut self, extra: BTreeMap<String, String>) -> Self {
        self.extra = extra;
        self
    }

    pub(crate) fn lookups(&self) -> &Arc<LookupTable> {
        &self.lookups
    }

    pub(crate) fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    pub fn set_image(&mut self, image: impl Into<String>) {
        self.image = Some(image.into());
    }

    /// `images.<container>`: the image of each container (built, or fixed).
    pub(crate) fn set_images(&mut self, images: BTreeMap<String, String>) {
        self.images = images;
    }

    fn environment(&self) -> Environment<'static> {
        let mut e = Environment::new();
        e.set_undefined_behavior(UndefinedBehavior::Strict);
        e.set_keep_trailing_newline(true);
        e.add_global("env", Value::from_object(EnvObject(self.env.clone())));
        e.add_global("git", Value::from_object(GitObject(self.git.clone(), self.env.clone())));
        if let Some(i) = &self.image {
            e.add_global("image", i.clone());
        }
        e.add_global("images", Value::from_serialize(&self.images));
        for (k, v) in &self.extra {
            e.add_global(k.clone(), v.clone());
        }
        let env = self.env.clone();
        e.add_function("must_env", move |name: String| -> Result<String, MjError> {
            env.get(&name)
                .cloned()
                .ok_or_else(|| MjError::new(ErrorKind::UndefinedError, format!("environment variable {name} is not set")))
        });
        let t = self.lookups.clone();
        e.add_function("ssm", move |name: String| lookup_fn(&t, Lookup::Ssm { name }));
        let t = self.lookups.clone();
        e.add_function("secret_arn", move |name: String| lookup_fn(&t, Lookup::SecretArn { name }));
        let t = self.lookups.clone();
        e.add_function("tfstate", move |address: String| lookup_fn(&t, Lookup::Tfstate { address }));
        let t = self.lookups.clone();
        e.add_function("cfn_output", move |stack: String, key: String| lookup_fn(&t, Lookup::CfnOutput { stack, key }));
        e
    }

    /// Render `s` (a template when it holds `{{`, `{%` or `{#`).
    pub(crate) fn expand(&self, s: &str) -> Result<String, VarError> {
        if !(s.contains("{{") || s.contains("{%") || s.contains("{#")) {
            return Ok(s.to_string());
        }
        self.environment().render_str(s, ()).map_err(|e| self.explain(s, &e))
    }

    /// A minijinja error in fgdeploy's words: what is undefined, and how to define it.
    fn explain(&self, s: &str, e: &MjError) -> VarError {
        let detail = e.detail().unwrap_or_default().to_string();
        if e.kind() != ErrorKind::UndefinedError {
            let mut message = if detail.is_empty() { e.to_string() } else { format!("{} ({detail})", e.kind()) };
            if detail.contains("end of input") {
                message = format!("unterminated tag: {message}");
            }
            return VarError {
                message: format!("template error in {s:?}: {message}"),
                fix: "check the {{ … }} syntax and the function's arguments (README: templates)".into(),
            };
        }
        if let Some(var) = detail.strip_prefix("environment variable ").and_then(|d| d.strip_suffix(" is not set")) {
            return unset_env(var);
        }
        for var in referenced(s, "env.") {
            if !self.env.contains_key(&var) {
                return unset_env(&var);
            }
        }
        if (s.contains("git.sha") || s.contains("git.short_sha"))
            && let Err(why) = self.git.sha()
        {
            return VarError {
                message: format!("`{{{{ git.sha }}}}` is used but {} is not a git checkout with a commit ({why})", self.git.dir.display()),
                fix: "run inside a git checkout with a commit; for `image.tag`, a fixed tag or --image-tag needs no git".into(),
            };
        }
        if s.contains("git.branch")
            && let Err(why) = self.git.branch(&self.env)
        {
            return VarError {
                message: format!("`{{{{ git.branch }}}}` is used but no branch is known ({why})"),
                fix: "check out a branch, or set GITHUB_REF_NAME / BRANCH_NAME".into(),
            };
        }
        if self.image.is_none() && referenced_word(s, "image") {
            return VarError {
                message: "`{{ image }}` is only defined in the task-definition template and build commands".into(),
                fix: "use `{{ git.sha }}` or `{{ env.NAME }}` here".into(),
            };
        }
        let mut named = referenced(s, "images.");
        named.extend(subscripted(s, "images"));
        if let Some(c) = named.into_iter().find(|c| !self.images.contains_key(c)) {
            return VarError {
                message: format!("`{{{{ images.{c} }}}}`: no container {c:?} has an image in this release"),
                fix: format!("name a container of the template (known: {})", self.images.keys().cloned().collect::<Vec<_>>().join(", ")),
            };
        }
        VarError {
            message: format!("unknown variable in {s:?}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") }),
            fix: "known: env.NAME, env(\"NAME\", \"default\"), must_env(\"NAME\"), git.sha, git.short_sha, git.branch, image, images.<container>, ssm(), secret_arn(), tfstate(), cfn_output()".into(),
        }
    }

    /// Render every string in a JSON value, ignoring errors: a recording render that must see
    /// every lookup, not stop at the first problem (the real load reports the problems).
    pub(crate) fn record_json(&self, file: &Path, value: &serde_json::Value, path: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => {
                self.lookups.rendering(file, join_path(path));
                let _ = self.expand(s);
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(format!("[{i}]"));
                    self.record_json(file, item, path);
                    path.pop();
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    path.push(k.clone());
                    self.record_json(file, v, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Expand every string in a JSON value; the error carries the JSON path of the string.
    pub(crate) fn expand_json(&self, value: &mut serde_json::Value, path: &mut Vec<String>) -> Result<(), (String, VarError)> {
        match value {
            serde_json::Value::String(s) if s.contains("{{") || s.contains("{%") || s.contains("{#") => {
                *s = self.expand(s).map_err(|e| (join_path(path), e))?;
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(format!("[{i}]"));
                    let r = self.expand_json(item, path);
                    path.pop();
                    r?;
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(k.clone());
                    let r = self.expand_json(v, path);
                    path.pop();
                    r?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn unset_env(var: &str) -> VarError {
    VarError {
        message: format!("undefined variable: environment variable {var} is not set"),
        fix: format!("export {var}=... before running fgdeploy, give a default with env(\"{var}\", \"…\"), or remove the reference"),
    }
}

/// The names after `prefix` (`env.` → `NAME`) in a template.
fn referenced(s: &str, prefix: &str) -> Vec<String> {
    s.match_indices(prefix)
        .filter(|(i, _)| !s[..*i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map(|(i, _)| s[i + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect())
        .filter(|n: &String| !n.is_empty())
        .collect()
}

/// The quoted keys of `name['key']` / `name["key"]` in a template.
fn subscripted(s: &str, name: &str) -> Vec<String> {
    let open = format!("{name}[");
    s.match_indices(&open)
        .filter(|(i, _)| !s[..*i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|(i, _)| {
            let rest = &s[i + open.len()..];
            let quote = rest.chars().next().filter(|q| *q == '\'' || *q == '"')?;
            rest[1..].split_once(quote).map(|(key, _)| key.to_string())
        })
        .collect()
}

/// Whether `word` stands alone in the template (not `images`, not `image_tag`).
fn referenced_word(s: &str, word: &str) -> bool {
    s.match_indices(word).any(|(i, _)| {
        let before = s[..i].chars().last();
        let after = s[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `["a", "[0]", "b"]` → `a[0].b`.
pub(crate) fn join_path(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if !p.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookups::LookupTable;

    fn vars() -> Vars {
        let mut env = BTreeMap::new();
        env.insert("STAGE".to_string(), "prod".to_string());
        let mut v = Vars::from_process(Path::new(".")).with_env(env).with_git_sha("0123456789abcdef0123");
        v.set_image("repo:tag");
        v
    }

    #[test]
    fn expands_known_variables() {
        let v = vars();
        assert_eq!(v.expand("a-{{ env.STAGE }}-{{git.sha}}").unwrap(), "a-prod-0123456789abcdef0123");
        assert_eq!(v.expand("{{ git.short_sha }}").unwrap(), "0123456789ab");
        assert_eq!(v.expand("{{ image }}").unwrap(), "repo:tag");
        assert_eq!(v.expand("plain").unwrap(), "plain");
        assert_eq!(v.expand("{{ env(\"NOPE\", \"fallback\") }}-{{ env(\"STAGE\", \"x\") }}").unwrap(), "fallback-prod");
        assert_eq!(v.expand("{{ must_env(\"STAGE\") | upper }}").unwrap(), "PROD");
        assert_eq!(v.expand("{% if env.STAGE == \"prod\" %}4{% else %}1{% endif %}").unwrap(), "4");
        // A value with quotes is text here; the JSON serializer escapes it where it lands.
        let mut j = serde_json::json!({"v": "{{ env.QUOTED }}"});
        let mut env = BTreeMap::new();
        env.insert("QUOTED".to_string(), "a \"b\" \\ c".to_string());
        Vars::from_process(Path::new(".")).with_env(env).expand_json(&mut j, &mut Vec::new()).unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), r#"{"v":"a \"b\" \\ c"}"#);
    }

    #[test]
    fn images_and_lookups() {
        let mut v = vars();
        v.set_images([("web".to_string(), "r/web:1".to_string()), ("sidecar".to_string(), "ghcr.io/o/s:2".to_string())].into());
        assert_eq!(v.expand("{{ images.sidecar }}").unwrap(), "ghcr.io/o/s:2");
        let table = Arc::new(LookupTable::recording());
        let v = v.with_lookups(table.clone());
        assert_eq!(v.expand("{{ ssm(\"/db/url\") }}").unwrap(), crate::lookups::PENDING);
        v.expand("{{ cfn_output(\"net\", \"VpcId\") }} {{ tfstate(\"aws_subnet.a.id\") }} {{ secret_arn(\"db\") }}").unwrap();
        assert_eq!(table.lookups().len(), 4);
    }

    #[test]
    fn undefined_and_malformed_variables_are_errors() {
        let v = vars();
        let e = v.expand("{{ env.NOPE }}").unwrap_err();
        assert!(e.message.contains("NOPE"), "{e:?}");
        assert!(v.expand("{{ nope }}").unwrap_err().message.contains("unknown variable"));
        assert!(v.expand("{{ env.STAGE").unwrap_err().message.contains("template error"));
        assert!(v.expand("{{ }}").unwrap_err().message.contains("template error"));
        let e = v.expand("{{ must_env(\"NOPE2\") }}").unwrap_err();
        assert!(e.message.contains("NOPE2 is not set") && e.fix.contains("export NOPE2"), "{e:?}");
        let e = v.expand("{{ images.sidecar }}").unwrap_err();
        let quoted = v.expand("{{ images['log-router'] }}").unwrap_err();
        assert!(quoted.message.contains("no container \"log-router\" has an image"), "{}", quoted.message);
        assert!(e.message.contains("no container \"sidecar\""), "{e:?}");
    }

    #[test]
    fn json_errors_carry_the_path() {
        let v = vars();
        let mut j = serde_json::json!({"a": [{"b": "{{ env.MISSING }}"}]});
        let (path, _) = v.expand_json(&mut j, &mut Vec::new()).unwrap_err();
        assert_eq!(path, "a[0].b");
    }
}
