//! `tic-rec tariffs update`: fetches the official price grids and Tempo colours, verifies
//! them, and keeps them in the data directory, all or nothing.
//!
//! ## Contract
//! - **Where from** ([`From`]): the publishers ([`From::Publishers`]: data.gouv.fr's three
//!   grid files, [`GridFile::url`]; RTE's colours for each season, [`opendata::rte_url`],
//!   and api-couleur-tempo.fr's ([`opendata::community_url`]) for a season RTE does not
//!   give); a mirror ([`From::Url`]: `<url>/Option_Base.csv`, …, `<url>/tempo_2026-2027.json`)
//!   or an offline copy ([`From::Dir`], the same names; the directory of a generation in a
//!   data directory is one).
//! - **Which seasons**: every Tempo season from the one after the shipped calendar's last day
//!   to the one of today. A finished season already kept whole by the update in use is not
//!   fetched again.
//! - **Verified** ([`opendata`]): each file on its own, then together with what is known: a
//!   grid file must still hold every official grid the shipped tables (and the update in
//!   use) have (a file cut at a line break, or rewritten, loses history: refused); the grids
//!   laid over the shipped ones must still follow each other without gap or overlap; the
//!   calendar must have no day without a colour from its first day to its last. A colour
//!   that differs from the shipped calendar's is the publisher's (told, counted).
//! - **All or nothing**: the first failure (a refused connection, an HTTP status other than
//!   200, a timeout, a file that does not pass) ends the update with an error naming the
//!   file and its address; nothing is written, and the tables in use stay as they were.
//!   Only a wholly verified update is installed ([`crate::store::TariffTables::install`]).
//! - **Time** is the caller's: `today` dates the update (the grids are known in force
//!   through it) and bounds the colours (none after tomorrow).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Chain;
use chrono::{Days, NaiveDate};

use super::grid::{Source, Tariff};
use super::opendata::{self, GridFile, OpenDataError, Season, SeasonDays, TempoFormat};
use super::tables::{Fetched, Tables, TablesError, Update, SOURCES_FILE};
use super::tempo::DaySource;
use crate::store::{TariffGeneration as Generation, TariffStoreError, TariffTables};

/// Where to fetch from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum From {
    /// The publishers' own addresses.
    Publishers,
    /// A mirror: the files under this address, by name.
    Url(String),
    /// An offline copy: the files in this directory, by name.
    Dir(PathBuf),
}

impl From {
    /// `--source URL|DIR`: an `http://` or `https://` address is a mirror, anything else a
    /// directory.
    pub fn parse(s: &str) -> From {
        if s.starts_with("http://") || s.starts_with("https://") {
            From::Url(s.trim_end_matches('/').to_owned())
        } else {
            From::Dir(PathBuf::from(s))
        }
    }
}

/// A failure to get one file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with another status than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// No answer in time.
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Any other failure of the request (name, connection, TLS, a body over the limit).
    #[error(transparent)]
    Http(Box<ureq::Error>),
    /// The file of an offline copy cannot be read.
    #[error("cannot read it")]
    Io(#[source] std::io::Error),
}

/// Gets files: over HTTP(S) or from a directory.
pub trait Fetch {
    /// The bytes at `location` (an address, or a path).
    fn get(&mut self, location: &str) -> Result<Vec<u8>, FetchError>;
}

/// The largest file taken (the grid files are about 20 kB, a season's colours 15 kB).
pub const MAX_BYTES: u64 = 8 << 20;

/// HTTP(S) with a deadline for each request.
pub struct Http {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Http {
    /// A client whose every request ends within `timeout`.
    pub fn new(timeout: Duration) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .user_agent(concat!(
                "tic-rec/",
                env!("CARGO_PKG_VERSION"),
                " (tariffs update)"
            ))
            .build()
            .into();
        Http { agent, timeout }
    }
}

impl Fetch for Http {
    fn get(&mut self, url: &str) -> Result<Vec<u8>, FetchError> {
        let map = |e: ureq::Error| match e {
            ureq::Error::StatusCode(s) => FetchError::Status(s),
            ureq::Error::Timeout(_) => FetchError::Timeout(self.timeout),
            e => FetchError::Http(Box::new(e)),
        };
        let mut response = self.agent.get(url).call().map_err(map)?;
        response
            .body_mut()
            .with_config()
            .limit(MAX_BYTES)
            .read_to_vec()
            .map_err(map)
    }
}

