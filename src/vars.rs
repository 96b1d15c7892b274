//! `{{ namespace.name }}` variables in deployspecs and task-definition templates.
//!
//! Known variables: `{{ env.NAME }}` (process environment), `{{ git.sha }}` (full commit of the
//! deployspec's repository), `{{ git.short_sha }}` (its first 12 characters), `{{ image }}` (the
//! image being released; task-definition templates only). An undefined variable is an error,
//! never an empty string. There is no escape syntax: a literal `{{` cannot appear in a value.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a variable could not be expanded; the caller adds file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    pub message: String,
    pub fix: String,
}

/// The variable values, with `git.sha` looked up lazily (a spec that does not use it works
/// outside a git checkout).
pub struct Vars {
    env: BTreeMap<String, String>,
    git_dir: PathBuf,
    git_sha: OnceCell<Result<String, String>>,
    image: Option<String>,
}

impl Vars {
    /// Variables from the process environment; git is asked in `dir`.
    pub fn from_process(dir: &Path) -> Self {
        // A deployspec given as `web.toml` has the parent "": that is the current folder.
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        Vars { env: std::env::vars().collect(), git_dir: dir.to_path_buf(), git_sha: OnceCell::new(), image: None }
    }

    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = env;
        self
    }

    pub fn with_git_sha(self, sha: impl Into<String>) -> Self {
        let _ = self.git_sha.set(Ok(sha.into()));
        self
    }

    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The git commit if it was looked up (or given) already.
    pub fn cached_git_sha(&self) -> Option<String> {
        self.git_sha.get().and_then(|r| r.as_ref().ok().cloned())
    }

    pub fn set_image(&mut self, image: impl Into<String>) {
        self.image = Some(image.into());
    }

    fn git_sha(&self) -> Result<&str, VarError> {
        let r = self.git_sha.get_or_init(|| {
            let out = std::process::Command::new("git").arg("-C").arg(&self.git_dir).args(["rev-parse", "HEAD"]).output();
            match out {
                Ok(o) if o.status.success() => {
                    let sha = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    // Uncommitted changes to tracked files: the commit does not describe the build.
                    let dirty = std::process::Command::new("git")
                        .arg("-C")
                        .arg(&self.git_dir)
                        .args(["status", "--porcelain", "--untracked-files=no"])
                        .output()
                        .is_ok_and(|s| s.status.success() && !s.stdout.is_empty());
                    Ok(if dirty { format!("{sha}-dirty") } else { sha })
                }
                Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
                Err(e) => Err(format!("cannot run git: {e}")),
            }
        });
        r.as_deref().map_err(|why| VarError {
            message: format!("`{{{{ git.sha }}}}` is used but {} is not a git checkout with a commit ({why})", self.git_dir.display()),
            fix: "run inside the repository, set `image.tag` to a fixed value, or pass --image-tag".into(),
        })
    }

    fn lookup(&self, name: &str) -> Result<String, VarError> {
        if let Some(var) = name.strip_prefix("env.") {
            return self.env.get(var).cloned().ok_or_else(|| VarError {
                message: format!("undefined variable `{{{{ {name} }}}}`: environment variable {var} is not set"),
                fix: format!("export {var}=... before running fgdeploy, or remove the reference"),
            });
        }
        match name {
            "git.sha" => self.git_sha().map(str::to_string),
            "git.short_sha" => self.git_sha().map(|s| {
                let short: String = s.chars().take(12).collect();
                if s.ends_with("-dirty") { format!("{short}-dirty") } else { short }
            }),
            "image" => self.image.clone().ok_or_else(|| VarError {
                message: "`{{ image }}` is only defined in the task-definition template".into(),
                fix: "use `{{ git.sha }}` or `{{ env.NAME }}` here".into(),
            }),
            _ => Err(VarError {
                message: format!("unknown variable `{{{{ {name} }}}}`"),
                fix: "known variables: {{ env.NAME }}, {{ git.sha }}, {{ git.short_sha }}, {{ image }}".into(),
            }),
        }
    }

    /// Expand every `{{ … }}` in `s`.
    pub fn expand(&self, s: &str) -> Result<String, VarError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(VarError { message: format!("unterminated `{{{{` in {s:?}"), fix: "close the variable with `}}`".into() });
            };
            let name = after[..end].trim();
            if name.is_empty() {
                return Err(VarError {
                    message: format!("empty variable `{{{{}}}}` in {s:?}"),
                    fix: "name a variable, e.g. {{ git.sha }}".into(),
                });
            }
            out.push_str(&self.lookup(name)?);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Expand every string in a JSON value; the error carries the JSON path of the string.
    pub fn expand_json(&self, value: &mut serde_json::Value, path: &mut Vec<String>) -> Result<(), (String, VarError)> {
        match value {
            serde_json::Value::String(s) if s.contains("{{") => {
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

/// `["a", "[0]", "b"]` → `a[0].b`.
pub fn join_path(parts: &[String]) -> String {
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
    }

    #[test]
    fn undefined_and_malformed_variables_are_errors() {
        let v = vars();
        let e = v.expand("{{ env.NOPE }}").unwrap_err();
        assert!(e.message.contains("NOPE"), "{e:?}");
        assert!(v.expand("{{ nope }}").unwrap_err().message.contains("unknown variable"));
        assert!(v.expand("{{ env.STAGE").unwrap_err().message.contains("unterminated"));
        assert!(v.expand("{{ }}").unwrap_err().message.contains("empty"));
    }

    #[test]
    fn json_errors_carry_the_path() {
        let v = vars();
        let mut j = serde_json::json!({"a": [{"b": "{{ env.MISSING }}"}]});
        let (path, _) = v.expand_json(&mut j, &mut Vec::new()).unwrap_err();
        assert_eq!(path, "a[0].b");
    }
}
