//! A model filesystem that can lose power: the store's durable-write seam
//! ([`tic_rec::store::fs::Fs`]) over real files in a real directory, remembering, beside
//! them, what was made durable — as SQLite's crash-test VFS does — and, at a cut, writing out
//! one state a real filesystem may leave after the power came back (and its fsck ran).
//!
//! ## Why real files
//! The store reads days (the catalog's walk, the CSV and Parquet readers) with `std::fs`,
//! not through the seam: readers take no durable decision. So every operation through the
//! model is done on the real file at once (the real file is what the page cache holds, what
//! every process sees), and the model keeps, in memory, per file ("inode"): its contents now,
//! its contents at its last `fsync`, and the changes made since; per directory entry: the
//! names created, renamed and removed since the directory's last `fsync`. At a cut the model
//! picks, with a seeded random generator, one post-crash state and writes it into a fresh
//! directory, on which the recorder is restarted. The running side goes on untouched (a cut
//! is a fork), so one run of a schedule yields many cut points.
//!
//! ## What is durable (both models)
//! - A file's data and length: once `sync_data`/`sync_all` of it returned.
//! - A name (a file or directory created, a rename, a removal): once `sync_dir` of every
//!   directory it touches returned (both, for a rename between two). A rename made durable
//!   makes every earlier change of the same names durable too (a later change of a name is
//!   never kept without the earlier ones).
//! - Nothing else: not a write without its fsync, not a name without its directory's fsync,
//!   whatever was synced before or after. Real fsyncs are not made (the model is the disk).
//!
//! ## What a cut may keep: [`Semantics::Journaled`] (ext4 `data=ordered`, xfs, btrfs)
//! - Names: every change not yet durable is kept or undone, each on its own, except that the
//!   changes of one name are kept in order (a prefix of them) and a rename is atomic (both
//!   names change, or neither). A creation undone takes away the file (or the directory and
//!   everything under it: fsck would put it in `lost+found`).
//! - Data: a file's changes since its last fsync are lost (its durable contents), kept (its
//!   contents now), or kept up to some change, the next write kept in part down to a sector
//!   (512 bytes); and the length may run past the data kept, the rest zero-filled (a length
//!   committed before its blocks were written: XFS's "NULL files", an SD card's lost pages).
//!   Nothing below the durable length changes.
//!
//! ## What a cut may keep: [`Semantics::Vfat`] (Linux `vfat`, then `fsck.vfat -a`)
//! Read from Linux's `fs/fat/namei_vfat.c` and `fs/fat/file.c`: FAT has no journal; the
//! directory sectors, the FAT and the data are written back in any order. In particular:
//! - `rename` (`vfat_rename`) adds the new entry **with no cluster and length 0**
//!   (`vfat_add_entry(..., cluster 0, ...)`), then only *marks* the file's inode dirty so that
//!   its start cluster and length reach the new entry at the inode's writeback (up to
//!   `dirty_expire`, 30 s, later), then deletes the old entries. Over an existing name the
//!   old file's entry is reused and its clusters freed at eviction. So until the renamed
//!   file's inode is written (its own fsync, or writeback), the new name may be durable as
//!   an empty file; the old name's deletion and the new name's entry are separate sector
//!   writes, so after a cut a file may have both names (cross-linked clusters, which
//!   `fsck.vfat -a` resolves by truncating the second to 0 bytes), either one, or neither
//!   (a lost chain, which `fsck.vfat -a` frees).
//! - `fsync` of a file (`fat_file_fsync`) writes its data, its FAT chain and its directory
//!   entry (start cluster and length); `fsync` of a directory writes its entries (created,
//!   deleted), not the start and length of a file renamed into it.
//! - A removal not yet durable may leave the name pointing at clusters already freed:
//!   `fsck.vfat -a` truncates it to 0 bytes.
//! - A file's length (in its entry) and its data sectors are written independently: past
//!   the durable length, each sector holds the new data, or what its cluster held before —
//!   zeros, or stale bytes of a removed file (the clusters of an archived day's CSV file are
//!   reused by the next day's), and the length may be any the file had.
//!
//! ## Full disk
//! [`Model::set_capacity`] bounds the bytes of all files with a name (rounded up to 4 KiB
//! blocks): a write past it writes what fits, then fails with `ENOSPC`, as a real one does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tic_rec::store::fs::{FileId, Fs, FsFile, Lock, Open, RealFs};

/// A sector: the smallest unit a cut keeps or loses of a write on a journaled file system.
pub const SECTOR: usize = 512;
/// A page (and a FAT cluster): what vfat's writeback writes at once.
pub const PAGE: usize = 4096;
/// A block, for the space a file takes.
const BLOCK: u64 = 4096;

/// Which filesystem the model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    /// ext4 (`data=ordered`), xfs, btrfs: a journal keeps names atomic.
    Journaled,
    /// Linux `vfat` after `fsck.vfat -a`.
    Vfat,
}

impl Semantics {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Semantics::Journaled => "journaled (ext4)",
            Semantics::Vfat => "vfat",
        }
    }
}

type Ino = u64;

/// A path relative to the model's root (`""` is the root).
type Rel = PathBuf;

#[derive(Clone, Debug)]
enum DataOp {
    Write { at: u64, bytes: Vec<u8> },
    SetLen(u64),
}

