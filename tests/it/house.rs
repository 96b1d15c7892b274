//! The house rules that a reader checks by looking at the tree (#25): no import circle among the
//! modules of `src/`, a small `impl Engine`, no function over 60 lines, and AWS enumerations
//! parsed only in the adapters. Read from the source files, as an outside tool would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`["engine", "deploy", "rolling"]`), and its file.
type Modules = BTreeMap<Vec<String>, PathBuf>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src/ is readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn modules() -> Modules {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out = Modules::new();
    for f in files {
        let rel = f.strip_prefix(&root).expect("under src").with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if parts == ["main"] {
            continue;
        }
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        out.insert(parts, f);
    }
    out
}

/// The code of a module without its unit tests and line comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable");
    let text = text.find("#[cfg(test)]\nmod ").map_or(text.as_str(), |i| &text[..i]);
    text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n")
}

/// Every `use …;` statement: (whether it re-exports, its text without blanks).
fn use_statements(code: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = find_word(rest, "use") {
        let before = rest[..i].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.rsplit("pub").next().is_some_and(|t| t.starts_with('('));
        let Some(end) = rest[i..].find(';') else { break };
        out.push((public, rest[i + 3..i + end].chars().filter(|c| !c.is_whitespace()).collect()));
        rest = &rest[i + end..];
    }
    out
}

