#![no_main]
//! Any bytes: the deployspec parser returns a value or an error, never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let vars = fgdeploy::vars::Vars::from_process(std::path::Path::new(".")).with_env(Default::default()).with_git_sha("0123456789abcdef");
        let _ = fgdeploy::spec::parse_text(std::path::Path::new("fuzz.toml"), text, &vars);
    }
});