impl DataOp {
    fn apply(&self, v: &mut Vec<u8>) {
        match self {
            DataOp::Write { at, bytes } => write_at(v, *at as usize, bytes),
            DataOp::SetLen(n) => v.resize(*n as usize, 0),
        }
    }
}

fn write_at(v: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    if v.len() < at + bytes.len() {
        v.resize(at + bytes.len(), 0);
    }
    v[at..at + bytes.len()].copy_from_slice(bytes);
}

#[derive(Clone, Debug, Default)]
struct Inode {
    dir: bool,
    /// Its contents now (the page cache).
    cur: Vec<u8>,
    /// Its contents at its last fsync.
    durable: Vec<u8>,
    /// Its changes since.
    history: Vec<DataOp>,
    /// vfat: the entry a rename gave it, which holds no cluster and length until the
    /// inode is written (its next fsync).
    unattached_at: Option<Rel>,
}

#[derive(Clone, Debug)]
enum NameOp {
    Create {
        path: Rel,
        ino: Ino,
    },
    Remove {
        path: Rel,
        ino: Ino,
    },
    Rename {
        from: Rel,
        to: Rel,
        ino: Ino,
        replaced: Option<Ino>,
    },
}

impl NameOp {
    fn names(&self) -> Vec<&Rel> {
        match self {
            NameOp::Create { path, .. } | NameOp::Remove { path, .. } => vec![path],
            NameOp::Rename { from, to, .. } => vec![from, to],
        }
    }

    fn apply(&self, ns: &mut BTreeMap<Rel, Ino>) {
        match self {
            NameOp::Create { path, ino } => {
                ns.insert(path.clone(), *ino);
            }
            NameOp::Remove { path, .. } => {
                ns.remove(path);
            }
            NameOp::Rename { from, to, ino, .. } => {
                ns.remove(from);
                move_subtree(ns, from, to);
                ns.insert(to.clone(), *ino);
            }
        }
    }
}

/// Moves the names under the directory `from` to under `to` (a directory renamed: its
/// entries live in it, and move with it).
fn move_subtree<V>(ns: &mut BTreeMap<Rel, V>, from: &Path, to: &Path) {
    let under: Vec<Rel> = ns
        .range(from.to_path_buf()..)
        .take_while(|(p, _)| p.starts_with(from))
        .filter(|(p, _)| p.as_path() != from)
        .map(|(p, _)| p.clone())
        .collect();
    for p in under {
        if let Some(v) = ns.remove(&p) {
            let np = to.join(p.strip_prefix(from).expect("under it"));
            ns.insert(np, v);
        }
    }
}

#[derive(Clone, Debug)]
struct Pending {
    op: NameOp,
    /// The directories it touches, and whether each was fsynced since.
    dirs: Vec<(Rel, bool)>,
}

/// A state written out at a cut.
#[derive(Clone, Debug)]
pub struct Cut {
    /// The seam operation before which the power went (0-based count).
    pub op: u64,
    /// Which of the states forked before that operation (0 but for a [`Trigger`] asking
    /// for several).
    pub variant: u32,
    /// Whether a [`Trigger`] asked for it (not a number, nor the random rate).
    pub triggered: bool,
    /// The directory holding the post-crash state (the model's root as it came back).
    pub root: PathBuf,
    /// What the cut kept, in words (for a failure's report).
    pub outcome: Outcome,
}

impl Cut {
    /// Where it was, in words: `op 461`, or `op 461 (state 2)` for another state forked there.
    pub fn at(&self) -> String {
        match self.variant {
            0 => format!("op {}", self.op),
            v => format!("op {} (state {v})", self.op),
        }
    }
}

/// What a cut did, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Name changes not yet durable: kept, undone.
    pub names_kept: u32,
    pub names_undone: u32,
    /// vfat: renames kept in part (both names, or neither), entries left empty.
    pub renames_split: u32,
    pub emptied: u32,
    /// Files with unsynced data: lost, kept, kept in part, zero-filled or stale tail.
    pub data_lost: u32,
    pub data_kept: u32,
    pub data_partial: u32,
    pub data_garbage_tail: u32,
}

impl Outcome {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &Outcome) {
        self.names_kept += o.names_kept;
        self.names_undone += o.names_undone;
        self.renames_split += o.renames_split;
        self.emptied += o.emptied;
        self.data_lost += o.data_lost;
        self.data_kept += o.data_kept;
        self.data_partial += o.data_partial;
        self.data_garbage_tail += o.data_garbage_tail;
    }
}

/// Called when a file's contents become durable under a durable name: its inode, its path
/// (relative to the root) and its durable bytes. Called with the model locked: it must not
/// call the model.
pub type OnDurable = Box<dyn FnMut(u64, &Path, &[u8]) + Send>;
/// Called after a cut was written out. Called with the model locked.
pub type OnCut = Box<dyn FnMut(&Cut) + Send>;

/// What an operation through the seam does, as a [`Trigger`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Open(Open),
    Mkdir,
    /// Its path is the source; [`Op::to`] the destination.
    Rename,
    Remove,
    RemoveDir,
    /// `sync_dir`.
    SyncDir,
    /// `sync_data` or `sync_all` of a file (its path: the one it was opened by).
    Sync,
    Write,
    SetLen,
}

/// One operation through the seam, about to be done.
#[derive(Clone, Copy, Debug)]
pub struct Op<'a> {
    pub kind: Kind,
    /// The path, relative to the model's root (a file's: the one it was opened by).
    pub path: &'a Path,
    /// A rename's destination, relative to the root.
    pub to: Option<&'a Path>,
}

