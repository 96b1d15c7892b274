#![no_main]
//! Any bytes: task-definition parsing, validation and the normal form never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut vars = fgdeploy::vars::Vars::from_process(std::path::Path::new(".")).with_env(Default::default()).with_git_sha("0123456789abcdef");
        vars.set_image("repo:tag");
        let path = std::path::Path::new("fuzz.json");
        if let Ok(td) = fgdeploy::taskdef::parse(path, text, &vars) {
            let _ = fgdeploy::taskdef::validate(&td, "web", path);
            let _ = fgdeploy::taskdef::normalize(&td);
        }
    }
});