/// The byte offset of `word` standing alone (not inside an identifier).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(j) = text[from..].find(word) {
        let i = from + j;
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        if !before.is_some_and(ident) && !after.is_some_and(ident) && before != Some(':') {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// The paths a `use` statement names: `a::{b, c::d}` → `a::b`, `a::c::d` (nested braces are
/// cut at their head, which names the module).
fn use_paths(stmt: &str) -> Vec<String> {
    let Some(open) = stmt.find('{') else { return vec![stmt.split(" as ").next().unwrap_or(stmt).to_string()] };
    let (head, inner) = (&stmt[..open], stmt[open + 1..].trim_end_matches('}'));
    let (mut items, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    items.push(cur);
    items
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(|i| {
            let i = i.split('{').next().unwrap_or("").trim_end_matches(':').to_string();
            if i == "self" { head.trim_end_matches(':').to_string() } else { format!("{head}{i}") }
        })
        .collect()
}

/// Names a module re-exports (`pub use x::{A, B}`) and the paths they come from; `*` for globs.
fn reexports(mods: &Modules) -> BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for (m, f) in mods {
        let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (public, stmt) in use_statements(&code(f)) {
            if !public {
                continue;
            }
            for p in use_paths(&stmt) {
                if let Some((head, name)) = p.rsplit_once("::")
                    && !name.contains(" as ")
                    && !name.contains("as")
                {
                    names.entry(name.to_string()).or_default().push(head.to_string());
                }
            }
        }
        out.insert(m.clone(), names);
    }
    out
}

struct Graph {
    mods: Modules,
    reexports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl Graph {
    /// `crate::…`, `super::…`, `self::…` or a child module's path, from module `m`: the module and
    /// the rest of the path.
    fn absolute(&self, m: &[String], path: &str) -> Option<(Vec<String>, Vec<String>)> {
        let segs: Vec<String> = path.split("::").map(str::to_string).collect();
        let (mut cur, mut rest) = match segs[0].as_str() {
            "crate" => (Vec::new(), &segs[1..]),
            "super" | "self" => (m.to_vec(), &segs[..]),
            first => {
                let child = [m, &[first.to_string()]].concat();
                if !self.mods.contains_key(&child) {
                    return None;
                }
                (m.to_vec(), &segs[..])
            }
        };
        while let Some(s) = rest.first().filter(|s| *s == "super" || *s == "self") {
            if s == "super" {
                cur.pop();
            }
            rest = &rest[1..];
        }
        Some((cur, rest.to_vec()))
    }

    /// The module that defines what `path` names: the deepest module it goes through, followed
    /// through re-exports (globs by where the name is defined).
    fn resolve(&self, m: &[String], path: &str, depth: u32) -> Option<Vec<String>> {
        let (mut cur, mut segs) = self.absolute(m, path)?;
        while let Some(s) = segs.first() {
            let next = [&cur[..], std::slice::from_ref(s)].concat();
            if !self.mods.contains_key(&next) {
                break;
            }
            cur = next;
            segs.remove(0);
        }
        let (Some(name), true) = (segs.first(), depth < 6) else { return Some(cur) };
        let exports = self.reexports.get(&cur);
        if let Some(heads) = exports.and_then(|e| e.get(name)) {
            let target = format!("{}::{}", heads[0], segs.join("::"));
            if let Some(r) = self.resolve(&cur, &target, depth + 1) {
                return Some(r);
            }
        }
        for glob in exports.and_then(|e| e.get("*")).into_iter().flatten() {
            let Some((g, rest)) = self.absolute(&cur, glob) else { continue };
            let target = [g, rest].concat();
            if let Some(f) = self.mods.get(&target)
                && defines(&code(f), name)
            {
                return Some(target);
            }
        }
        Some(cur)
    }

    fn edges(&self) -> BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>> {
        let mut out: BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>> = BTreeMap::new();
        for (m, f) in &self.mods {
            let code = code(f);
            let mut paths: Vec<String> =
                use_statements(&code).into_iter().filter(|(public, _)| !public).flat_map(|(_, s)| use_paths(&s)).collect();
            paths.extend(body_paths(&without_uses(&code)));
            for p in paths {
                if let Some(to) = self.resolve(m, &p, 0)
                    && &to != m
                {
                    out.entry(m.clone()).or_default().entry(to).or_insert(p);
                }
            }
        }
        out
    }
}

fn defines(code: &str, name: &str) -> bool {
    ["struct", "enum", "fn", "trait", "type", "const", "static"].iter().any(|k| {
        let pat = format!("{k} {name}");
        code.match_indices(&pat).any(|(i, _)| !code[i + pat.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

fn without_uses(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = find_word(rest, "use") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').map_or(rest.len(), |e| i + e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `a::b::c` chains in code (the first segment is checked when resolving).
fn body_paths(code: &str) -> Vec<String> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if ident(chars[i]) && (i == 0 || !(ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let start = i;
            let mut end = i;
            loop {
                while end < chars.len() && ident(chars[end]) {
                    end += 1;
                }
                if end + 2 < chars.len() && chars[end] == ':' && chars[end + 1] == ':' && ident(chars[end + 2]) {
                    end += 2;
                } else {
                    break;
                }
            }
            let chain: String = chars[start..end].iter().collect();
            if chain.contains("::") {
                out.push(chain);
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Strongly connected components with more than one module (Tarjan).
fn circles(edges: &BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>>, nodes: &[Vec<String>]) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on: BTreeSet<Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit(t: &mut T<'_>, v: &Vec<String>) {
        let n = t.index.len();
        t.index.insert(v.clone(), n);
        t.low.insert(v.clone(), n);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let edges = t.edges;
        for w in edges.get(v).into_iter().flat_map(|e| e.keys()) {
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[v].min(t.low[w]);
                t.low.insert(v.clone(), l);
            } else if t.on.contains(w) {
                let l = t.low[v].min(t.index[w]);
                t.low.insert(v.clone(), l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = &w == v;
                c.push(w);
                if done {
                    break;
                }
            }
            if c.len() > 1 {
                t.out.push(c);
            }
        }
    }
    let mut t = T { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn graph() -> Graph {
    let mods = modules();
    let reexports = reexports(&mods);
    Graph { mods, reexports }
}

#[test]
fn src_has_no_import_circle() {
    let g = graph();
    let edges = g.edges();
    let nodes: Vec<Vec<String>> = g.mods.keys().cloned().collect();
    let found = circles(&edges, &nodes);
    let name = |m: &Vec<String>| if m.is_empty() { "crate".to_string() } else { m.join("::") };
    let report: Vec<String> = found
        .iter()
        .map(|c| {
            let set: BTreeSet<&Vec<String>> = c.iter().collect();
            let via: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a].iter().filter(|(b, _)| set.contains(b)).map(move |(b, p)| format!("{} → {} ({p})", name(a), name(b)))
                })
                .collect();
            via.join("; ")
        })
        .collect();
    assert!(report.is_empty(), "import circles in src/:\n{}", report.join("\n"));
    // The check sees the edges it must: the engine reaches the ports, the adapters the states.
    assert!(
        edges.get(&vec!["engine".to_string(), "release".into()]).is_some_and(|e| e.keys().any(|m| m.first().is_some_and(|f| f == "plan")))
    );
}

/// The checker finds a circle when there is one (parent ↔ child, and through a re-export).
#[test]
fn the_import_circle_check_finds_a_planted_circle() {
    let dir = tempfile::tempdir().expect("dir");
    let mut mods = Modules::new();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    mods.insert(vec![], write("lib.rs", "mod a;\nmod b;\npub use b::Thing;\n"));
    mods.insert(vec!["a".into()], write("a.rs", "use crate::Thing;\npub fn f() -> Thing { Thing }\n"));
    mods.insert(vec!["b".into()], write("b.rs", "pub struct Thing;\nfn g() { crate::a::f(); }\n"));
    let g = Graph { reexports: reexports(&mods), mods };
    let edges = g.edges();
    let nodes: Vec<Vec<String>> = g.mods.keys().cloned().collect();
    let found = circles(&edges, &nodes);
    assert_eq!(found.len(), 1, "a → b (through the crate root's re-export) and b → a: {edges:?}");
}

#[test]
fn the_engine_object_has_at_most_25_methods() {
    let mut files = Vec::new();
    rust_files(&src().join("engine"), &mut files);
    let mut methods = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with("impl Engine {") {
                inside = true;
            } else if inside && line == "}" {
                inside = false;
            } else if inside && let Some(rest) = line.strip_prefix("    ") {
                let rest = rest.trim_start_matches("pub ").trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ");
                if let Some(name) = rest.trim_start_matches("async ").strip_prefix("fn ") {
                    methods.push(name.split(['(', '<']).next().unwrap_or(name).to_string());
                }
            }
        }
    }
    assert!(methods.len() >= 5, "the count reads the impl blocks: {methods:?}");
    assert!(methods.len() <= 25, "impl Engine has {} methods: {methods:?}", methods.len());
}

/// AWS's enumerations are parsed from text only in the adapters (`src/aws/`), the simulator
/// (`src/sim/`) and `states` itself (its serde form): the state enums have no `From<&str>` nor
/// `FromStr`, and `from_aws` is called nowhere else outside tests.
#[test]
fn aws_enumerations_are_parsed_only_in_the_adapters() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut offenders = Vec::new();
    let mut parses = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let rel = f.strip_prefix(src()).expect("under src").to_string_lossy().replace('\\', "/");
        let adapter = rel.starts_with("aws/") || rel.starts_with("sim/") || rel == "states.rs";
        // Test-only files: `tests.rs`, and any file that is `#![cfg(test)]` as a whole.
        if rel.ends_with("tests.rs") || text.contains("\n#![cfg(test)]\n") {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let trait_parse =
                line.contains("impl From<&str> for") || line.contains("impl From<String> for") || line.contains("FromStr for");
            if (trait_parse && rel == "states.rs") || (line.contains("::from_aws(") && !adapter) {
                offenders.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
            parses += usize::from(line.contains("::from_aws(") && adapter);
        }
    }
    assert!(parses > 10, "the adapters parse AWS text with from_aws ({parses} places)");
    assert!(offenders.is_empty(), "AWS text parsed into a state outside the adapters:\n{}", offenders.join("\n"));
}
