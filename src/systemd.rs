//! Tells systemd how the recorder is (`Type=notify`, `WatchdogSec=`): an [`Observer`] of the
//! recording loop that sends READY once the loop runs, a STATUS line, watchdog pings from the
//! loop's ticks (a hung read or a wedged writer stops them, and systemd restarts the
//! service), and STOPPING once the loop ends (then the STATUS of a stop that writes held
//! rows). Outside systemd (no `NOTIFY_SOCKET`) it does nothing.
//!
//! The words of the STATUS line are the caller's (the binary's status line): this module
//! only decides when to send what.

use std::time::{Duration, Instant};

use crate::capture::{Counters, Event, Observer};

/// The STATUS text for the counts so far.
pub type StatusText = fn(&Counters) -> String;

/// The systemd notifier (see the module docs).
pub struct Notifier {
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    active: bool,
    status: StatusText,
}

impl Notifier {
    /// A notifier for the service this process runs as, if any (from `NOTIFY_SOCKET` and
    /// `WATCHDOG_USEC`), saying `status` of the counts.
    pub fn from_env(status: StatusText) -> Notifier {
        Notifier {
            watchdog: sd_notify::watchdog_enabled(),
            last_ping: None,
            active: std::env::var_os("NOTIFY_SOCKET").is_some(),
            status,
        }
    }

    /// Whether a watchdog ping is due at `now` (four pings a watchdog period).
    fn ping_due(&self, now: Instant) -> bool {
        match (self.watchdog, self.last_ping) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(every), Some(last)) => now.saturating_duration_since(last) >= every / 4,
        }
    }
}

impl Observer for Notifier {
    fn event(&mut self, event: &Event<'_>) {
        if !self.active {
            return;
        }
        // Best effort: a notification that cannot be sent changes nothing in the recording.
        match *event {
            Event::Started { source } => {
                let status = format!("recording {source}");
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            Event::Stopping { held, .. } => {
                let status = if held > 0 {
                    format!("stopping: writing {held} rows held in memory")
                } else {
                    "stopping".to_owned()
                };
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Stopping,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            Event::Tick(c) => {
                let now = Instant::now();
                if !self.ping_due(now) {
                    return;
                }
                self.last_ping = Some(now);
                let status = (self.status)(c);
                let _ = sd_notify::notify(&[
                    sd_notify::NotifyState::Watchdog,
                    sd_notify::NotifyState::Status(&status),
                ]);
            }
            _ => {}
        }
    }
}
