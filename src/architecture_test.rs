//! The import graph of `src/`: no two files import each other, and no file
//! imports from a layer above its own (the layers are [`LAYERS`], described
//! in docs/architecture.md).
//!
//! A small lexer reads every `.rs` file under `src/` (comments, strings and
//! char literals skipped) and collects two kinds of paths:
//! - `use` trees, groups and `self` included (`use crate::a::{b, c::{self, D}}`);
//! - paths written inline anywhere else (`crate::a::b::c(..)`, `super::x::Y`,
//!   or `m::Y` where `m` is a module this file declares or imported by name).
//!
//! Relative paths (`super::`, `self::`, a child module, an imported module's
//! name) are made absolute from the module the path sits in, inline
//! `mod tests { .. }` blocks included. `knob::` in `main.rs` names the library.
//!
//! Each path then resolves to the file that defines what it names: the
//! longest prefix that is a module picks a file, and when the next segment is
//! one of that file's `pub use` re-exports, the re-export is followed to its
//! own file. So `crate::settings::Journal` in `settings/lock.rs` is an import
//! of `settings/journal.rs`, not of `settings/mod.rs`.
//!
//! What is not an import:
//! - `mod child;` declarations;
//! - a `pub use` of something in the file's own child modules that only
//!   re-exports it (the file's own code does not use the name). So a child
//!   importing `super::X` imports the sibling that defines `X`, and that is a
//!   pair only when the sibling imports the child back;
//! - `use path::to::module;` on its own (naming a module): the paths written
//!   through that name are the imports;
//! - a path into the file itself (`use super::*` in an inline `mod tests`).
//!
//! Test code counts like any other code: a `#[cfg(test)]` module that needs a
//! higher layer is a sign the code under test sits in the wrong place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers of `src/`, lowest first: a file may import from its own layer
/// and the layers below it, never from one above. Each entry names module
/// paths; a file belongs to the layer of the longest entry that is a prefix of
/// its module path (`""` is `src/lib.rs` alone, `main` is `src/main.rs`).
/// docs/architecture.md has a row per layer (a test holds it to this list).
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["output", "toml_error"]),
    ("settings", &["settings"]),
    ("gguf", &["gguf"]),
    ("model", &["tokenizer", "model", "sampling"]),
    ("generation", &["chat_template", "generate"]),
    ("chat", &["chat"]),
    ("agent", &["agent"]),
    (
        "tui parts",
        &["tui::backend", "tui::input", "tui::theme", "tui::wrap"],
    ),
    ("tui state", &["tui::state"]),
    ("tui view", &["tui::view"]),
    ("tui app", &["tui::app"]),
    ("tui", &["tui"]),
    ("shell", &["exit", "config", "version", "cli", "man"]),
    ("commands", &["commands"]),
    ("entry points", &["", "main", "fuzz", "architecture_test"]),
];

