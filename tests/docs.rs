//! Every command the documentation shows (README.md, docs/*.md) runs: each fenced `sh` block
//! is run line by line by `bash` in a fresh directory holding a demo data directory
//! (`tic-data`, from `tic-rec record --demo`) and the repository's `data/` and `examples/`,
//! with `tic-rec` (and `cargo run --release --`) being the binary under test; each command
//! must exit 0 (pipes included) and print something, or write the file it names. `python`
//! blocks, and `sh` blocks that run `python`, run the same way with the tests' Python. A
//! block that cannot run here (a real meter, systemd, the network) says why in the Markdown,
//! on the line before it: `<!-- not run: REASON -->`. Option synopses are `text` blocks.
//! Relative links between the documents must lead to a file that exists.

mod common;

common::harness!(
    every_shell_command_in_the_docs_runs,
    every_python_snippet_in_the_docs_runs,
    every_not_run_mark_stands_before_a_block_it_explains,
    every_relative_link_in_the_docs_resolves,
);

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const MARK: &str = "<!-- not run:";

/// The repository.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, ARCHITECTURE.md, then docs/*.md by name.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut all = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    all.extend(docs);
    all
}

/// A fenced block of a document.
#[derive(Debug)]
struct Block {
    /// The document, relative to the repository, and the line of the opening fence (from 1).
    at: String,
    lang: String,
    body: String,
    /// The reason of a `<!-- not run: … -->` on the line before the fence.
    not_run: Option<String>,
}

/// The fenced blocks of `text` (fences may be indented, inside a list item).
fn blocks(name: &str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let open = i;
        let mut body = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "{name}:{}: a fence never closed", open + 1);
        let not_run = open
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix(MARK))
            .map(|r| r.trim_end_matches("-->").trim().to_owned());
        out.push(Block {
            at: format!("{name}:{}", open + 1),
            lang: lang.trim().to_owned(),
            body,
            not_run,
        });
        i += 1;
    }
    out
}

/// Every block of every document, with the document's name relative to the repository.
fn all_blocks() -> Vec<(PathBuf, Block)> {
    documents()
        .into_iter()
        .flat_map(|p| {
            let name = p
                .strip_prefix(root())
                .expect("in the repository")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&p).expect("read a document");
            blocks(&name, &text)
                .into_iter()
                .map(move |b| (p.clone(), b))
        })
        .collect()
}

/// The commands of an `sh` block: its lines less blanks and comments, `cargo run --release
/// --` being `tic-rec`.
fn commands(body: &str) -> Vec<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.replace("cargo run --release --", "tic-rec"))
        .collect()
}

fn runs_python(command: &str) -> bool {
    command.split_whitespace().next() == Some("python")
}

/// A directory with `tic-data` from one `tic-rec record --demo`, made once; each document's
/// commands run in a copy.
fn template() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
            .args(["record", "--demo"])
            .current_dir(dir.path())
            .output()
            .expect("run tic-rec record --demo");
        assert!(
            out.status.success(),
            "the demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

/// A fresh copy of the template, with `data/` and `examples/` linked in, and a `bin/` whose
/// `tic-rec` is the binary under test.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(template().join("tic-data"))
        .arg(dir.path())
        .status()
        .expect("cp")
        .success();
    assert!(ok, "copy the demo data directory");
    for d in ["data", "examples"] {
        std::os::unix::fs::symlink(root().join(d), dir.path().join(d)).expect("link");
    }
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir bin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tic-rec"), bin.join("tic-rec")).expect("link");
    dir
}

/// Runs `command` with bash in `dir`, `bin/` (and `python_dir`) first on `PATH`, for at most
/// three minutes: whether it exited 0, and its output.
fn run(dir: &Path, command: &str, python_dir: Option<&Path>) -> (bool, String, String) {
    let mut path = vec![dir.join("bin")];
    path.extend(python_dir.map(Path::to_owned));
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let (out, err) = (dir.join(".stdout"), dir.join(".stderr"));
    let mut child = Command::new("bash")
        .args(["-o", "pipefail", "-c", command])
        .current_dir(dir)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("run bash");
    let status = common::wait_or_kill(&mut child, 180)
        .unwrap_or_else(|| panic!("{command}: still running after 180 s"));
    (
        status.success(),
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

/// The file a command says it writes (`-o FILE`, `--output FILE`), if any.
fn output_file(command: &str) -> Option<&str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "-o" || w[0] == "--output")
        .map(|w| w[1])
}

