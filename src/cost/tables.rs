//! The tables a cost is priced with: the regulated grids and the Tempo calendar in force, as
//! shipped with tic-rec and as last updated into the data directory (`tic-rec tariffs
//! update`, [`super::update`]).
//!
//! ## Contract
//! - **Shipped** ([`Tables::shipped`]): `data/tariffs/` embedded, grids known in force through
//!   [`super::KNOWN_UNTIL`], colours through the calendar's last day.
//! - **Updated** ([`Tables::load`]): the generation in use in the data directory
//!   ([`crate::store::TariffTables`]): the publishers' files as fetched, read and verified again
//!   ([`super::opendata`]) and laid over the shipped tables: a fetched grid replaces the
//!   shipped one of the same option, power and first day (the official file over EDF's
//!   grid), the last grids are known in force through the day of the update, and a fetched
//!   colour replaces the shipped one of its day. Every grid and every day keeps its source
//!   ([`super::grid::Source`], [`DaySource`]).
//! - A stored update that cannot be read (a damaged card, a file edited by hand) is never
//!   half used: the shipped tables are, and [`Tables::problem`] says why.
//! - [`Tables::load`] keeps the last tables read and reads them again only when the update in
//!   use changes (one small file read per call).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::grid::{self, GridError, Grids};
use super::opendata::{self, GridFile, OpenDataError, Season};
use super::tempo::{DaySource, TempoCalendar, TempoError};
use crate::store::{TariffGeneration as Generation, TariffStoreError, TariffTables};

/// The file of a generation that says where its other files come from.
pub const SOURCES_FILE: &str = "sources.json";

/// A failure to read the tables.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// The shipped grids do not parse (never in a release).
    #[error(transparent)]
    Grid(#[from] GridError),
    /// The shipped calendar does not parse (never in a release).
    #[error(transparent)]
    Tempo(#[from] TempoError),
    /// A fetched file does not pass the checks.
    #[error(transparent)]
    OpenData(#[from] OpenDataError),
    /// The stored files cannot be read.
    #[error(transparent)]
    Store(#[from] TariffStoreError),
    /// The generation's list of sources is not what an update writes.
    #[error("{file}: {reason}")]
    Sources {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// One file of an update, and where it was fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Its name in the generation (`Option_Tempo.csv`, `tempo_2026-2027.json`).
    pub name: String,
    /// The address or path it was read from.
    pub from: String,
    /// Who publishes it (`data.gouv.fr`, `RTE`, `api-couleur-tempo.fr`).
    pub publisher: String,
}

/// The update laid over the shipped tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Its generation in the data directory.
    pub generation: String,
    /// When it was made (RFC 3339).
    pub at: String,
    /// The local day it was made: the grids are known in force through it.
    pub on: NaiveDate,
    /// Its files.
    pub files: Vec<Fetched>,
}

impl Update {
    /// The `sources.json` of a generation.
    pub fn to_json(&self) -> Vec<u8> {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| json!({"name": f.name, "from": f.from, "publisher": f.publisher}))
            .collect();
        let v = json!({"at": self.at, "on": self.on.to_string(), "files": files});
        let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }

    fn from_json(generation: &str, bytes: &[u8]) -> Result<Update, TablesError> {
        let bad = |reason: String| TablesError::Sources {
            file: format!("{generation}/{SOURCES_FILE}"),
            reason,
        };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let text = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("no {k:?}")))
        };
        let on = NaiveDate::parse_from_str(&text(&v, "on")?, "%Y-%m-%d")
            .map_err(|_| bad("\"on\" is not a date".into()))?;
        let mut files = Vec::new();
        for f in v
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"files\"".into()))?
        {
            files.push(Fetched {
                name: text(f, "name")?,
                from: text(f, "from")?,
                publisher: text(f, "publisher")?,
            });
        }
        Ok(Update {
            generation: generation.to_owned(),
            at: text(&v, "at")?,
            on,
            files,
        })
    }
}

/// The grids and the Tempo calendar in force.
#[derive(Clone, Debug)]
pub struct Tables {
    grids: Arc<Grids>,
    tempo: TempoCalendar,
    update: Option<Update>,
    problem: Option<String>,
}

static SHIPPED: OnceLock<Result<Arc<Tables>, String>> = OnceLock::new();

type Cache = Mutex<Vec<(PathBuf, Option<String>, Arc<Tables>)>>;
static LOADED: OnceLock<Cache> = OnceLock::new();

impl Tables {
    /// The tables shipped with tic-rec.
    pub fn shipped() -> Result<Arc<Tables>, TablesError> {
        let r = SHIPPED.get_or_init(|| {
            let grids = grid::shipped().map_err(|e| crate::error::Chain(&e).to_string())?;
            let tempo = TempoCalendar::shipped()
                .map_err(|e| crate::error::Chain(&e).to_string())?
                .clone();
            Ok(Arc::new(Tables {
                grids,
                tempo,
                update: None,
                problem: None,
            }))
        });
        match r {
            Ok(t) => Ok(Arc::clone(t)),
            // Never in a release (a unit test parses both): say it as the grid error it is.
            Err(reason) => Err(TablesError::Sources {
                file: "data/tariffs (embedded)".into(),
                reason: reason.clone(),
            }),
        }
    }

