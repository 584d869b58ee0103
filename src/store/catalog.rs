//! The catalog of days of a data directory: which files each local day has, in both
//! encodings. The one directory walk of the project (export, compaction and the demo use it).
//! A file or directory removed while it is listed (a conversion finishing beside an export)
//! is skipped, never an error.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::error::ReadError;
use super::layout::{self, parse_file_name, DayFileName};

/// One file of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes when the catalog was made.
    pub len: u64,
    /// Its modification time when the catalog was made, ns since the Unix epoch (0 when
    /// unknown).
    pub mtime_ns: i128,
}

impl FileEntry {
    fn of(path: PathBuf, meta: &fs::Metadata) -> FileEntry {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|m| match m.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => i128::try_from(d.as_nanos()).ok(),
                Err(e) => i128::try_from(e.duration().as_nanos()).ok().map(|n| -n),
            })
            .unwrap_or(0);
        FileEntry {
            path,
            len: meta.len(),
            mtime_ns,
        }
    }
}

/// The files of one local day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFiles {
    /// The CSV files, by their index N (`YYYY-MM-DD.csv` first, then `.1.csv`…).
    pub csv: Vec<FileEntry>,
    /// The archived day (`YYYY-MM-DD.parquet`), if any.
    pub parquet: Option<FileEntry>,
    /// Temporary files a crashed conversion left behind (never read).
    pub temps: Vec<PathBuf>,
}

impl DayFiles {
    /// Every file a reader may read (CSV then Parquet), with sizes.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.csv.iter().chain(self.parquet.as_ref())
    }

    /// Bytes in all.
    pub fn bytes(&self) -> u64 {
        self.files().map(|f| f.len).sum()
    }

    /// Whether the day has a file to read.
    pub fn has_data(&self) -> bool {
        !self.csv.is_empty() || self.parquet.is_some()
    }
}

/// Where a tree of day files is, and which files it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tree {
    /// `<dir>/journal/YYYY/MM`: CSV days.
    Journal,
    /// `<dir>/records/YYYY/MM`: archived days.
    Records,
    /// `<dir>/YYYY/MM`: the layout before, every kind (moved by [`super::migrate`]).
    Legacy,
}

impl Tree {
    const ALL: [Tree; 3] = [Tree::Legacy, Tree::Journal, Tree::Records];

    fn base(self, dir: &Path) -> PathBuf {
        match self {
            Tree::Journal => layout::journal_dir(dir),
            Tree::Records => layout::records_dir(dir),
            Tree::Legacy => dir.to_path_buf(),
        }
    }

    fn holds(self, kind: DayFileName) -> bool {
        matches!(
            (self, kind),
            (Tree::Legacy, _)
                | (Tree::Journal, DayFileName::Csv(..))
                | (Tree::Records, DayFileName::Parquet(_))
        )
    }
}

/// The files of the days being listed, CSV files with their index.
#[derive(Default)]
struct Listing {
    days: BTreeMap<NaiveDate, (Vec<(u32, FileEntry)>, DayFiles)>,
}

impl Listing {
    /// Files the walk of `tree` found; a Parquet file in `records/` wins over one of the same
    /// day in the layout before (the same file, under both names after a crash during a
    /// move on a filesystem whose rename is not atomic).
    fn add(&mut self, tree: Tree, day: NaiveDate, kind: DayFileName, entry: FileEntry) {
        let slot = self.days.entry(day).or_default();
        match kind {
            DayFileName::Csv(_, n) => slot.0.push((n, entry)),
            DayFileName::Parquet(_) if slot.1.parquet.is_none() || tree == Tree::Records => {
                slot.1.parquet = Some(entry)
            }
            DayFileName::Parquet(_) => {}
            DayFileName::Temp(_) => slot.1.temps.push(entry.path),
        }
    }

    fn finish(self) -> BTreeMap<NaiveDate, DayFiles> {
        self.days
            .into_iter()
            .map(|(d, (mut csv, mut files))| {
                csv.sort_by_key(|(n, _)| *n);
                files.csv = csv.into_iter().map(|(_, e)| e).collect();
                (d, files)
            })
            .collect()
    }
}

fn dir_err(path: &Path) -> impl Fn(std::io::Error) -> ReadError {
    let path = path.to_path_buf();
    move |source| ReadError::Dir {
        path: path.clone(),
        source,
    }
}

