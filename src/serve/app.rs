//! The routes: which path gives which page or API answer, with its parameters validated and
//! every failure mapped to a status (400 bad parameter, 404 unknown path or no data yet, 503
//! files unreadable or busy). A 500 only comes from a panic caught on the worker (a bug).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate};
use serde_json::Value;

use super::cost;
use super::data::{self, first_of_month, Data, DataError, MAX_POINTS};
use super::http::{Handler, Request, Response};
use super::live::Live;
use super::query::{BadRequest, Query};
use super::{api, events, metrics, now, pages};
use crate::export::Period;
use crate::store::{midnight, Catalog};

/// The server's state: the data directory and, inside the recorder, its live snapshot.
pub struct App {
    data: Data,
    live: Option<Live>,
    /// One records read of more than two days at a time (a year of one-second rows takes
    /// seconds on a Pi).
    heavy: AtomicBool,
    /// The last listing of the data directory (see [`App::catalog_opt`]).
    catalog: Mutex<Option<(Instant, Arc<Catalog>)>>,
    /// The Now page's event streams (with a recorder in the process).
    streams: events::Streams,
}

/// An API range of at least this many days takes the heavy-query slot (one at a time).
pub const HEAVY_DAYS: i64 = 100;

/// How long the recorder's server reuses a listing of the data directory for live values.
pub const CATALOG_REUSE: Duration = Duration::from_secs(10);

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

/// A failure of a route, before it becomes a response.
enum Fail {
    Data(DataError),
    Busy,
}

impl From<DataError> for Fail {
    fn from(e: DataError) -> Self {
        Fail::Data(e)
    }
}

impl From<BadRequest> for Fail {
    fn from(e: BadRequest) -> Self {
        Fail::Data(DataError::Bad(e))
    }
}

impl Fail {
    fn status(&self) -> u16 {
        match self {
            Fail::Data(DataError::Bad(_)) => 400,
            Fail::Data(DataError::Empty(_)) => 404,
            Fail::Data(_) | Fail::Busy => 503,
        }
    }

    fn message(&self) -> String {
        match self {
            Fail::Data(e) => crate::error::Chain(e).to_string(),
            Fail::Busy => "busy: another records query is running, try again".into(),
        }
    }
}

type Result<T> = std::result::Result<T, Fail>;

/// Releases the heavy-query slot when dropped.
struct Slot<'a>(&'a AtomicBool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl App {
    /// The routes over `data`, with the recorder's `live` snapshot if any.
    pub fn new(data: Data, live: Option<Live>) -> App {
        App {
            data,
            live,
            heavy: AtomicBool::new(false),
            catalog: Mutex::new(None),
            streams: events::Streams::default(),
        }
    }

    /// Fills the cache with the tables the pages ask first ([`Data::warm`]).
    pub fn warm(&self) {
        self.data.warm();
    }

