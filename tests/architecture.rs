//! The rules of ARCHITECTURE.md that a machine can check, checked on the sources: imports
//! point one way between the rooms (`tic` imports nothing of the crate, `store` nothing above
//! it, …), no import cycle between the rooms nor between the files of one room, clap and
//! indicatif in `cli` only, and the data directory's layout known to `store` alone.
//!
//! An edge A → B says that A's code (tests, comments and re-exports left out) names an item
//! of B: `crate::b::…` between rooms; between the files of a room, `super::x` where x is a
//! sibling file, an item defined in the room's `mod.rs`, or one `mod.rs` re-exports from a
//! sibling (`scripts/modgraph` prints the same graph for a folder).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The rooms: the folders and single files under `src/` but `lib.rs` and `main.rs`.
fn rooms() -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(SRC).expect("src/") {
        let p = e.expect("entry").path();
        let name = p.file_stem().expect("name").to_string_lossy().into_owned();
        if p.is_dir() {
            out.insert(name, rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            out.insert(name, vec![p]);
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A file's code: without its test module at the bottom, comments, `mod x;` lines and
/// re-exports.
fn code(text: &str) -> String {
    let mut text = text;
    for marker in ["#[cfg(test)]\nmod tests {", "#[cfg(test)]\nmod test {"] {
        if let Some(i) = text.find(marker) {
            text = &text[..i];
        }
    }
    let mut out = String::new();
    for line in text.lines() {
        let s = line.trim_start();
        if s.starts_with("//")
            || s.starts_with("pub use ")
            || s.starts_with("pub(crate) use ")
            || is_mod_decl(s)
        {
            continue;
        }
        let line = match line.find("//") {
            Some(i) if !line.contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_mod_decl(s: &str) -> bool {
    let s = s.strip_prefix("pub ").unwrap_or(s);
    s.strip_prefix("mod ")
        .is_some_and(|r| r.trim_end().ends_with(';'))
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first names after each occurrence of `prefix` (`prefix{a, b::c}` gives a and b).
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let n = ident(part.trim());
                if !n.is_empty() {
                    out.push(n.to_owned());
                }
            }
        } else {
            let n = ident(rest);
            if !n.is_empty() {
                out.push(n.to_owned());
            }
        }
    }
    out
}

/// The items a file defines at its top level.
fn defined(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let mut s = line;
        for p in ["pub(crate) ", "pub(super) ", "pub "] {
            s = s.strip_prefix(p).unwrap_or(s);
        }
        for kw in [
            "struct ", "enum ", "trait ", "fn ", "const ", "static ", "type ", "union ",
        ] {
            if let Some(r) = s.strip_prefix(kw) {
                let n = ident(r);
                if !n.is_empty() {
                    out.insert(n.to_owned());
                }
            }
        }
    }
    out
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        let edges = t.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The graph between the rooms.
fn room_graph() -> BTreeMap<String, BTreeSet<String>> {
    let rooms = rooms();
    let mut edges = BTreeMap::new();
    for (room, files) in &rooms {
        let mut to = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(f).expect("read");
            for n in names_after(&code(&text), "crate::") {
                if &n != room && rooms.contains_key(&n) {
                    to.insert(n);
                }
            }
        }
        edges.insert(room.clone(), to);
    }
    edges
}

/// The graph between the files of one folder (a sub-folder counts as the file `name`).
fn file_graph(folder: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let parent = folder
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(folder).expect("dir") {
        let p = e.expect("entry").path();
        let stem = p.file_stem().expect("name").to_string_lossy().into_owned();
        if p.is_dir() {
            let text: String = rust_files(&p)
                .iter()
                .map(|f| std::fs::read_to_string(f).expect("read"))
                .collect::<Vec<_>>()
                .join("\n");
            // A sub-folder's own `super::` paths point into it, not at its siblings.
            files.insert(stem, (text, true));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.insert(stem, (std::fs::read_to_string(&p).expect("read"), false));
        }
    }
    let children: BTreeSet<String> = files.keys().filter(|k| *k != "mod").cloned().collect();
    let defined_in_mod = files
        .get("mod")
        .map(|(t, _)| defined(t))
        .unwrap_or_default();
    let mut reexported = BTreeMap::new();
    if let Some((m, _)) = files.get("mod") {
        for line in m.lines() {
            let Some(r) = line.strip_prefix("pub use ") else {
                continue;
            };
            let r = r.strip_prefix("self::").unwrap_or(r);
            let child = ident(r);
            if !children.contains(child) {
                continue;
            }
            for n in names_after(line, &format!("{child}::")) {
                reexported.insert(n, child.to_owned());
            }
        }
    }
    let target = |first: &str| -> Option<String> {
        if children.contains(first) {
            Some(first.to_owned())
        } else if defined_in_mod.contains(first) {
            Some("mod".to_owned())
        } else {
            reexported.get(first).cloned()
        }
    };
    let mut edges = BTreeMap::new();
    for (m, (text, nested)) in &files {
        let code = code(text);
        let mut refs = names_after(&code, &format!("crate::{parent}::"));
        if m != "mod" && !nested {
            refs.extend(names_after(&code, "super::"));
        }
        let mut to = BTreeSet::new();
        if m == "mod" {
            for child in &children {
                if code.contains(&format!("{child}::")) {
                    to.insert(child.clone());
                }
            }
        }
        for r in refs {
            if let Some(t) = target(&r) {
                if &t != m {
                    to.insert(t);
                }
            }
        }
        edges.insert(m.clone(), to);
    }
    edges
}

#[test]
fn imports_point_one_way_between_the_rooms() {
    let g = room_graph();
    let may: &[(&str, &[&str])] = &[
        ("tic", &[]),
        ("error", &[]),
        ("store", &["tic", "error"]),
        ("record", &["tic", "store", "error"]),
        ("capture", &["tic", "record", "store", "error"]),
        ("export", &["tic", "store", "error"]),
        ("cost", &["tic", "store", "export", "error"]),
    ];
    for (room, allowed) in may {
        let got = g.get(*room).unwrap_or_else(|| panic!("no room {room}"));
        let bad: Vec<&String> = got
            .iter()
            .filter(|r| !allowed.contains(&r.as_str()))
            .collect();
        assert!(
            bad.is_empty(),
            "{room} imports {bad:?}; ARCHITECTURE.md allows {allowed:?}"
        );
    }
    for (room, to) in &g {
        assert!(!to.contains("cli"), "{room} imports cli");
    }
    assert_eq!(
        cycles(&g),
        Vec::<Vec<String>>::new(),
        "cycles between rooms: {g:#?}"
    );
}

#[test]
fn no_room_has_a_cycle_between_its_files() {
    let mut bad = Vec::new();
    let mut folders = vec![PathBuf::from(SRC).join("cli")];
    for e in std::fs::read_dir(SRC).expect("src/") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            folders.push(p.clone());
            for e in std::fs::read_dir(&p).expect("dir") {
                let q = e.expect("entry").path();
                if q.is_dir() {
                    folders.push(q);
                }
            }
        }
    }
    folders.sort();
    folders.dedup();
    for f in &folders {
        let g = file_graph(f);
        for c in cycles(&g) {
            bad.push(format!("{}: {}", f.display(), c.join(" <-> ")));
        }
    }
    assert!(
        bad.is_empty(),
        "import cycles inside rooms:\n{}",
        bad.join("\n")
    );
}

