//! `/metrics`: the Prometheus text exposition format 0.0.4.
//!
//! Names (all `tic_`): `power_va` (gauge), `energy_wh_total{index,slot}` (counter: the
//! meter's index itself), `last_record_timestamp_seconds` (gauge), `archive_bytes` (gauge),
//! and, with `record --http`, `rows_written_total`, `frames_total`,
//! `checksum_errors_total`, `port_reopens_total` (counters), `port_open` and `rows_held`
//! (gauges). Without a recorder in the process the link metrics are absent, not zero.

use std::fmt::Write as _;

use super::now::Now;

/// One metric family, written HELP, TYPE, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn family<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out }
}

/// A label value, escaped (`\`, `"`, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition of `now` and the archive's size.
pub fn render(now: &Now, archive_bytes: Option<u64>) -> String {
    let mut out = String::with_capacity(2048);
    if let Some((label, va)) = now.power {
        family(
            &mut out,
            "tic_power_va",
            "gauge",
            "Apparent power of the last record (SINSTS or PAPP), in VA.",
        )
        .sample("tic_power_va", &[("label", label)], va);
    }
    if !now.indexes.is_empty() {
        let mut f = family(
            &mut out,
            "tic_energy_wh_total",
            "counter",
            "Energy index of the last record, in Wh, by index and tariff slot.",
        );
        for i in &now.indexes {
            f.sample(
                "tic_energy_wh_total",
                &[("index", i.label), ("slot", &i.slot)],
                i.wh,
            );
        }
    }
    if let Some(t) = now.time() {
        family(
            &mut out,
            "tic_last_record_timestamp_seconds",
            "gauge",
            "Time of the last record, Unix seconds.",
        )
        .sample("tic_last_record_timestamp_seconds", &[], t.timestamp());
    }
    if let Some(b) = archive_bytes {
        family(
            &mut out,
            "tic_archive_bytes",
            "gauge",
            "Bytes of the daily files (CSV and Parquet) in the data directory.",
        )
        .sample("tic_archive_bytes", &[], b);
    }
    if let Some(c) = &now.counters {
        let counters: [(&str, &str, u64); 4] = [
            (
                "tic_rows_written_total",
                "Rows written to the daily files since the recorder started.",
                c.written,
            ),
            (
                "tic_frames_total",
                "Complete frames decoded since the recorder started.",
                c.decoder.frames,
            ),
            (
                "tic_checksum_errors_total",
                "Groups whose checksum failed since the recorder started.",
                c.decoder.groups_bad,
            ),
            (
                "tic_port_reopens_total",
                "Times the serial port was opened again after a failure.",
                c.port_reopens,
            ),
        ];
        for (name, help, v) in counters {
            family(&mut out, name, "counter", help).sample(name, &[], v);
        }
        family(
            &mut out,
            "tic_port_open",
            "gauge",
            "1 while the serial port is open (always 1 for a replay).",
        )
        .sample("tic_port_open", &[], u8::from(c.port_open));
        family(
            &mut out,
            "tic_rows_held",
            "gauge",
            "Rows held in memory because the files cannot be written.",
        )
        .sample("tic_rows_held", &[], c.held);
    }
    if let Some(m) = &now.mqtt {
        mqtt(&mut out, m);
    }
    out
}

/// The MQTT link's families (with `record --mqtt` only).
fn mqtt(out: &mut String, m: &crate::mqtt::LinkStatus) {
    family(
        out,
        "tic_mqtt_connected",
        "gauge",
        "1 while the MQTT link is connected to its broker.",
    )
    .sample(
        "tic_mqtt_connected",
        &[("broker", &m.broker), ("state", m.state.name())],
        u8::from(m.state == crate::mqtt::LinkState::Connected),
    );
    let counters: [(&str, &str, u64); 5] = [
        (
            "tic_mqtt_connects_total",
            "Connections made to the MQTT broker.",
            m.connects,
        ),
        (
            "tic_mqtt_failures_total",
            "MQTT connection attempts that failed, and connections lost.",
            m.failures,
        ),
        (
            "tic_mqtt_states_total",
            "State messages handed to the MQTT client.",
            m.states,
        ),
        (
            "tic_mqtt_states_replaced_total",
            "State messages replaced by a newer one before they were sent.",
            m.replaced,
        ),
        (
            "tic_mqtt_dropped_total",
            "MQTT messages the client's queue had no room for.",
            m.dropped,
        ),
    ];
    for (name, help, v) in counters {
        family(out, name, "counter", help).sample(name, &[], v);
    }
    if let Some(t) = m.last_state {
        family(
            out,
            "tic_mqtt_last_state_timestamp_seconds",
            "gauge",
            "Record time of the last state message, Unix seconds.",
        )
        .sample("tic_mqtt_last_state_timestamp_seconds", &[], t.timestamp());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