/// Whether a block needs Python: a `python` block, or an `sh` block that runs `python`.
fn needs_python(b: &Block) -> bool {
    b.lang == "python" || (b.lang == "sh" && commands(&b.body).iter().any(|c| runs_python(c)))
}

/// Runs the blocks that would run (`sh` and `python`, not marked) of each document, in
/// order, in one directory per document: with `python`, those of the documents that have a
/// block needing it, all of them (the commands before a snippet make what it reads);
/// without, the blocks that do not need it. Panics naming every command that failed; the
/// number of commands run.
fn run_documents(python: Option<&Path>) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    let mut by_doc: Vec<(PathBuf, Vec<Block>)> = Vec::new();
    for (doc, block) in all_blocks() {
        if block.not_run.is_some() || !(block.lang == "sh" || block.lang == "python") {
            continue;
        }
        match by_doc.last_mut() {
            Some((d, v)) if *d == doc => v.push(block),
            _ => by_doc.push((doc, vec![block])),
        }
    }
    for (_, mut blocks) in by_doc {
        if python.is_some() {
            if !blocks.iter().any(needs_python) {
                continue;
            }
        } else {
            blocks.retain(|b| !needs_python(b));
        }
        let dir = workdir();
        for block in blocks {
            let script;
            let commands = if block.lang == "python" {
                script = format!("python {}", dir.path().join("snippet.py").display());
                std::fs::write(dir.path().join("snippet.py"), &block.body).expect("write");
                vec![script]
            } else {
                commands(&block.body)
            };
            for command in commands {
                ran += 1;
                let (ok, out, err) = run(dir.path(), &command, python);
                let written = output_file(&command).is_some_and(|f| {
                    std::fs::metadata(dir.path().join(f)).is_ok_and(|m| m.len() > 0)
                });
                if !ok {
                    failed.push(format!("{}: `{command}` failed:\n{out}{err}", block.at));
                } else if block.lang != "python"
                    && out.trim().is_empty()
                    && err.trim().is_empty()
                    && !written
                {
                    failed.push(format!("{}: `{command}` printed nothing", block.at));
                }
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    ran
}

fn every_shell_command_in_the_docs_runs() {
    let ran = run_documents(None);
    assert!(ran >= 20, "only {ran} commands found in the documents");
}

fn every_python_snippet_in_the_docs_runs() {
    let python = common::python(common::READERS);
    // `python` on PATH runs the tests' interpreter (a script, not a link: a virtualenv's
    // interpreter finds its packages from the path it is run by).
    use std::os::unix::fs::PermissionsExt as _;
    let link = tempfile::tempdir().expect("tempdir");
    let script = link.path().join("python");
    std::fs::write(&script, format!("#!/bin/sh\nexec '{python}' \"$@\"\n")).expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ran = run_documents(Some(link.path()));
    assert!(
        ran >= 3,
        "only {ran} Python commands found in the documents"
    );
}

/// A `not run` mark explains the `sh` or `python` block right after it, with a reason; and a
/// block that would run must not look like a synopsis (`[--flag]`: a `text` block).
fn every_not_run_mark_stands_before_a_block_it_explains() {
    let mut wrong = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.trim().starts_with(MARK) {
                let next = lines.get(i + 1).map_or("", |n| n.trim());
                let reason = l
                    .trim()
                    .trim_start_matches(MARK)
                    .trim_end_matches("-->")
                    .trim();
                if !(next == "```sh" || next == "```python") || reason.is_empty() {
                    wrong.push(format!("{}:{}: {l}", doc.display(), i + 1));
                }
            }
        }
    }
    for (_, b) in all_blocks() {
        if b.lang == "sh"
            && b.not_run.is_none()
            && commands(&b.body).iter().any(|c| c.contains(" [--"))
        {
            wrong.push(format!(
                "{}: a synopsis in an sh block (make it text)",
                b.at
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `[text](path)` links that are not URLs or anchors lead to a file of the repository.
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read");
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("](") {
                rest = &rest[start + 2..];
                let Some(end) = rest.find(')') else { break };
                let target = &rest[..end];
                rest = &rest[end..];
                if target.contains("://")
                    || target.starts_with('#')
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                let file = target.split('#').next().unwrap_or_default();
                let path = doc.parent().expect("a folder").join(file);
                if !path.exists() {
                    broken.push(format!("{}:{}: {target}", doc.display(), i + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
