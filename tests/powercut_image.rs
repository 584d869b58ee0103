//! Power cuts, the real thing once (issue 21): the recorder (the binary, `record --replay -`
//! fed a simulated meter's frames through a pipe) writes to a loop-mounted ext4 image (and a
//! vfat one, where the running kernel has vfat); the image is copied at random moments while
//! it writes, with no sync; each copy is fsck'd, mounted on another loop device, recovered by
//! the recorder's start-up (the next frames recorded: resume, torn-tail cut, archive of the
//! closed days), and checked as the model's cuts are (`powercut/ledger.rs`).
//!
//! ## How a copy approximates a power cut
//! The copy reads the image *file* behind the loop device, never `/dev/loopN`: what the file
//! holds is what the loop driver was given to write, that is every block the mounted file
//! system had submitted (its journal commits, the data written back); what it had not (dirty
//! pages of the files, dirty buffers of its metadata) is in the page cache of the *mounted*
//! file system and the block device's own cache, which a power cut loses and this copy never
//! sees. Reading `/dev/loopN` instead would go through that device's page cache, where the
//! file system's dirty metadata buffers live: not a crash. Not modelled: a disk's volatile
//! write cache (the loop driver completes a write once it is in the host's page cache, so a
//! copy is a disk whose cache was flushed), and atomicity: the recorder is stopped
//! (`SIGSTOP`) while its image is copied, but the kernel's writeback and journal thread may
//! land a block during the copy (a few tens of milliseconds), a state a real cut could not
//! leave; the journal's checksums and fsck make such a state one of those it could.

mod common;

#[path = "powercut/ledger.rs"]
#[allow(dead_code)]
mod ledger;

common::harness!(
    ext4_image_copied_while_recording,
    fsync_cost_on_ext4;
    opt_in: vfat_image_copied_while_recording,
);

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use common::Need;
use ledger::{check, Written};
use tic_rec::sim::{Contract, Meter, SimConfig};
use tic_rec::store::fs::{FileId, Fs, FsFile, Lock, Open, RealFs};
use tic_rec::store::{local_day, Catalog, Columns, DayReader, Next};
use tic_rec::tic::Mode;

const BIN: &str = env!("CARGO_BIN_EXE_tic-rec");

/// Where images live, deleted when dropped (on a failure too): in memory (`/dev/shm`) where
/// it has room for them (the loop device counts and orders the same writes, and the host's
/// fsyncs of the image file cost nothing), else under `target/` (`CARGO_TARGET_TMPDIR`).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let room =
        nix::sys::statvfs::statvfs(shm).map_or(0, |s| s.blocks_available() * s.fragment_size());
    if room >= 1 << 30 {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory under target/")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ext4,
    Vfat,
}

