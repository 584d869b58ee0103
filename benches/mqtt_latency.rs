//! The time from a frame to its state message: a simulated meter's frames are written to a
//! pseudo-terminal that `tic-rec record --mqtt … --mqtt-interval 1ms` reads (so that every
//! record makes a state message), a local mosquitto relays them, and a client here takes the
//! time each state arrives. Latency = arrival − the instant the frame's last byte was written.
//! Run: `cargo bench --profile release --bench mqtt_latency` (needs /usr/sbin/mosquitto).

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDateTime;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use tic_rec::sim::{Contract, Meter, Pty, SimConfig};
use tic_rec::tic::Mode;

const FRAMES: usize = 200;
const PAUSE: Duration = Duration::from_millis(250);

fn main() {
    if !std::path::Path::new("/usr/sbin/mosquitto").exists() {
        eprintln!("mqtt_latency: /usr/sbin/mosquitto is not installed; skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .expect("conf");
    let mut broker = Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The subscriber: (DATE of the state, arrival).
    let (tx, rx) = mpsc::channel::<(String, SystemTime)>();
    let (client, mut conn) = Client::new(MqttOptions::new("latency", "127.0.0.1", port), 64);
    client
        .subscribe("tic-rec/+/state", QoS::AtMostOnce)
        .expect("subscribe");
    std::thread::spawn(move || {
        for e in conn.iter() {
            if let Ok(Event::Incoming(Packet::Publish(p))) = e {
                let now = SystemTime::now();
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.payload) {
                    if let Some(d) = v["DATE"].as_str() {
                        let _ = tx.send((d.to_owned(), now));
                    }
                }
            }
        }
    });
    let mut pty = Pty::open().expect("pty");
    let data = dir.path().join("data");
    let mut rec = Command::new(env!("CARGO_BIN_EXE_tic-rec"))
        .args([
            "record",
            "--mode",
            "standard",
            "--archive",
            "csv",
            "--port",
            &pty.path,
        ])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--mqtt",
            &format!("mqtt://127.0.0.1:{port}"),
            "--mqtt-interval",
            "1ms",
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("tic-rec");
    std::thread::sleep(Duration::from_millis(500));
    let start =
        NaiveDateTime::parse_from_str("2026-06-01 12:00:00", "%Y-%m-%d %H:%M:%S").expect("time");
    let mut cfg = SimConfig::new(Mode::Standard, Contract::HcHp, start);
    cfg.frame_interval = Some(chrono::Duration::seconds(1));
    let mut meter = Meter::new(cfg).expect("meter");
    let mut written = HashMap::new();
    let mut buf = Vec::new();
    for _ in 0..FRAMES {
        buf.clear();
        let f = meter.next_frame(&mut buf);
        pty.master.write_all(&buf).expect("write");
        let at = SystemTime::now();
        if let Some(d) = f.groups.iter().find(|g| g.label == "DATE") {
            written.insert(d.horodate.clone().unwrap_or_default(), at);
        }
        std::thread::sleep(PAUSE);
    }
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-TERM", &rec.id().to_string()])
        .status();
    let _ = rec.wait();
    let _ = broker.kill();
    let _ = broker.wait();
    let t = Instant::now();
    let mut ms: Vec<f64> = Vec::new();
    while let Ok((date, arrived)) = rx.recv_timeout(Duration::from_millis(200)) {
        if let Some(sent) = written.get(&date) {
            if let Ok(d) = arrived.duration_since(*sent) {
                ms.push(d.as_secs_f64() * 1000.0);
            }
        }
        if t.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        eprintln!("mqtt_latency: no state message matched a frame");
        return;
    }
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!(
        "frame → state message: {} of {FRAMES} frames matched; median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        ms[ms.len() - 1]
    );
}
