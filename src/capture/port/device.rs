//! The serial device itself: which ports this machine has (`--port auto`, and the list a
//! message gives when the port asked for is absent), whether a path can be one, and opening
//! it 7E1 raw. The only part of [`port`](super) that touches `/dev`.
//!
//! ## `--port auto`
//! The only USB serial adapter, by its stable `/dev/serial/by-id/` name; with none, a
//! Raspberry Pi's UART (a PiTInfo-style HAT on the GPIO pins): `serial0` is the alias of
//! whichever UART the GPIO pins carry (the PL011 `ttyAMA0`, or the mini UART `ttyS0` while
//! the PL011 serves Bluetooth); `ttyAMA0` is the PL011 on systems without the alias. Two
//! adapters, or none and no UART, is an error listing the candidates.

use std::io;
use std::path::Path;
use std::time::Duration;

/// A Raspberry Pi's UART aliases, in order of preference (see the module docs), relative
/// to the root.
const PI_UARTS: [&str; 2] = ["dev/serial0", "dev/ttyAMA0"];

/// Where udev puts the stable names of USB serial adapters, relative to the root.
const BY_ID: &str = "dev/serial/by-id";

/// `--port auto` found no single port.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No serial port at all.
    #[error("--port auto: no serial port found (is the TIC adapter plugged in? on a Raspberry Pi, is the UART enabled?)")]
    NoPort,
    /// No USB adapter and no Pi UART, but other serial ports.
    #[error(
        "--port auto: no USB serial adapter under /dev/serial/by-id and no Raspberry Pi UART \
         (/dev/serial0, /dev/ttyAMA0); pick a port with --port. Other ports:\n  {}",
        .others.join("\n  ")
    )]
    NoAdapter {
        /// The other serial ports.
        others: Vec<String>,
    },
    /// More than one USB adapter.
    #[error(
        "--port auto: {} USB serial adapters found under /dev/serial/by-id; pick one with --port. Candidates:\n  {}",
        .adapters,
        .candidates.join("\n  ")
    )]
    SeveralAdapters {
        /// How many USB adapters.
        adapters: usize,
        /// Every candidate: the adapters, then the other serial ports.
        candidates: Vec<String>,
    },
}

/// The serial ports of a machine.
#[derive(Debug, Default)]
struct Ports {
    /// USB adapters by their stable names, sorted.
    by_id: Vec<String>,
    /// The Pi's UART aliases that exist (a dangling alias is no port), in preference order.
    uarts: Vec<String>,
    /// The ports the system lists, sorted.
    listed: Vec<String>,
}

impl Ports {
    /// The ports under `root` (`/`, or a test's directory), given those the system lists.
    fn scan(root: &Path, mut listed: Vec<String>) -> Ports {
        let mut by_id: Vec<String> = std::fs::read_dir(root.join(BY_ID))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path().display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        by_id.sort();
        listed.sort();
        // `exists` follows the link.
        let uarts = PI_UARTS
            .iter()
            .map(|p| root.join(p))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        Ports {
            by_id,
            uarts,
            listed,
        }
    }

    /// Every port, once, sorted.
    fn all(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_id
            .iter()
            .chain(&self.listed)
            .chain(&self.uarts)
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// `--port auto`'s pick.
    fn pick(&self) -> Result<String, DeviceError> {
        match (self.by_id.as_slice(), self.uarts.first()) {
            ([one], _) => return Ok(one.clone()),
            ([], Some(uart)) => return Ok(uart.clone()),
            _ => {}
        }
        let others: Vec<String> = self
            .listed
            .iter()
            .filter(|p| p.starts_with("/dev/tty"))
            .cloned()
            .collect();
        if self.by_id.is_empty() && others.is_empty() {
            return Err(DeviceError::NoPort);
        }
        if self.by_id.is_empty() {
            return Err(DeviceError::NoAdapter { others });
        }
        Err(DeviceError::SeveralAdapters {
            adapters: self.by_id.len(),
            candidates: self.by_id.iter().cloned().chain(others).collect(),
        })
    }
}

/// The ports the system lists (best effort: none when it cannot say).
fn listed() -> Vec<String> {
    serialport::available_ports()
        .map(|ports| ports.into_iter().map(|p| p.port_name).collect())
        .unwrap_or_default()
}

/// `--port auto`: the one USB serial adapter by its stable name, or a Raspberry Pi's UART
/// (see the module docs).
pub fn auto() -> Result<String, DeviceError> {
    Ports::scan(Path::new("/"), listed()).pick()
}

/// The serial ports of this machine, sorted (for a message when the one asked for is
/// absent).
pub fn present() -> Vec<String> {
    Ports::scan(Path::new("/"), listed()).all()
}

/// Whether `path` names a stable device name that may appear later (udev's
/// `/dev/serial/by-id/…` or `by-path/…`: a USB adapter plugged in after boot).
pub fn is_stable_name(path: &str) -> bool {
    path.starts_with("/dev/serial/by-id/") || path.starts_with("/dev/serial/by-path/")
}

/// What `path` is when it exists and cannot be a serial port (anything but a character
/// device); `None` when it may be one, or is absent (it may appear later).
pub fn not_a_port(path: &str) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).ok()?;
    let t = meta.file_type();
    if t.is_char_device() {
        None
    } else if t.is_file() {
        Some("a regular file")
    } else if t.is_dir() {
        Some("a directory")
    } else {
        Some("not a character device")
    }
}