/// Runs `cmd` (on `PATH` or in `/sbin`), killed if it has not ended within `secs`: its output.
fn run_for(cmd: &str, args: &[&str], secs: u64) -> std::process::Output {
    let prog = common::harness::program(cmd).unwrap_or_else(|| PathBuf::from(cmd));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    // Read both pipes meanwhile, so that a talkative command never blocks on a full pipe.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let status = common::wait_or_kill(&mut child, secs);
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let status =
        status.unwrap_or_else(|| panic!("{cmd} {args:?} did not end within {secs} s: killed"));
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

/// [`run_for`] a minute at most (every command here takes well under a second).
fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    run_for(cmd, args, 60)
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// An image file made into `kind`.
fn make_image(path: &Path, kind: Kind, mib: u64) {
    let f = std::fs::File::create(path).expect("image");
    f.set_len(mib << 20).expect("size");
    drop(f);
    let p = path.to_str().expect("utf-8");
    match kind {
        // 4 KiB blocks as on a card (mke2fs picks 1 KiB for an image this small).
        Kind::Ext4 => ok("mkfs.ext4", &["-q", "-F", "-b", "4096", p]),
        Kind::Vfat => ok("mkfs.vfat", &["-F", "32", p]),
    };
}

/// An image attached to a loop device and mounted; unmounted and detached when dropped.
struct Mounted {
    dev: String,
    dir: tempfile::TempDir,
}

impl Mounted {
    fn new(img: &Path) -> Mounted {
        let dev = ok(
            "losetup",
            &["--find", "--show", img.to_str().expect("utf-8")],
        );
        let dir = tempfile::tempdir().expect("mount point");
        let o = run("mount", &[&dev, dir.path().to_str().expect("utf-8")]);
        if !o.status.success() {
            let _ = run("losetup", &["-d", &dev]);
            panic!("mount {dev}: {}", String::from_utf8_lossy(&o.stderr));
        }
        Mounted { dev, dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The device's counts of writes: (requests, bytes) (`/sys/block/loopN/stat`).
    fn writes(&self) -> (u64, u64) {
        let name = self.dev.trim_start_matches("/dev/");
        let stat = std::fs::read_to_string(format!("/sys/block/{name}/stat")).unwrap_or_default();
        let f: Vec<u64> = stat
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (
            f.get(4).copied().unwrap_or(0),
            f.get(6).copied().unwrap_or(0) * 512,
        )
    }
}

impl Drop for Mounted {
    /// Unmounts (again while busy, for 10 s, then lazily) and detaches the loop device, on a
    /// failure too: a test never leaves a mount or a loop device behind.
    fn drop(&mut self) {
        let dir = self.dir.path().to_str().unwrap_or("").to_owned();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if run_for("umount", &[&dir], 10).status.success() {
                break;
            }
            if Instant::now() > deadline {
                let _ = run_for("umount", &["-l", &dir], 10);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = run_for("losetup", &["-d", &self.dev], 10);
    }
}

/// A child process killed (and reaped) when dropped: a failing test leaves no recorder
/// holding its mount busy.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// fsck on an image copy: its exit status (0: clean, 1: errors corrected) and what it said.
fn fsck(img: &Path, kind: Kind) -> (i32, String) {
    let p = img.to_str().expect("utf-8");
    let o = match kind {
        Kind::Ext4 => run("e2fsck", &["-f", "-y", p]),
        Kind::Vfat => run("fsck.vfat", &["-a", "-w", p]),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// A simulated standard meter's frames, one every `every` seconds from an evening of 2026,
/// with their times.
fn frames(seed: u64, every: i64, n: usize) -> Vec<(i64, Vec<u8>)> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 27)
        .expect("date")
        .and_hms_opt(20, 0, 0)
        .expect("time");
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, start);
    cfg.frame_interval = Some(chrono::Duration::seconds(every));
    cfg.seed = seed;
    let mut meter = Meter::new(cfg).expect("meter");
    (0..n)
        .map(|_| {
            let t = meter.now().timestamp();
            let mut b = Vec::new();
            meter.next_frame(&mut b);
            (t, b)
        })
        .collect()
}

fn bytes_of(frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    frames.iter().flat_map(|(_, b)| b.iter().copied()).collect()
}

/// Every row of the data directory `data`, as keys, with their times.
fn rows_of(data: &Path) -> Vec<(i64, String)> {
    let cat = Catalog::open(data).expect("catalog");
    let mut out = Vec::new();
    for (day, files) in cat.all() {
        let mut r = DayReader::open(day, files, Columns::All).expect("day");
        let columns = r.columns().to_vec();
        while let Some(n) = r.advance().expect("row") {
            if n != Next::Row {
                continue;
            }
            let mut cells = vec![String::new()];
            r.push_time_text(&mut cells[0]);
            for j in 1..columns.len() {
                let mut c = String::new();
                r.cell(j).push_to(&mut c);
                cells.push(c);
            }
            out.push((
                r.time(),
                ledger::key(&columns, cells.iter().map(String::as_str)),
            ));
        }
    }
    out
}

/// `tic-rec record --replay FILE` into `data`, to its end (the recorder's start-up: resume,
/// torn-tail cut, archive of the closed days).
fn record_file(capture: &Path, data: &Path) -> Result<(), String> {
    let (capture, data) = (
        capture.to_str().expect("utf-8"),
        data.to_str().expect("utf-8"),
    );
    let o = run_for(
        BIN,
        &[
            "record",
            "--replay",
            capture,
            "--data-dir",
            data,
            "--fsync-interval",
            "1s",
        ],
        120,
    );
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "record after the cut: {}",
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// One image: recorded while copied now and then, each copy recovered and checked.
fn image_copied_while_recording(kind: Kind) {
    let work = scratch();
    let every = 30;
    let all = frames(21, every, 3 * 2880 + 600);
    let (live, next) = all.split_at(3 * 2880);
    // What the meter's frames make, recorded without a cut: every row a copy may hold.
    let whole = work.path().join("whole.tic");
    std::fs::write(&whole, bytes_of(&all)).expect("write");
    record_file(&whole, &work.path().join("reference")).expect("the reference recording");
    let reference = rows_of(&work.path().join("reference"));
    let written: HashMap<String, Written> = reference
        .iter()
        .enumerate()
        .map(|(i, (t, k))| {
            let w = Written {
                day: local_day(*t).expect("day"),
                seq: i as u64,
                mono: 0,
                written: true,
            };
            (k.clone(), w)
        })
        .collect();

    let img = work.path().join("image");
    // Small: three days of rows take under 2 MB; FAT32 needs 65,525 clusters at least.
    make_image(&img, kind, if kind == Kind::Vfat { 40 } else { 32 });
    let disk = Mounted::new(&img);
    // The device's counts go on from its earlier uses: the run's are a difference.
    let (w0, b0) = disk.writes();
    // Dropped before `disk` (declared after it): killed first, on a failure too.
    let mut child = Killed(
        Command::new(BIN)
            .args(["record", "--replay", "-", "--fsync-interval", "1s"])
            .arg("--data-dir")
            .arg(disk.data())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tic-rec record"),
    );
    let pid = child.0.id().to_string();
    // The feeder: 40 frames every 100 ms (20 meter minutes; 3 days in about 22 s), each
    // chunk's end and when it was written (the pipe holds about 110 frames: a recorder that
    // lags holds the feeder back).
    let fed: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let feeder = {
        let mut stdin = child.0.stdin.take().expect("stdin");
        let fed = Arc::clone(&fed);
        let live = live.to_vec();
        std::thread::spawn(move || {
            for (i, chunk) in live.chunks(40).enumerate() {
                if stdin.write_all(&bytes_of(chunk)).is_err() {
                    return;
                }
                fed.lock()
                    .expect("fed")
                    .push(((i + 1) * 40, Instant::now()));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Copies at random moments (when so many frames are fed), the recorder stopped meanwhile.
    let mut rng = fastrand::Rng::with_seed(kind as u64 + 7);
    let mut targets: Vec<usize> = (0..6).map(|_| rng.usize(600..live.len() - 200)).collect();
    targets.sort_unstable();
    let mut copies = Vec::new();
    for (k, target) in targets.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(120);
        while fed
            .lock()
            .expect("fed")
            .last()
            .is_none_or(|(n, _)| n < target)
        {
            assert!(Instant::now() < deadline, "the feeder is stuck");
            std::thread::sleep(Duration::from_millis(5));
        }
        ok("kill", &["-STOP", &pid]);
        let at = Instant::now();
        let copy = work.path().join(format!("copy-{k}"));
        std::fs::copy(&img, &copy).expect("copy the image");
        ok("kill", &["-CONT", &pid]);
        // Every frame fed 2 s before the copy was recorded and fsynced (`--fsync-interval
        // 1s`, the loop's reads at most 200 ms apart, a busy machine).
        let promised = fed
            .lock()
            .expect("fed")
            .iter()
            .rev()
            .find(|(_, t)| *t + Duration::from_secs(2) <= at)
            .map_or(0, |(n, _)| *n);
        copies.push((copy, promised, target));
    }
    feeder.join().expect("feeder");
    let status = common::wait_or_kill(&mut child.0, 120).expect("the recorder ends");
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "the recorder: {err}");
    let (writes, bytes) = disk.writes();
    let (writes, bytes) = (writes - w0, bytes - b0);
    drop(child);
    drop(disk);

    let mut lines = Vec::new();
    for (i, (copy, promised, target)) in copies.iter().enumerate() {
        let (code, said) = fsck(copy, kind);
        assert!(
            (0..=2).contains(&code),
            "copy {i}: fsck exit {code}: {said}"
        );
        let m = Mounted::new(copy);
        // The power back some frames later: the recorder's start-up on what is left.
        let resume = &next[(i * 37) % 300..][..100];
        let file = work.path().join(format!("next-{i}.tic"));
        std::fs::write(&file, bytes_of(resume)).expect("write");
        record_file(&file, &m.data()).unwrap_or_else(|e| panic!("copy {i}: {e}"));
        // Durable: every row of a frame fed 2 s before the copy, and every row the restart
        // recorded (it ended cleanly).
        let last_promised = live
            .get(promised.saturating_sub(1))
            .map_or(i64::MIN, |f| f.0);
        let (first, last) = (resume[0].0, resume[resume.len() - 1].0);
        let durable: Vec<String> = reference
            .iter()
            .filter(|(t, _)| *t <= last_promised || (*t >= first && *t <= last))
            .map(|(_, k)| k.clone())
            .collect();
        let lookup = |k: &str| written.get(k).cloned();
        let found = check(&m.data(), &lookup, &[&durable])
            .unwrap_or_else(|e| panic!("copy {i} ({kind:?}): {e}"));
        // What fsck did, in short (its passes and totals left out).
        let did: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("Pass ")
                    && !l.starts_with("e2fsck ")
                    && !l.starts_with("fsck.fat ")
                    && !l.contains(" files (")
                    && !l.contains(" files, ")
            })
            .collect();
        lines.push(format!(
            "copy {i} at frame {target}: fsck exit {code} ({}); {} rows read ({} promised), {} days ({} Parquet), {} damaged rows skipped",
            did.join("; "),
            found.rows,
            durable.len(),
            found.days,
            found.parquet_days,
            found.damaged
        ));
        // The image's space back at once (seven of them would be in memory at the end).
        drop(m);
        let _ = std::fs::remove_file(copy);
    }
    println!(
        "{kind:?}: {} frames recorded while copied {} times; the device took {writes} writes, {bytes} bytes\n{}",
        live.len(),
        copies.len(),
        lines.join("\n")
    );
}

fn ext4_image_copied_while_recording() {
    common::requires(&[
        Need::Mount,
        Need::LoopDevice,
        Need::Program("mkfs.ext4", "e2fsprogs"),
        Need::Program("e2fsck", "e2fsprogs"),
    ]);
    image_copied_while_recording(Kind::Ext4);
}

/// An opt-in (`--ignored`; `benches/powercut.sh` runs it): CI's kernel, as this machine's,
/// has no vfat and no modules to load (no package gives a kernel a file system), so the real
/// vfat runs where a kernel has it; the vfat model (`tests/powercut`) runs everywhere.
fn vfat_image_copied_while_recording() {
    common::requires(&[
        Need::Mount,
        Need::LoopDevice,
        Need::Program("mkfs.vfat", "dosfstools"),
        Need::Program("fsck.vfat", "dosfstools"),
        Need::KernelFilesystem("vfat"),
    ]);
    image_copied_while_recording(Kind::Vfat);
}

/// The store's file operations, counted: fsyncs of files and directories, write calls and
/// bytes (what goes through the durable-write seam).
#[derive(Default)]
struct Counts {
    syncs: std::sync::atomic::AtomicU64,
    dir_syncs: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

/// [`RealFs`], counting.
#[derive(Clone, Default)]
struct Counted(Arc<Counts>);

struct CountedFile(Box<dyn FsFile>, Arc<Counts>);

impl Fs for Counted {
    fn open(&self, path: &Path, how: Open) -> std::io::Result<Box<dyn FsFile>> {
        Ok(Box::new(CountedFile(
            RealFs.open(path, how)?,
            Arc::clone(&self.0),
        )))
    }
    fn create_dir(&self, path: &Path) -> std::io::Result<()> {
        RealFs.create_dir(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        RealFs.remove_file(path)
    }
    fn remove_dir(&self, path: &Path) -> std::io::Result<()> {
        RealFs.remove_dir(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.0.dir_syncs.fetch_add(1, Ordering::Relaxed);
        RealFs.sync_dir(dir)
    }
    fn id(&self, path: &Path) -> std::io::Result<FileId> {
        RealFs.id(path)
    }
}

impl std::io::Read for CountedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Seek for CountedFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl Write for CountedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl FsFile for CountedFile {
    fn size(&self) -> std::io::Result<u64> {
        self.0.size()
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.1.syncs.fetch_add(1, Ordering::Relaxed);
        self.0.sync_data()
    }
    fn sync_all(&mut self) -> std::io::Result<()> {
        self.1.syncs.fetch_add(1, Ordering::Relaxed);
        self.0.sync_all()
    }
    fn try_lock(&self, lock: Lock) -> std::io::Result<bool> {
        self.0.try_lock(lock)
    }
    fn id(&self) -> std::io::Result<FileId> {
        self.0.id()
    }
}

/// What `--fsync-interval` costs a card: the store appending a day of rows (1 s and 1 min
/// cadences, time injected: a day takes seconds) on a loop-mounted ext4 image, for several
/// intervals; counted through the seam (fsyncs, bytes) and at the loop device (write
/// requests, bytes: what reaches the card). Each case checks the promise's arithmetic: one
/// fsync per interval while rows flow (one per row when rows are further apart), never more.
/// Quick here (two cases); `benches/fsync-cost.sh` runs every case in release.
fn fsync_cost_on_ext4() {
    common::requires(&[
        Need::Mount,
        Need::LoopDevice,
        Need::Program("mkfs.ext4", "e2fsprogs"),
    ]);
    let work = scratch();
    let columns: Vec<String> = [
        "time",
        "time_source",
        "ADSC",
        "EAST",
        "EASF01",
        "EASF02",
        "SINSTS",
    ]
    .map(String::from)
    .to_vec();
    let full = std::env::var_os("TIC_REC_FSYNC_COST_FULL").is_some();
    let cases: &[(u64, u64)] = if full {
        &[
            (1, 1),
            (1, 10),
            (1, 60),
            (1, 300),
            (60, 1),
            (60, 10),
            (60, 60),
            (60, 300),
        ]
    } else {
        &[(60, 10), (60, 300)]
    };
    println!(
        "| cadence | --fsync-interval | rows/day | fsyncs/day | bytes appended/day | \
         device write requests/day | device bytes written/day | written ÷ appended |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &(cadence, interval) in cases {
        let img = work.path().join(format!("cost-{cadence}-{interval}"));
        make_image(&img, Kind::Ext4, 256);
        let m = Mounted::new(&img);
        let counted = Counted::default();
        let base = Instant::now();
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00+02:00").expect("t0");
        let mut store = tic_rec::store::Store::with_fs(
            Arc::new(counted.clone()),
            &m.data(),
            &columns,
            Duration::from_secs(interval),
            false,
            base,
        );
        let row = |k: u64| {
            [
                "meter".to_owned(),
                "041876097171".to_owned(),
                (10_000_000 + k).to_string(),
                (6_000_000 + k).to_string(),
                (4_000_000 + k).to_string(),
                "1234".to_owned(),
            ]
        };
        // The day's file made first (its directories, header and fsyncs not counted).
        let c = row(0);
        let c: Vec<&str> = c.iter().map(String::as_str).collect();
        store.append(t0, &c, base).expect("append");
        store.sync();
        ok("sync", &["-f", m.dir.path().to_str().expect("utf-8")]);
        let (w0, b0) = m.writes();
        let (s0, a0) = (
            counted.0.syncs.load(Ordering::Relaxed),
            counted.0.bytes.load(Ordering::Relaxed),
        );
        // The rest of the day (the next midnight would open another file).
        let rows = 86_400 / cadence;
        for k in 1..rows {
            let at = k * cadence;
            let t = t0 + chrono::Duration::seconds(at as i64);
            let c = row(k);
            let c: Vec<&str> = c.iter().map(String::as_str).collect();
            store
                .append(t, &c, base + Duration::from_secs(at))
                .expect("append");
            // The loop ticks every 200 ms: the tick an interval after the row fsyncs it.
            if cadence > interval {
                store.tick(base + Duration::from_secs(at + interval));
            }
        }
        // The day's last rows, fsynced at the interval's end.
        store.tick(base + Duration::from_secs(rows * cadence + interval));
        ok("sync", &["-f", m.dir.path().to_str().expect("utf-8")]);
        let (w1, b1) = m.writes();
        let syncs = counted.0.syncs.load(Ordering::Relaxed) - s0;
        let appended = counted.0.bytes.load(Ordering::Relaxed) - a0;
        drop(store);
        let want = if cadence >= interval {
            rows - 1
        } else {
            (rows - 1) * cadence / interval
        };
        assert!(
            syncs.abs_diff(want) <= 1,
            "cadence {cadence} s, interval {interval} s: {syncs} fsyncs in a day, {want} expected"
        );
        println!(
            "| {cadence} s | {interval} s | {rows} | {syncs} | {appended} | {} | {} | {:.1} |",
            w1 - w0,
            b1 - b0,
            (b1 - b0) as f64 / appended.max(1) as f64
        );
    }
}