/// Files from a directory (a location is a path).
pub struct Files;

impl Fetch for Files {
    fn get(&mut self, path: &str) -> Result<Vec<u8>, FetchError> {
        std::fs::read(path).map_err(FetchError::Io)
    }
}

/// A failed update: nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file could not be fetched.
    #[error("{name}: cannot fetch {location}")]
    Fetch {
        /// The file.
        name: String,
        /// Its address or path.
        location: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// A season's colours could be fetched from neither RTE nor the community API.
    #[error("{name}: cannot fetch {rte} ({rte_error}) nor {community} ({community_error})")]
    Season {
        /// The season's file.
        name: String,
        /// RTE's address.
        rte: String,
        /// Why not.
        rte_error: String,
        /// The community API's address.
        community: String,
        /// Why not.
        community_error: String,
    },
    /// A file does not pass the checks.
    #[error(transparent)]
    Refused(#[from] OpenDataError),
    /// The files together do not pass the checks.
    #[error("{0}")]
    Inconsistent(String),
    /// The tables in use cannot be read.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// The verified files cannot be written into the data directory.
    #[error(transparent)]
    Store(#[from] TariffStoreError),
}

/// What to update.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where from.
    pub from: From,
    /// The local day of the update.
    pub today: NaiveDate,
    /// Its instant (RFC 3339), for the record.
    pub at: String,
    /// Its generation's name (`20261206T071502Z`).
    pub generation: String,
}

/// One file of the update, as verified.
#[derive(Clone, Debug)]
pub struct FileReport {
    /// Its name.
    pub name: String,
    /// Where it came from.
    pub from: String,
    /// Who publishes it.
    pub publisher: String,
    /// What it holds: `120 grids from 2012-07-23 to 2026-08-01`, `97 days to 2026-12-07`.
    pub holds: String,
    /// Whether it is the update in use's copy (a finished season, not fetched again).
    pub kept: bool,
}

/// A verified and installed update.
#[derive(Clone, Debug)]
pub struct Report {
    /// Its generation in the data directory.
    pub generation: String,
    /// Its files.
    pub files: Vec<FileReport>,
    /// Grids (option, kVA, first day) the tables in use did not have.
    pub new_grids: Vec<(Tariff, u8, NaiveDate)>,
    /// Shipped grids from EDF's price grid now priced with the official figures.
    pub official_now: usize,
    /// Days whose colour is new.
    pub new_days: usize,
    /// Days whose colour differs from the shipped calendar (the publisher's is used).
    pub differ: Vec<NaiveDate>,
    /// Figures given with more than 5 decimal places, rounded.
    pub rounded: usize,
    /// The grids are known in force through.
    pub prices_until: NaiveDate,
    /// The calendar's last day.
    pub colours_until: Option<NaiveDate>,
}

impl fmt::Display for Report {
    /// The lines `tic-rec tariffs update` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            let kept = if file.kept {
                ", kept from the last update"
            } else {
                ""
            };
            writeln!(
                f,
                "{}: {} ({}, {}{kept})",
                file.name, file.holds, file.publisher, file.from
            )?;
        }
        if self.new_grids.is_empty() {
            writeln!(f, "no new price grid")?;
        } else {
            let mut by: std::collections::BTreeMap<(Tariff, NaiveDate), Vec<u8>> =
                std::collections::BTreeMap::new();
            for (t, k, d) in &self.new_grids {
                by.entry((*t, *d)).or_default().push(*k);
            }
            for ((t, d), kvas) in by {
                let kvas: Vec<String> = kvas.iter().map(u8::to_string).collect();
                writeln!(
                    f,
                    "new: {} from {d} ({} kVA)",
                    t.display_name(),
                    kvas.join(", ")
                )?;
            }
        }
        if self.official_now > 0 {
            writeln!(
                f,
                "{} grids from EDF's price grid are now the official figures",
                self.official_now
            )?;
        }
        if self.rounded > 0 {
            writeln!(
                f,
                "{} figures given with more than 5 decimals were rounded to 5 (less than 0.00001 €)",
                self.rounded
            )?;
        }
        if !self.differ.is_empty() {
            let shown: Vec<String> = self.differ.iter().take(5).map(|d| d.to_string()).collect();
            writeln!(
                f,
                "{} days have another colour than the shipped calendar said ({}{}): the publisher's is used",
                self.differ.len(),
                shown.join(", "),
                if self.differ.len() > 5 { ", …" } else { "" }
            )?;
        }
        write!(
            f,
            "prices known in force through {}; Tempo colours through {} ({} new days); kept as {}",
            self.prices_until,
            self.colours_until
                .map_or_else(|| "–".to_owned(), |d| d.to_string()),
            self.new_days,
            self.generation
        )
    }
}