/// Why a port could not be opened, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenFailure {
    /// The path does not exist (adapter unplugged, wrong name).
    Absent,
    /// The user may not open it (not in the `dialout` group?).
    PermissionDenied,
    /// Another program holds it (an exclusive open or lock: another recorder, ModemManager, a
    /// serial console).
    Busy,
    /// A device that is not a terminal (`/dev/null`): never a serial port.
    NotATerminal,
    /// Another error, of this kind.
    Other(io::ErrorKind),
}

/// The kind of failure of opening `path` with the error `e`, from the error's kind, never
/// its words: serialport gives `ENOENT` as `NotFound`, `EACCES` as `PermissionDenied`, and
/// `EBUSY` (`TIOCEXCL`) or a lock held elsewhere as `NoDevice`. An error of no known kind
/// (`ENOTTY` among them) is a device that is not a terminal when the device, opened again
/// without becoming the controlling terminal, says it is not one.
pub fn open_failure(path: &str, e: &serialport::Error) -> OpenFailure {
    use serialport::ErrorKind as K;
    match e.kind() {
        K::Io(io::ErrorKind::NotFound) => OpenFailure::Absent,
        K::Io(io::ErrorKind::PermissionDenied) => OpenFailure::PermissionDenied,
        K::NoDevice => OpenFailure::Busy,
        K::Io(kind) => OpenFailure::Other(kind),
        K::InvalidInput => OpenFailure::Other(io::ErrorKind::InvalidInput),
        K::Unknown if is_terminal(path) == Some(false) => OpenFailure::NotATerminal,
        K::Unknown => OpenFailure::Other(io::ErrorKind::Other),
    }
}

/// Whether `path` is a terminal, if it can be opened (read-only, non-blocking, never as the
/// controlling terminal).
fn is_terminal(path: &str) -> Option<bool> {
    use std::io::IsTerminal;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    Some(file.is_terminal())
}