    /// The heavy-query slot for an API range longer than [`HEAVY_DAYS`] (its table is not
    /// kept: each such request reads its whole range), none for a shorter one.
    fn heavy_range(&self, from: NaiveDate, to: NaiveDate) -> Result<Option<Slot<'_>>> {
        if (to - from).num_days() >= HEAVY_DAYS {
            self.heavy().map(Some)
        } else {
            Ok(None)
        }
    }

    fn heavy(&self) -> Result<Slot<'_>> {
        self.heavy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| Slot(&self.heavy))
            .map_err(|_| Fail::Busy)
    }

    /// The catalog, or none in an empty (or not yet created) directory: the Now page and the
    /// metrics still answer from the recorder's memory.
    ///
    /// Inside the recorder (whose live values need the files only for today's table, at
    /// most once a minute, and the indexes' classes) the listing is reused for
    /// [`CATALOG_REUSE`], so that a page polling `/api/now` every second does not list the
    /// data directory every second in the recorder's process.
    fn catalog_opt(&self) -> Result<Option<Arc<Catalog>>> {
        let mut cached = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
        if self.live.is_some() {
            if let Some((at, c)) = &*cached {
                if at.elapsed() < CATALOG_REUSE {
                    return Ok(Some(Arc::clone(c)));
                }
            }
        }
        match self.data.catalog() {
            Ok(c) => {
                let c = Arc::new(c);
                *cached = Some((Instant::now(), Arc::clone(&c)));
                Ok(Some(c))
            }
            Err(DataError::Empty(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn route(&self, req: &Request) -> std::result::Result<Response, (Fail, bool)> {
        let html = |r: Result<String>| {
            r.map(|b| Response::new(200, HTML, b))
                .map_err(|e| (e, true))
        };
        let json = |r: Result<Value>| {
            r.map(|v| Response::new(200, JSON, v.to_string()))
                .map_err(|e| (e, false))
        };
        let q = match &req.query {
            Ok(q) => q,
            Err(why) => {
                let html = !(req.path.starts_with("/api/") || req.path == "/metrics");
                return Err((BadRequest(format!("bad query: {why}")).into(), html));
            }
        };
        match req.path.as_str() {
            "/" | "/now" => html(self.now_page(q)),
            "/day" => html(self.day_page(q)),
            "/month" => html(self.month_page(q)),
            "/year" => html(self.year_page(q)),
            "/contracts" => html(self.contracts_page(q)),
            "/help" => html(
                Query::new(q, &[])
                    .map(|_| pages::help_page())
                    .map_err(Fail::from),
            ),
            "/metrics" => self
                .metrics(q)
                .map(|t| Response::new(200, "text/plain; version=0.0.4; charset=utf-8", t))
                .map_err(|e| (e, false)),
            "/api/now" => json(self.api_now(q)),
            "/api/events" => self.api_events(q).map_err(|e| (e, false)),
            "/api/periods" => json(self.api_periods(q)),
            "/api/records" => json(self.api_records(q)),
            "/api/cost" => json(self.api_cost(q)),
            "/favicon.ico" => Ok(Response::new(204, "image/x-icon", Vec::new())),
            _ => Ok(Response::text(404, "not found")),
        }
    }

    fn now_page(&self, q: &[(String, String)]) -> Result<String> {
        Query::new(q, &[])?;
        let catalog = self.catalog_opt()?;
        let n = now::now(&self.data, catalog.as_deref(), self.live.as_ref())?;
        let cost = self.today_cost(catalog.as_deref(), &n)?;
        Ok(pages::now_page(&n, &cost))
    }

    fn api_now(&self, q: &[(String, String)]) -> Result<Value> {
        Query::new(q, &[])?;
        let catalog = self.catalog_opt()?;
        let n = now::now(&self.data, catalog.as_deref(), self.live.as_ref())?;
        let cost = self.today_cost(catalog.as_deref(), &n)?;
        Ok(api::now(&n, &cost))
    }

    /// The € of the Now page's day (today, or the last recorded day).
    fn today_cost(&self, catalog: Option<&Catalog>, n: &now::Now) -> Result<data::CostResult> {
        Ok(match (catalog, &n.today) {
            (Some(c), Some((day, _))) => self.data.cost(c, Period::Day, *day, *day)?,
            _ => Arc::new(Err(cost::CostError::Unavailable(
                "no recorded day yet".into(),
            ))),
        })
    }

    fn api_events(&self, q: &[(String, String)]) -> Result<Response> {
        Query::new(q, &[])?;
        if self.live.is_none() {
            return Ok(Response::text(
                404,
                "no recorder in this process (tic-rec serve): poll /api/now",
            ));
        }
        if self.streams.is_full() {
            return Ok(Response::text(
                503,
                format!(
                    "busy: {} event streams are open, poll /api/now",
                    events::MAX_STREAMS
                ),
            ));
        }
        Ok(Response::event_stream())
    }

    /// `/api/now`'s JSON, or its error as JSON.
    fn now_json(&self) -> String {
        // Outside the workers' catch: a panic here (a bug) must not end the events thread
        // or a worker handing over a stream.
        let v = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.api_now(&[])));
        match v {
            Ok(Ok(v)) => v.to_string(),
            Ok(Err(e)) => serde_json::json!({"error": e.message()}).to_string(),
            Err(_) => {
                serde_json::json!({"error": "internal error (a bug: please report it)"}).to_string()
            }
        }
    }

    /// Pushes `/api/now` to the event streams at each new record (a comment every
    /// [`events::KEEP_ALIVE`] otherwise), until the server's workers are gone. Runs on its
    /// own thread, with a recorder in the process only.
    pub fn run_events(self: Arc<Self>) {
        let Some(live) = self.live.clone() else {
            return;
        };
        let mut seen = live.snapshot().version;
        while Arc::strong_count(&self) > 1 {
            if self.streams.is_empty() {
                // Nobody to send to: sleep until a stream opens (or a while, to see whether
                // the server is gone), not at every record.
                self.streams.wait_for_one(events::KEEP_ALIVE);
                seen = live.snapshot().version;
                continue;
            }
            let v = live.wait_change(seen, events::KEEP_ALIVE);
            if v != seen {
                seen = v;
                self.streams.send(&events::event(&self.now_json()));
            } else {
                self.streams.send(b": keep-alive\n\n");
            }
        }
    }

    fn metrics(&self, q: &[(String, String)]) -> Result<String> {
        Query::new(q, &[])?;
        let catalog = self.catalog_opt()?;
        let n = now::now(&self.data, catalog.as_deref(), self.live.as_ref())?;
        let bytes = catalog.as_deref().map(super::data::archive_bytes);
        Ok(metrics::render(&n, bytes))
    }

    fn day_page(&self, q: &[(String, String)]) -> Result<String> {
        let q = Query::new(q, &["date"])?;
        let catalog = self.data.catalog()?;
        let day = match q.date("date")? {
            Some(d) => d,
            None => catalog
                .last_day()
                .ok_or_else(|| DataError::Empty(self.data.dir().into()))?,
        };
        let (from, to) = day_bounds(day)?;
        let series = self.data.records(&catalog, from, to, None, 480)?;
        let hours = self.data.periods(&catalog, Period::Hour, day, day)?;
        let cost = self.data.cost(&catalog, Period::Day, day, day)?;
        Ok(pages::day_page(day, &series, &hours, &cost))
    }

    fn month_page(&self, q: &[(String, String)]) -> Result<String> {
        let q = Query::new(q, &["month"])?;
        let catalog = self.data.catalog()?;
        let first = match q.month("month")? {
            Some(m) => m,
            None => first_of_month(
                catalog
                    .last_day()
                    .ok_or_else(|| DataError::Empty(self.data.dir().into()))?,
            ),
        };
        let last = last_of_month(first)?;
        let days = self.data.periods(&catalog, Period::Day, first, last)?;
        let cost = self.data.cost(&catalog, Period::Day, first, last)?;
        Ok(pages::month_page(first, &days, &cost))
    }

    fn year_page(&self, q: &[(String, String)]) -> Result<String> {
        let q = Query::new(q, &["year"])?;
        let catalog = self.data.catalog()?;
        let year = match q.year("year")? {
            Some(y) => y,
            None => catalog
                .last_day()
                .ok_or_else(|| DataError::Empty(self.data.dir().into()))?
                .year(),
        };
        let (first, last) = year_bounds(year)?;
        let months = self.data.periods(&catalog, Period::Month, first, last)?;
        let cost = self.data.cost(&catalog, Period::Month, first, last)?;
        Ok(pages::year_page(year, &months, &cost))
    }

    fn contracts_page(&self, q: &[(String, String)]) -> Result<String> {
        Query::new(q, &[])?;
        let catalog = self.data.catalog()?;
        let last_day = catalog
            .last_day()
            .ok_or_else(|| DataError::Empty(self.data.dir().into()))?;
        let last = last_of_month(first_of_month(last_day))?;
        // From the first recorded month, at most the last 12.
        let first_recorded = first_of_month(catalog.first_day().unwrap_or(last_day));
        let from = first_of_month(last_day)
            .checked_sub_months(Months::new(11))
            .ok_or_else(|| BadRequest("no such month".into()))?
            .max(first_recorded);
        let months = self.data.periods(&catalog, Period::Month, from, last)?;
        let cost = self.data.cost(&catalog, Period::Month, from, last)?;
        Ok(pages::contracts_page(from, last, &months, &cost))
    }

    /// `from`/`to` as local dates (defaults: the recorded range) and a period.
    fn range(&self, q: &Query<'_>, catalog: &Catalog) -> Result<(Period, NaiveDate, NaiveDate)> {
        let period = q.period("period")?.unwrap_or(Period::Day);
        let last = catalog
            .last_day()
            .ok_or_else(|| DataError::Empty(self.data.dir().into()))?;
        let to = q.date("to")?.unwrap_or(last);
        let from = match q.date("from")? {
            Some(f) => f,
            None => match period {
                Period::Hour => to,
                Period::Day | Period::Week => to - chrono::Days::new(29),
                Period::Month | Period::Year => first_of_month(to)
                    .checked_sub_months(Months::new(11))
                    .unwrap_or(to),
            },
        };
        Ok((period, from, to))
    }

    fn api_periods(&self, q: &[(String, String)]) -> Result<Value> {
        let q = Query::new(q, &["period", "from", "to"])?;
        let catalog = self.data.catalog()?;
        let (period, from, to) = self.range(&q, &catalog)?;
        let _slot = self.heavy_range(from, to)?;
        let table = self.data.periods(&catalog, period, from, to)?;
        Ok(api::periods(period, &table))
    }

    fn api_cost(&self, q: &[(String, String)]) -> Result<Value> {
        let q = Query::new(q, &["period", "from", "to"])?;
        let catalog = self.data.catalog()?;
        let (period, from, to) = self.range(&q, &catalog)?;
        if from > to {
            return Err(BadRequest(format!("empty range: from {from} is after to {to}")).into());
        }
        if period == Period::Hour {
            return Err(BadRequest(
                "a cost needs whole days: period=day, week, month or year, not hour".into(),
            )
            .into());
        }
        let _slot = self.heavy_range(from, to)?;
        let cost = self.data.cost(&catalog, period, from, to)?;
        Ok(api::cost(period, &cost))
    }

    fn api_records(&self, q: &[(String, String)]) -> Result<Value> {
        let q = Query::new(q, &["from", "to", "max_points", "label"])?;
        let catalog = self.data.catalog()?;
        let last = catalog
            .last_day()
            .ok_or_else(|| DataError::Empty(self.data.dir().into()))?;
        // Default: the last recorded day (23 or 25 hours on a DST day), or the day before `to`.
        let (to, day_before) = match q.instant("to")? {
            Some(t) => (t, t - 86_400),
            None => {
                let (a, b) = day_bounds(last)?;
                (b, a)
            }
        };
        let from = q.instant("from")?.unwrap_or(day_before);
        let points = q.count("max_points", 1, MAX_POINTS)?.unwrap_or(500);
        let label = q.label("label")?;
        // A day or two is a page's read; more waits for no one: one at a time.
        let _slot = if to - from > 2 * 86_400 {
            Some(self.heavy()?)
        } else {
            None
        };
        let s = self.data.records(&catalog, from, to, label, points)?;
        Ok(api::records(&s))
    }
}

impl Handler for App {
    fn take_stream(&self, _req: &Request, stream: std::net::TcpStream) {
        let mut first = b"retry: 2000\n".to_vec();
        first.extend(events::event(&self.now_json()));
        self.streams.add(stream, &first);
    }

    fn handle(&self, req: &Request) -> Response {
        match self.route(req) {
            Ok(r) => r,
            Err((fail, html)) => {
                let status = fail.status();
                let msg = fail.message();
                if html {
                    let title = match status {
                        400 => "Bad request",
                        404 => "Nothing here yet",
                        _ => "Unavailable",
                    };
                    Response::new(status, HTML, pages::message(title, &msg))
                } else {
                    Response::new(status, JSON, serde_json::json!({"error": msg}).to_string())
                }
            }
        }
    }
}

fn day_bounds(day: NaiveDate) -> Result<(i64, i64)> {
    let bad = || BadRequest(format!("no local midnight around {day}"));
    let from = midnight(day).ok_or_else(bad)?;
    let to = day.succ_opt().and_then(midnight).ok_or_else(bad)?;
    Ok((from, to))
}

fn last_of_month(first: NaiveDate) -> Result<NaiveDate> {
    data::last_of_month(first).ok_or_else(|| BadRequest(format!("no month after {first}")).into())
}

fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate)> {
    data::year_bounds(year).ok_or_else(|| BadRequest(format!("no year {year}")).into())
}