#[test]
fn clap_and_indicatif_only_in_the_cli() {
    for (room, files) in rooms() {
        if room == "cli" {
            continue;
        }
        for f in files {
            let text = code(&std::fs::read_to_string(&f).expect("read"));
            for krate in ["clap::", "indicatif::"] {
                assert!(
                    names_after(&text, krate).is_empty(),
                    "{} uses {krate}: only cli talks to people",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn only_the_store_names_the_data_directory_layout() {
    // Names that only the store's layout may spell out.
    let layout = [
        "\".tic-rec-index\"",
        "\".tic-rec.lock\"",
        "join(\"journal\")",
        "join(\"records\")",
        "join(\"periods\")",
    ];
    for (room, files) in rooms() {
        if room == "store" {
            continue;
        }
        for f in files {
            let text = code(&std::fs::read_to_string(&f).expect("read"));
            for name in layout {
                assert!(
                    !text.contains(name),
                    "{} spells {name}: the data directory's layout belongs to store",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn the_checks_see_what_they_check() {
    // The graph of a folder known to have edges, and a cycle made up, so that a check that
    // silently reads nothing would fail here.
    let g = file_graph(&PathBuf::from(SRC).join("export"));
    assert!(g.values().map(BTreeSet::len).sum::<usize>() > 5, "{g:#?}");
    let mut made = BTreeMap::new();
    made.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    made.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&made), vec![vec!["a".to_owned(), "b".to_owned()]]);
    assert!(room_graph()["serve"].contains("store"));
    assert_eq!(names_after("use crate::{a, b::c};", "crate::"), ["a", "b"]);
}
