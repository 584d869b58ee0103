//! `tic-rec serve`: the dashboard over a data directory, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use tic_rec::serve::{self, Config, Limits, Live, Running};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of the daily files (an archive copied from the recorder, or the one it
    /// writes).
    #[arg(long, default_value = "tic-data")]
    data_dir: PathBuf,
    /// Address to listen on. Loopback by default: any other address makes the data readable
    /// by the network.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// Starts the dashboard on `addr` over `data_dir` (with the recorder's `live` snapshot when
/// it runs inside `record --http`), saying where, and warning when the address is not
/// loopback.
pub(super) fn start(addr: SocketAddr, data_dir: &Path, live: Option<Live>) -> Result<Running> {
    let config = Config {
        listen: addr,
        data_dir: data_dir.to_path_buf(),
        limits: Limits::default(),
    };
    let running = serve::start(&config, live)?;
    let bound = running.addr();
    if serve::is_exposed(&bound) {
        eprintln!(
            "tic-rec: WARNING: the dashboard listens on {bound}, not on loopback: the recorded data is readable by anyone on the network who can reach this address"
        );
    }
    eprintln!(
        "tic-rec: dashboard on http://{bound}/ (data in {})",
        data_dir.display()
    );
    Ok(running)
}

/// [`start`] for the recorder: a dashboard that cannot listen yet (the address not assigned
/// at boot, the port taken) never stops recording. It is said, and tried again every
/// [`RETRY_BIND`] on a thread of its own, which keeps the server once it listens.
pub(super) fn start_in_recorder(addr: SocketAddr, data_dir: &Path, live: Live) -> Option<Running> {
    match start(addr, data_dir, Some(live.clone())) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!(
                "tic-rec: cannot serve the dashboard on {addr}: {}; recording without it, trying again every {} s",
                e.root_cause(),
                RETRY_BIND.as_secs()
            );
            let dir = data_dir.to_path_buf();
            let spawned =
                std::thread::Builder::new()
                    .name("http-bind".into())
                    .spawn(move || loop {
                        std::thread::sleep(RETRY_BIND);
                        if let Ok(running) = start(addr, &dir, Some(live.clone())) {
                            // This thread keeps it: it serves until the process ends.
                            let _running = running;
                            loop {
                                std::thread::park();
                            }
                        }
                    });
            if let Err(e) = spawned {
                eprintln!("tic-rec: cannot start the dashboard's retry thread: {e}");
            }
            None
        }
    }
}

/// How often the recorder tries again to listen for the dashboard.
pub(super) const RETRY_BIND: Duration = Duration::from_secs(30);

pub fn run(args: Args) -> Result<()> {
    super::setup::check_data_dir(&args.data_dir)?;
    if !args.data_dir.is_dir() {
        bail!(
            "no data directory {:?} (give --data-dir, or record first: tic-rec record --demo)",
            args.data_dir.display().to_string()
        );
    }
    let stop = super::setup::stop_on_signals()?;
    let _running = start(args.listen, &args.data_dir, None)?;
    // Woken by the signal itself, not every few milliseconds to look.
    while !stop.requested() {
        stop.wait(Duration::from_secs(3600));
    }
    Ok(())
}