/// Lists the day files of `tree` under `dir` into `out`: `YYYY/MM/` directories, each file
/// only in the `YYYY/MM` of its own day. A tree that is not there is empty.
fn walk(dir: &Path, tree: Tree, out: &mut Listing) -> Result<(), ReadError> {
    let base = tree.base(dir);
    // The data directory itself must be readable; the trees inside it may be missing.
    let years = match tree {
        Tree::Legacy => Some(fs::read_dir(&base).map_err(dir_err(&base))?),
        _ => present(fs::read_dir(&base)).map_err(dir_err(&base))?,
    };
    let Some(years) = years else {
        return Ok(());
    };
    // A file or directory removed while it is listed (a conversion finishing, a move) is
    // skipped: the walk lists what there is.
    for year in years {
        let Some(year) = present(year).map_err(dir_err(&base))? else {
            continue;
        };
        if !is_dir_named(&year, 4) {
            continue;
        }
        let Some(months) = present(fs::read_dir(year.path())).map_err(dir_err(&year.path()))?
        else {
            continue;
        };
        for month in months {
            let Some(month) = present(month).map_err(dir_err(&year.path()))? else {
                continue;
            };
            if !is_dir_named(&month, 2) {
                continue;
            }
            let Some(files) =
                present(fs::read_dir(month.path())).map_err(dir_err(&month.path()))?
            else {
                continue;
            };
            for file in files {
                let Some(file) = present(file).map_err(dir_err(&month.path()))? else {
                    continue;
                };
                let name = file.file_name();
                let Some(kind) = name.to_str().and_then(parse_file_name) else {
                    continue;
                };
                if !tree.holds(kind) {
                    continue;
                }
                let day = kind.day();
                // Only where the recorder puts it: YYYY/MM of its own day.
                if year.file_name().to_str() != Some(&format!("{:04}", day.year()))
                    || month.file_name().to_str() != Some(&format!("{:02}", day.month()))
                {
                    continue;
                }
                let Some(meta) = file_meta(&file).map_err(dir_err(&file.path()))? else {
                    continue;
                };
                out.add(tree, day, kind, FileEntry::of(file.path(), &meta));
            }
        }
    }
    Ok(())
}

/// Lists the temporary files of conversions in `<dir>/.tic-rec-tmp` (of every day when `day`
/// is `None`).
fn walk_temps(dir: &Path, day: Option<NaiveDate>, out: &mut Listing) -> Result<(), ReadError> {
    let base = layout::temp_dir(dir);
    let Some(files) = present(fs::read_dir(&base)).map_err(dir_err(&base))? else {
        return Ok(());
    };
    for file in files {
        let Some(file) = present(file).map_err(dir_err(&base))? else {
            continue;
        };
        let name = file.file_name();
        let Some(kind @ DayFileName::Temp(d)) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        if day.is_some_and(|want| want != d) {
            continue;
        }
        let Some(meta) = file_meta(&file).map_err(dir_err(&file.path()))? else {
            continue;
        };
        out.add(Tree::Legacy, d, kind, FileEntry::of(file.path(), &meta));
    }
    Ok(())
}

/// The days of a data directory: CSV days in `<dir>/journal/YYYY/MM/`, archived days in
/// `<dir>/records/YYYY/MM/`, and both in `<dir>/YYYY/MM/` (the layout before, read until it
/// is moved), each only in the `YYYY/MM` of its own day; and the temporary files of
/// conversions.
#[derive(Clone, Debug)]
pub struct Catalog {
    dir: PathBuf,
    days: BTreeMap<NaiveDate, DayFiles>,
}

