//! What a test needs from the machine, said in one line, and the harness that runs such tests.
//!
//! ## The rule
//! A test that needs something this repository cannot provide by itself (the real captures in
//! `../shared`, a Python reader, Chromium, a broker, root…) starts with
//!
//! ```ignore
//! requires(&[Need::Chromium, Need::Python(&["pyspark"])]);
//! ```
//!
//! Where every need is met the test runs. Where one is not, the test stops there and the
//! runner's summary counts it as *ignored*, with the reason on its line
//! (`test name ... ignored (needs chromium: not on PATH; Debian package chromium)`); with
//! `CI` set to a true value it *fails* instead, naming the need, because a test that cannot
//! run in CI must not pass unseen. The probes run when the test runs (not when it is built),
//! once per need and test binary, so a tool installed or a virtualenv made after the build
//! counts at the next run.
//!
//! A test that the suite must not run on every machine of CI's kind (the real vfat, which
//! CI's kernel lacks; a long run) is an *opt-in*: listed after `opt_in:` in [`harness!`], it
//! is not even listed in the suite's run (so its summary never counts it as ignored), and
//! runs with `--ignored` or `--include-ignored` (a script under `benches/` names it); there,
//! its needs are the rule's.
//!
//! ## Why a harness of our own
//! libtest decides `#[ignore]` when it compiles the tests, and a test it runs can only pass or
//! fail: a test that returned early for want of promtool was counted as passed. So the test
//! files whose tests need something run under [libtest-mimic] (`harness = false` for the file
//! in `Cargo.toml`), whose tests can end as ignored, with a reason, at run time. Its command
//! line is libtest's (filters, `--exact`, `--skip`, `--list`, `--test-threads`, `--ignored`),
//! and its summary line is libtest's; `RUST_TEST_THREADS` is honoured here. Unlike libtest it
//! does not capture what a passing test prints.
//!
//! ## A file under this harness
//! - `Cargo.toml`: `[[test]] name = "FILE" harness = false`.
//! - In the file, after `mod common;`: `common::harness!(test_a, test_b, module::test_c);` lists
//!   its tests, which are plain `fn name()` without `#[test]`. A `#[test]` in such a file would
//!   never run: the harness fails (test `harness::every_test_is_listed`) if it finds one, and a
//!   test function left out of the list is dead code, which `cargo clippy -D warnings` refuses.
//! - [`requires`] anywhere else (a file that libtest runs) fails at once, saying this.
//!
//! ## Adding a need
//! A variant of [`Need`], its probe and its words in [`Need::unmet`] (what is missing and how to
//! get it), and the step that provides it: `scripts/test` for what lives under `target/` (the
//! Python packages: `tests/python-requirements.txt`), `.ci/run` for system packages. The testing
//! guide (docs/testing.md) lists the needs.
//!
//! [libtest-mimic]: https://docs.rs/libtest-mimic

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Something a test needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// The real captures, `../shared/data/tic-samples` beside the repository.
    SharedSamples,
    /// A Python that can import these modules (import names: `pyarrow`, `pyspark`): the
    /// interpreter of `TIC_REC_PYTHON`, else `target/py-venv/bin/python` (both from
    /// `scripts/test`, which installs `tests/python-requirements.txt` there).
    Python(&'static [&'static str]),
    /// Headless Chromium: `chromium` or `chromium-browser` on `PATH`.
    Chromium,
    /// `promtool` on `PATH` (Debian's `prometheus`).
    Promtool,
    /// A Java runtime (`java` on `PATH`) for PySpark (Debian's `openjdk-17-jre-headless`).
    Java,
    /// The MQTT broker (`mosquitto`, on `PATH` or in `/usr/sbin`) and its clients
    /// (`mosquitto_sub`, `mosquitto_pub` on `PATH`).
    Mosquitto,
    /// `openssl` on `PATH` (to make a TLS CA).
    Openssl,
    /// The real Home Assistant core: the Python of `TIC_REC_HA_PYTHON` (scripts/test sets it
    /// from `scripts/ha-venv`, which makes `target/ha-venv` on a Python >= 3.13) imports
    /// `homeassistant`.
    HomeAssistant,
    /// Mounting file systems (root with `CAP_SYS_ADMIN`): probed by mounting a small tmpfs.
    Mount,
    /// A debug build: fault injection (`TIC_REC_FAIL_AT`) is compiled into debug builds only,
    /// so a crash test cannot run under `cargo test --release`.
    DebugBuild,
    /// No single serial adapter here (none under `/dev/serial/by-id`, or several, and no Pi
    /// UART), so that `--port auto` has nothing to pick.
    NoSerialAdapter,
    /// A program on `PATH` (or in `/sbin`, `/usr/sbin`), and the Debian package that has it
    /// (`.ci/run` installs it).
    Program(&'static str, &'static str),
    /// Loop devices (root, `/dev/loop-control`, `losetup --find` answers).
    LoopDevice,
    /// A file system the running kernel has (`/proc/filesystems`, after `modprobe` where there
    /// is one). No package gives a kernel one: a test that needs one that CI's kernel lacks is
    /// an opt-in ([`harness!`]).
    KernelFilesystem(&'static str),
    /// `systemd-analyze` on `PATH` (Debian's `systemd`), to check the unit files shipped.
    SystemdAnalyze,
}