/// Told of each operation before it is done: how many post-crash states to fork before it
/// (0: none; each a cut of its own, its random choices drawn apart). A predicate over the
/// operations, holding what state it needs: a cut placed by what happens, not by an
/// operation's number, which any change of the store's layout moves. Called with the model
/// locked: it must not call the model.
pub type Trigger = Box<dyn FnMut(&Op<'_>) -> u32 + Send>;

struct State {
    sem: Semantics,
    root: PathBuf,
    /// Where cuts are written (`<cuts>/<op>`).
    cuts_dir: PathBuf,
    seed: u64,
    ops: u64,
    cut_at: std::collections::BTreeSet<u64>,
    /// Cut before each operation with this probability too (drawn from `cut_rng`).
    cut_rate: f64,
    cut_rng: fastrand::Rng,
    trigger: Option<Trigger>,
    next_ino: Ino,
    inodes: HashMap<Ino, Inode>,
    /// Names now (what every process sees).
    names: BTreeMap<Rel, Ino>,
    /// Names as a cut keeps them at the least.
    floor: BTreeMap<Rel, Ino>,
    pending: Vec<Pending>,
    /// Bytes of files removed (vfat reuses their clusters: a cut may show them again).
    freed: Vec<Vec<u8>>,
    capacity: Option<u64>,
    on_durable: Option<OnDurable>,
    on_cut: Option<OnCut>,
    /// Counts of what cuts did.
    outcomes: Outcome,
    cuts: Vec<Cut>,
    /// Files found under the root that were not made through the model (adopted as durable).
    adopted: Vec<Rel>,
    /// Syncs and bytes written through the model (for the figures).
    pub_stats: Stats,
}

/// Counts of the operations through the model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// `sync_data` + `sync_all` of files.
    pub file_syncs: u64,
    /// `sync_dir`.
    pub dir_syncs: u64,
    /// Bytes written (write calls).
    pub bytes_written: u64,
    /// Write calls.
    pub writes: u64,
}

/// The model (clones share it).
#[derive(Clone)]
pub struct Model(Arc<Mutex<State>>);

