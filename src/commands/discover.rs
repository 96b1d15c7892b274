//! Config discovery: without `-f`, the deployspec is found upward from the working directory, as
//! cargo finds Cargo.toml — in each folder first `fgdeploy.toml`, then `deployspecs/` (every
//! `*.toml` in it). The walk stops at the repository root (the folder holding `.git`) so that a
//! checkout never picks up a deployspec of the folder it sits in. `-f` (or FGDEPLOY_FILE) wins.

use crate::error::{Error, InputError};
use std::path::{Path, PathBuf};

/// The deployspecs found from `start`: one file, or the `*.toml` of a `deployspecs/` folder.
pub(crate) fn discover(start: &Path) -> Result<Vec<PathBuf>, Error> {
    for dir in start.ancestors() {
        let single = dir.join("fgdeploy.toml");
        if single.is_file() {
            return Ok(vec![single]);
        }
        let folder = dir.join("deployspecs");
        if folder.is_dir() {
            let found = toml_files(&folder)?;
            if !found.is_empty() {
                return Ok(found);
            }
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    Err(Error::usage(
        format!(
            "no deployspec given and none found from {} upward (fgdeploy.toml or deployspecs/*.toml, up to the repository root)",
            start.display()
        ),
        "pass -f deployspecs/<service>.toml, set FGDEPLOY_FILE, or run `fgdeploy init` to write one",
    ))
}

/// The `*.toml` files of a folder, sorted (a folder given with `-f`, or a found `deployspecs/`).
pub(crate) fn toml_files(folder: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| InputError::new(folder, format!("cannot read the folder: {e}"), "pass a deployspec file or a readable folder"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    found.sort();
    Ok(found)
}

/// The one deployspec a single-service command works on.
pub(crate) fn discover_one(start: &Path) -> Result<PathBuf, Error> {
    let found = discover(start)?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        many => Err(Error::usage(
            format!(
                "no deployspec given and several found: {}",
                many.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            "pick one with -f (plan, release and status take them all as a fleet without -f)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_upward_nearest_first_and_not_past_the_repository() {
        let root = tempfile::tempdir().expect("dir");
        let repo = root.path().join("repo");
        let deep = repo.join("services/web/src");
        std::fs::create_dir_all(&deep).expect("dirs");
        std::fs::create_dir_all(repo.join(".git")).expect("git");
        // Outside the repository: never found from inside it.
        std::fs::write(root.path().join("fgdeploy.toml"), "").expect("outer");
        assert!(discover(&deep).is_err(), "the walk stops at the repository root");
        std::fs::create_dir_all(repo.join("deployspecs")).expect("specs");
        std::fs::write(repo.join("deployspecs/web.toml"), "").expect("web");
        std::fs::write(repo.join("deployspecs/api.toml"), "").expect("api");
        std::fs::write(repo.join("deployspecs/notes.md"), "").expect("md");
        let found = discover(&deep).expect("found");
        assert_eq!(found, vec![repo.join("deployspecs/api.toml"), repo.join("deployspecs/web.toml")]);
        assert!(discover_one(&deep).is_err(), "two specs: a single-service command asks for -f");
        // A nearer fgdeploy.toml wins.
        std::fs::write(repo.join("services/web/fgdeploy.toml"), "").expect("near");
        assert_eq!(discover_one(&deep).expect("one"), repo.join("services/web/fgdeploy.toml"));
    }
}
