//! Home Assistant payloads (sans-IO): the state message and the discovery configs of a
//! [`Snapshot`].
//!
//! One device per meter: `identifiers` = the meter's address (ADSC/ADCO), `name`
//! `Linky <address>`, `model` from its shape (`Linky single-phase, TIC standard`),
//! `manufacturer` Enedis. One `sensor` per value, each with `unique_id`
//! `tic-rec_<address>_<object>`, the state topic and a `value_template` reading its key, the
//! availability topic (`online`/`offline`), and the device:
//!
//! | sensor | from | unit | device_class | state_class |
//! |---|---|---|---|---|
//! | apparent power (and per phase, injected) | labels of kind `Power` (SINSTS, PAPP…) | VA | `apparent_power` | `measurement` |
//! | voltage per phase | kind `Voltage` (URMS1..3) | V | `voltage` | `measurement` |
//! | current per phase | kind `Current` (IRMS1..3, IINST…) | A | `current` | `measurement` |
//! | every energy index in use, named after its slot (`HC`, `HP`, `HC Bleu`…) | kind `Energy` | Wh | `energy` | `total_increasing` |
//! | tariff slot | NTARF/LTARF, PTEC | | `enum` (its options) | |
//! | Tempo colour today, tomorrow (where the meter says) | LTARF/PTEC, STGE, DEMAIN | | `enum` (`Bleu`, `Blanc`, `Rouge`) | |
//! | checksum errors (`entity_category: diagnostic`) | the decoder's count | | | `total_increasing` |
//!
//! Templates: an `enum` sensor's value is never `null` for Home Assistant (it would read
//! `None`, not one of its options, and log an error at every state): a null tariff or colour
//! reads as the option [`UNKNOWN_TARIFF`] or [`UNKNOWN_COLOUR`]. An energy index missing from a
//! state (withheld by the [`guard`](super::guard)) renders as an empty string, which Home
//! Assistant ignores for a numeric sensor (the sensor keeps its value).
//!
//! The energy sensors feed the Energy dashboard as they are. Distributor indexes (EASD, the
//! network operator's calendar) are there but disabled by default. Names, units and kinds
//! come from the label registry ([`crate::tic::labels`]).

use serde_json::{json, Map, Value};

use super::meter::{colour_name, Snapshot};
use super::DISCOVERY_PREFIX;
use crate::tic::labels::{self, Kind, Unit};

/// `<prefix>/<meter>/state`.
pub fn state_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/state")
}

/// `<prefix>/<meter>/availability`.
pub fn availability_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/availability")
}

/// The option of the tariff sensor while the meter has not said the slot.
pub const UNKNOWN_TARIFF: &str = "Inconnu";
/// The option of the colour sensors while the colour is not known (tomorrow's, every
/// morning until it is announced).
pub const UNKNOWN_COLOUR: &str = "Inconnue";

/// The availability payloads.
pub const ONLINE: &str = "online";
/// See [`ONLINE`].
pub const OFFLINE: &str = "offline";

/// The state message's JSON: every label of the record typed (numbers as numbers, text as
/// strings), energy indexes at their published values, `time`, `meter`, `tariff`, the Tempo
/// colours (on a Tempo meter) and `checksum_errors`.
pub fn state(s: &Snapshot) -> String {
    let mut m = Map::new();
    for (label, cell) in s.labels() {
        if labels::label(label).is_some_and(|l| l.is_energy()) {
            continue;
        }
        m.insert(label.to_owned(), typed(label, cell));
    }
    for e in &s.energy {
        m.insert(e.label.to_owned(), json!(e.wh));
    }
    m.insert("time".into(), json!(s.time.to_rfc3339()));
    if let Some(src) = s.cells.first() {
        m.insert("time_source".into(), json!(src));
    }
    m.insert("meter".into(), json!(s.meter));
    m.insert("tariff".into(), json!(s.tariff));
    if let Some(t) = &s.tempo {
        m.insert("colour_today".into(), json!(t.today.map(colour_name)));
        if t.says_tomorrow {
            m.insert("colour_tomorrow".into(), json!(t.tomorrow.map(colour_name)));
        }
    }
    m.insert("checksum_errors".into(), json!(s.checksum_errors));
    Value::Object(m).to_string()
}