fn rel_parent(p: &Path) -> Rel {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl Model {
    /// A model of the directory `root` (which must exist; what it holds is taken as durable),
    /// writing its cuts under `cuts_dir`.
    pub fn new(sem: Semantics, root: &Path, cuts_dir: &Path, seed: u64) -> Model {
        let mut st = State {
            sem,
            root: root.to_path_buf(),
            cuts_dir: cuts_dir.to_path_buf(),
            seed,
            ops: 0,
            cut_at: Default::default(),
            cut_rate: 0.0,
            cut_rng: fastrand::Rng::with_seed(seed ^ 0x5eed),
            trigger: None,
            next_ino: 1,
            inodes: HashMap::new(),
            names: BTreeMap::new(),
            floor: BTreeMap::new(),
            pending: Vec::new(),
            freed: Vec::new(),
            capacity: None,
            on_durable: None,
            on_cut: None,
            outcomes: Outcome::default(),
            cuts: Vec::new(),
            adopted: Vec::new(),
            pub_stats: Stats::default(),
        };
        let root_ino = st.new_inode(true, Vec::new());
        st.names.insert(Rel::new(), root_ino);
        st.floor.insert(Rel::new(), root_ino);
        st.adopt_tree(Rel::new());
        st.adopted.clear();
        Model(Arc::new(Mutex::new(st)))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The seam to give the code under test.
    pub fn fs(&self) -> Arc<dyn Fs> {
        Arc::new(self.clone())
    }

    /// Cuts the power before each of these operations (counted from 0).
    pub fn cut_before(&self, ops: impl IntoIterator<Item = u64>) {
        self.lock().cut_at.extend(ops);
    }

    /// Cuts the power where `trigger` says too (before the operations it returns more than 0
    /// for, that many times each).
    pub fn cut_when(&self, trigger: Trigger) {
        self.lock().trigger = Some(trigger);
    }

    /// Cuts the power before any operation with probability `rate` too (seeded: the same
    /// operations for the same seed and schedule).
    pub fn cut_randomly(&self, rate: f64) {
        self.lock().cut_rate = rate;
    }

    /// Operations so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Sets the hook told of durable contents.
    pub fn on_durable(&self, f: OnDurable) {
        self.lock().on_durable = Some(f);
    }

    /// Sets the hook told of each cut.
    pub fn on_cut(&self, f: OnCut) {
        self.lock().on_cut = Some(f);
    }

    /// Bounds the bytes of all files (`None`: no bound).
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.lock().capacity = bytes;
    }

    /// Bytes the files take now (whole blocks).
    pub fn used(&self) -> u64 {
        self.lock().used()
    }

    /// The cuts written so far.
    pub fn cuts(&self) -> Vec<Cut> {
        self.lock().cuts.clone()
    }

    /// What the cuts did, summed.
    pub fn outcomes(&self) -> Outcome {
        self.lock().outcomes.clone()
    }

    /// Files adopted (found on disk, not made through the model) since it started: written
    /// behind the seam's back.
    pub fn adopted(&self) -> Vec<PathBuf> {
        self.lock().adopted.clone()
    }

    /// Counts of the operations through the model.
    pub fn stats(&self) -> Stats {
        self.lock().pub_stats
    }

    /// Writes out, now, one post-crash state into `out` (for tests of the model itself).
    pub fn crash_into(&self, out: &Path, seed: u64) -> Outcome {
        let st = self.lock();
        let mut rng = fastrand::Rng::with_seed(seed);
        st.materialize(out, &mut rng)
    }

    /// Runs `f` on the real file system as the operation `op` (counted, cut before if asked:
    /// by its number, the random rate, or the trigger).
    fn run<T>(
        &self,
        what: &str,
        kind: Kind,
        (path, to): (&Path, Option<&Path>),
        f: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut st = self.lock();
        let n = st.ops;
        st.ops += 1;
        if trace() {
            eprintln!("op {n}: {what} {}", path.display());
        }
        let random = st.cut_rate > 0.0 && st.cut_rng.f64() < st.cut_rate;
        let State { trigger, root, .. } = &mut *st;
        let triggered = match trigger.as_mut() {
            Some(t) => {
                let strip = |p: &Path| p.strip_prefix(&*root).unwrap_or(p).to_path_buf();
                let (rel, rel_to) = (strip(path), to.map(strip));
                t(&Op {
                    kind,
                    path: &rel,
                    to: rel_to.as_deref(),
                })
            }
            None => 0,
        };
        if st.cut_at.remove(&n) || random {
            st.cut(n, 0, false);
        }
        // Variant 0 is the state a numbered cut before `n` wrote, if there was one.
        let first = u32::from(st.cuts.last().is_some_and(|c| c.op == n));
        for v in first..first + triggered {
            st.cut(n, v, true);
        }
        f(&mut st)
    }
}

impl State {
    fn new_inode(&mut self, dir: bool, content: Vec<u8>) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                dir,
                durable: content.clone(),
                cur: content,
                history: Vec::new(),
                unattached_at: None,
            },
        );
        ino
    }

    fn rel(&self, path: &Path) -> io::Result<Rel> {
        let r = path.strip_prefix(&self.root).map_err(|_| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is outside the model's root", path.display()),
            )
        })?;
        Ok(r.to_path_buf())
    }

    /// Takes what is under `rel` on disk (and not known) as durable.
    fn adopt_tree(&mut self, rel: Rel) {
        let Ok(entries) = std::fs::read_dir(self.root.join(&rel)) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                let ino = self.new_inode(true, Vec::new());
                self.names.insert(r.clone(), ino);
                self.floor.insert(r.clone(), ino);
                self.adopt_tree(r);
            } else if ft.is_file() {
                let content = std::fs::read(e.path()).unwrap_or_default();
                let ino = self.new_inode(false, content);
                self.names.insert(r.clone(), ino);
                self.floor.insert(r.clone(), ino);
                self.adopted.push(r);
            }
        }
    }

    /// The inode `rel` names now, adopting a file made behind the model's back.
    fn ino_of(&mut self, rel: &Rel) -> Option<Ino> {
        if let Some(i) = self.names.get(rel) {
            return Some(*i);
        }
        let path = self.root.join(rel);
        let meta = std::fs::metadata(&path).ok()?;
        // Its parents first.
        if let Some(p) = rel.parent() {
            if !p.as_os_str().is_empty() {
                self.ino_of(&p.to_path_buf())?;
            }
        }
        let content = if meta.is_file() {
            std::fs::read(&path).ok()?
        } else {
            Vec::new()
        };
        let ino = self.new_inode(meta.is_dir(), content);
        self.names.insert(rel.clone(), ino);
        self.floor.insert(rel.clone(), ino);
        self.adopted.push(rel.clone());
        Some(ino)
    }

    fn used(&self) -> u64 {
        let mut seen = HashSet::new();
        self.names
            .values()
            .filter(|i| seen.insert(**i))
            .map(|i| (self.inodes[i].cur.len() as u64).div_ceil(BLOCK) * BLOCK)
            .sum()
    }

    /// The longest `ino` may grow to (`None`: no bound).
    fn max_len(&self, ino: Ino) -> Option<u64> {
        let cap = self.capacity?;
        let len = self.inodes[&ino].cur.len() as u64;
        let have = len.div_ceil(BLOCK) * BLOCK;
        let others = self.used().saturating_sub(have);
        Some(cap.saturating_sub(others) / BLOCK * BLOCK)
    }

    fn log_name(&mut self, op: NameOp, dirs: Vec<Rel>) {
        let mut d: Vec<(Rel, bool)> = Vec::new();
        for x in dirs {
            if !d.iter().any(|(y, _)| *y == x) {
                d.push((x, false));
            }
        }
        op.apply(&mut self.names);
        if let NameOp::Rename { ino, to, .. } = &op {
            if let Some(i) = self.inodes.get_mut(ino) {
                i.unattached_at = Some(to.clone());
            }
        }
        if let NameOp::Remove { ino, .. }
        | NameOp::Rename {
            replaced: Some(ino),
            ..
        } = &op
        {
            if !self.names.values().any(|i| i == ino) {
                let c = self.inodes[ino].cur.clone();
                if !c.is_empty() {
                    self.freed.push(c);
                    if self.freed.len() > 16 {
                        self.freed.remove(0);
                    }
                }
            }
        }
        self.pending.push(Pending { op, dirs: d });
    }

    fn sync_dir(&mut self, dir: &Rel) {
        for p in &mut self.pending {
            for (d, synced) in &mut p.dirs {
                if d == dir {
                    *synced = true;
                }
            }
        }
        // Durable: every directory synced; and every earlier change of the same names.
        let mut durable: Vec<bool> = self
            .pending
            .iter()
            .map(|p| p.dirs.iter().all(|(_, s)| *s))
            .collect();
        loop {
            let mut changed = false;
            for j in (0..self.pending.len()).rev() {
                if !durable[j] {
                    continue;
                }
                let names: Vec<Rel> = self.pending[j].op.names().into_iter().cloned().collect();
                for (d, p) in durable[..j].iter_mut().zip(&self.pending) {
                    if !*d && p.op.names().iter().any(|n| names.contains(n)) {
                        *d = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut keep = Vec::new();
        let mut newly: Vec<(Rel, Ino)> = Vec::new();
        for (p, d) in std::mem::take(&mut self.pending).into_iter().zip(durable) {
            if d {
                p.op.apply(&mut self.floor);
                match &p.op {
                    NameOp::Create { path, ino } => newly.push((path.clone(), *ino)),
                    NameOp::Rename { to, ino, .. } => newly.push((to.clone(), *ino)),
                    NameOp::Remove { .. } => {}
                }
            } else {
                keep.push(p);
            }
        }
        self.pending = keep;
        for (path, ino) in newly {
            if self.floor.get(&path) == Some(&ino) {
                self.tell_durable(ino, &path);
            }
        }
    }

    fn sync_file(&mut self, ino: Ino) {
        self.pub_stats.file_syncs += 1;
        let Some(i) = self.inodes.get_mut(&ino) else {
            return;
        };
        i.durable = i.cur.clone();
        i.history.clear();
        i.unattached_at = None;
        let paths: Vec<Rel> = self
            .floor
            .iter()
            .filter(|(_, i)| **i == ino)
            .map(|(p, _)| p.clone())
            .collect();
        for p in paths {
            self.tell_durable(ino, &p);
        }
    }

    fn tell_durable(&mut self, ino: Ino, path: &Rel) {
        let i = &self.inodes[&ino];
        if i.dir || (self.sem == Semantics::Vfat && i.unattached_at.as_ref() == Some(path)) {
            return;
        }
        // Only when every directory above is durable too.
        let mut p = path.parent();
        while let Some(d) = p {
            if !self.floor.contains_key(d) {
                return;
            }
            p = d.parent();
        }
        if let Some(f) = self.on_durable.as_mut() {
            f(ino, path, &i.durable);
        }
    }

    fn cut(&mut self, n: u64, variant: u32, triggered: bool) {
        let (out, mix) = match variant {
            0 => (self.cuts_dir.join(format!("{n:07}")), 0),
            v => (
                self.cuts_dir.join(format!("{n:07}-{v}")),
                u64::from(v).wrapping_mul(0xd1b5_4a32_d192_ed03),
            ),
        };
        let mut rng =
            fastrand::Rng::with_seed(self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix);
        let outcome = self.materialize(&out, &mut rng);
        self.outcomes.add(&outcome);
        let cut = Cut {
            op: n,
            variant,
            triggered,
            root: out,
            outcome,
        };
        if let Some(f) = self.on_cut.as_mut() {
            f(&cut);
        }
        self.cuts.push(cut);
    }

    /// Writes one post-crash state into `out`.
    fn materialize(&self, out: &Path, rng: &mut fastrand::Rng) -> Outcome {
        let mut o = Outcome::default();
        // How likely a change not yet durable is kept, for this cut.
        let p = [0.0, 0.25, 0.5, 0.75, 1.0][rng.usize(0..5)];
        let files = match self.sem {
            Semantics::Journaled => self.names_journaled(rng, p, &mut o),
            Semantics::Vfat => self.names_vfat(rng, p, &mut o),
        };
        // Data of every inode kept, chosen once per inode.
        let mut data: HashMap<Ino, Vec<u8>> = HashMap::new();
        let mut tree = Vec::new();
        for (path, ino, empty) in files {
            let i = &self.inodes[&ino];
            let bytes = if i.dir {
                Vec::new()
            } else if empty {
                o.emptied += 1;
                Vec::new()
            } else {
                data.entry(ino)
                    .or_insert_with(|| self.data_after_cut(i, rng, &mut o))
                    .clone()
            };
            tree.push((path, ino, bytes));
        }
        self.write_tree(out, tree.into_iter());
        o
    }

    /// Journaled: the floor, then each change not durable kept with probability `p`, in
    /// order per name, renames atomic.
    fn names_journaled(
        &self,
        rng: &mut fastrand::Rng,
        p: f64,
        o: &mut Outcome,
    ) -> Vec<(Rel, Ino, bool)> {
        let mut ns = self.floor.clone();
        let mut blocked: HashSet<Rel> = HashSet::new();
        for pend in &self.pending {
            let names = pend.op.names();
            let is_blocked = names.iter().any(|n| under_any(n, &blocked));
            if is_blocked || rng.f64() >= p {
                blocked.extend(names.into_iter().cloned());
                o.names_undone += 1;
            } else {
                pend.op.apply(&mut ns);
                o.names_kept += 1;
            }
        }
        ns.into_iter().map(|(p, i)| (p, i, false)).collect()
    }

    /// vfat: entries added and deleted on their own, a renamed file's entry empty until its
    /// inode was written, cross-links and freed clusters truncated by fsck.
    fn names_vfat(
        &self,
        rng: &mut fastrand::Rng,
        p: f64,
        o: &mut Outcome,
    ) -> Vec<(Rel, Ino, bool)> {
        // Each entry: (inode, whether it is empty: no cluster, or clusters freed).
        let mut ns: BTreeMap<Rel, (Ino, bool)> = BTreeMap::new();
        for (path, ino) in &self.floor {
            // Renamed here, its inode not written since (no fsync of it after the rename):
            // the entry may still have no cluster and length 0, unless written back.
            let empty = self.inodes[ino].unattached_at.as_ref() == Some(path) && rng.f64() >= p;
            ns.insert(path.clone(), (*ino, empty));
        }
        // A renamed file whose inode was not written since: its new entry may be empty.
        let mut blocked: HashSet<Rel> = HashSet::new();
        let keep = |rng: &mut fastrand::Rng| rng.f64() < p;
        for pend in &self.pending {
            match &pend.op {
                NameOp::Create { path, ino } => {
                    if under_any(path, &blocked) || !keep(rng) {
                        blocked.insert(path.clone());
                        o.names_undone += 1;
                    } else {
                        ns.insert(path.clone(), (*ino, false));
                        o.names_kept += 1;
                    }
                }
                NameOp::Remove { path, ino } => {
                    if under_any(path, &blocked) || !keep(rng) {
                        blocked.insert(path.clone());
                        o.names_undone += 1;
                        // The entry stays; its clusters may have been freed already.
                        if ns.get(path).is_some_and(|(i, _)| i == ino) && rng.bool() {
                            ns.insert(path.clone(), (*ino, true));
                        }
                    } else {
                        ns.remove(path);
                        o.names_kept += 1;
                    }
                }
                NameOp::Rename { from, to, ino, .. } if self.inodes[ino].dir => {
                    // A directory: kept or undone whole (the store renames none on vfat).
                    if under_any(from, &blocked) || under_any(to, &blocked) || !keep(rng) {
                        blocked.insert(from.clone());
                        blocked.insert(to.clone());
                        o.names_undone += 1;
                    } else {
                        ns.remove(from);
                        move_subtree(&mut ns, from, to);
                        ns.insert(to.clone(), (*ino, false));
                        o.names_kept += 1;
                    }
                }
                NameOp::Rename {
                    from,
                    to,
                    ino,
                    replaced,
                } => {
                    let add = !under_any(to, &blocked) && keep(rng);
                    let del = !under_any(from, &blocked) && keep(rng);
                    if add != del {
                        o.renames_split += 1;
                    }
                    if add && del {
                        o.names_kept += 1;
                    } else if !add && !del {
                        o.names_undone += 1;
                    }
                    if add {
                        // Written back (or fsynced since) with probability p, else the entry
                        // is empty, or still the replaced file's (whose clusters may be freed).
                        let attached =
                            self.inodes[ino].unattached_at.as_ref() != Some(to) || keep(rng);
                        match (attached, replaced) {
                            (true, _) => {
                                ns.insert(to.clone(), (*ino, false));
                            }
                            (false, Some(r)) if ns.get(to).is_some_and(|(i, _)| i == r) => {
                                let freed = rng.bool();
                                ns.insert(to.clone(), (*r, freed));
                            }
                            (false, _) => {
                                ns.insert(to.clone(), (*ino, true));
                            }
                        }
                    } else {
                        blocked.insert(to.clone());
                    }
                    if del {
                        if ns.get(from).is_some_and(|(i, _)| i == ino) {
                            ns.remove(from);
                        }
                    } else {
                        blocked.insert(from.clone());
                    }
                }
            }
        }
        // fsck: two entries on the same clusters: one keeps them, the others are truncated.
        let mut owner: HashMap<Ino, Rel> = HashMap::new();
        let mut out = Vec::new();
        let mut paths: Vec<&Rel> = ns.keys().collect();
        rng.shuffle(&mut paths);
        let mut empty: HashSet<Rel> = HashSet::new();
        for path in paths {
            let (ino, e) = ns[path];
            if self.inodes[&ino].dir || e {
                if e {
                    empty.insert(path.clone());
                }
                continue;
            }
            match owner.entry(ino) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    empty.insert(path.clone());
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(path.clone());
                }
            }
        }
        for (path, (ino, _)) in ns {
            let e = empty.contains(&path);
            out.push((path, ino, e));
        }
        out
    }

    /// The bytes of `i` after a cut.
    fn data_after_cut(&self, i: &Inode, rng: &mut fastrand::Rng, o: &mut Outcome) -> Vec<u8> {
        if i.history.is_empty() {
            return i.durable.clone();
        }
        match self.sem {
            Semantics::Journaled => self.data_journaled(i, rng, o),
            Semantics::Vfat => self.data_vfat(i, rng, o),
        }
    }

    fn data_journaled(&self, i: &Inode, rng: &mut fastrand::Rng, o: &mut Outcome) -> Vec<u8> {
        let h = &i.history;
        // The states after 0..=h.len() changes.
        let pick = rng.u8(0..4);
        let mut v = i.durable.clone();
        match pick {
            0 => {
                o.data_lost += 1;
                return v;
            }
            1 => {
                o.data_kept += 1;
                return i.cur.clone();
            }
            _ => {}
        }
        o.data_partial += 1;
        let k = rng.usize(0..h.len());
        for op in &h[..k] {
            op.apply(&mut v);
        }
        // The next change, in part (a write, down to a sector).
        if let DataOp::Write { at, bytes } = &h[k] {
            let at = *at as usize;
            let end = at + bytes.len();
            let cuts: Vec<usize> = (at / SECTOR + 1..=end.div_ceil(SECTOR))
                .map(|s| (s * SECTOR).min(end))
                .collect();
            let upto = cuts[rng.usize(0..cuts.len())];
            write_at(&mut v, at, &bytes[..upto - at]);
        }
        if pick == 3 {
            // The length of a later state, its data not written: zeros past a sector.
            let mut lens = Vec::new();
            let mut w = v.clone();
            for op in &h[k..] {
                op.apply(&mut w);
                lens.push(w.len());
            }
            let len = lens[rng.usize(0..lens.len())];
            if len > v.len() {
                let from = (v.len() / SECTOR * SECTOR)
                    .max(i.durable.len())
                    .min(v.len());
                v.truncate(from);
                v.resize(len, 0);
                o.data_garbage_tail += 1;
            }
        }
        v
    }

    fn data_vfat(&self, i: &Inode, rng: &mut fastrand::Rng, o: &mut Outcome) -> Vec<u8> {
        // The length in the entry: the durable one, any the file had since, or now.
        let mut states = vec![i.durable.clone()];
        for op in &i.history {
            let mut w = states.last().expect("one").clone();
            op.apply(&mut w);
            states.push(w);
        }
        let k = rng.usize(0..states.len());
        let len = states[k].len();
        // Each sector not as it was at the fsync: the new bytes, or what its cluster held
        // before (the durable bytes; past them zeros or a removed file's bytes).
        let how = rng.u8(0..3); // 0: all new, 1: all old, 2: each its own
        let stale: &[u8] = if self.freed.is_empty() || rng.bool() {
            &[]
        } else {
            &self.freed[rng.usize(0..self.freed.len())]
        };
        let newest = |x: usize| {
            i.cur
                .get(x)
                .or_else(|| states[k].get(x))
                .copied()
                .unwrap_or(0)
        };
        let mut v = vec![0u8; len];
        let mut old_past_durable = false;
        for s in 0..len.div_ceil(PAGE) {
            let (a, b) = (s * PAGE, ((s + 1) * PAGE).min(len));
            let new = match how {
                0 => true,
                1 => false,
                _ => rng.bool(),
            };
            for (x, byte) in v.iter_mut().enumerate().take(b).skip(a) {
                *byte = if new {
                    newest(x)
                } else if x < i.durable.len() {
                    i.durable[x]
                } else {
                    old_past_durable = true;
                    stale.get(x).copied().unwrap_or(0)
                };
            }
        }
        if v == i.durable {
            o.data_lost += 1;
        } else if v == i.cur {
            o.data_kept += 1;
        } else if old_past_durable {
            o.data_garbage_tail += 1;
        } else {
            o.data_partial += 1;
        }
        v
    }

    /// Writes `tree` (paths relative to the root, their bytes) under `out`: directories and
    /// files whose parents are all there.
    fn write_tree(&self, out: &Path, tree: impl Iterator<Item = (Rel, Ino, Vec<u8>)>) {
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out).expect("the cut's directory");
        let mut tree: Vec<(Rel, Ino, Vec<u8>)> = tree.collect();
        tree.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dirs: HashSet<Rel> = HashSet::new();
        dirs.insert(Rel::new());
        for (path, ino, bytes) in tree {
            if path.as_os_str().is_empty() {
                continue;
            }
            if !dirs.contains(&rel_parent(&path)) {
                // Its directory did not survive: fsck's lost+found, not the data directory.
                continue;
            }
            let to = out.join(&path);
            if self.inodes[&ino].dir {
                std::fs::create_dir(&to).expect("a directory of the cut");
                dirs.insert(path);
            } else {
                std::fs::write(&to, &bytes).expect("a file of the cut");
            }
        }
    }
}

