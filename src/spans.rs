//! Where in its source text an input problem stands: a deployspec field path (`deploy.rolling.
//! maximum_percent`, `service.definition.load_balancers[0].container_port`) is looked up in the
//! TOML's spans, a task-definition template's (`containerDefinitions[1].image`, or by name
//! `containerDefinitions[web].memory`) in the JSON's (jsonc-parser's syntax tree); a line and
//! column are taken as they are. The result is the line, the column and
//! the text of the line, for a snippet with a caret.

use serde::Serialize;

/// A place in a file, with the text of its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct SourceSpan {
    /// 1-based.
    pub(crate) line: usize,
    /// 1-based, in characters.
    pub(crate) col: usize,
    /// How many characters the caret underlines (at least 1).
    pub(crate) width: usize,
    /// The line's text; empty when it is not shown (see [`SourceSpan::guarded`]).
    #[serde(skip)]
    pub(crate) text: String,
}

impl SourceSpan {
    /// The span without its line's text (the place alone).
    pub(crate) fn hidden(mut self) -> SourceSpan {
        self.text.clear();
        self
    }

    /// The span without its text when the line could hold a secret (a name such as PASSWORD,
    /// TOKEN or KEY on it), and cut to 120 characters around the caret otherwise: a snippet never
    /// prints what the redaction would hide.
    pub(crate) fn guarded(mut self) -> SourceSpan {
        if crate::redact::Redactor::new(&[]).is_secret_name(&self.text) {
            self.text.clear();
            return self;
        }
        let chars: Vec<char> = self.text.chars().collect();
        if chars.len() > 120 {
            let from = self.col.saturating_sub(60).min(chars.len().saturating_sub(120));
            self.text = chars[from..from + 120].iter().collect();
            self.col -= from;
            self.width = self.width.min(121 - self.col);
        }
        self
    }
}

enum Step {
    Key(String),
    Index(usize),
    /// `[web]`: the element of a list whose `name` is `web` (the template's name-keyed paths).
    Name(String),
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        for idx in rest.split('[').map(|i| i.trim_end_matches(']')).filter(|i| !i.is_empty()) {
            match idx.parse() {
                Ok(i) => out.push(Step::Index(i)),
                Err(_) => out.push(Step::Name(idx.to_string())),
            }
        }
    }
    out
}

/// The span of `path` in TOML `text`: the value's, or the deepest part of the path that exists.
pub(crate) fn toml_field(text: &str, path: &str) -> Option<SourceSpan> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table = Some(root.get_ref());
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for step in steps(path) {
        let next = match (&step, table, value.map(|v| v.get_ref())) {
            (Step::Key(k), Some(t), _) => t.iter().find(|(key, _)| key.get_ref().as_ref() == k.as_str()).map(|(_, v)| v),
            (Step::Index(i), _, Some(DeValue::Array(a))) => a.as_ref().get(*i),
            _ => None,
        };
        let Some(v) = next else { break };
        best = Some(v.span());
        value = Some(v);
        table = match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    best.map(|r| at(text, r.start, r.end.saturating_sub(r.start)))
}

/// The span of `path` in JSON `text` (a task-definition template; wrapped in `taskDefinition`
/// as `describe-task-definition` prints it, or not): the value's, or the deepest part of the
/// path that exists.
pub(crate) fn json_field(text: &str, path: &str) -> Option<SourceSpan> {
    use jsonc_parser::ast::Value;
    use jsonc_parser::common::Ranged;
    let parsed = jsonc_parser::parse_to_ast(text, &Default::default(), &Default::default()).ok()?;
    let root = parsed.value.as_ref()?;
    let steps = steps(path);
    let mut value = match (steps.first(), json_prop(root, "taskDefinition")) {
        (Some(Step::Key(k)), Some(inner)) if k != "taskDefinition" => inner,
        _ => root,
    };
    let mut best = None;
    for step in steps {
        let next = match (&step, value) {
            (Step::Key(k), _) => json_prop(value, k),
            (Step::Index(i), Value::Array(a)) => a.elements.get(*i),
            (Step::Name(n), Value::Array(a)) => {
                a.elements.iter().find(|e| json_prop(e, "name").and_then(|v| v.as_string_lit()).is_some_and(|s| s.value == n.as_str()))
            }
            _ => None,
        };
        let Some(v) = next else { break };
        best = Some(v.range());
        value = v;
    }
    best.map(|r| at(text, r.start, r.end.saturating_sub(r.start)))
}

/// The value of an object's property `key`.
fn json_prop<'v, 'a>(v: &'v jsonc_parser::ast::Value<'a>, key: &str) -> Option<&'v jsonc_parser::ast::Value<'a>> {
    use jsonc_parser::ast::Value;
    let Value::Object(o) = v else { return None };
    o.properties.iter().find(|p| p.name.clone().into_string() == key).map(|p| &p.value)
}

