//! Finding the daily files of a data directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::Error;
use crate::store::parse_day_file_name;

/// The daily record files of a data directory, by local day (each day's files by index N).
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    days: BTreeMap<NaiveDate, Vec<(PathBuf, u64)>>,
}

impl Store {
    /// Lists `<dir>/YYYY/MM/*.csv` whose names are daily files; fails when there is none.
    pub fn open(dir: &Path) -> Result<Store, Error> {
        let mut days: BTreeMap<NaiveDate, Vec<(u32, PathBuf, u64)>> = BTreeMap::new();
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::DataDir { path, source }
        };
        for year in fs::read_dir(dir).map_err(err(dir))? {
            let year = year.map_err(err(dir))?;
            if !is_dir_named(&year, 4) {
                continue;
            }
            for month in fs::read_dir(year.path()).map_err(err(&year.path()))? {
                let month = month.map_err(err(&year.path()))?;
                if !is_dir_named(&month, 2) {
                    continue;
                }
                for file in fs::read_dir(month.path()).map_err(err(&month.path()))? {
                    let file = file.map_err(err(&month.path()))?;
                    let name = file.file_name();
                    let Some((day, n)) = name.to_str().and_then(parse_day_file_name) else {
                        continue;
                    };
                    // Only where the recorder puts it: YYYY/MM of its own day.
                    if year.file_name().to_str() != Some(&format!("{:04}", day.year()))
                        || month.file_name().to_str() != Some(&format!("{:02}", day.month()))
                    {
                        continue;
                    }
                    let meta = file.metadata().map_err(err(&file.path()))?;
                    if meta.is_file() {
                        days.entry(day)
                            .or_default()
                            .push((n, file.path(), meta.len()));
                    }
                }
            }
        }
        if days.is_empty() {
            return Err(Error::NoFiles(dir.to_path_buf()));
        }
        let days = days
            .into_iter()
            .map(|(d, mut v)| {
                v.sort();
                (d, v.into_iter().map(|(_, p, len)| (p, len)).collect())
            })
            .collect();
        Ok(Store {
            dir: dir.to_path_buf(),
            days,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The range to export: the given bounds, defaulting to the first and last recorded days.
    pub fn range(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<(NaiveDate, NaiveDate), Error> {
        let first = *self
            .days
            .keys()
            .next()
            .ok_or_else(|| Error::NoFiles(self.dir.clone()))?;
        let last = *self
            .days
            .keys()
            .next_back()
            .ok_or_else(|| Error::NoFiles(self.dir.clone()))?;
        let (from, to) = (from.unwrap_or(first), to.unwrap_or(last));
        if from > to {
            return Err(Error::EmptyRange { from, to });
        }
        Ok((from, to))
    }

    /// The files of the days in `[from, to]`, in day order: `(day, [(path, size)])`.
    pub fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl DoubleEndedIterator<Item = (NaiveDate, &[(PathBuf, u64)])> {
        self.days.range(from..=to).map(|(d, v)| (*d, v.as_slice()))
    }

    /// The files of the days before `day`, latest first.
    pub fn before(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDate, &[(PathBuf, u64)])> {
        self.days
            .range(..day)
            .rev()
            .map(|(d, v)| (*d, v.as_slice()))
    }

    /// The files of the days after `day`, earliest first.
    pub fn after(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDate, &[(PathBuf, u64)])> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.days
            .range((Excluded(day), Unbounded))
            .map(|(d, v)| (*d, v.as_slice()))
    }
}

fn is_dir_named(entry: &fs::DirEntry, len: usize) -> bool {
    let name = entry.file_name();
    let ok = name
        .to_str()
        .is_some_and(|n| n.len() == len && n.bytes().all(|b| b.is_ascii_digit()));
    ok && entry.file_type().is_ok_and(|t| t.is_dir())
}