impl Catalog {
    /// Lists the day files under `dir` (an empty catalog when there is none).
    pub fn open(dir: &Path) -> Result<Catalog, ReadError> {
        let mut listing = Listing::default();
        for tree in Tree::ALL {
            walk(dir, tree, &mut listing)?;
        }
        walk_temps(dir, None, &mut listing)?;
        Ok(Catalog {
            dir: dir.to_path_buf(),
            days: listing.finish(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether no day has a file to read.
    pub fn is_empty(&self) -> bool {
        self.first_day().is_none()
    }

    /// The first day with a file to read.
    pub fn first_day(&self) -> Option<NaiveDate> {
        self.days
            .iter()
            .find(|(_, f)| f.has_data())
            .map(|(d, _)| *d)
    }

    /// The last day with a file to read.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.days
            .iter()
            .rev()
            .find(|(_, f)| f.has_data())
            .map(|(d, _)| *d)
    }

    /// The files of `day`.
    pub fn day(&self, day: NaiveDate) -> Option<&DayFiles> {
        self.days.get(&day).filter(|f| f.has_data())
    }

    /// Every day with files (temporary files included), in order.
    pub fn all(&self) -> impl DoubleEndedIterator<Item = (NaiveDate, &DayFiles)> {
        self.days.iter().map(|(d, f)| (*d, f))
    }

    /// The days in `[from, to]` with a file to read, in order.
    pub fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl DoubleEndedIterator<Item = (NaiveDate, &DayFiles)> {
        self.days
            .range(from..=to)
            .filter(|(_, f)| f.has_data())
            .map(|(d, f)| (*d, f))
    }

    /// The days before `day` with a file to read, latest first.
    pub fn before(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDate, &DayFiles)> {
        self.days
            .range(..day)
            .rev()
            .filter(|(_, f)| f.has_data())
            .map(|(d, f)| (*d, f))
    }

    /// The days after `day` with a file to read, earliest first.
    pub fn after(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDate, &DayFiles)> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.days
            .range((Excluded(day), Unbounded))
            .filter(|(_, f)| f.has_data())
            .map(|(d, f)| (*d, f))
    }
}

/// The files of `day` under `dir` now (its month directories listed afresh).
pub fn day_files(dir: &Path, day: NaiveDate) -> Result<DayFiles, ReadError> {
    let mut listing = Listing::default();
    for tree in Tree::ALL {
        list_month(
            &layout::month_dir(&tree.base(dir), day),
            tree,
            day,
            &mut listing,
        )?;
    }
    walk_temps(dir, Some(day), &mut listing)?;
    Ok(listing.finish().remove(&day).unwrap_or_default())
}

/// The files of `day` now, listed afresh from the data directory of the files `files`
/// named (one of them vanished: a conversion removed it, or renamed another over it).
pub fn relist(day: NaiveDate, files: &DayFiles) -> Result<DayFiles, ReadError> {
    let root = files
        .files()
        .map(|f| f.path.as_path())
        .find_map(layout::root_of);
    match root {
        Some(r) => day_files(&r, day),
        None => Ok(DayFiles::default()),
    }
}

fn list_month(
    month: &Path,
    tree: Tree,
    day: NaiveDate,
    out: &mut Listing,
) -> Result<(), ReadError> {
    let Some(entries) = present(fs::read_dir(month)).map_err(dir_err(month))? else {
        return Ok(());
    };
    for file in entries {
        let Some(file) = present(file).map_err(dir_err(month))? else {
            continue;
        };
        let name = file.file_name();
        let Some(kind) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        if kind.day() != day || !tree.holds(kind) {
            continue;
        }
        let Some(meta) = file_meta(&file).map_err(dir_err(&file.path()))? else {
            continue;
        };
        out.add(tree, day, kind, FileEntry::of(file.path(), &meta));
    }
    Ok(())
}

/// `Ok(None)` for what is not there (any more).
fn present<T>(r: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The metadata of a listed file: `None` when it is not a regular file, or was removed since
/// it was listed.
fn file_meta(entry: &fs::DirEntry) -> std::io::Result<Option<fs::Metadata>> {
    Ok(present(entry.metadata())?.filter(fs::Metadata::is_file))
}

fn is_dir_named(entry: &fs::DirEntry, len: usize) -> bool {
    let name = entry.file_name();
    let ok = name
        .to_str()
        .is_some_and(|n| n.len() == len && n.bytes().all(|b| b.is_ascii_digit()));
    ok && entry.file_type().is_ok_and(|t| t.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes each file of `rels` under `d`, with its directories.
    fn touch(d: &Path, rels: &[&str]) {
        for rel in rels {
            let p = d.join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, "x").expect("write");
        }
    }

    /// A file removed between the directory listing and its `stat` (a conversion removing a
    /// CSV file while an export lists the days) is skipped, not an error.
    #[test]
    fn a_file_removed_while_listed_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in ["a.csv", "b.csv"] {
            fs::write(dir.path().join(n), "x").expect("write");
        }
        // The listing is read (into the C library's buffer) at the first entry.
        let mut entries = fs::read_dir(dir.path()).expect("list");
        let first = entries.next().expect("entry").expect("entry");
        for n in ["a.csv", "b.csv"] {
            fs::remove_file(dir.path().join(n)).expect("remove");
        }
        let second = entries.next().expect("entry").expect("entry");
        for e in [first, second] {
            assert!(e.metadata().is_err(), "removed");
            assert!(file_meta(&e).expect("not an error").is_none());
        }
    }

    /// The catalog of a directory whose days are being archived (files renamed in and removed
    /// all the while) never fails.
    #[test]
    fn the_walk_survives_files_vanishing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let month = dir.path().join("2026/01");
        fs::create_dir_all(&month).expect("mkdir");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (month, stop) = (month.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for d in 1..=28 {
                        let _ = fs::write(month.join(format!("2026-01-{d:02}.csv")), "x");
                    }
                    for d in 1..=28 {
                        let _ = fs::remove_file(month.join(format!("2026-01-{d:02}.csv")));
                    }
                }
            })
        };
        let start = std::time::Instant::now();
        let mut walks = 0;
        let mut failed = None;
        while start.elapsed() < std::time::Duration::from_secs(2) && failed.is_none() {
            if let Err(e) = Catalog::open(dir.path()) {
                failed = Some(e.to_string());
            }
            walks += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().expect("join");
        assert_eq!(failed, None, "after {walks} walks");
    }

    /// The journal holds CSV days, the records Parquet days, the layout before both (until
    /// it is moved), `.tic-rec-tmp` the temporary files: each kind is listed from where it
    /// belongs only, and a day's files from every tree are one day.
    #[test]
    fn lists_every_tree_and_each_kind_where_it_belongs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(
            d,
            &[
                "journal/2026/01/2026-01-01.csv",
                "2026/01/2026-01-01.1.csv",
                "records/2026/01/2026-01-01.parquet",
                "2026/01/2026-01-02.parquet",
                "records/2026/01/2026-01-02.parquet",
                "journal/2026/01/2026-01-03.parquet",
                "records/2026/01/2026-01-04.csv",
                "journal/2026/01/2026-01-05.tic",
                ".tic-rec-tmp/.2026-01-05.parquet.tmp-1-2",
                "journal/2026/01/2026-01-06.csv",
                "periods/2026/2026-01.parquet",
            ],
        );
        let c = Catalog::open(d).expect("catalog");
        let day = |n| NaiveDate::from_ymd_opt(2026, 1, n).expect("date");
        let got: Vec<NaiveDate> = c.days(day(1), day(31)).map(|(d, _)| d).collect();
        assert_eq!(got, [day(1), day(2), day(6)]);
        let d1 = c.day(day(1)).expect("day 1");
        assert_eq!(d1.csv.len(), 2);
        assert!(d1.csv[0].path.ends_with("journal/2026/01/2026-01-01.csv"));
        assert!(d1.csv[1].path.ends_with("2026/01/2026-01-01.1.csv"));
        assert!(d1.csv[0].mtime_ns > 0);
        let d2 = c.day(day(2)).expect("day 2");
        let p2 = d2.parquet.as_ref().expect("parquet");
        assert!(
            p2.path.ends_with("records/2026/01/2026-01-02.parquet"),
            "{p2:?}"
        );
        let temps: Vec<_> = c.all().filter(|(_, f)| !f.temps.is_empty()).collect();
        assert_eq!(temps.len(), 1);
        assert_eq!(temps[0].0, day(5));
        for n in [1, 2, 5, 6] {
            assert_eq!(
                day_files(d, day(n)).expect("files"),
                c.all()
                    .find(|(x, _)| *x == day(n))
                    .expect("listed")
                    .1
                    .clone(),
                "day {n} listed alone"
            );
        }
        let relisted = relist(day(1), d1).expect("relist");
        assert_eq!(&relisted, d1);
    }

    #[test]
    fn lists_both_encodings_in_their_own_month_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        touch(
            d,
            &[
                "2026/01/2026-01-01.csv",
                "2026/01/2026-01-01.1.csv",
                "2026/01/2026-01-02.parquet",
                "2026/01/.2026-01-02.parquet.tmp-1",
                "2026/01/2026-01-03.csv",
                "2026/01/2026-01-03.parquet",
                "2026/02/2026-01-04.csv",
                "2026/01/notes.txt",
            ],
        );
        let c = Catalog::open(d).expect("catalog");
        let day = |n| NaiveDate::from_ymd_opt(2026, 1, n).expect("date");
        let got: Vec<NaiveDate> = c.days(day(1), day(31)).map(|(d, _)| d).collect();
        assert_eq!(got, [day(1), day(2), day(3)]);
        let d1 = c.day(day(1)).expect("day 1");
        assert_eq!(d1.csv.len(), 2);
        assert!(d1.csv[1].path.ends_with("2026-01-01.1.csv"));
        let d2 = c.day(day(2)).expect("day 2");
        assert!(d2.parquet.is_some() && d2.csv.is_empty() && d2.temps.len() == 1);
        assert_eq!(c.first_day(), Some(day(1)));
        assert_eq!(c.before(day(3)).next().map(|(d, _)| d), Some(day(2)));
    }
}