/// Opens `path` 7E1 raw at `baud`, reads returning after `timeout` at the latest.
pub fn open(path: &str, baud: u32, timeout: Duration) -> serialport::Result<serialport::TTYPort> {
    serialport::new(path, baud)
        .data_bits(serialport::DataBits::Seven)
        .parity(serialport::Parity::Even)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(timeout)
        .open_native()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--port auto` over a fake root: USB adapters by id first, then the Pi's UART.
    #[test]
    fn auto_picks_the_one_adapter_or_the_pi_uart() {
        // (files under the root, other ports listed, the pick or a word of the error)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], Result<&'a str, &'a str>);
        let cases: &[Case<'_>] = &[
            (
                &["dev/serial/by-id/usb-FTDI-if00"],
                &[],
                Ok("dev/serial/by-id/usb-FTDI-if00"),
            ),
            // A USB adapter wins over the UART.
            (
                &[
                    "dev/serial/by-id/usb-FTDI-if00",
                    "dev/serial0",
                    "dev/ttyAMA0",
                ],
                &[],
                Ok("dev/serial/by-id/usb-FTDI-if00"),
            ),
            (&["dev/serial0", "dev/ttyAMA0"], &[], Ok("dev/serial0")),
            (&["dev/ttyAMA0"], &["/dev/ttyS0"], Ok("dev/ttyAMA0")),
            (
                &["dev/serial/by-id/a", "dev/serial/by-id/b", "dev/serial0"],
                &[],
                Err("2 USB serial adapters"),
            ),
            (&[], &["/dev/ttyS0"], Err("no Raspberry Pi UART")),
            (&[], &[], Err("no serial port found")),
        ];
        for (files, others, want) in cases {
            let root = tempfile::tempdir().unwrap();
            for f in *files {
                let p = root.path().join(f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, "").unwrap();
            }
            let ports = Ports::scan(root.path(), others.iter().map(|s| s.to_string()).collect());
            match (want, ports.pick()) {
                (Ok(w), Ok(g)) => {
                    assert_eq!(g, root.path().join(w).display().to_string(), "{files:?}")
                }
                (Err(w), Err(e)) => assert!(e.to_string().contains(w), "{files:?}: {e}"),
                (w, g) => panic!("{files:?}: want {w:?}, got {g:?}"),
            }
        }
        // A dangling serial0 alias is no port.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dev")).unwrap();
        std::os::unix::fs::symlink("ttyS0", root.path().join("dev/serial0")).unwrap();
        assert!(Ports::scan(root.path(), Vec::new()).pick().is_err());
        std::fs::write(root.path().join("dev/ttyS0"), "").unwrap();
        assert_eq!(
            Ports::scan(root.path(), Vec::new()).pick().unwrap(),
            root.path().join("dev/serial0").display().to_string()
        );
    }

    /// The list a message gives: every port once, whichever way it was found.
    #[test]
    fn the_ports_present_are_listed_once() {
        let root = tempfile::tempdir().unwrap();
        for f in ["dev/serial/by-id/usb-FTDI-if00", "dev/serial0"] {
            let p = root.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let r = |p: &str| root.path().join(p).display().to_string();
        let listed = vec!["/dev/ttyUSB0".to_owned(), r("dev/serial0")];
        assert_eq!(
            Ports::scan(root.path(), listed).all(),
            [
                "/dev/ttyUSB0".to_owned(),
                r("dev/serial/by-id/usb-FTDI-if00"),
                r("dev/serial0"),
            ]
        );
    }

    #[test]
    fn paths_that_cannot_be_serial_ports() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("capture.tic");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(not_a_port(file.to_str().unwrap()), Some("a regular file"));
        assert_eq!(
            not_a_port(dir.path().to_str().unwrap()),
            Some("a directory")
        );
        assert_eq!(
            not_a_port("/dev/ttyNOPE-absent"),
            None,
            "it may appear later"
        );
        assert_eq!(not_a_port("/dev/null"), None, "a char device: open decides");
        assert!(is_stable_name("/dev/serial/by-id/usb-FTDI-if00"));
        assert!(!is_stable_name("/dev/ttyUSB0"));
    }

    /// A failed open is told by the error's kind: real opens (absent, not a terminal, held by
    /// another opener), and the kinds serialport gives the others.
    #[test]
    fn a_failed_open_is_classified_by_kind() {
        let fail = |path: &str| match open(path, 1200, Duration::from_millis(10)) {
            Ok(_) => panic!("{path} opened"),
            Err(e) => open_failure(path, &e),
        };
        assert_eq!(fail("/dev/ttyNOPE-absent"), OpenFailure::Absent);
        assert_eq!(fail("/dev/null"), OpenFailure::NotATerminal);
        use serialport::SerialPort;
        let (_master, slave) = serialport::TTYPort::pair().expect("a pseudo-terminal");
        let path = slave.name().expect("its name");
        let _held = open(&path, 1200, Duration::from_millis(10)).expect("the first open");
        assert_eq!(
            fail(&path),
            OpenFailure::Busy,
            "{path} held by another opener"
        );
        use serialport::{Error, ErrorKind as K};
        for (kind, want) in [
            (
                K::Io(io::ErrorKind::PermissionDenied),
                OpenFailure::PermissionDenied,
            ),
            (K::Io(io::ErrorKind::NotFound), OpenFailure::Absent),
            (K::NoDevice, OpenFailure::Busy),
            (
                K::Io(io::ErrorKind::TimedOut),
                OpenFailure::Other(io::ErrorKind::TimedOut),
            ),
            (K::Unknown, OpenFailure::Other(io::ErrorKind::Other)),
        ] {
            // The words are no part of it.
            let e = Error::new(kind, "Not a typewriter");
            assert_eq!(open_failure("/dev/ttyNOPE-absent", &e), want, "{kind:?}");
        }
    }
}