/// The address or path of file `name` in a mirror or an offline copy (the publishers' are
/// per file: [`GridFile::url`], [`opendata::rte_url`]).
fn location(from: &From, name: &str) -> String {
    match from {
        From::Url(base) => format!("{base}/{name}"),
        From::Dir(d) => d.join(name).display().to_string(),
        From::Publishers => name.to_owned(),
    }
}

/// The default deadline of each request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn grid_location(from: &From, f: GridFile) -> String {
    match from {
        From::Publishers => f.url().to_owned(),
        _ => location(from, f.file_name()),
    }
}

fn fetch_one(fetch: &mut dyn Fetch, name: &str, location: &str) -> Result<Vec<u8>, UpdateError> {
    fetch.get(location).map_err(|source| UpdateError::Fetch {
        name: name.to_owned(),
        location: location.to_owned(),
        source,
    })
}

/// The seasons an update fetches (see the module's contract).
pub fn seasons(shipped_until: NaiveDate, today: NaiveDate) -> Vec<Season> {
    let first = Season::of(
        shipped_until
            .checked_add_days(Days::new(1))
            .unwrap_or(shipped_until),
    );
    let last = Season::of(today);
    let mut out = Vec::new();
    let mut s = first;
    while s <= last {
        out.push(s);
        s = s.next();
    }
    out
}

fn span(days: &SeasonDays) -> String {
    match (days.days.keys().next(), days.last()) {
        (Some(a), Some(b)) => format!("{} days from {a} to {b}", days.days.len()),
        _ => "no day yet".to_owned(),
    }
}

