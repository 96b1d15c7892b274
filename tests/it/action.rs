//! The GitHub Action's scripts, run for real: the install step downloads a release asset from a
//! loopback server, verifies its SHA-256, caches it and puts it on PATH; a tampered asset is
//! refused; the run step releases (on the sandbox) and turns the summary into outputs.

use crate::harness::spec_dir;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Serves the files of `dir` over HTTP on loopback; counts the requests.
fn file_server(dir: PathBuf) -> (String, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port());
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let mut line = String::new();
            let _ = BufReader::new(c.try_clone().expect("clone")).read_line(&mut line);
            let name = line.split_whitespace().nth(1).unwrap_or("/").rsplit('/').next().unwrap_or("").to_string();
            let answer = match std::fs::read(dir.join(&name)) {
                Ok(body) => {
                    let mut a = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                    a.extend(body);
                    a
                }
                Err(_) => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = c.write_all(&answer);
        }
    });
    (base, hits)
}

/// The release assets of `version` for this machine, as the release workflow makes them; with
/// `tamper`, the checksum file does not match.
fn assets(dir: &Path, version: &str, tamper: bool) {
    let target = "x86_64-unknown-linux-musl"; // this machine: Linux x86_64
    let name = format!("fgdeploy-{version}-{target}.tar.gz");
    let stage = tempfile::tempdir().expect("stage");
    std::fs::copy(env!("CARGO_BIN_EXE_fgdeploy"), stage.path().join("fgdeploy")).expect("copy");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(stage.path())
        .arg("-czf")
        .arg(dir.join(&name))
        .arg("fgdeploy")
        .status()
        .expect("tar");
    assert!(ok.success());
    let sum = std::process::Command::new("sha256sum").arg(&name).current_dir(dir).output().expect("sha256sum");
    let mut text = String::from_utf8(sum.stdout).expect("utf-8");
    if tamper {
        text = format!("{}{}", "0".repeat(64), &text[64..]);
    }
    std::fs::write(dir.join(format!("{name}.sha256")), text).expect("write");
}

fn install(base: &str, work: &Path, version: &str) -> std::process::Output {
    std::process::Command::new(root().join("scripts/action-install"))
        .env("FGDEPLOY_VERSION", version)
        .env("FGDEPLOY_DOWNLOAD_BASE", base)
        .env("RUNNER_TOOL_CACHE", work.join("cache"))
        .env("GITHUB_PATH", work.join("path"))
        .env("GITHUB_OUTPUT", work.join("install-output"))
        .output()
        .expect("run action-install")
}

#[test]
fn the_action_installs_a_verified_cached_binary_and_turns_a_release_into_outputs() {
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        return; // the assets made here are this machine's
    }
    let served = tempfile::tempdir().expect("served");
    assets(served.path(), "v9.9.9", false);
    assets(served.path(), "v9.9.8", true);
    let (base, hits) = file_server(served.path().to_path_buf());
    let work = tempfile::tempdir().expect("work");

    let out = install(&base, work.path(), "v9.9.9");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("fgdeploy"), "it runs the installed binary");
    let dir = std::fs::read_to_string(work.path().join("path")).expect("GITHUB_PATH").trim().to_string();
    assert!(Path::new(&dir).join("fgdeploy").is_file(), "{dir}");
    assert!(std::fs::read_to_string(work.path().join("install-output")).expect("outputs").contains("version=v9.9.9"));
    // A second install is served from the tool cache: no download.
    let before = hits.load(Ordering::SeqCst);
    assert!(install(&base, work.path(), "v9.9.9").status.success());
    assert_eq!(hits.load(Ordering::SeqCst), before, "cached");

    // A checksum that does not match: refused, nothing installed.
    let bad = install(&base, work.path(), "v9.9.8");
    assert!(!bad.status.success(), "a tampered asset must be refused");
    assert!(!work.path().join("cache/fgdeploy/v9.9.8/x86_64-unknown-linux-musl/fgdeploy").exists());
    assert!(!install(&base, work.path(), "latest").status.success(), "a version that is no release tag");

    // The run step: a sandbox release; its summary becomes the outputs.
    let (_d, spec) = spec_dir("");
    let run = std::process::Command::new(root().join("scripts/action-run"))
        .env("PATH", format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()))
        .env("FGDEPLOY_ARGS", format!("release --sandbox -f {}", spec.display()))
        .env("RUNNER_TEMP", work.path())
        .env("GITHUB_OUTPUT", work.path().join("run-output"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run action-run");
    assert!(run.status.success(), "{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let outputs = std::fs::read_to_string(work.path().join("run-output")).expect("outputs");
    assert!(outputs.contains("exit-code=0") && outputs.contains("outcome=deployed"), "{outputs}");
    assert!(outputs.contains("task-definition=arn:aws:ecs:"), "{outputs}");
}