/// A cell as JSON: an integer for a numeric label whose cell is one, text otherwise.
fn typed(label: &str, cell: &str) -> Value {
    if labels::is_numeric(label) {
        if let Ok(v) = cell.parse::<i64>() {
            return json!(v);
        }
    }
    json!(cell)
}

/// One sensor's description.
struct Sensor {
    /// Object id: in the topic and the unique id.
    object: String,
    name: String,
    /// The state message's key.
    key: String,
    unit: Option<&'static str>,
    device_class: Option<&'static str>,
    state_class: Option<&'static str>,
    options: Option<Vec<String>>,
    /// How its template reads its key.
    read: Read,
    diagnostic: bool,
    enabled: bool,
    icon: Option<&'static str>,
}

impl Sensor {
    fn new(key: &str, name: impl Into<String>) -> Sensor {
        Sensor {
            object: object_id(key),
            name: name.into(),
            key: key.to_owned(),
            unit: None,
            device_class: None,
            state_class: None,
            options: None,
            read: Read::Plain,
            diagnostic: false,
            enabled: true,
            icon: None,
        }
    }

    fn measure(mut self, unit: Unit, class: &'static str) -> Sensor {
        self.unit = Some(unit.symbol());
        self.device_class = Some(class);
        self.state_class = Some("measurement");
        self
    }

    /// An `enum` sensor; a null value reads as `unknown`, one of its options.
    fn options(
        mut self,
        mut options: Vec<String>,
        icon: &'static str,
        unknown: &'static str,
    ) -> Sensor {
        self.device_class = Some("enum");
        if !options.iter().any(|o| o == unknown) {
            options.push(unknown.to_owned());
        }
        self.options = Some(options);
        self.read = Read::OrElse(unknown);
        self.icon = Some(icon);
        self
    }

    /// Its `value_template`.
    fn template(&self) -> String {
        let k = &self.key;
        match self.read {
            Read::Plain => format!("{{{{ value_json['{k}'] }}}}"),
            Read::OrElse(u) => format!("{{{{ value_json['{k}'] or '{u}' }}}}"),
            Read::Keep => format!("{{{{ value_json['{k}'] if '{k}' in value_json else '' }}}}"),
        }
    }
}

/// How a template reads its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// As it is.
    Plain,
    /// A null as this option.
    OrElse(&'static str),
    /// Absent: an empty string (Home Assistant keeps the sensor's value).
    Keep,
}