/// Stops the test unless every need is met: outside CI it ends as ignored, with the unmet
/// needs as its reason; in CI it fails, naming them. Call it first thing in the test, on the
/// test's own thread.
pub fn requires(needs: &[Need]) {
    let unmet: Vec<String> = needs.iter().filter_map(|n| n.unmet()).collect();
    if unmet.is_empty() {
        return;
    }
    let reason = unmet.join("; ");
    if !UNDER_HARNESS.load(Ordering::SeqCst) {
        panic!(
            "common::requires in a test that libtest runs (it cannot show an unmet need as \
             ignored): give this test file `harness = false` in Cargo.toml and list its tests \
             in `common::harness!` (tests/common/harness.rs); unmet here: {reason}"
        );
    }
    if ci_is_true(std::env::var("CI").ok().as_deref()) {
        panic!("{reason}; CI is set, where every test must run");
    }
    // Not a panic: no panic message, and the harness reads the payload.
    std::panic::resume_unwind(Box::new(Unmet(reason)));
}

/// Whether the value of `CI` says the tests run in continuous integration: set, and not
/// empty, `0`, `false`, `no` or `off` (any case). GitHub, GitLab and most others set
/// `CI=true`.
pub fn ci_is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !matches!(v.as_str(), "" | "0" | "false" | "no" | "off")
    })
}

/// The payload a test unwinds with when a need is unmet (outside CI).
struct Unmet(String);

static UNDER_HARNESS: AtomicBool = AtomicBool::new(false);

impl Need {
    /// What is missing and how to get it, or `None` where the need is met (probed once per
    /// test binary).
    pub fn unmet(self) -> Option<String> {
        static SEEN: Mutex<Option<HashMap<Need, Option<String>>>> = Mutex::new(None);
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        seen.get_or_insert_with(HashMap::new)
            .entry(self)
            .or_insert_with(|| {
                self.probe()
                    .err()
                    .map(|why| format!("needs {}: {why}", self.name()))
            })
            .clone()
    }

    /// The need in a word or two.
    pub fn name(self) -> String {
        match self {
            Need::SharedSamples => "the real captures".into(),
            Need::Python(m) => format!("Python with {}", m.join(", ")),
            Need::Chromium => "chromium".into(),
            Need::Promtool => "promtool".into(),
            Need::Java => "java".into(),
            Need::Mosquitto => "mosquitto".into(),
            Need::Openssl => "openssl".into(),
            Need::HomeAssistant => "Home Assistant core".into(),
            Need::Mount => "mounting a tmpfs".into(),
            Need::DebugBuild => "a debug build".into(),
            Need::NoSerialAdapter => "no single serial adapter".into(),
            Need::Program(name, _) => name.into(),
            Need::LoopDevice => "loop devices".into(),
            Need::KernelFilesystem(fs) => format!("{fs} in the running kernel"),
            Need::SystemdAnalyze => "systemd-analyze".into(),
        }
    }

