//! `tic-rec record --demo`: the demo ([`tic_rec::sim::demo`]) with the status line, and what
//! to say before and after. With `--http` (and `--mqtt`), the dashboard (and the Home
//! Assistant link) run beside it as beside a real meter's recorder, and stay up once the day
//! is recorded, until a signal: the live dashboard in one command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Result;
use chrono::Utc;
use tic_rec::capture::{Fanout, Stop};
use tic_rec::serve::Live;
use tic_rec::sim::demo::{Demo, DemoConfig, Ended};
use tic_rec::store::TZ;

use super::status::Status;

/// What the demo records, from `record`'s arguments.
pub struct Options {
    /// The demo's settings.
    pub demo: DemoConfig,
    /// `--log-interval`.
    pub log_interval: StdDuration,
    /// The archive job (the data directory, and how), unless closed days stay CSV.
    pub archive: Option<(PathBuf, tic_rec::store::archive::Settings)>,
    /// `--http`: the dashboard's address.
    pub http: Option<SocketAddr>,
    /// `--mqtt` and its settings.
    pub mqtt: super::mqtt::MqttArgs,
}

pub fn run(opts: Options, stop: Arc<Stop>) -> Result<()> {
    let data_dir: PathBuf = opts.demo.data_dir.clone();
    super::setup::check_data_dir(&data_dir)?;
    let today = Utc::now().with_timezone(&TZ).date_naive();
    // Every flag is checked before anything is created.
    let demo = Demo::plan(opts.demo, today)?;
    let mut mqtt = opts.mqtt.start(opts.http)?;
    let _lock = super::setup::create_data_dir(&data_dir, "the demo")?;
    let mqtt_handle = mqtt.as_ref().map(|(_, h)| h.clone());
    let live = match &mqtt_handle {
        Some(h) => Live::new().with_mqtt(h.clone()),
        None => Live::new(),
    };
    // The dashboard first, so that its address is said before the day runs.
    let dashboard = match opts.http {
        Some(addr) => Some(super::serve::start(addr, &data_dir, Some(live.clone()))?),
        None => None,
    };
    let (day, continues, what) = (demo.day(), demo.continues(), demo.describe());
    let demo = demo.open()?;
    eprintln!(
        "tic-rec: demo: a simulated {what} on {}, for {day}{} (a day in about 5 s), recorded into {}",
        demo.path(),
        match continues {
            Some(o) => format!(" (ending where {o} begins: the same meter and indexes)"),
            None => String::new(),
        },
        data_dir.canonicalize().unwrap_or(data_dir.clone()).display()
    );
    let mut status = Status::new(opts.log_interval, opts.archive, mqtt_handle.clone());
    let mut live_observer = live.observer();
    let ended = {
        let mut observers = Fanout::new();
        observers.add(&mut status);
        if let Some((observer, _)) = mqtt.as_mut() {
            observers.add(observer);
        }
        if dashboard.is_some() {
            observers.add(&mut live_observer);
        }
        demo.run(&mut observers, &stop)
    };
    status.end_archive(false);
    status.finish();
    let result = match ended {
        Err(e) => Err(e.into()),
        Ok(Ended::Stopped) => {
            eprintln!("tic-rec: demo: stopped by a signal");
            Ok(())
        }
        Ok(Ended::Day { frames }) => {
            eprintln!(
                "tic-rec: demo: the meter sent {frames} frames; try `{} export --data-dir {}`",
                super::setup::invoked_as(),
                super::setup::shell_word(&data_dir.display().to_string())
            );
            if dashboard.is_some() || mqtt.is_some() {
                stay(dashboard.as_ref().map(|d| d.addr()), mqtt.is_some(), &stop);
            }
            Ok(())
        }
    };
    if let Some((_, h)) = &mqtt {
        h.shutdown(StdDuration::from_secs(3));
    }
    drop(dashboard);
    result
}

/// Once the day is recorded: the dashboard and the Home Assistant link stay up, with the
/// demo's last record as the meter's, until a signal.
fn stay(dashboard: Option<SocketAddr>, mqtt: bool, stop: &Stop) {
    let what = match (dashboard, mqtt) {
        (Some(addr), true) => format!(
            "the dashboard stays on http://{addr}/ and the demo meter's sensors in Home Assistant"
        ),
        (Some(addr), false) => format!("the dashboard stays on http://{addr}/"),
        (None, _) => "the demo meter's sensors stay in Home Assistant".to_owned(),
    };
    eprintln!("tic-rec: demo: {what} until Ctrl-C");
    // The demo ended the stop when its day was served: only a signal ends the wait.
    while stop.requests() == 0 {
        std::thread::sleep(StdDuration::from_millis(100));
    }
}