/// An object id from a key: lower case, anything but letters, digits and `_` as `_`.
fn object_id(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The sensors of a snapshot, in a stable order.
fn sensors(s: &Snapshot) -> Vec<Sensor> {
    let mut out = Vec::new();
    for (label, _) in s.labels() {
        let Some(l) = labels::label(label) else {
            continue;
        };
        let sensor = match l.kind {
            Kind::Power => Sensor::new(label, l.description).measure(Unit::Va, "apparent_power"),
            Kind::Voltage => Sensor::new(label, l.description).measure(Unit::V, "voltage"),
            Kind::Current => Sensor::new(label, l.description).measure(Unit::A, "current"),
            _ => continue,
        };
        out.push(sensor);
    }
    for e in &s.energy {
        let mut sensor = Sensor::new(e.label, e.name.clone());
        sensor.unit = Some(Unit::Wh.symbol());
        sensor.device_class = Some("energy");
        sensor.state_class = Some("total_increasing");
        sensor.read = Read::Keep;
        sensor.enabled = !e.distributor;
        out.push(sensor);
    }
    if s.tariff.is_some() {
        out.push(Sensor::new("tariff", "Tariff").options(
            s.tariffs.clone(),
            "mdi:clock-outline",
            UNKNOWN_TARIFF,
        ));
    }
    if let Some(t) = &s.tempo {
        let colours: Vec<String> = labels::Colour::ALL
            .iter()
            .map(|&c| colour_name(c).to_owned())
            .collect();
        out.push(Sensor::new("colour_today", "Tempo colour today").options(
            colours.clone(),
            "mdi:palette",
            UNKNOWN_COLOUR,
        ));
        if t.says_tomorrow {
            out.push(
                Sensor::new("colour_tomorrow", "Tempo colour tomorrow").options(
                    colours,
                    "mdi:palette-outline",
                    UNKNOWN_COLOUR,
                ),
            );
        }
    }
    let mut errors = Sensor::new("checksum_errors", "Checksum errors");
    errors.state_class = Some("total_increasing");
    errors.diagnostic = true;
    errors.icon = Some("mdi:alert-circle-outline");
    out.push(errors);
    out
}

/// The discovery configs of a snapshot's meter: `(topic, payload)`, to publish retained.
pub fn configs(s: &Snapshot, prefix: &str) -> Vec<(String, String)> {
    let node = format!("tic-rec_{}", s.meter);
    let device = json!({
        "identifiers": [s.meter],
        "name": format!("Linky {}", s.meter),
        "model": s.model(),
        "manufacturer": "Enedis",
    });
    let origin = json!({
        "name": "tic-rec",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let state = state_topic(prefix, &s.meter);
    let availability = availability_topic(prefix, &s.meter);
    sensors(s)
        .into_iter()
        .map(|x| {
            let mut m = Map::new();
            m.insert("name".into(), json!(x.name));
            m.insert("unique_id".into(), json!(format!("{node}_{}", x.object)));
            m.insert("state_topic".into(), json!(state));
            m.insert("value_template".into(), json!(x.template()));
            m.insert("availability_topic".into(), json!(availability));
            m.insert("payload_available".into(), json!(ONLINE));
            m.insert("payload_not_available".into(), json!(OFFLINE));
            if let Some(u) = x.unit {
                m.insert("unit_of_measurement".into(), json!(u));
            }
            if let Some(c) = x.device_class {
                m.insert("device_class".into(), json!(c));
            }
            if let Some(c) = x.state_class {
                m.insert("state_class".into(), json!(c));
            }
            if let Some(o) = &x.options {
                m.insert("options".into(), json!(o));
            }
            if x.diagnostic {
                m.insert("entity_category".into(), json!("diagnostic"));
            }
            if !x.enabled {
                m.insert("enabled_by_default".into(), json!(false));
            }
            if let Some(i) = x.icon {
                m.insert("icon".into(), json!(i));
            }
            m.insert("device".into(), device.clone());
            m.insert("origin".into(), origin.clone());
            let topic = format!("{DISCOVERY_PREFIX}/sensor/{node}/{}/config", x.object);
            (topic, Value::Object(m).to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mqtt::meter::{Energy, Tempo};
    use crate::tic::labels::Colour;
    use crate::tic::Mode;

    pub(super) fn snapshot_for_tests() -> Snapshot {
        snapshot()
    }

    fn snapshot() -> Snapshot {
        let labels = [
            ("DATE", "H260114210005"),
            ("ADSC", "041876097171"),
            ("NGTF", "H PLEINE/CREUSE"),
            ("LTARF", "HEURE  CREUSE"),
            ("NTARF", "1"),
            ("EAST", "12000100"),
            ("EASF01", "5000100"),
            ("EASF02", "7000000"),
            ("EASD01", "9"),
            ("SINSTS", "1230"),
            ("IRMS1", "5"),
            ("URMS1", "231"),
            ("PREF", "6"),
            ("ZZZZ", "0042"),
        ];
        let mut columns = vec!["time".to_owned(), "time_source".to_owned()];
        columns.extend(labels.iter().map(|(l, _)| (*l).to_owned()));
        let mut cells = vec!["meter".to_owned()];
        cells.extend(labels.iter().map(|(_, v)| (*v).to_owned()));
        let e = |label, name: &str, wh, distributor| Energy {
            label,
            name: name.into(),
            wh,
            distributor,
        };
        Snapshot {
            meter: "041876097171".into(),
            mode: Mode::Standard,
            phases: 1,
            producer: false,
            time: chrono::DateTime::parse_from_rfc3339("2026-01-14T21:00:05+01:00").unwrap(),
            columns: Arc::from(columns),
            cells,
            energy: vec![
                e("EAST", "Total", 12000099, false),
                e("EASF01", "HC", 5000099, false),
                e("EASF02", "HP", 7000000, false),
                e("EASD01", "Distributor 1", 9, true),
            ],
            tariff: Some("HC".into()),
            tariffs: vec!["HC".into(), "HP".into()],
            tempo: Some(Tempo {
                today: Some(Colour::Blue),
                tomorrow: None,
                says_tomorrow: true,
            }),
            checksum_errors: 3,
            power_va: 6_000,
        }
    }

    /// The key a template reads.
    fn key_of(template: &str) -> &str {
        template
            .strip_prefix("{{ value_json['")
            .and_then(|t| t.split_once("']"))
            .map(|(k, _)| k)
            .unwrap_or_else(|| panic!("{template}"))
    }

    #[test]
    fn the_state_is_typed_and_carries_published_indexes() {
        let v: Value = serde_json::from_str(&state(&snapshot())).unwrap();
        assert_eq!(v["SINSTS"], json!(1230));
        assert_eq!(v["PREF"], json!(6));
        assert_eq!(v["ADSC"], json!("041876097171"), "an address is text");
        assert_eq!(v["LTARF"], json!("HEURE  CREUSE"));
        assert_eq!(v["DATE"], json!("H260114210005"));
        assert_eq!(v["ZZZZ"], json!("0042"), "unknown labels are text");
        assert_eq!(
            v["EASF01"],
            json!(5000099),
            "the published value, not the cell"
        );
        assert_eq!(v["time"], json!("2026-01-14T21:00:05+01:00"));
        assert_eq!(v["time_source"], json!("meter"));
        assert_eq!(v["tariff"], json!("HC"));
        assert_eq!(v["colour_today"], json!("Bleu"));
        assert_eq!(v["colour_tomorrow"], Value::Null);
        assert_eq!(v["checksum_errors"], json!(3));
    }

    #[test]
    fn discovery_holds_what_home_assistant_requires() {
        let s = snapshot();
        let configs = configs(&s, "tic-rec");
        let state_keys: Value = serde_json::from_str(&state(&s)).unwrap();
        let mut seen = std::collections::HashSet::new();
        for (topic, payload) in &configs {
            let v: Value = serde_json::from_str(payload).unwrap();
            let object = topic
                .strip_prefix("homeassistant/sensor/tic-rec_041876097171/")
                .and_then(|t| t.strip_suffix("/config"))
                .unwrap_or_else(|| panic!("{topic}"));
            assert!(object
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            for key in [
                "name",
                "unique_id",
                "state_topic",
                "value_template",
                "device",
            ] {
                assert!(v.get(key).is_some(), "{topic}: no {key}");
            }
            assert!(seen.insert(v["unique_id"].as_str().unwrap().to_owned()));
            assert_eq!(v["state_topic"], "tic-rec/041876097171/state");
            assert_eq!(v["availability_topic"], "tic-rec/041876097171/availability");
            assert_eq!(v["payload_available"], "online");
            assert_eq!(v["payload_not_available"], "offline");
            assert_eq!(v["device"]["identifiers"], json!(["041876097171"]));
            assert_eq!(v["device"]["model"], "Linky single-phase, TIC standard");
            // Every template reads a key the state message has.
            let key = key_of(v["value_template"].as_str().unwrap());
            assert!(
                state_keys.get(key).is_some(),
                "{topic}: {key} not in the state"
            );
        }
        let by = |object: &str| -> Value {
            let (_, p) = configs
                .iter()
                .find(|(t, _)| t.contains(&format!("/{object}/")))
                .unwrap_or_else(|| panic!("no {object}"));
            serde_json::from_str(p).unwrap()
        };
        let power = by("sinsts");
        assert_eq!(
            (
                &power["unit_of_measurement"],
                &power["device_class"],
                &power["state_class"]
            ),
            (
                &json!("VA"),
                &json!("apparent_power"),
                &json!("measurement")
            )
        );
        let hc = by("easf01");
        assert_eq!(hc["name"], "HC");
        assert_eq!(
            (
                &hc["unit_of_measurement"],
                &hc["device_class"],
                &hc["state_class"]
            ),
            (&json!("Wh"), &json!("energy"), &json!("total_increasing"))
        );
        assert_eq!(by("easd01")["enabled_by_default"], json!(false));
        assert_eq!(by("urms1")["device_class"], "voltage");
        assert_eq!(by("irms1")["unit_of_measurement"], "A");
        let tariff = by("tariff");
        assert_eq!(tariff["device_class"], "enum");
        assert_eq!(tariff["options"], json!(["HC", "HP", "Inconnu"]));
        assert_eq!(
            by("colour_tomorrow")["options"],
            json!(["Bleu", "Blanc", "Rouge", "Inconnue"])
        );
        assert_eq!(by("sinsts")["value_template"], "{{ value_json['SINSTS'] }}");
        let errors = by("checksum_errors");
        assert_eq!(errors["entity_category"], "diagnostic");
        assert!(configs
            .iter()
            .all(|(t, _)| !t.contains("/zzzz/") && !t.contains("/pref/")));
    }
}

#[cfg(test)]
mod enum_tests {
    use super::*;
    use crate::tic::labels::Colour;

    /// What Home Assistant's template gives for `value_json[key]`: the value, or `None` for
    /// a null, as Jinja prints it; `or`, `if … in` as Jinja reads them.
    fn render(template: &str, state: &Value) -> String {
        let (key, rest) = template
            .strip_prefix("{{ value_json['")
            .and_then(|t| t.split_once("']"))
            .unwrap();
        let v = state.get(key);
        let shown = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "None".to_owned(),
            other => other.to_string(),
        };
        if let Some(or) = rest
            .strip_prefix(" or '")
            .and_then(|r| r.strip_suffix("' }}"))
        {
            return match v {
                None | Some(Value::Null) => or.to_owned(),
                Some(Value::String(s)) if s.is_empty() => or.to_owned(),
                Some(x) => shown(x),
            };
        }
        if rest.starts_with(" if '") {
            return v.map(shown).unwrap_or_default();
        }
        assert_eq!(rest, " }}");
        v.map(shown).unwrap_or_else(|| "UNDEFINED".to_owned())
    }

    #[test]
    fn enum_sensors_never_get_a_value_outside_their_options() {
        let mut s = super::tests::snapshot_for_tests();
        // A Tempo morning: tomorrow not announced, the slot not said yet.
        s.tempo = Some(crate::mqtt::meter::Tempo {
            today: None,
            tomorrow: None,
            says_tomorrow: true,
        });
        let morning: Value = serde_json::from_str(&state(&s)).unwrap();
        assert_eq!(morning["colour_tomorrow"], Value::Null);
        s.tariff = Some("HC".into()); // the sensor exists…
        let configs = configs(&s, "tic-rec");
        s.tariff = None; // …and a later state has no slot
        let later: Value = serde_json::from_str(&state(&s)).unwrap();
        let mut enums = 0;
        for (topic, payload) in &configs {
            let v: Value = serde_json::from_str(payload).unwrap();
            if v["device_class"] != "enum" {
                continue;
            }
            enums += 1;
            let options: Vec<String> = serde_json::from_value(v["options"].clone()).unwrap();
            for st in [&morning, &later] {
                let shown = render(v["value_template"].as_str().unwrap(), st);
                assert!(
                    options.contains(&shown),
                    "{topic}: {shown:?} not in {options:?}"
                );
            }
        }
        assert_eq!(enums, 3, "tariff, colour today, colour tomorrow");
        // A known colour reads as itself.
        s.tempo = Some(crate::mqtt::meter::Tempo {
            today: Some(Colour::Red),
            tomorrow: Some(Colour::Blue),
            says_tomorrow: true,
        });
        let st: Value = serde_json::from_str(&state(&s)).unwrap();
        let (_, p) = configs
            .iter()
            .find(|(t, _)| t.contains("/colour_tomorrow/"))
            .unwrap();
        let v: Value = serde_json::from_str(p).unwrap();
        assert_eq!(render(v["value_template"].as_str().unwrap(), &st), "Bleu");
    }

    #[test]
    fn an_energy_index_missing_from_a_state_is_an_empty_value() {
        let s = super::tests::snapshot_for_tests();
        let configs = configs(&s, "tic-rec");
        let (_, p) = configs
            .iter()
            .find(|(t, _)| t.contains("/easf01/"))
            .unwrap();
        let v: Value = serde_json::from_str(p).unwrap();
        let t = v["value_template"].as_str().unwrap();
        assert_eq!(
            t,
            "{{ value_json['EASF01'] if 'EASF01' in value_json else '' }}"
        );
        assert_eq!(render(t, &serde_json::json!({"EASF01": 5})), "5");
        assert_eq!(render(t, &serde_json::json!({"SINSTS": 5})), "");
    }
}