/// One token of Rust source, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Lexes `src` into identifiers, `::` and punctuation. Comments, string,
/// byte-string, raw-string, char and number literals and lifetimes produce no
/// token (a string leaves a `"` punct so that `x"..."` never joins tokens).
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // Skips a quoted literal starting at the opening quote `c[i]`.
    let skip_quoted = |i: &mut usize, line: &mut usize, quote: char| {
        *i += 1;
        while *i < c.len() && c[*i] != quote {
            if c[*i] == '\\' {
                *i += 1;
            }
            if *i < c.len() && c[*i] == '\n' {
                *line += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            out.push((Tok::Punct('"'), line));
            skip_quoted(&mut i, &mut line, '"');
        } else if ch == '\'' {
            if next == Some('\\') {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                // A lifetime or a loop label.
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let here = c.get(i).copied();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(here, Some('"' | '#')) {
                let mut hashes = 0;
                while c.get(i + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if c.get(i + hashes) == Some(&'"') {
                    // A raw string: ends at `"` and as many `#`.
                    out.push((Tok::Punct('"'), line));
                    i += hashes + 1;
                    loop {
                        if i >= c.len() {
                            break;
                        }
                        if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                            i += 1 + hashes;
                            break;
                        }
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                } else if word == "r" && hashes == 1 {
                    // A raw identifier: r#type.
                    i += 1;
                    let start = i;
                    while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                        i += 1;
                    }
                    out.push((Tok::Ident(c[start..i].iter().collect()), line));
                } else {
                    out.push((Tok::Ident(word), line));
                }
            } else if matches!(word.as_str(), "b" | "c") && here == Some('"') {
                out.push((Tok::Punct('"'), line));
                skip_quoted(&mut i, &mut line, '"');
            } else if word == "b" && here == Some('\'') {
                skip_quoted(&mut i, &mut line, '\'');
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// A path as written, before it is made absolute.
#[derive(Debug, Clone)]
struct RawPath {
    segments: Vec<String>,
    /// The module the path is written in (inline `mod` blocks included).
    scope: Vec<String>,
    line: usize,
    kind: PathKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathKind {
    /// A `use` leaf binding `name` (the last segment, or its `as` rename).
    Use { name: String, public: bool },
    /// A `use path::*`.
    Glob { public: bool },
    /// A path written outside `use`.
    Inline,
}

/// What one file says: its `use` and inline paths, and the inline modules it
/// opens.
#[derive(Debug, Default)]
struct Parsed {
    paths: Vec<RawPath>,
    inline_mods: Vec<Vec<String>>,
    /// Every identifier outside `use` declarations.
    body_idents: BTreeSet<String>,
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

fn is(t: Option<&(Tok, usize)>, want: &Tok) -> bool {
    matches!(t, Some((tok, _)) if tok == want)
}

/// Parses one `use` tree starting at `toks[*i]`, with `prefix` already read;
/// pushes a path per leaf. Stops after the tree (at `,`, `}` or `;`).
fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: Vec<String>,
    leaf: &mut dyn FnMut(Vec<String>, Leaf),
) {
    let mut path = prefix;
    loop {
        match toks.get(*i) {
            Some((Tok::Ident(s), _)) => {
                path.push(s.clone());
                *i += 1;
            }
            Some((Tok::Punct('*'), _)) => {
                *i += 1;
                leaf(path, Leaf::Glob);
                return;
            }
            Some((Tok::Punct('{'), _)) => {
                *i += 1;
                while !is(toks.get(*i), &Tok::Punct('}')) && *i < toks.len() {
                    let before = *i;
                    use_tree(toks, i, path.clone(), leaf);
                    if is(toks.get(*i), &Tok::Punct(',')) || *i == before {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            _ => return,
        }
        if is(toks.get(*i), &Tok::PathSep) {
            *i += 1;
            continue;
        }
        // The end of a simple path: an optional rename.
        let mut name = path.last().cloned().unwrap_or_default();
        if ident(toks.get(*i)) == Some("as") {
            name = ident(toks.get(*i + 1)).unwrap_or("_").to_string();
            *i += 2;
        }
        if path.last().map(String::as_str) == Some("self") {
            path.pop();
            if name == "self" {
                name = path.last().cloned().unwrap_or_default();
            }
        }
        leaf(path, Leaf::Name(name));
        return;
    }
}

/// The end of one `use` tree branch: a name it binds, or `*`.
enum Leaf {
    Name(String),
    Glob,
}

/// Collects the paths of one file whose module path is `module`.
fn parse(src: &str, module: &[String]) -> Parsed {
    let toks = lex(src);
    let mut parsed = Parsed::default();
    // Inline modules open now: (name, brace depth inside it).
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope = |open: &[(String, usize)]| {
        let mut s = module.to_vec();
        s.extend(open.iter().map(|(n, _)| n.clone()));
        s
    };
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if open.last().is_some_and(|(_, d)| *d > depth) {
                    open.pop();
                }
                i += 1;
            }
            Tok::Ident(w) if w == "mod" && ident(toks.get(i + 1)).is_some() => {
                let name = ident(toks.get(i + 1)).unwrap_or_default().to_string();
                if is(toks.get(i + 2), &Tok::Punct('{')) {
                    open.push((name, depth + 1));
                    parsed.inline_mods.push(scope(&open));
                    depth += 1;
                    i += 3;
                } else {
                    i += 2;
                }
            }
            Tok::Ident(w) if w == "use" && !is(toks.get(i + 1), &Tok::Punct('<')) => {
                // `pub use` / `pub(crate) use`: look back past the visibility.
                let public = match i.checked_sub(1).map(|k| &toks[k].0) {
                    Some(Tok::Ident(p)) if p == "pub" => true,
                    Some(Tok::Punct(')')) => i >= 4 && ident(toks.get(i - 4)) == Some("pub"),
                    _ => false,
                };
                let here = scope(&open);
                let mut j = i + 1;
                if is(toks.get(j), &Tok::PathSep) {
                    j += 1;
                }
                let mut leaves = Vec::new();
                use_tree(&toks, &mut j, Vec::new(), &mut |segments, kind| {
                    leaves.push((segments, kind))
                });
                for (segments, kind) in leaves {
                    let kind = match kind {
                        Leaf::Name(name) => PathKind::Use { name, public },
                        Leaf::Glob => PathKind::Glob { public },
                    };
                    parsed.paths.push(RawPath {
                        segments,
                        scope: here.clone(),
                        line: *line,
                        kind,
                    });
                }
                while j < toks.len() && !is(toks.get(j), &Tok::Punct(';')) {
                    j += 1;
                }
                i = j;
            }
            Tok::Ident(first) if is(toks.get(i + 1), &Tok::PathSep) => {
                // An inline path; `$crate::` (macros) and continuations of a
                // longer path (`<T as x>::y`, `a::b`) are skipped.
                let after_dollar = i > 0 && is(toks.get(i - 1), &Tok::Punct('$'));
                let continued = i > 0 && is(toks.get(i - 1), &Tok::PathSep);
                let mut segments = vec![first.clone()];
                let mut j = i + 1;
                while is(toks.get(j), &Tok::PathSep) {
                    match ident(toks.get(j + 1)) {
                        Some(s) => {
                            segments.push(s.to_string());
                            j += 2;
                        }
                        None => break,
                    }
                }
                for s in &segments {
                    parsed.body_idents.insert(s.clone());
                }
                if !after_dollar && !continued {
                    parsed.paths.push(RawPath {
                        segments,
                        scope: scope(&open),
                        line: *line,
                        kind: PathKind::Inline,
                    });
                }
                i = j;
            }
            _ => {
                if let Tok::Ident(w) = tok {
                    parsed.body_idents.insert(w.clone());
                }
                i += 1;
            }
        }
    }
    parsed
}

/// One file of `src/`.
struct File {
    /// Relative to `src/`, with `/`.
    rel: String,
    module: Vec<String>,
    parsed: Parsed,
}

/// An import of `to` by `from` (indices into the file list).
#[derive(Debug, Clone)]
struct Edge {
    from: usize,
    to: usize,
    line: usize,
    /// The path as written, `::`-joined.
    written: String,
}

/// The module path of a file relative to `src/`: `lib.rs` is the root,
/// `main.rs` is `main`, `a/mod.rs` and `a.rs` are `a`, `a/b.rs` is `a::b`.
fn module_of(rel: &str) -> Vec<String> {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    parts
}

/// The import graph of a set of files given as (path relative to `src/`,
/// contents).
struct Graph {
    files: Vec<File>,
    edges: Vec<Edge>,
}

impl Graph {
    fn build(sources: &[(String, String)]) -> Graph {
        let files: Vec<File> = sources
            .iter()
            .map(|(rel, text)| {
                let module = module_of(rel);
                File {
                    parsed: parse(text, &module),
                    rel: rel.clone(),
                    module,
                }
            })
            .collect();
        let by_module: BTreeMap<Vec<String>, usize> = files
            .iter()
            .enumerate()
            .map(|(n, f)| (f.module.clone(), n))
            .collect();
        // Every module: file modules and inline ones.
        let mut modules: BTreeSet<Vec<String>> = by_module.keys().cloned().collect();
        for f in &files {
            modules.extend(f.parsed.inline_mods.iter().cloned());
        }
        let mut graph = Graph {
            files,
            edges: Vec::new(),
        };
        let resolver = Resolver::new(&graph.files, &by_module, &modules);
        for (n, f) in graph.files.iter().enumerate() {
            for p in &f.parsed.paths {
                let Some(abs) = resolver.absolute(n, p) else {
                    continue;
                };
                let public = matches!(
                    p.kind,
                    PathKind::Use { public: true, .. } | PathKind::Glob { public: true }
                );
                // `use some::module;` only names a module.
                if matches!(p.kind, PathKind::Use { .. }) && modules.contains(&abs) {
                    continue;
                }
                let Some(to) = resolver.file_of(&abs, 0) else {
                    continue;
                };
                // A parent's re-export of its child, unless the parent's own
                // code uses the name too.
                let reexport_of_child = public
                    && {
                        let target = &graph.files[to].module;
                        target.len() > f.module.len() && target.starts_with(&f.module)
                    }
                    && match &p.kind {
                        PathKind::Use { name, .. } => !f.parsed.body_idents.contains(name),
                        _ => true,
                    };
                if to == n || reexport_of_child {
                    continue;
                }
                graph.edges.push(Edge {
                    from: n,
                    to,
                    line: p.line,
                    written: p.segments.join("::"),
                });
            }
        }
        graph
    }

    fn name(&self, n: usize) -> String {
        format!("src/{}", self.files[n].rel)
    }

    /// Pairs of files that import each other, each with one import either way.
    fn mutual(&self) -> Vec<String> {
        let mut first: BTreeMap<(usize, usize), &Edge> = BTreeMap::new();
        for e in &self.edges {
            first.entry((e.from, e.to)).or_insert(e);
        }
        let mut out = Vec::new();
        for (&(a, b), ab) in &first {
            if a < b {
                if let Some(ba) = first.get(&(b, a)) {
                    out.push(format!(
                        "{} <-> {}: {}:{} uses {}, {}:{} uses {}",
                        self.name(a),
                        self.name(b),
                        self.name(a),
                        ab.line,
                        ab.written,
                        self.name(b),
                        ba.line,
                        ba.written
                    ));
                }
            }
        }
        out
    }

    /// Imports from a higher layer, and files no layer holds.
    fn upward(&self, layers: &[(&str, &[&str])]) -> Vec<String> {
        let layer_of = |n: usize| -> Option<usize> {
            let module = &self.files[n].module;
            layers
                .iter()
                .enumerate()
                .flat_map(|(l, (_, prefixes))| prefixes.iter().map(move |p| (l, *p)))
                .filter(|(_, p)| {
                    // "" is the crate root (lib.rs) alone.
                    if p.is_empty() {
                        return module.is_empty();
                    }
                    let p: Vec<&str> = p.split("::").collect();
                    p.len() <= module.len() && p.iter().zip(module).all(|(a, b)| a == b)
                })
                .max_by_key(|(_, p)| {
                    if p.is_empty() {
                        0
                    } else {
                        p.split("::").count()
                    }
                })
                .map(|(l, _)| l)
        };
        let mut out = Vec::new();
        for n in 0..self.files.len() {
            if layer_of(n).is_none() {
                out.push(format!("{} is in no layer: add it to LAYERS", self.name(n)));
            }
        }
        let mut seen = BTreeSet::new();
        for e in &self.edges {
            let (Some(from), Some(to)) = (layer_of(e.from), layer_of(e.to)) else {
                continue;
            };
            if to > from && seen.insert((e.from, e.to)) {
                out.push(format!(
                    "{}:{} (layer {}) imports {} (layer {}): {}",
                    self.name(e.from),
                    e.line,
                    layers[from].0,
                    self.name(e.to),
                    layers[to].0,
                    e.written
                ));
            }
        }
        out
    }
}

/// Makes paths absolute and finds the file that defines what they name.
struct Resolver<'a> {
    files: &'a [File],
    by_module: &'a BTreeMap<Vec<String>, usize>,
    modules: &'a BTreeSet<Vec<String>>,
    /// Per file: names bound by `use` to a module, and their module paths.
    module_names: Vec<BTreeMap<String, Vec<String>>>,
    /// Per file: `pub use` names at the file's top level, and their paths.
    reexports: Vec<BTreeMap<String, Vec<String>>>,
}

impl<'a> Resolver<'a> {
    fn new(
        files: &'a [File],
        by_module: &'a BTreeMap<Vec<String>, usize>,
        modules: &'a BTreeSet<Vec<String>>,
    ) -> Self {
        let mut r = Resolver {
            files,
            by_module,
            modules,
            module_names: vec![BTreeMap::new(); files.len()],
            reexports: vec![BTreeMap::new(); files.len()],
        };
        // Module names may be used before they are bound, and bound through
        // other bound names: repeat until nothing new is learnt.
        loop {
            let mut learnt = false;
            for (n, f) in files.iter().enumerate() {
                for p in &f.parsed.paths {
                    let PathKind::Use { name, public } = &p.kind else {
                        continue;
                    };
                    let Some(abs) = r.absolute(n, p) else {
                        continue;
                    };
                    if modules.contains(&abs) && r.module_names[n].get(name) != Some(&abs) {
                        r.module_names[n].insert(name.clone(), abs.clone());
                        learnt = true;
                    }
                    if *public && p.scope == f.module && r.reexports[n].get(name) != Some(&abs) {
                        r.reexports[n].insert(name.clone(), abs);
                        learnt = true;
                    }
                }
            }
            if !learnt {
                break;
            }
        }
        r
    }

    /// The absolute module path of `p` (written in file `n`), or `None` when
    /// it starts outside this crate (`std::`, another crate, a type).
    fn absolute(&self, n: usize, p: &RawPath) -> Option<Vec<String>> {
        let file = &self.files[n];
        let first = p.segments.first()?;
        let in_main = file.module == ["main"];
        let (mut base, rest) = match first.as_str() {
            "crate" if in_main => return None,
            "knob" if in_main => (Vec::new(), &p.segments[1..]),
            "crate" => (Vec::new(), &p.segments[1..]),
            "self" => (p.scope.clone(), &p.segments[1..]),
            "super" => {
                let mut base = p.scope.clone();
                let mut k = 0;
                while p.segments.get(k).map(String::as_str) == Some("super") {
                    base.pop()?;
                    k += 1;
                }
                (base, &p.segments[k..])
            }
            _ => {
                let mut child = p.scope.clone();
                child.push(first.clone());
                if self.modules.contains(&child) {
                    (child, &p.segments[1..])
                } else if let Some(m) = self.module_names[n].get(first) {
                    (m.clone(), &p.segments[1..])
                } else {
                    return None;
                }
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file that defines what the absolute path `abs` names: the file of
    /// its longest module prefix, or, through that file's `pub use`, the file
    /// the re-export names.
    fn file_of(&self, abs: &[String], hops: usize) -> Option<usize> {
        let mut k = abs.len();
        let file = loop {
            if let Some(&f) = self.by_module.get(&abs[..k]) {
                break f;
            }
            k = k.checked_sub(1)?;
        };
        if hops < 8 {
            if let Some(target) = abs.get(k).and_then(|name| self.reexports[file].get(name)) {
                let mut next = target.clone();
                next.extend(abs[k + 1..].iter().cloned());
                if let Some(f) = self.file_of(&next, hops + 1) {
                    return Some(f);
                }
            }
        }
        Some(file)
    }
}

/// Every `.rs` file under `dir`, relative to it, with its text.
fn read_tree(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name");
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if path.is_dir() {
            read_tree(&path, &child, out);
        } else if name.ends_with(".rs") {
            let text = fs::read_to_string(&path).expect("readable source file");
            out.push((child, text));
        }
    }
}

fn src_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    read_tree(&src, "", &mut sources);
    Graph::build(&sources)
}

#[test]
fn no_two_files_in_src_import_each_other() {
    let pairs = src_graph().mutual();
    assert!(
        pairs.is_empty(),
        "{} pairs of files in src/ import each other; move what both need into \
         a lower module (docs/architecture.md):\n  {}",
        pairs.len(),
        pairs.join("\n  ")
    );
}

#[test]
fn no_file_in_src_imports_from_a_higher_layer() {
    let upward = src_graph().upward(LAYERS);
    assert!(
        upward.is_empty(),
        "{} imports from a higher layer (layers: src/architecture_test.rs LAYERS, \
         docs/architecture.md):\n  {}",
        upward.len(),
        upward.join("\n  ")
    );
}

#[test]
fn docs_architecture_has_a_row_per_layer_naming_its_modules() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let text = fs::read_to_string(&doc).expect("docs/architecture.md");
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
    for (layer, modules) in LAYERS {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| {layer} |")))
            .unwrap_or_else(|| panic!("docs/architecture.md has no row for layer {layer}"));
        for m in modules.iter().filter(|m| !m.is_empty() && **m != "main") {
            assert!(
                row.contains(&format!("`{m}`")),
                "docs/architecture.md's row for layer {layer} does not name `{m}`"
            );
        }
    }
    let layer_rows = rows.len() - 2; // the header and its rule
    assert_eq!(
        layer_rows,
        LAYERS.len(),
        "docs/architecture.md rows vs LAYERS"
    );
}

#[test]
fn every_layer_entry_names_a_module() {
    let graph = src_graph();
    let modules: BTreeSet<String> = graph.files.iter().map(|f| f.module.join("::")).collect();
    for (layer, prefixes) in LAYERS {
        for p in *prefixes {
            assert!(
                modules.contains(*p),
                "layer {layer} names {p}, which is no file in src/"
            );
        }
    }
}

mod checker {
    //! The checker itself, on files written here.
    use super::*;

    fn graph(files: &[(&str, &str)]) -> Graph {
        let sources: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        Graph::build(&sources)
    }

    /// The edges as "from -> to" pairs of relative paths.
    fn edges(g: &Graph) -> BTreeSet<String> {
        g.edges
            .iter()
            .map(|e| format!("{} -> {}", g.files[e.from].rel, g.files[e.to].rel))
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const LIB: &str = "pub mod a; pub mod b; pub mod c;";

    #[test]
    fn use_trees_groups_self_and_renames_are_imports() {
        let g = graph(&[
            ("lib.rs", LIB),
            (
                "a.rs",
                "use crate::{b::{self as bee, X}, c::Y as Z};\nfn f() { bee::g(); }",
            ),
            ("b.rs", ""),
            ("c.rs", ""),
        ]);
        assert_eq!(edges(&g), set(&["a.rs -> b.rs", "a.rs -> c.rs"]));
    }

    #[test]
    fn inline_paths_anywhere_are_imports_and_text_is_not() {
        let g = graph(&[
            ("lib.rs", LIB),
            (
                "a.rs",
                "// crate::c::X in a comment\n\
                 const S: &str = \"crate::c::X\"; const R: &str = r#\"crate::c::\"#;\n\
                 const C: char = '\"'; fn f<'a>(x: &'a u8) { let _ = crate::b::g(x); }",
            ),
            ("b.rs", "#[command(help = super::a::HELP)] struct S;"),
            ("c.rs", ""),
        ]);
        assert_eq!(edges(&g), set(&["a.rs -> b.rs", "b.rs -> a.rs"]));
        assert_eq!(g.mutual().len(), 1, "{:?}", g.mutual());
    }

    #[test]
    fn a_parents_reexport_resolves_to_the_child_and_is_no_import_itself() {
        let g = graph(&[
            ("lib.rs", "pub mod s;"),
            (
                "s/mod.rs",
                "mod j; mod l; pub use j::Journal; pub use l::{Lock, LockError};",
            ),
            ("s/j.rs", "use super::LockError;"),
            ("s/l.rs", "use crate::s::Journal; use super::*;"),
        ]);
        assert_eq!(
            edges(&g),
            set(&["s/j.rs -> s/l.rs", "s/l.rs -> s/j.rs", "s/l.rs -> s/mod.rs"])
        );
        assert_eq!(g.mutual().len(), 1);
    }

    #[test]
    fn a_reexported_name_the_parent_uses_itself_is_an_import() {
        let g = graph(&[
            ("lib.rs", "pub mod m;"),
            (
                "m/mod.rs",
                "mod c; pub use c::Cache; struct M { cache: Cache }",
            ),
            ("m/c.rs", "use super::M; pub struct Cache;"),
        ]);
        assert_eq!(
            edges(&g),
            set(&["m/c.rs -> m/mod.rs", "m/mod.rs -> m/c.rs"])
        );
    }

    #[test]
    fn paths_through_an_imported_module_name_and_a_child_module() {
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            ("a/mod.rs", "pub mod x; fn f() { x::g(); }"),
            ("a/x.rs", "use crate::b; fn h() { b::inner::K; }"),
            ("b/mod.rs", "pub mod inner;"),
            ("b/inner.rs", ""),
        ]);
        assert_eq!(
            edges(&g),
            set(&["a/mod.rs -> a/x.rs", "a/x.rs -> b/inner.rs"])
        );
    }

    #[test]
    fn inline_test_modules_resolve_super_to_their_file() {
        let g = graph(&[
            ("lib.rs", LIB),
            (
                "a.rs",
                "fn f() {}\n#[cfg(test)]\nmod tests { use super::*; use super::super::b::X; }",
            ),
            ("b.rs", ""),
            ("c.rs", "macro_rules! m { () => { $crate::a::f() } }"),
        ]);
        assert_eq!(edges(&g), set(&["a.rs -> b.rs"]));
    }

    #[test]
    fn main_reaches_the_library_as_knob() {
        let g = graph(&[
            ("lib.rs", LIB),
            (
                "main.rs",
                "use knob::a::X; fn main() { knob::b::run(); std::process::exit(0); }",
            ),
            ("a.rs", ""),
            ("b.rs", ""),
            ("c.rs", ""),
        ]);
        assert_eq!(edges(&g), set(&["main.rs -> a.rs", "main.rs -> b.rs"]));
    }

    #[test]
    fn an_import_from_a_higher_layer_is_reported() {
        let g = graph(&[
            ("lib.rs", LIB),
            ("a.rs", "use crate::b::X;"),
            ("b.rs", ""),
            ("c.rs", "use crate::a::Y;"),
        ]);
        let layers: &[(&str, &[&str])] = &[("low", &["", "a"]), ("high", &["b", "c"])];
        let up = g.upward(layers);
        assert_eq!(up.len(), 1, "{up:?}");
        assert!(up[0].starts_with("src/a.rs:1 (layer low) imports src/b.rs (layer high)"));
        assert_eq!(
            g.upward(&[("low", &["a"])]).len(),
            3,
            "lib, b and c have no layer"
        );
    }
}