    fn probe(self) -> Result<(), String> {
        match self {
            Need::SharedSamples => {
                let dir = shared_dir();
                if dir.is_dir() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is absent (the real captures live beside the repository, in \
                         ../shared; docs/testing.md)",
                        dir.display()
                    ))
                }
            }
            Need::Python(modules) => {
                let python = python_path().ok_or(
                    "TIC_REC_PYTHON is unset and target/py-venv does not exist (scripts/test \
                     makes it, with tests/python-requirements.txt)",
                )?;
                let out = Command::new(&python)
                    .args([
                        "-c",
                        "import importlib.util as u, sys\n\
                         print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))",
                    ])
                    .args(modules)
                    .stderr(Stdio::piped())
                    .output()
                    .map_err(|e| {
                        format!(
                            "cannot run {} ({e}; TIC_REC_PYTHON, or target/py-venv made by \
                             scripts/test)",
                            python.display()
                        )
                    })?;
                let missing = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if !out.status.success() {
                    Err(format!(
                        "{} failed: {}",
                        python.display(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                } else if !missing.is_empty() {
                    Err(format!(
                        "{} cannot import {missing} (scripts/test installs \
                         tests/python-requirements.txt into target/py-venv)",
                        python.display()
                    ))
                } else {
                    Ok(())
                }
            }
            Need::Chromium => chromium_path()
                .map(drop)
                .ok_or_else(|| "not on PATH (Debian package chromium; .ci/run installs it)".into()),
            Need::Promtool => on_path("promtool").map(drop).ok_or_else(|| {
                "not on PATH (Debian package prometheus; .ci/run installs it)".into()
            }),
            Need::Java => on_path("java").map(drop).ok_or_else(|| {
                "not on PATH (Debian package openjdk-17-jre-headless; .ci/run installs it)".into()
            }),
            Need::Mosquitto => {
                let broker = on_path("mosquitto").is_some() || is_file("/usr/sbin/mosquitto");
                let missing: Vec<&str> = [
                    ("mosquitto", broker),
                    ("mosquitto_sub", on_path("mosquitto_sub").is_some()),
                    ("mosquitto_pub", on_path("mosquitto_pub").is_some()),
                ]
                .into_iter()
                .filter_map(|(name, here)| (!here).then_some(name))
                .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} not found (Debian packages mosquitto, mosquitto-clients; .ci/run \
                         installs them)",
                        missing.join(", ")
                    ))
                }
            }
            Need::Openssl => on_path("openssl")
                .map(drop)
                .ok_or_else(|| "not on PATH (Debian package openssl; .ci/run installs it)".into()),
            Need::HomeAssistant => home_assistant_probe(),
            Need::Mount => mount_probe(),
            Need::DebugBuild => {
                if cfg!(debug_assertions) {
                    Ok(())
                } else {
                    Err(
                        "fault injection (TIC_REC_FAIL_AT) is compiled into debug builds only, \
                         and this is a release build"
                            .into(),
                    )
                }
            }
            Need::SystemdAnalyze => on_path("systemd-analyze")
                .map(drop)
                .ok_or_else(|| "not on PATH (Debian package systemd; .ci/run installs it)".into()),
            Need::NoSerialAdapter => {
                let ids = std::fs::read_dir("/dev/serial/by-id").map_or(0, |d| d.count());
                let uart = ["/dev/serial0", "/dev/ttyAMA0"]
                    .iter()
                    .any(|p| Path::new(p).exists());
                if ids == 1 || (ids == 0 && uart) {
                    Err(
                        "this machine has exactly one USB serial adapter, or a Pi UART, which \
                         --port auto would pick"
                            .into(),
                    )
                } else {
                    Ok(())
                }
            }
            Need::Program(name, package) => program(name).map(drop).ok_or_else(|| {
                format!("not on PATH nor in /sbin (Debian package {package}; .ci/run installs it)")
            }),
            Need::LoopDevice => {
                if !Path::new("/dev/loop-control").exists() {
                    return Err("no /dev/loop-control (a container without loop devices)".into());
                }
                let out = Command::new(
                    program("losetup").ok_or("no losetup (util-linux: Debian package mount)")?,
                )
                .arg("--find")
                .output()
                .map_err(|e| format!("cannot run losetup: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "losetup --find fails (needs root): {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            }
            Need::KernelFilesystem(fs) => {
                let have = || {
                    std::fs::read_to_string("/proc/filesystems")
                        .unwrap_or_default()
                        .split_whitespace()
                        .any(|w| w == fs)
                };
                if !have() {
                    // A module not loaded yet: `mount` would load it.
                    if let Some(modprobe) = program("modprobe") {
                        let _ = Command::new(modprobe)
                            .args(["-q", fs])
                            .stderr(Stdio::null())
                            .status();
                    }
                }
                if have() {
                    Ok(())
                } else {
                    Err(format!(
                        "/proc/filesystems has no {fs}, and no module of it loads: the running \
                         kernel lacks it (a property of the machine, not a package)"
                    ))
                }
            }
        }
    }
}