/// The span at a 1-based line and column.
pub(crate) fn line_col(text: &str, line: usize, col: usize) -> Option<SourceSpan> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    Some(SourceSpan { line, col, width: 1, text: l.to_string() })
}

fn at(text: &str, start: usize, len: usize) -> SourceSpan {
    let start = start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = text[line_start..].lines().next().unwrap_or_default().to_string();
    let col = text[line_start..start].chars().count() + 1;
    let rest = line_text.chars().count().saturating_sub(col - 1);
    let width = text.get(start..start + len).map_or(1, |s| s.chars().count()).clamp(1, rest.max(1));
    SourceSpan { line, col, width, text: line_text }
}

impl std::fmt::Display for SourceSpan {
    /// ```text
    ///    |
    /// 12 | platform_version = "latest"
    ///    |                    ^^^^^^^^
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.text.is_empty() {
            return write!(f, "  at line {}, column {} (the line is not shown: it may hold a secret)", self.line, self.col);
        }
        let n = self.line.to_string();
        let pad = " ".repeat(n.len());
        write!(f, "  {pad} |\n  {n} | {}\n  {pad} | {}{}", self.text, " ".repeat(self.col - 1), "^".repeat(self.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "[service]\ncluster = \"c\"\nname = \"web\"\n\n[deploy.rolling]\nmaximum_percent = 90\n\n[[service.definition.load_balancers]]\ntarget_group_arn = \"arn\"\ncontainer_port = 9090\n";

    #[test]
    fn field_paths_are_found_in_the_toml() {
        let s = toml_field(SPEC, "deploy.rolling.maximum_percent").expect("span");
        assert_eq!((s.line, s.col, s.width), (6, 19, 2));
        assert_eq!(s.text, "maximum_percent = 90");
        let s = toml_field(SPEC, "service.definition.load_balancers[0].container_port").expect("span");
        assert_eq!((s.line, s.col, s.width), (10, 18, 4));
        let s = toml_field(SPEC, "service.name").expect("span");
        assert_eq!((s.line, s.col), (3, 8));
        assert_eq!(s.to_string(), "    |\n  3 | name = \"web\"\n    |        ^^^^^");
        // A key that is not there: the deepest part that is.
        let s = toml_field(SPEC, "deploy.rolling.minimum_healthy_percent").expect("span");
        assert_eq!(s.line, 5, "the [deploy.rolling] table");
        assert_eq!(toml_field("not toml [", "a"), None);
    }

    const TEMPLATE: &str = "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\", \"image\": \"{{ image }}\"},\n    {\n      \"name\": \"log-router\",\n      \"memory\": 64,\n      \"image\": \"fluent-bit\"\n    }\n  ]\n}\n";

    #[test]
    fn field_paths_are_found_in_the_json_template() {
        let s = json_field(TEMPLATE, "containerDefinitions[1].image").expect("span");
        assert_eq!((s.line, s.col, s.width), (8, 16, 12));
        assert_eq!(s.text, "      \"image\": \"fluent-bit\"");
        // By name, as the name-keyed diff and the rules write it.
        let s = json_field(TEMPLATE, "containerDefinitions[log-router].memory").expect("span");
        assert_eq!((s.line, s.col, s.width), (7, 17, 2));
        let s = json_field(TEMPLATE, "containerDefinitions[0].image").expect("span");
        assert_eq!((s.line, s.col), (4, 30));
        // Wrapped as describe-task-definition prints it: the same path finds the same value.
        let wrapped = format!("{{\"taskDefinition\": {TEMPLATE}}}");
        let s = json_field(&wrapped, "family").expect("span");
        assert_eq!(s.text, "  \"family\": \"web\",");
        assert_eq!(json_field(&wrapped, "taskDefinition").map(|s| (s.line, s.col)), Some((1, 20)), "the wrapper itself");
        // Not there: the deepest part that is; a name no element has, the list.
        assert_eq!(json_field(TEMPLATE, "containerDefinitions[1].cpu").map(|s| s.line), Some(5));
        assert_eq!(json_field(TEMPLATE, "containerDefinitions[sidecar].image").map(|s| s.line), Some(3));
        assert_eq!(json_field("{ not json", "a"), None);
    }

    #[test]
    fn a_line_that_may_hold_a_secret_is_not_shown() {
        let s = line_col("{\"name\": \"DB_PASSWORD\", \"value\": \"hunter2\"}", 1, 5).expect("span").guarded();
        assert!(s.text.is_empty() && !s.to_string().contains("hunter2"), "{s}");
        assert!(s.to_string().contains("line 1, column 5"));
        let long = format!("{}x = 1", "a".repeat(300));
        let s = line_col(&long, 1, 301).expect("span").guarded();
        assert_eq!(s.text.chars().count(), 120);
        assert!(s.text.ends_with("x = 1") && s.text.chars().nth(s.col - 1) == Some('x'), "{s}");
    }
}