    /// The tables in force for the data directory `data_dir`: the shipped ones with the
    /// update in use laid over them (see the module's contract).
    pub fn load(data_dir: &Path) -> Result<Arc<Tables>, TablesError> {
        let store = TariffTables::new(data_dir);
        let stamp = store.stamp();
        let cache = LOADED.get_or_init(|| Mutex::new(Vec::new()));
        {
            let c = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, t)) = c.iter().find(|(d, s, _)| d == data_dir && *s == stamp) {
                return Ok(Arc::clone(t));
            }
        }
        let shipped = Tables::shipped()?;
        let tables = match store.current() {
            Ok(None) => shipped,
            Ok(Some(g)) => match Tables::with_generation(&shipped, &g) {
                Ok(t) => Arc::new(t),
                Err(e) => Arc::new(shipped.with_problem(format!(
                    "the prices updated in {} cannot be used ({}): the shipped ones are",
                    store.dir().display(),
                    crate::error::Chain(&e)
                ))),
            },
            Err(e) => Arc::new(shipped.with_problem(format!(
                "the prices updated in the data directory cannot be read ({}): the shipped ones are",
                crate::error::Chain(&e)
            ))),
        };
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        c.retain(|(d, _, _)| d != data_dir);
        if c.len() >= 8 {
            c.remove(0);
        }
        c.push((data_dir.to_path_buf(), stamp, Arc::clone(&tables)));
        Ok(tables)
    }

    fn with_problem(&self, problem: String) -> Tables {
        Tables {
            problem: Some(problem),
            ..self.clone()
        }
    }

    /// `base` with the files of `generation` laid over it (see the module's contract).
    pub fn with_generation(base: &Tables, generation: &Generation) -> Result<Tables, TablesError> {
        let sources = generation
            .files
            .get(SOURCES_FILE)
            .ok_or_else(|| TablesError::Sources {
                file: format!("{}/{SOURCES_FILE}", generation.name),
                reason: "missing".into(),
            })?;
        let update = Update::from_json(&generation.name, sources)?;
        let mut fetched: Vec<grid::Grid> = Vec::new();
        for f in GridFile::ALL {
            if let Some(bytes) = generation.files.get(f.file_name()) {
                fetched.extend(opendata::parse_grid_file(f, bytes)?.grids);
            }
        }
        let file = format!("{}/Option_*.csv", generation.name);
        let grids = if fetched.is_empty() {
            Arc::clone(&base.grids)
        } else {
            let fetched = Grids::build(&file, fetched, update.on)?;
            Arc::new(base.grids.merged(&fetched, update.on, &file)?)
        };
        let mut tempo = base.tempo.clone();
        let mut seasons: BTreeMap<Season, &Vec<u8>> = BTreeMap::new();
        for (name, bytes) in &generation.files {
            let season = name
                .strip_prefix("tempo_")
                .and_then(|s| s.strip_suffix(".json"))
                .and_then(Season::parse);
            if let Some(s) = season {
                seasons.insert(s, bytes);
            }
        }
        for (season, bytes) in seasons {
            let days = opendata::parse_season(season, &season.file_name(), bytes, update.on)?;
            for (d, c) in days.days {
                tempo.insert_from(d, c, DaySource::Update);
            }
        }
        Ok(Tables {
            grids,
            tempo,
            update: Some(update),
            problem: None,
        })
    }

    /// The grids.
    pub fn grids(&self) -> &Arc<Grids> {
        &self.grids
    }

    /// The Tempo calendar (each day with its source).
    pub fn tempo(&self) -> &TempoCalendar {
        &self.tempo
    }

    /// The update laid over the shipped tables, if any.
    pub fn update(&self) -> Option<&Update> {
        self.update.as_ref()
    }

    /// Why the update in the data directory is not used, if it is not.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The day through which the last grids are known in force.
    pub fn prices_until(&self) -> NaiveDate {
        self.grids.known_until()
    }

    /// The last day of the calendar.
    pub fn colours_until(&self) -> Option<NaiveDate> {
        self.tempo.span().map(|s| s.1)
    }

    /// Where the prices come from, short: `the tables shipped with tic-rec`, `the update of
    /// 2026-12-06`.
    pub fn prices_source(&self) -> String {
        match &self.update {
            Some(u) => format!("the update of {}", u.on),
            None => "the tables shipped with tic-rec".to_owned(),
        }
    }

    /// Where the prices come from, for a note: `the tables shipped with tic-rec (known
    /// through 2026-08-23)`, `the update of 2026-12-06 (data.gouv.fr)`.
    pub fn prices_from(&self) -> String {
        match &self.update {
            Some(u) => format!(
                "the update of {} (data.gouv.fr, over the shipped tables)",
                u.on
            ),
            None => format!(
                "the tables shipped with tic-rec (known through {})",
                self.prices_until()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_tables() {
        let t = Tables::shipped().expect("shipped");
        assert_eq!(t.prices_until(), super::super::KNOWN_UNTIL);
        assert_eq!(t.colours_until(), NaiveDate::from_ymd_opt(2026, 8, 23));
        assert!(t.update().is_none() && t.problem().is_none());
        assert!(t.prices_from().contains("shipped"));
        // A data directory without an update gives the shipped tables.
        let d = tempfile::tempdir().expect("tempdir");
        let l = Tables::load(d.path()).expect("loads");
        assert!(Arc::ptr_eq(&l, &t));
    }

    #[test]
    fn a_damaged_update_is_said_and_not_used() {
        let d = tempfile::tempdir().expect("tempdir");
        let g = Generation {
            name: "20261206T071502Z".into(),
            files: [
                (
                    SOURCES_FILE.to_owned(),
                    b"{\"at\":\"x\",\"on\":\"2026-12-06\",\"files\":[]}".to_vec(),
                ),
                ("Option_Base.csv".to_owned(), b"garbage".to_vec()),
            ]
            .into(),
        };
        TariffTables::new(d.path()).install(&g).expect("installs");
        let t = Tables::load(d.path()).expect("loads");
        assert!(t.update().is_none());
        let p = t.problem().expect("a problem");
        assert!(p.contains("Option_Base.csv"), "{p}");
        assert_eq!(t.prices_until(), super::super::KNOWN_UNTIL);
    }
}