/// Whether `POWERCUT_TRACE` asks for every operation to be printed (to see a failing cut's
/// schedule).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("POWERCUT_TRACE").is_some())
}

/// Whether `p` or a directory above it is in `set`.
fn under_any(p: &Path, set: &HashSet<Rel>) -> bool {
    let mut q = Some(p);
    while let Some(x) = q {
        if set.contains(x) {
            return true;
        }
        q = x.parent();
    }
    false
}

impl Fs for Model {
    fn open(&self, path: &Path, how: Open) -> io::Result<Box<dyn FsFile>> {
        let model = self.clone();
        self.run(
            &format!("open {how:?}"),
            Kind::Open(how),
            (path, None),
            |st| {
                let rel = st.rel(path)?;
                let existed = std::fs::symlink_metadata(path).is_ok();
                let real = RealFs.open(path, how)?;
                let created = !existed && matches!(how, Open::CreateNew | Open::ReadWrite);
                let ino = if created {
                    let ino = st.new_inode(false, Vec::new());
                    st.log_name(
                        NameOp::Create {
                            path: rel.clone(),
                            ino,
                        },
                        vec![rel_parent(&rel)],
                    );
                    ino
                } else {
                    st.ino_of(&rel).ok_or_else(|| {
                        io::Error::other(format!("{} is not known to the model", path.display()))
                    })?
                };
                Ok(Box::new(ModelFile {
                    model,
                    ino,
                    path: path.to_path_buf(),
                    real,
                    append: matches!(how, Open::Append | Open::CreateNew),
                    writable: how != Open::Read,
                }) as Box<dyn FsFile>)
            },
        )
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.run("mkdir", Kind::Mkdir, (path, None), |st| {
            let rel = st.rel(path)?;
            // A name there already is EEXIST, full disk or not.
            if st.capacity.is_some_and(|c| st.used() + BLOCK > c)
                && std::fs::symlink_metadata(path).is_err()
            {
                return Err(enospc());
            }
            RealFs.create_dir(path)?;
            let ino = st.new_inode(true, Vec::new());
            st.log_name(
                NameOp::Create {
                    path: rel.clone(),
                    ino,
                },
                vec![rel_parent(&rel)],
            );
            Ok(())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(
            &format!("rename to {}", to.display()),
            Kind::Rename,
            (from, Some(to)),
            |st| {
                let (rf, rt) = (st.rel(from)?, st.rel(to)?);
                let ino = st.ino_of(&rf);
                let replaced = st.ino_of(&rt);
                RealFs.rename(from, to)?;
                let ino = ino.ok_or_else(|| io::Error::other("renamed a file the model lost"))?;
                let dirs = vec![rel_parent(&rf), rel_parent(&rt)];
                st.log_name(
                    NameOp::Rename {
                        from: rf.clone(),
                        to: rt.clone(),
                        ino,
                        replaced: replaced.filter(|r| *r != ino),
                    },
                    dirs,
                );
                Ok(())
            },
        )
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.run("remove", Kind::Remove, (path, None), |st| {
            let rel = st.rel(path)?;
            let ino = st.ino_of(&rel);
            RealFs.remove_file(path)?;
            if let Some(ino) = ino {
                st.log_name(
                    NameOp::Remove {
                        path: rel.clone(),
                        ino,
                    },
                    vec![rel_parent(&rel)],
                );
            }
            Ok(())
        })
    }

    /// A directory removed: like a file's removal (a cut may undo it); kept, it takes any
    /// name still under it in the cut (`write_tree`: fsck's lost+found).
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.run("remove dir", Kind::RemoveDir, (path, None), |st| {
            let rel = st.rel(path)?;
            let ino = st.ino_of(&rel);
            RealFs.remove_dir(path)?;
            if let Some(ino) = ino {
                st.log_name(
                    NameOp::Remove {
                        path: rel.clone(),
                        ino,
                    },
                    vec![rel_parent(&rel)],
                );
            }
            Ok(())
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.run("fsync dir", Kind::SyncDir, (dir, None), |st| {
            let rel = st.rel(dir)?;
            if !st.root.join(&rel).is_dir() {
                return Err(io::Error::from(io::ErrorKind::NotFound));
            }
            st.pub_stats.dir_syncs += 1;
            st.sync_dir(&rel);
            Ok(())
        })
    }

    fn id(&self, path: &Path) -> io::Result<FileId> {
        RealFs.id(path)
    }
}

/// A file opened through the model.
struct ModelFile {
    model: Model,
    ino: Ino,
    /// The path it was opened by (for traces).
    path: PathBuf,
    real: Box<dyn FsFile>,
    append: bool,
    writable: bool,
}

impl Read for ModelFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.real.read(buf)
    }
}

impl Seek for ModelFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.real.seek(pos)
    }
}

