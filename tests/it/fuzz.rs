//! A short, bounded, deterministic fuzz run of the deployspec and task-definition parsers on
//! mutations of the seed corpus (`fuzz/corpus/`), as part of every test run. The cargo-fuzz
//! targets in `fuzz/` run the same entry points for as long as you like (see the README).

use std::path::Path;

fn corpus(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(dir))
        .expect("corpus")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

/// xorshift: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

const TOKENS: [&str; 16] = ["{", "}", "[", "]", "\"", ",", ":", "=", "\n", "{{", "}}", "{{ env.X }}", "-1", "1e999", "null", "\u{fffd}"];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for _ in 0..1 + rng.next(4) {
        let at = rng.next(s.len() + 1);
        match rng.next(4) {
            0 if !s.is_empty() => {
                let end = (at + rng.next(16)).min(s.len());
                s.drain(at.min(s.len())..end);
            }
            1 => s.splice(at..at, TOKENS[rng.next(TOKENS.len())].chars()).for_each(drop),
            2 => s.truncate(at),
            _ => {
                let from = rng.next(s.len().max(1));
                let piece: Vec<char> = s.iter().skip(from).take(rng.next(40)).cloned().collect();
                let at = at.min(s.len());
                s.splice(at..at, piece).for_each(drop);
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn parsers_never_panic_on_mutated_inputs() {
    let vars = || fgdeploy::vars::Vars::from_process(Path::new(".")).with_env(Default::default()).with_git_sha("0123456789abcdef");
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (specs, tds) = (corpus("deployspec"), corpus("taskdef"));
    let (mut ok, mut err) = (0, 0);
    for i in 0..3000 {
        let text = mutate(&mut rng, &specs[i % specs.len()]);
        match fgdeploy::spec::parse_text(Path::new("f.toml"), &text, &vars()) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.message.is_empty() && !e.fix.is_empty(), "an error without message or fix for {text:?}: {e:?}");
                err += 1;
            }
        }
        let text = mutate(&mut rng, &tds[i % tds.len()]);
        let mut v = vars();
        v.set_image("repo:tag");
        match fgdeploy::taskdef::parse(Path::new("f.json"), &text, &v) {
            Ok(td) => {
                let _ = fgdeploy::taskdef::validate(&td, "web", Path::new("f.json"));
                let _ = fgdeploy::taskdef::normalize(&td);
                ok += 1;
            }
            Err(e) => {
                assert!(!e.message.is_empty(), "an error without a message for {text:?}");
                err += 1;
            }
        }
    }
    println!("fuzz: 6000 mutated inputs, {ok} parsed, {err} rejected with a message");
    assert!(ok > 0 && err > 0, "the mutations exercise both paths");
}