/// `name` on `PATH`, or in `/sbin` or `/usr/sbin` (where root's tools are).
pub fn program(name: &str) -> Option<PathBuf> {
    on_path(name).or_else(|| {
        ["/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    })
}

/// `../shared/data/tic-samples`, beside the repository.
pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/tic-samples")
}

/// The Python interpreter of [`Need::Python`]: `TIC_REC_PYTHON`, else
/// `target/py-venv/bin/python` where it exists.
pub fn python_path() -> Option<PathBuf> {
    match std::env::var_os("TIC_REC_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-venv/bin/python");
            is_file(&venv).then_some(venv)
        }
    }
}

/// Chromium's command, `chromium` or `chromium-browser`, where one is on `PATH`.
pub fn chromium_path() -> Option<PathBuf> {
    on_path("chromium").or_else(|| on_path("chromium-browser"))
}

/// The executable file `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn is_file(p: impl AsRef<Path>) -> bool {
    p.as_ref().is_file()
}

/// The Python of `TIC_REC_HA_PYTHON` imports `homeassistant`.
fn home_assistant_probe() -> Result<(), String> {
    let python = match std::env::var_os("TIC_REC_HA_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            return Err(
                "TIC_REC_HA_PYTHON is unset (scripts/test sets it to target/ha-venv's \
                        Python, which scripts/ha-venv makes on a Python >= 3.13)"
                    .into(),
            )
        }
    };
    let out = Command::new(&python)
        .args([
            "-c",
            "import homeassistant.const as c; print(c.__version__)",
        ])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} ({e}; scripts/ha-venv makes it)",
                python.display()
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} cannot import homeassistant (scripts/ha-venv installs it): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Mounts a 64 KiB tmpfs on a fresh directory and unmounts it.
fn mount_probe() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a directory to probe: {e}"))?;
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir.path())
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        let _ = Command::new("umount").arg(dir.path()).status();
        Ok(())
    } else {
        Err(format!(
            "cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs the tests of a file under this harness; see the module's documentation. Called by
/// [`harness!`].
pub fn run(
    file: &str,
    source: &str,
    tests: Vec<(&'static str, fn())>,
    opt_in: Vec<(&'static str, fn())>,
) -> ExitCode {
    use libtest_mimic::{Arguments, Completion, Trial};
    UNDER_HARNESS.store(true, Ordering::SeqCst);
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|n| n.parse().ok());
    }
    // An opt-in is listed only when ignored tests are asked for: the suite's summary never
    // counts one as ignored (in CI a skip is a failure; an opt-in is not part of the suite).
    let asked = args.ignored || args.include_ignored;
    let opt_in = opt_in.into_iter().filter(|_| asked).map(|t| (t, true));
    let mut trials: Vec<Trial> = tests
        .into_iter()
        .map(|t| (t, false))
        .chain(opt_in)
        .map(|((name, test), ignored)| {
            let name: String = name.split_whitespace().collect();
            Trial::ignorable_test(name, move || {
                match std::panic::catch_unwind(test) {
                    Ok(()) => Ok(Completion::Completed),
                    Err(payload) => match payload.downcast::<Unmet>() {
                        Ok(unmet) => Ok(Completion::ignored_with(unmet.0)),
                        // libtest-mimic reports it as a failure, with its message.
                        Err(payload) => std::panic::resume_unwind(payload),
                    },
                }
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    let (file, source) = (file.to_owned(), source.to_owned());
    trials.push(Trial::test("harness::every_test_is_listed", move || {
        let stray = stray_test_attributes(&source);
        if stray.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{file} runs under tests/common's harness, where `#[test]` never runs (line \
                 {}): list the function in `common::harness!` instead",
                stray
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into())
        }
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// The line numbers (from 1) of `#[test]` attributes in `source`.
pub fn stray_test_attributes(source: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("#[test]"))
        .map(|(i, _)| i + 1)
        .collect()
}

/// `fn main` for a test file under this harness (`harness = false` in `Cargo.toml`), with the
/// file's tests: `common::harness!(test_a, module::test_b);`, and its opt-ins, listed and
/// run only with `--ignored` or `--include-ignored`: `common::harness!(test_a; opt_in: test_c);`.
#[allow(unused_macros)]
macro_rules! harness {
    ($($test:path),* $(,)? $(; opt_in: $($opt:path),* $(,)?)?) => {
        fn main() -> std::process::ExitCode {
            $crate::common::harness::run(
                file!(),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", file!())),
                vec![$((stringify!($test), $test as fn())),*],
                vec![$($((stringify!($opt), $opt as fn())),*)?],
            )
        }
    };
}
pub(crate) use harness;