impl Write for ModelFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.writable {
            return Err(io::Error::from_raw_os_error(9));
        }
        let (ino, append) = (self.ino, self.append);
        let real = &mut self.real;
        let path = self.path.clone();
        self.model.run(
            &format!("write {}", buf.len()),
            Kind::Write,
            (&path, None),
            |st| {
                let at = if append {
                    st.inodes[&ino].cur.len() as u64
                } else {
                    real.stream_position()?
                };
                let end = at + buf.len() as u64;
                let n = match st.max_len(ino) {
                    Some(max) if end > max && end > st.inodes[&ino].cur.len() as u64 => {
                        let fit = max.saturating_sub(at) as usize;
                        if fit == 0 {
                            return Err(enospc());
                        }
                        fit.min(buf.len())
                    }
                    _ => buf.len(),
                };
                let n = real.write(&buf[..n])?;
                let op = DataOp::Write {
                    at,
                    bytes: buf[..n].to_vec(),
                };
                let i = st.inodes.get_mut(&ino).expect("open inode");
                op.apply(&mut i.cur);
                i.history.push(op);
                st.pub_stats.writes += 1;
                st.pub_stats.bytes_written += n as u64;
                Ok(n)
            },
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.real.flush()
    }
}

impl FsFile for ModelFile {
    fn size(&self) -> io::Result<u64> {
        self.real.size()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let ino = self.ino;
        let real = &mut self.real;
        let path = self.path.clone();
        self.model.run(
            &format!("set_len {len}"),
            Kind::SetLen,
            (&path, None),
            |st| {
                let grows = len > st.inodes[&ino].cur.len() as u64;
                if grows && st.max_len(ino).is_some_and(|max| len > max) {
                    return Err(enospc());
                }
                real.set_len(len)?;
                let i = st.inodes.get_mut(&ino).expect("open inode");
                let op = DataOp::SetLen(len);
                op.apply(&mut i.cur);
                i.history.push(op);
                Ok(())
            },
        )
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let ino = self.ino;
        let path = self.path.clone();
        self.model.run("fsync", Kind::Sync, (&path, None), |st| {
            st.sync_file(ino);
            Ok(())
        })
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn try_lock(&self, lock: Lock) -> io::Result<bool> {
        self.real.try_lock(lock)
    }

    fn id(&self) -> io::Result<FileId> {
        self.real.id()
    }
}