/// Fetches (with `fetch`: [`Http`] for the publishers or a mirror, [`Files`] for an offline
/// copy), verifies and installs an update of the tables of `data_dir` (see the module's
/// contract).
pub fn update(
    data_dir: &std::path::Path,
    options: &Options,
    fetch: &mut dyn Fetch,
) -> Result<Report, UpdateError> {
    let shipped = Tables::shipped()?;
    let in_use = Tables::load(data_dir)?;
    let store = TariffTables::new(data_dir);
    let previous = store.current().ok().flatten();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fetched: Vec<Fetched> = Vec::new();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut rounded = 0;

    // The grids.
    let mut have: BTreeSet<(Tariff, u8, NaiveDate)> = BTreeSet::new();
    for f in GridFile::ALL {
        let loc = grid_location(&options.from, f);
        let bytes = fetch_one(fetch, f.file_name(), &loc)?;
        let rows = opendata::parse_grid_file(f, &bytes)?;
        rounded += rows.rounded;
        for g in &rows.grids {
            have.insert((g.tariff, g.kva, g.valid_from));
        }
        // Every official grid known must still be there.
        for (key, list) in in_use.grids().all() {
            if key.0 != f.tariff() {
                continue;
            }
            for g in list {
                let official = matches!(g.source, Source::Official | Source::Fetched);
                if official && !have.contains(&(g.tariff, g.kva, g.valid_from)) {
                    return Err(UpdateError::Inconsistent(format!(
                        "{}: the {} {} kVA grid of {} is missing although the tables in use have it: a truncated or altered file ({loc}); nothing was changed",
                        f.file_name(),
                        g.tariff.display_name(),
                        g.kva,
                        g.valid_from
                    )));
                }
            }
        }
        let (first, last) = (
            rows.grids.iter().map(|g| g.valid_from).min(),
            rows.grids.iter().map(|g| g.valid_from).max(),
        );
        reports.push(FileReport {
            name: f.file_name().to_owned(),
            from: loc.clone(),
            publisher: "data.gouv.fr".into(),
            holds: match (first, last) {
                (Some(a), Some(b)) => format!("{} grids from {a} to {b}", rows.grids.len()),
                _ => "no grid".into(),
            },
            kept: false,
        });
        fetched.push(Fetched {
            name: f.file_name().to_owned(),
            from: loc,
            publisher: "data.gouv.fr".into(),
        });
        files.push((f.file_name().to_owned(), bytes));
    }

    // The colours.
    let shipped_until = shipped.colours_until().unwrap_or(options.today);
    for season in seasons(shipped_until, options.today) {
        let name = season.file_name();
        // A finished season kept whole by the update in use is not fetched again.
        let kept = previous.as_ref().and_then(|g| {
            let bytes = g.files.get(&name)?;
            let days = opendata::parse_season(season, &name, bytes, options.today).ok()?;
            let from = in_use
                .update()
                .and_then(|u| u.files.iter().find(|f| f.name == name).cloned())?;
            days.complete().then(|| (bytes.clone(), days, from))
        });
        let (bytes, days, from, was_kept) = match kept {
            Some((bytes, days, from)) => (bytes, days, from, true),
            None => {
                let (bytes, loc, publisher) = match &options.from {
                    From::Publishers => {
                        let rte = opendata::rte_url(season);
                        match fetch.get(&rte) {
                            Ok(b) => match opendata::parse_season(season, &name, &b, options.today)
                            {
                                Ok(_) => (b, rte, TempoFormat::Rte.publisher()),
                                Err(e) => {
                                    community(fetch, season, &name, &rte, Chain(&e).to_string())?
                                }
                            },
                            Err(e) => community(fetch, season, &name, &rte, Chain(&e).to_string())?,
                        }
                    }
                    other => {
                        let loc = location(other, &name);
                        let b = fetch_one(fetch, &name, &loc)?;
                        (b, loc, "")
                    }
                };
                let days = opendata::parse_season(season, &name, &bytes, options.today)?;
                let publisher = if publisher.is_empty() {
                    days.format.publisher()
                } else {
                    publisher
                };
                let from = Fetched {
                    name: name.clone(),
                    from: loc,
                    publisher: publisher.to_owned(),
                };
                (bytes, days, from, false)
            }
        };
        reports.push(FileReport {
            name: name.clone(),
            from: from.from.clone(),
            publisher: from.publisher.clone(),
            holds: span(&days),
            kept: was_kept,
        });
        fetched.push(from);
        files.push((name, bytes));
    }

    // Together: laid over the shipped tables, as they will be read.
    let update = Update {
        generation: options.generation.clone(),
        at: options.at.clone(),
        on: options.today,
        files: fetched,
    };
    let mut generation = Generation {
        name: options.generation.clone(),
        files: files.into_iter().collect(),
    };
    generation
        .files
        .insert(SOURCES_FILE.to_owned(), update.to_json());
    let next = Tables::with_generation(&shipped, &generation)?;
    if let Some((first, last)) = next.tempo().span() {
        if let Some(gap) = next.tempo().missing(first, last).first() {
            return Err(UpdateError::Inconsistent(format!(
                "the Tempo calendar would have no colour for {gap} (between {first} and {last}): a season is missing; nothing was changed"
            )));
        }
    }
    let mut differ = Vec::new();
    for (d, c, s) in next.tempo().iter() {
        if s == DaySource::Update && shipped.tempo().colour(d).is_some_and(|old| old != c) {
            differ.push(d);
        }
    }
    let new_days = next
        .tempo()
        .iter()
        .filter(|(d, _, _)| in_use.tempo().colour(*d).is_none())
        .count();
    let mut new_grids = Vec::new();
    let mut official_now = 0;
    for (key, list) in next.grids().all() {
        let old = in_use.grids().history(key.0, key.1);
        for g in list {
            match old.iter().find(|o| o.valid_from == g.valid_from) {
                None => new_grids.push((g.tariff, g.kva, g.valid_from)),
                Some(o) if o.source == Source::EdfGrid && g.source == Source::Fetched => {
                    official_now += 1
                }
                Some(_) => {}
            }
        }
    }
    store.install(&generation)?;
    Ok(Report {
        generation: options.generation.clone(),
        files: reports,
        new_grids,
        official_now,
        new_days,
        differ,
        rounded,
        prices_until: next.prices_until(),
        colours_until: next.colours_until(),
    })
}

