//! The shape of the house (ARCHITECTURE.md): the files of each module folder under `src/`
//! import one another one way. `scripts/modgraph` draws each folder's graph and exits 1 on a
//! cycle; this test runs it over every folder, so a cycle fails here with its path.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn no_module_folder_has_an_import_cycle() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join("src"))
        .expect("src/")
        .map(|e| e.expect("an entry of src/").path())
        .filter(|p| p.join("mod.rs").is_file())
        .collect();
    folders.sort();
    assert!(
        folders.iter().any(|f| f.ends_with("cost")) && folders.iter().any(|f| f.ends_with("serve")),
        "the module folders are found: {folders:?}"
    );
    let out = Command::new("python3")
        .arg(root.join("scripts/modgraph"))
        .args(&folders)
        .output()
        .expect("run python3 scripts/modgraph");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("CYCLE"),
        "scripts/modgraph finds a cycle ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
