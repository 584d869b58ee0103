//! The model's own tests: over many seeds, a cut keeps exactly the outcomes its semantics
//! allow (every one of them, and nothing else).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use tic_rec::store::fs::Open;

use super::model::{Model, Semantics};

/// What the tree under `dir` holds: `path=contents` for each file, `path/` for each
/// directory, sorted.
fn tree(dir: &Path) -> String {
    fn walk(dir: &Path, rel: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir.join(rel)) else {
            return;
        };
        for e in entries.flatten() {
            let r = rel.join(e.file_name());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(format!("{}/", r.display()));
                walk(dir, &r, out);
            } else {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                out.push(format!(
                    "{}={}",
                    r.display(),
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out);
    out.sort();
    out.join(" ")
}

/// Every state `n` cuts of `model` may leave, now.
fn outcomes(model: &Model, n: u64) -> BTreeSet<String> {
    let out = tempfile::tempdir().expect("tempdir");
    (0..n)
        .map(|seed| {
            let dir = out.path().join(seed.to_string());
            model.crash_into(&dir, seed);
            tree(&dir)
        })
        .collect()
}

fn model(sem: Semantics) -> (tempfile::TempDir, Model) {
    let root = tempfile::tempdir().expect("tempdir");
    let m = Model::new(sem, root.path(), &root.path().join("../unused"), 1);
    (root, m)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A new file, fsynced, its directory fsynced: whatever the cut, it is there whole; what
/// was appended after may be lost, kept, or kept in part (a sector at a time, the length
/// possibly zero-filled); never anything else.
pub(crate) fn synced_data_survives_unsynced_data_may_go_in_part() {
    for sem in [Semantics::Journaled, Semantics::Vfat] {
        let (root, m) = model(sem);
        let p = root.path().join("f");
        let mut f = m.fs().open(&p, Open::CreateNew).expect("create");
        f.write_all(b"header\n").expect("write");
        f.sync_all().expect("fsync");
        m.fs().sync_dir(root.path()).expect("fsync dir");
        let tail = vec![b'x'; 1500];
        f.write_all(&tail).expect("write");
        let seen = outcomes(&m, 300);
        for s in &seen {
            let body = s.strip_prefix("f=").expect("f is there");
            assert!(body.starts_with("header\n"), "{sem:?}: {s:.40}");
            let rest = &body.as_bytes()[7..];
            // x's then zeros, or stale bytes (vfat: the page was never written): never an x
            // after a byte that is not one.
            let xs = rest.iter().take_while(|&&b| b == b'x').count();
            assert!(rest[xs..].iter().all(|&b| b == 0), "{sem:?}: {s:.60}");
        }
        let lens: BTreeSet<usize> = seen.iter().map(|s| s.len() - 2).collect();
        assert!(
            lens.contains(&7) && lens.contains(&1507),
            "{sem:?}: {lens:?}"
        );
        if sem == Semantics::Journaled {
            // Torn at a sector: 512 - 7 x's kept, and a zero-filled tail.
            assert!(
                seen.iter().any(|s| s.ends_with(&"x".repeat(505))),
                "{sem:?}"
            );
            assert!(seen.iter().any(|s| s.contains("x\0")), "{sem:?}");
        }
    }
}

/// A file created and written but its directory not fsynced: a cut may take it away whole;
/// once its directory is fsynced, never.
pub(crate) fn a_name_is_durable_once_its_directory_is_synced() {
    let (root, m) = model(Semantics::Journaled);
    let p = root.path().join("f");
    let mut f = m.fs().open(&p, Open::CreateNew).expect("create");
    f.write_all(b"a").expect("write");
    f.sync_all().expect("fsync");
    assert_eq!(outcomes(&m, 100), set(&["", "f=a"]));
    m.fs().sync_dir(root.path()).expect("fsync dir");
    assert_eq!(outcomes(&m, 100), set(&["f=a"]));
}

/// A rename over a file, the directory not synced: journaled, the old or the new file under
/// the name, atomically; vfat, also both names (fsck truncates one to 0 bytes), neither, or
/// the new name empty (no cluster yet) — until the file is fsynced again and the directory.
pub(crate) fn a_rename_is_atomic_when_journaled_and_not_on_vfat() {
    for sem in [Semantics::Journaled, Semantics::Vfat] {
        let (root, m) = model(sem);
        let fs = m.fs();
        let (old, new) = (root.path().join("t"), root.path().join(".t.tmp"));
        let mut f = fs.open(&old, Open::CreateNew).expect("create");
        f.write_all(b"old").expect("write");
        f.sync_all().expect("fsync");
        let mut g = fs.open(&new, Open::CreateNew).expect("create");
        g.write_all(b"new").expect("write");
        g.sync_all().expect("fsync");
        fs.sync_dir(root.path()).expect("fsync dir");
        fs.rename(&new, &old).expect("rename");
        let seen = outcomes(&m, 400);
        match sem {
            Semantics::Journaled => {
                assert_eq!(seen, set(&[".t.tmp=new t=old", "t=new"]));
            }
            Semantics::Vfat => {
                let allowed = set(&[
                    ".t.tmp=new t=old", // nothing written
                    "t=new",            // all of it
                    ".t.tmp= t=new",    // both entries: fsck truncated the second
                    ".t.tmp=new t=",    // ... the other way (or: the new entry empty)
                    "t=",               // the new entry, no cluster yet; the old one gone
                    "t=old",            // the old entry deleted, the new one not written
                ]);
                assert!(seen.is_subset(&allowed), "{seen:?}");
                for want in ["t=new", ".t.tmp=new t=old", "t=", "t=old", ".t.tmp= t=new"] {
                    assert!(seen.contains(want), "{want:?} not in {seen:?}");
                }
            }
        }
        // fsynced again under the new name, then the directory: only the new file.
        g.sync_all().expect("fsync");
        fs.sync_dir(root.path()).expect("fsync dir");
        assert_eq!(outcomes(&m, 100), set(&["t=new"]), "{sem:?}");
    }
}

/// A removal not yet durable may be undone (on vfat, the name may be left empty: its
/// clusters freed).
pub(crate) fn a_removal_not_synced_may_be_undone() {
    for (sem, want) in [
        (Semantics::Journaled, set(&["", "f=abc"])),
        (Semantics::Vfat, set(&["", "f=abc", "f="])),
    ] {
        let (root, m) = model(sem);
        let fs = m.fs();
        let p = root.path().join("f");
        let mut f = fs.open(&p, Open::CreateNew).expect("create");
        f.write_all(b"abc").expect("write");
        f.sync_all().expect("fsync");
        fs.sync_dir(root.path()).expect("fsync dir");
        fs.remove_file(&p).expect("remove");
        assert_eq!(outcomes(&m, 200), want, "{sem:?}");
        fs.sync_dir(root.path()).expect("fsync dir");
        assert_eq!(outcomes(&m, 50), set(&[""]), "{sem:?}");
    }
}

/// A directory created and not synced in its parent takes its files with it.
pub(crate) fn a_directory_not_durable_takes_its_files() {
    let (root, m) = model(Semantics::Journaled);
    let fs = m.fs();
    let d = root.path().join("d");
    fs.create_dir(&d).expect("mkdir");
    let mut f = fs.open(&d.join("f"), Open::CreateNew).expect("create");
    f.write_all(b"x").expect("write");
    f.sync_all().expect("fsync");
    fs.sync_dir(&d).expect("fsync d");
    assert_eq!(outcomes(&m, 100), set(&["", "d/ d/f=x"]));
}

/// The model's full disk: a write past the bound writes what fits, then fails with ENOSPC.
pub(crate) fn a_full_disk_writes_what_fits_then_fails() {
    let (root, m) = model(Semantics::Journaled);
    let fs = m.fs();
    let mut f = fs
        .open(&root.path().join("f"), Open::CreateNew)
        .expect("create");
    m.set_capacity(Some(8192));
    let e = f.write_all(&vec![b'a'; 10_000]).expect_err("full");
    assert_eq!(e.raw_os_error(), Some(28));
    assert_eq!(
        std::fs::read(root.path().join("f")).expect("read").len(),
        8192
    );
    m.set_capacity(None);
    f.write_all(b"b").expect("room again");
}

/// A file made behind the seam (`std::fs`) is in no cut (the model does not know it), and is
/// named once opened through the seam: a durable operation outside `store::fs` cannot hide.
pub(crate) fn a_file_written_behind_the_seam_is_named_and_in_no_cut() {
    let (root, m) = model(Semantics::Journaled);
    std::fs::write(root.path().join("sneaky"), b"x").expect("write");
    assert_eq!(outcomes(&m, 10), set(&[""]));
    m.fs()
        .open(&root.path().join("sneaky"), Open::Read)
        .expect("open");
    assert_eq!(m.adopted(), [std::path::PathBuf::from("sneaky")]);
}