/// A season from the community API after RTE failed (`rte_error`).
fn community(
    fetch: &mut dyn Fetch,
    season: Season,
    name: &str,
    rte: &str,
    rte_error: String,
) -> Result<(Vec<u8>, String, &'static str), UpdateError> {
    let url = opendata::community_url(season);
    let fail = |community_error: String| UpdateError::Season {
        name: name.to_owned(),
        rte: rte.to_owned(),
        rte_error: rte_error.clone(),
        community: url.clone(),
        community_error,
    };
    let bytes = fetch.get(&url).map_err(|e| fail(Chain(&e).to_string()))?;
    Ok((bytes, url.clone(), TempoFormat::Community.publisher()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Answers from a table of addresses; anything else is a 404.
    struct Fake(BTreeMap<String, Result<Vec<u8>, u16>>, Vec<String>);

    impl Fetch for Fake {
        fn get(&mut self, location: &str) -> Result<Vec<u8>, FetchError> {
            self.1.push(location.to_owned());
            match self.0.get(location) {
                Some(Ok(b)) => Ok(b.clone()),
                Some(Err(s)) => Err(FetchError::Status(*s)),
                None => Err(FetchError::Status(404)),
            }
        }
    }

    #[test]
    fn the_publishers_then_the_community_api_for_a_season() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let s2025 = Season { start: 2025 };
        let s2026 = Season { start: 2026 };
        let mut table: BTreeMap<String, Result<Vec<u8>, u16>> = BTreeMap::new();
        for (f, bytes) in [
            (
                GridFile::Base,
                &include_bytes!("../../tests/data/tariffs/Option_Base.csv")[..],
            ),
            (
                GridFile::HpHc,
                &include_bytes!("../../tests/data/tariffs/Option_HPHC.csv")[..],
            ),
            (
                GridFile::Tempo,
                &include_bytes!("../../tests/data/tariffs/Option_Tempo.csv")[..],
            ),
        ] {
            table.insert(f.url().to_owned(), Ok(bytes.to_vec()));
        }
        table.insert(
            opendata::rte_url(s2025),
            Ok(include_bytes!("../../tests/data/tariffs/tempo_2025-2026.json").to_vec()),
        );
        // RTE answers 503 for the current season; the community API has it.
        table.insert(opendata::rte_url(s2026), Err(503));
        table.insert(
            opendata::community_url(s2026),
            Ok(include_bytes!("../../tests/data/tariffs/community_2026-2027.json").to_vec()),
        );
        let d = tempfile::tempdir().expect("tempdir");
        let options = Options {
            from: From::Publishers,
            today: day("2026-12-06"),
            at: "2026-12-06T07:15:02Z".into(),
            generation: "20261206T071502Z".into(),
        };
        let mut fake = Fake(table.clone(), Vec::new());
        let r = update(d.path(), &options, &mut fake).expect("updates");
        assert_eq!(r.colours_until, Some(day("2026-12-07")));
        let last = r.files.last().expect("files");
        assert_eq!(last.publisher, "api-couleur-tempo.fr");
        assert_eq!(last.from, opendata::community_url(s2026));
        assert_eq!(
            fake.1,
            [
                GridFile::Base.url().to_owned(),
                GridFile::HpHc.url().to_owned(),
                GridFile::Tempo.url().to_owned(),
                opendata::rte_url(s2025),
                opendata::rte_url(s2026),
                opendata::community_url(s2026),
            ]
        );
        // Both failing: the error names both addresses and nothing changes.
        table.insert(opendata::community_url(s2026), Err(500));
        let before = TariffTables::new(d.path()).current().expect("reads");
        let mut options2 = options.clone();
        options2.generation = "20261207T071502Z".into();
        let e = update(d.path(), &options2, &mut Fake(table, Vec::new())).expect_err("fails");
        let text = e.to_string();
        assert!(
            text.contains("tempo_2026-2027.json: cannot fetch https://www.services-rte.com")
                && text.contains("(HTTP status 503) nor https://www.api-couleur-tempo.fr")
                && text.contains("(HTTP status 500)"),
            "{text}"
        );
        assert_eq!(
            TariffTables::new(d.path()).current().expect("reads"),
            before
        );
    }

    #[test]
    fn the_seasons_to_fetch() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let names = |v: Vec<Season>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            names(seasons(d("2026-08-23"), d("2026-12-06"))),
            ["2025-2026", "2026-2027"]
        );
        assert_eq!(
            names(seasons(d("2026-08-31"), d("2026-09-01"))),
            ["2026-2027"]
        );
        assert_eq!(
            names(seasons(d("2026-08-23"), d("2026-08-24"))),
            ["2025-2026"]
        );
        assert!(
            From::parse("https://mirror.example/t/")
                == From::Url("https://mirror.example/t".into())
        );
        assert!(From::parse("/srv/tariffs") == From::Dir("/srv/tariffs".into()));
    }
}
