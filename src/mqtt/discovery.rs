//! Home Assistant payloads (sans-IO): the state message and the discovery configs of a
//! [`Snapshot`].
//!
//! One device per meter: `identifiers` and `serial_number` = the meter's address
//! (ADSC/ADCO), `name` `Linky <address>`, `model` from its shape (`Linky single-phase, TIC
//! standard`), `manufacturer` Enedis, `sw_version` the TIC version (VTIC, standard mode),
//! `configuration_url` the recorder's dashboard when it serves one (`--http`). One entity
//! per value (`entities`; the table of them all is in README, *Home Assistant over MQTT*):
//!
//! - **Stable ids.** Each entity's id comes from its TIC label, never from its name:
//!   `unique_id` `tic-rec_<address>_<object>` (`object`: the label in lower case,
//!   `easf02`, `smaxsn_1`, or a fixed word for what no single label says: `tariff`,
//!   `colour_today`, `stge_cut_off`…), and the entity id Home Assistant gives it
//!   `sensor.linky_<address>_<id>` (`…_easf02`, `…_sinsts`, `…_ltarf`), asked for with both
//!   `default_entity_id` (Home Assistant 2025.10 and later) and `object_id` (until 2026.4;
//!   each version ignores the key it does not know, and with both present none warns). A
//!   name learned later changes the name only; an entity already in Home Assistant's
//!   registry keeps the id it has (renamed by its user, or given by an older tic-rec).
//! - **One language**: names and enum states are English (`Off-peak`, `Blue peak`, `Blue`,
//!   `open: overpower`); a tariff period the registry does not know keeps the supplier's own
//!   words ([`super::meter::tariff_name`]).
//! - **Templates never fail**: each reads its key with `value_json.get(…)`, so a key missing
//!   from a state never logs a template warning: a number or text reads `None` (Home
//!   Assistant shows *unknown*), an energy index an empty string (ignored: the sensor keeps
//!   its value), an enum `None` (never a value outside its options).
//! - **Availability tells the truth** (`availability`): every entity is unavailable while
//!   the recorder is offline (`<prefix>/<meter>/availability`, its last will); what the meter
//!   says now (power, current, voltage, the tariff period, the status register, ADPS…) is
//!   also unavailable while the TIC link is down (`<prefix>/<meter>/link`: no row written,
//!   or no frame, for a minute, [`super::publisher`]). Energy indexes, the contract and the
//!   recorder's own diagnostics stay available: their last value still holds.
//! - **Energy dashboard**: energy indexes are `kWh` (the state's Wh / 1000, exact), `energy`,
//!   `total_increasing`, two decimals shown; the injected index (EAIT) is the return to the
//!   grid. Distributor indexes (EASD, the network operator's calendar) and the reactive
//!   energies are there but disabled by default, as are the diagnostics no automation needs
//!   (the status register's CPL and Euridis fields, IMAX, MOTDETAT, the meter's time…).

use serde_json::{json, Map, Value};

use super::meter::{colour_name, Snapshot};
use super::DISCOVERY_PREFIX;
use crate::tic::labels::{self, Colour, Kind, Label, Unit, LABELS};
use crate::tic::status::{Cpl, CutOff, Euridis};
use crate::tic::Mode;

/// `<prefix>/<meter>/state`.
pub fn state_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/state")
}

/// `<prefix>/<meter>/availability`: the recorder's (its last will).
pub fn availability_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/availability")
}

/// `<prefix>/<meter>/link`: the TIC link's, `online` while rows are written.
pub fn link_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/link")
}

/// `<prefix>/<meter>/names`: the tariff names the meter taught (read back at each
/// connection, so that they survive a restart).
pub fn names_topic(prefix: &str, meter: &str) -> String {
    format!("{prefix}/{meter}/names")
}

/// The node of a meter's discovery topics: `tic-rec_<meter>`.
pub fn node(meter: &str) -> String {
    format!("tic-rec_{meter}")
}

/// The topic filter of every discovery config of a meter (one level per component).
pub fn configs_filter(meter: &str) -> String {
    format!("{DISCOVERY_PREFIX}/+/{}/+/config", node(meter))
}

/// The availability payloads.
pub const ONLINE: &str = "online";
/// See [`ONLINE`].
pub const OFFLINE: &str = "offline";

/// The state message's JSON: every label of the record typed (numbers as numbers, text as
/// strings), the labels the frames add, energy indexes at their published values, `time`,
/// `time_source`, `meter`, `tariff`, the Tempo colours (on a Tempo meter), the status
/// register's fields (`stge_*`), `checksum_errors` and `held_rows`.
pub fn state(s: &Snapshot) -> String {
    let mut m = Map::new();
    for (label, cell) in s.labels() {
        if labels::label(label).is_some_and(|l| l.is_energy()) {
            continue;
        }
        m.insert(label.to_owned(), typed(label, cell));
    }
    for (label, value) in &s.heard {
        m.insert((*label).to_owned(), typed(label, value));
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
    if let Some(st) = s.status {
        let pm = |n: Option<u8>| n.map_or_else(|| "none".to_owned(), |n| format!("PM{n}"));
        for (k, v) in [
            ("stge_dry_contact_open", json!(st.dry_contact_open())),
            ("stge_cut_off", json!(st.cut_off().map(CutOff::name))),
            ("stge_cover_open", json!(st.cover_open())),
            ("stge_overvoltage", json!(st.overvoltage())),
            ("stge_over_reference", json!(st.over_reference_power())),
            ("stge_producer", json!(st.producer())),
            ("stge_injecting", json!(st.injecting())),
            ("stge_supplier_index", json!(st.supplier_index())),
            ("stge_distributor_index", json!(st.distributor_index())),
            ("stge_clock_degraded", json!(st.clock_degraded())),
            (
                "stge_tic_mode",
                json!(if st.standard_mode() {
                    "standard"
                } else {
                    "historique"
                }),
            ),
            ("stge_euridis", json!(st.euridis().map(Euridis::name))),
            ("stge_cpl", json!(st.cpl().map(Cpl::name))),
            ("stge_cpl_synchronised", json!(st.cpl_synchronised())),
            (
                "stge_mobile_peak_notice",
                json!(pm(st.mobile_peak_notice())),
            ),
            ("stge_mobile_peak", json!(pm(st.mobile_peak()))),
        ] {
            m.insert(k.into(), v);
        }
    }
    m.insert("checksum_errors".into(), json!(s.checksum_errors));
    m.insert("held_rows".into(), json!(s.held_rows));
    Value::Object(m).to_string()
}

/// A cell as JSON: an integer for a numeric label (`null` if the cell is not one: a number
/// sensor never gets text), text otherwise.
fn typed(label: &str, cell: &str) -> Value {
    if labels::is_numeric(label) {
        return cell.parse::<i64>().map_or(Value::Null, |v| json!(v));
    }
    json!(cell)
}

/// A Home Assistant component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// `sensor`.
    Sensor,
    /// `binary_sensor`.
    BinarySensor,
}

impl Component {
    /// `sensor`, `binary_sensor`.
    pub fn name(self) -> &'static str {
        match self {
            Component::Sensor => "sensor",
            Component::BinarySensor => "binary_sensor",
        }
    }
}

/// How an entity reads its value from the state message.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Read {
    /// The key as it is (a number or text), `None` when missing.
    Value(String),
    /// An energy index in Wh, shown in kWh; an empty string (the sensor keeps its value)
    /// when missing.
    Kwh(String),
    /// The key, or `default` when missing (ADPS: 0 A while no overcurrent is said).
    Or(String, i64),
    /// A boolean key as `ON`/`OFF`, `None` when missing.
    Bool(String),
    /// `ON` while the key is in the state, `OFF` otherwise (PEJP, ADPS).
    Present(String),
    /// Bit `n` of a numeric key as `ON`/`OFF` (RELAIS).
    Bit(String, u8),
    /// The record's time, if the meter gave it.
    MeterTime,
    /// The payload itself (the link topic).
    Payload,
}

impl Read {
    fn template(&self) -> Option<String> {
        let get = |k: &str| format!("value_json.get('{k}')");
        Some(match self {
            Read::Value(k) => format!("{{{{ {} }}}}", get(k)),
            Read::Kwh(k) => format!(
                "{{% set v = {} %}}{{{{ v / 1000 if v is number else '' }}}}",
                get(k)
            ),
            Read::Or(k, d) => format!("{{{{ value_json.get('{k}', {d}) }}}}"),
            Read::Bool(k) => format!(
                "{{% set v = {} %}}{{{{ None if v is none else ('ON' if v else 'OFF') }}}}",
                get(k)
            ),
            Read::Present(k) => format!("{{{{ 'ON' if '{k}' in value_json else 'OFF' }}}}"),
            Read::Bit(k, n) => format!(
                "{{% set v = {} %}}{{{{ None if v is not number else ('ON' if (v // {}) % 2 else 'OFF') }}}}",
                get(k),
                1u32 << n
            ),
            Read::MeterTime => "{{ value_json.get('time') if value_json.get('time_source') == 'meter' else None }}".to_owned(),
            Read::Payload => return None,
        })
    }
}

/// One entity's description.
#[derive(Clone, Debug)]
struct Entity {
    component: Component,
    /// In the discovery topic and the unique id.
    object: String,
    /// The entity id's last part (after `linky_<meter>_`).
    id: String,
    name: String,
    read: Read,
    unit: Option<&'static str>,
    device_class: Option<&'static str>,
    state_class: Option<&'static str>,
    options: Option<Vec<String>>,
    precision: Option<u8>,
    diagnostic: bool,
    enabled: bool,
    icon: Option<&'static str>,
    /// Unavailable while the TIC link is down too.
    live: bool,
}

impl Entity {
    fn new(component: Component, id: &str, name: impl Into<String>, read: Read) -> Entity {
        Entity {
            component,
            object: id.to_owned(),
            id: id.to_owned(),
            name: name.into(),
            read,
            unit: None,
            device_class: None,
            state_class: None,
            options: None,
            precision: None,
            diagnostic: false,
            enabled: true,
            icon: None,
            live: true,
        }
    }

    fn sensor(id: &str, name: impl Into<String>, read: Read) -> Entity {
        Entity::new(Component::Sensor, id, name, read)
    }

    fn binary(
        id: &str,
        name: impl Into<String>,
        read: Read,
        class: Option<&'static str>,
    ) -> Entity {
        let mut e = Entity::new(Component::BinarySensor, id, name, read);
        e.device_class = class;
        e
    }

    fn measure(mut self, unit: &'static str, class: &'static str, precision: u8) -> Entity {
        self.unit = Some(unit);
        self.device_class = Some(class);
        self.state_class = Some("measurement");
        self.precision = Some(precision);
        self
    }

    fn options(mut self, options: Vec<String>) -> Entity {
        self.device_class = Some("enum");
        self.options = Some(options);
        self
    }

    fn diagnostic(mut self) -> Entity {
        self.diagnostic = true;
        self
    }

    fn disabled(mut self) -> Entity {
        self.enabled = false;
        self
    }

    fn lasting(mut self) -> Entity {
        self.live = false;
        self
    }

    fn icon(mut self, icon: &'static str) -> Entity {
        self.icon = Some(icon);
        self
    }
}

/// The entity id's part of a label: lower case, `-` and `+` as `_` (`smaxsn_1`).
fn id_of(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// ` L2` on a three-phase meter, nothing on a single-phase one.
fn phase(l: &Label, phases: u8) -> String {
    match l.phase {
        Some(p) if phases == 3 => format!(" L{p}"),
        _ => String::new(),
    }
}

/// The labels whose sensors a meter of this shape has, whether it sends them now or not
/// (ADPS only during an overcurrent, CCASN once a curve point is known…), and those its
/// records carry.
fn shape_labels(s: &Snapshot) -> Vec<&'static Label> {
    let contract = s.naming.calendar.to_ascii_uppercase();
    LABELS
        .iter()
        .filter(|l| {
            if s.records(l.name) {
                return true;
            }
            if l.mode != s.mode || (l.three_phase && s.phases != 3) || (l.producer && !s.producer) {
                return false;
            }
            // Per-phase groups a single-phase meter sends as a total (SINSTS1…), and
            // phase 1 groups a three-phase one sends as IINST1 (not IINST).
            if s.phases == 3 && matches!(l.name, "IINST" | "IMAX" | "ADPS") {
                return false;
            }
            match l.name {
                "PEJP" => contract.starts_with("EJP"),
                "DEMAIN" => contract.starts_with("BBR"),
                // Mobile peaks' times, and what a record of another mode would say.
                "DPM1" | "FPM1" | "DPM2" | "FPM2" | "DPM3" | "FPM3" => false,
                _ => true,
            }
        })
        .collect()
}

/// The entity of a registry label, if it has one.
fn label_entity(l: &'static Label, s: &Snapshot) -> Option<Vec<Entity>> {
    let id = id_of(l.name);
    let ph = phase(l, s.phases);
    let n = |base: &str| format!("{base}{ph}");
    let value = || Read::Value(l.name.to_owned());
    let sensor = |name: String| Entity::sensor(&id, name, value());
    Some(vec![match l.kind {
        Kind::Power => {
            let name = if l.name == "SINSTI" {
                "Apparent power injected".to_owned()
            } else {
                n("Apparent power")
            };
            sensor(name).measure("VA", "apparent_power", 0)
        }
        Kind::PowerMax => {
            let (what, when) = match l.name {
                "PMAX" => ("Max power", " yesterday"),
                n if n.starts_with("SMAXIN") => (
                    "Max power injected",
                    if n.ends_with("-1") {
                        " yesterday"
                    } else {
                        " today"
                    },
                ),
                n if n.ends_with("-1") => ("Max power", " yesterday"),
                _ => ("Max power", " today"),
            };
            let name = format!("{what}{when}{ph}");
            if l.unit == Unit::W {
                sensor(name).measure("W", "power", 0)
            } else {
                sensor(name).measure("VA", "apparent_power", 0)
            }
        }
        Kind::LoadCurve => {
            let injected = l.name.starts_with("CCAI");
            let before = l.name.ends_with("-1");
            let name = format!(
                "Active power{} ({}load curve point)",
                if injected { " injected" } else { "" },
                if before { "previous " } else { "" }
            );
            let e = sensor(name).measure("W", "power", 0);
            if before {
                e.disabled()
            } else {
                e
            }
        }
        Kind::Current => match l.name {
            "ADPS" | "ADIR1" | "ADIR2" | "ADIR3" => {
                let name = n("Overcurrent");
                let e = Entity::sensor(&id, name.clone(), Read::Or(l.name.to_owned(), 0))
                    .measure("A", "current", 0);
                let mut warning = Entity::binary(
                    &id,
                    format!("{name} warning"),
                    Read::Present(l.name.to_owned()),
                    Some("problem"),
                );
                warning.object = format!("{id}_warning");
                return Some(vec![e, warning]);
            }
            n if n.starts_with("IMAX") => sensor(format!("Max current{ph}"))
                .measure("A", "current", 0)
                .diagnostic()
                .disabled(),
            _ => sensor(n("Current")).measure("A", "current", 0),
        },
        Kind::Voltage => {
            let base = if l.name.starts_with("UMOY") {
                "Mean voltage"
            } else {
                "Voltage"
            };
            sensor(n(base)).measure("V", "voltage", 0)
        }
        Kind::Subscribed => {
            let (name, unit, class) = match l.name {
                "PREF" => ("Subscribed power", "kVA", None),
                "PCOUP" => ("Cut-off power", "kVA", None),
                _ => ("Subscribed current", "A", Some("current")),
            };
            let mut e = sensor(name.to_owned()).diagnostic().lasting();
            e.unit = Some(unit);
            e.device_class = class;
            e.precision = Some(0);
            e
        }
        Kind::Reactive => {
            let mut e = sensor(format!("Reactive energy Q{}", &l.name[3..])).disabled();
            e.unit = Some("varh");
            e.state_class = Some("total_increasing");
            e.lasting()
        }
        Kind::Contract => sensor("Contract".to_owned())
            .diagnostic()
            .lasting()
            .icon("mdi:file-document-outline"),
        Kind::Date => Entity::sensor("date", "Meter time", Read::MeterTime)
            .diagnostic()
            .disabled(),
        Kind::Status => return Some(status_entities(s)),
        Kind::Number => match l.name {
            "PEJP" => Entity::binary(&id, "EJP notice", Read::Present("PEJP".into()), None)
                .icon("mdi:calendar-alert"),
            "RELAIS" => {
                let mut out = vec![sensor("Relays".to_owned()).diagnostic().disabled()];
                for k in 1..=8u8 {
                    let name = if k == 1 {
                        "Relay 1".to_owned()
                    } else {
                        format!("Virtual relay {k}")
                    };
                    let e = Entity::binary(
                        &format!("relay_{k}"),
                        name,
                        Read::Bit("RELAIS".into(), k - 1),
                        None,
                    )
                    .icon("mdi:electric-switch");
                    out.push(if k == 1 { e } else { e.disabled() });
                }
                return Some(out);
            }
            "NJOURF" => sensor("Day profile today".to_owned())
                .diagnostic()
                .disabled(),
            "NJOURF+1" => sensor("Day profile tomorrow".to_owned())
                .diagnostic()
                .disabled(),
            _ => return None, // VTIC: the device's sw_version
        },
        Kind::Text => match l.name {
            "MSG1" => sensor("Message".to_owned()).icon("mdi:message-text-outline"),
            "MSG2" => sensor("Short message".to_owned()).icon("mdi:message-outline"),
            "PRM" => sensor("Delivery point".to_owned())
                .diagnostic()
                .lasting()
                .icon("mdi:identifier"),
            "PJOURF+1" => sensor("Profile tomorrow".to_owned())
                .diagnostic()
                .disabled(),
            "PPOINTE" => sensor("Next peak day profile".to_owned())
                .diagnostic()
                .disabled(),
            "HHPHC" => sensor("Off-peak schedule".to_owned())
                .diagnostic()
                .disabled(),
            "MOTDETAT" => sensor("Status word".to_owned()).diagnostic().disabled(),
            "PPOT" => sensor("Phases present".to_owned()).diagnostic().disabled(),
            _ => return None, // DEMAIN: tomorrow's colour
        },
        Kind::MeterId | Kind::TariffName | Kind::TariffIndex | Kind::Energy(_) => return None,
    }])
}

/// The status register's entities (standard mode): its fields decoded (the Tempo colours
/// are the colour sensors).
fn status_entities(s: &Snapshot) -> Vec<Entity> {
    let b = |id: &str, name: &str, class: Option<&'static str>| {
        Entity::binary(id, name, Read::Bool(id.to_owned()), class)
    };
    let enumerated = |id: &str, name: &str, options: Vec<&str>| {
        Entity::sensor(id, name, Read::Value(id.to_owned()))
            .options(options.into_iter().map(str::to_owned).collect())
    };
    let pm = || vec!["none", "PM1", "PM2", "PM3"];
    let injecting = b("stge_injecting", "Injecting", None).icon("mdi:transmission-tower-export");
    vec![
        b("stge_dry_contact_open", "Dry contact", Some("opening")),
        enumerated(
            "stge_cut_off",
            "Cut-off device",
            CutOff::ALL.iter().map(|c| c.name()).collect(),
        )
        .icon("mdi:power-plug-off-outline"),
        b("stge_cover_open", "Terminal cover", Some("opening")).diagnostic(),
        b("stge_overvoltage", "Overvoltage", Some("problem")),
        b(
            "stge_over_reference",
            "Over subscribed power",
            Some("problem"),
        ),
        b("stge_producer", "Producer", None).diagnostic().disabled(),
        if s.producer {
            injecting
        } else {
            injecting.disabled()
        },
        Entity::sensor(
            "stge_supplier_index",
            "Supplier index in force",
            Read::Value("stge_supplier_index".into()),
        )
        .diagnostic()
        .disabled(),
        Entity::sensor(
            "stge_distributor_index",
            "Distributor index in force",
            Read::Value("stge_distributor_index".into()),
        )
        .diagnostic()
        .disabled(),
        b("stge_clock_degraded", "Clock degraded", Some("problem")).diagnostic(),
        enumerated("stge_tic_mode", "TIC mode", vec!["historique", "standard"])
            .diagnostic()
            .disabled(),
        enumerated(
            "stge_euridis",
            "Euridis output",
            Euridis::ALL.iter().map(|e| e.name()).collect(),
        )
        .diagnostic()
        .disabled(),
        enumerated(
            "stge_cpl",
            "CPL status",
            Cpl::ALL.iter().map(|c| c.name()).collect(),
        )
        .diagnostic()
        .disabled(),
        b(
            "stge_cpl_synchronised",
            "CPL synchronised",
            Some("connectivity"),
        )
        .diagnostic()
        .disabled(),
        enumerated("stge_mobile_peak_notice", "Mobile peak notice", pm())
            .icon("mdi:calendar-alert"),
        enumerated("stge_mobile_peak", "Mobile peak", pm()).icon("mdi:flash-alert"),
    ]
}

/// Every entity of a snapshot's meter, in a stable order.
fn entities(s: &Snapshot) -> Vec<Entity> {
    let mut out = Vec::new();
    for e in &s.energy {
        let mut x = Entity::sensor(&id_of(e.label), e.name.clone(), Read::Kwh(e.label.into()));
        x.unit = Some("kWh");
        x.device_class = Some("energy");
        x.state_class = Some("total_increasing");
        x.precision = Some(2);
        x.enabled = !e.distributor;
        x.live = false;
        out.push(x);
    }
    for l in shape_labels(s) {
        if l.kind == Kind::Status && s.mode != Mode::Standard {
            continue;
        }
        out.extend(label_entity(l, s).into_iter().flatten());
    }
    if !s.tariffs.is_empty() && (s.tariff.is_some() || s.records("LTARF") || s.records("PTEC")) {
        let id = match s.mode {
            Mode::Standard => "ltarf",
            Mode::Historique => "ptec",
        };
        let mut e = Entity::sensor(id, "Tariff period", Read::Value("tariff".into()))
            .options(s.tariffs.clone())
            .icon("mdi:clock-outline");
        e.object = "tariff".into();
        out.push(e);
    }
    if let Some(t) = &s.tempo {
        let colours: Vec<String> = Colour::ALL
            .iter()
            .map(|&c| colour_name(c).to_owned())
            .collect();
        out.push(
            Entity::sensor(
                "colour_today",
                "Tempo colour today",
                Read::Value("colour_today".into()),
            )
            .options(colours.clone())
            .icon("mdi:palette"),
        );
        if t.says_tomorrow {
            out.push(
                Entity::sensor(
                    "colour_tomorrow",
                    "Tempo colour tomorrow",
                    Read::Value("colour_tomorrow".into()),
                )
                .options(colours)
                .icon("mdi:palette-outline"),
            );
        }
    }
    let mut link = Entity::binary("tic_link", "TIC link", Read::Payload, Some("connectivity"))
        .diagnostic()
        .lasting();
    link.icon = Some("mdi:serial-port");
    out.push(link);
    let mut errors = Entity::sensor(
        "checksum_errors",
        "Checksum errors",
        Read::Value("checksum_errors".into()),
    )
    .diagnostic()
    .lasting()
    .icon("mdi:alert-circle-outline");
    errors.state_class = Some("total_increasing");
    out.push(errors);
    let mut held = Entity::sensor(
        "held_rows",
        "Rows held in memory",
        Read::Value("held_rows".into()),
    )
    .diagnostic()
    .lasting()
    .icon("mdi:harddisk-remove");
    held.state_class = Some("measurement");
    out.push(held);
    out
}

/// Where a meter's configs point, and what the device says beyond the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The topic prefix (`tic-rec`).
    pub prefix: String,
    /// The recorder's dashboard (`http://host:port/`), if it serves one.
    pub configuration_url: Option<String>,
}

/// The availability of an entity: the recorder's topic, and the link's for what the meter
/// says now (both must be `online`).
fn availability(prefix: &str, meter: &str, live: bool) -> Value {
    let one = |topic: String| json!({"topic": topic, "payload_available": ONLINE, "payload_not_available": OFFLINE});
    let mut v = vec![one(availability_topic(prefix, meter))];
    if live {
        v.push(one(link_topic(prefix, meter)));
    }
    Value::Array(v)
}

/// The discovery configs of a snapshot's meter: `(topic, payload)`, to publish retained.
pub fn configs(s: &Snapshot, ctx: &Context) -> Vec<(String, String)> {
    let node = node(&s.meter);
    let mut device = json!({
        "identifiers": [s.meter],
        "name": format!("Linky {}", s.meter),
        "model": s.model(),
        "manufacturer": "Enedis",
        "serial_number": s.meter,
    });
    if let Some(v) = s.get("VTIC").filter(|v| !v.is_empty()) {
        device["sw_version"] = json!(format!("TIC {v}"));
    }
    if let Some(u) = &ctx.configuration_url {
        device["configuration_url"] = json!(u);
    }
    let origin = json!({
        "name": "tic-rec",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let state = state_topic(&ctx.prefix, &s.meter);
    let id_base = format!("linky_{}", s.meter.to_ascii_lowercase());
    entities(s)
        .into_iter()
        .map(|x| {
            let mut m = Map::new();
            let object_id = format!("{id_base}_{}", x.id);
            m.insert("name".into(), json!(x.name));
            m.insert("unique_id".into(), json!(format!("{node}_{}", x.object)));
            m.insert(
                "default_entity_id".into(),
                json!(format!("{}.{object_id}", x.component.name())),
            );
            m.insert("object_id".into(), json!(object_id));
            match x.read.template() {
                Some(t) => {
                    m.insert("state_topic".into(), json!(state));
                    m.insert("value_template".into(), json!(t));
                }
                None => {
                    m.insert(
                        "state_topic".into(),
                        json!(link_topic(&ctx.prefix, &s.meter)),
                    );
                }
            }
            if x.component == Component::BinarySensor {
                if x.read == Read::Payload {
                    m.insert("payload_on".into(), json!(ONLINE));
                    m.insert("payload_off".into(), json!(OFFLINE));
                } else {
                    m.insert("payload_on".into(), json!("ON"));
                    m.insert("payload_off".into(), json!("OFF"));
                }
            }
            m.insert(
                "availability".into(),
                availability(&ctx.prefix, &s.meter, x.live),
            );
            m.insert("availability_mode".into(), json!("all"));
            if let Some(u) = x.unit {
                m.insert("unit_of_measurement".into(), json!(u));
            }
            if let Some(c) = x.device_class {
                m.insert("device_class".into(), json!(c));
            }
            if let Some(c) = x.state_class {
                m.insert("state_class".into(), json!(c));
            }
            if let Some(p) = x.precision {
                m.insert("suggested_display_precision".into(), json!(p));
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
            let topic = format!(
                "{DISCOVERY_PREFIX}/{}/{node}/{}/config",
                x.component.name(),
                x.object
            );
            (topic, Value::Object(m).to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mqtt::meter::{Energy, InForce, Naming, Tempo};
    use crate::tic::status::Status;

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
        let e = |label, wh, distributor| Energy {
            label,
            name: String::new(),
            wh,
            distributor,
        };
        let mut s = Snapshot {
            meter: "041876097171".into(),
            mode: Mode::Standard,
            phases: 1,
            producer: false,
            time: chrono::DateTime::parse_from_rfc3339("2026-01-14T21:00:05+01:00").unwrap(),
            columns: Arc::from(columns),
            cells,
            heard: vec![
                ("VTIC", "02".into()),
                ("SMAXSN", "04560".into()),
                ("STGE", "003A0001".into()),
                ("MSG1", "PAS DE          MESSAGE".into()),
                ("RELAIS", "001".into()),
            ],
            energy: vec![
                e("EAST", 12000099, false),
                e("EASF01", 5000099, false),
                e("EASF02", 7000000, false),
                e("EASD01", 9, true),
            ],
            in_force: Some(InForce::Index("EASF01")),
            naming: Naming {
                calendar: "H PLEINE/CREUSE".into(),
                ..Naming::default()
            },
            tariff: None,
            tariffs: Vec::new(),
            tempo: Some(Tempo {
                today: Some(Colour::Blue),
                tomorrow: None,
                says_tomorrow: true,
            }),
            status: Status::parse("003A0001"),
            checksum_errors: 3,
            held_rows: 0,
            power_va: 6_000,
            cadence_s: 1,
            settled: true,
        };
        s.name(&Naming::default());
        s
    }

    fn ctx() -> Context {
        Context {
            prefix: "tic-rec".into(),
            configuration_url: Some("http://127.0.0.1:8080/".into()),
        }
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
        assert_eq!(v["SMAXSN"], json!(4560), "heard, typed");
        assert_eq!(v["STGE"], json!("003A0001"));
        assert_eq!(v["time"], json!("2026-01-14T21:00:05+01:00"));
        assert_eq!(v["time_source"], json!("meter"));
        assert_eq!(v["tariff"], json!("Off-peak"));
        assert_eq!(v["colour_today"], json!("Blue"));
        assert_eq!(v["colour_tomorrow"], Value::Null);
        assert_eq!(v["checksum_errors"], json!(3));
        assert_eq!(v["held_rows"], json!(0));
        assert_eq!(v["stge_dry_contact_open"], json!(true));
        assert_eq!(v["stge_cut_off"], json!("closed"));
        assert_eq!(v["stge_euridis"], json!("on, secured"));
        assert_eq!(v["stge_mobile_peak"], json!("none"));
        assert_eq!(
            typed("SINSTS", "12x"),
            Value::Null,
            "never text for a number"
        );
    }

    /// Every config's topic, by object.
    fn by_object(configs: &[(String, String)]) -> std::collections::BTreeMap<String, Value> {
        configs
            .iter()
            .map(|(t, p)| {
                let parts: Vec<&str> = t.split('/').collect();
                let key = format!("{}/{}", parts[1], parts[3]);
                (key, serde_json::from_str(p).unwrap())
            })
            .collect()
    }

    #[test]
    fn discovery_holds_what_home_assistant_requires() {
        let s = snapshot();
        let configs = configs(&s, &ctx());
        let mut uniques = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for (topic, payload) in &configs {
            let v: Value = serde_json::from_str(payload).unwrap();
            let parts: Vec<&str> = topic.split('/').collect();
            assert_eq!(parts.len(), 5, "{topic}");
            assert_eq!(parts[0], "homeassistant");
            assert!(parts[1] == "sensor" || parts[1] == "binary_sensor");
            assert_eq!(parts[2], "tic-rec_041876097171");
            assert!(parts[3]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            for key in [
                "name",
                "unique_id",
                "state_topic",
                "device",
                "availability",
                "default_entity_id",
                "object_id",
            ] {
                assert!(v.get(key).is_some(), "{topic}: no {key}");
            }
            let name = v["name"].as_str().unwrap();
            assert!(!name.contains(','), "{topic}: {name}");
            assert!(uniques.insert((parts[1], v["unique_id"].as_str().unwrap().to_owned())));
            let id = v["default_entity_id"].as_str().unwrap().to_owned();
            assert_eq!(
                id,
                format!("{}.{}", parts[1], v["object_id"].as_str().unwrap())
            );
            assert!(id.starts_with(&format!("{}.linky_041876097171_", parts[1])));
            assert!(ids.insert(id));
            let avail = v["availability"].as_array().unwrap();
            assert_eq!(avail[0]["topic"], "tic-rec/041876097171/availability");
            assert_eq!(v["availability_mode"], "all");
            assert_eq!(v["device"]["identifiers"], json!(["041876097171"]));
            assert_eq!(v["device"]["serial_number"], "041876097171");
            assert_eq!(v["device"]["sw_version"], "TIC 02");
            assert_eq!(v["device"]["configuration_url"], "http://127.0.0.1:8080/");
            assert_eq!(v["device"]["model"], "Linky single-phase, TIC standard");
            if let Some(t) = v["value_template"].as_str() {
                assert!(
                    t.contains("value_json.get('") || t.contains("in value_json"),
                    "{t}"
                );
                assert!(!t.contains("value_json["), "never a missing key: {t}");
            }
        }
        let c = by_object(&configs);
        let get = |k: &str| c.get(k).unwrap_or_else(|| panic!("no {k}"));
        let power = get("sensor/sinsts");
        assert_eq!(
            power["default_entity_id"],
            "sensor.linky_041876097171_sinsts"
        );
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
        assert_eq!(power["availability"].as_array().unwrap().len(), 2, "live");
        let hc = get("sensor/easf01");
        assert_eq!(hc["name"], "Off-peak");
        assert_eq!(
            (
                &hc["unit_of_measurement"],
                &hc["device_class"],
                &hc["state_class"],
                &hc["suggested_display_precision"]
            ),
            (
                &json!("kWh"),
                &json!("energy"),
                &json!("total_increasing"),
                &json!(2)
            )
        );
        assert_eq!(hc["availability"].as_array().unwrap().len(), 1, "lasting");
        assert_eq!(get("sensor/easd01")["enabled_by_default"], json!(false));
        assert_eq!(get("sensor/urms1")["device_class"], "voltage");
        assert_eq!(get("sensor/irms1")["name"], "Current");
        let tariff = get("sensor/tariff");
        assert_eq!(
            tariff["default_entity_id"],
            "sensor.linky_041876097171_ltarf"
        );
        assert_eq!(tariff["unique_id"], "tic-rec_041876097171_tariff");
        assert_eq!(tariff["device_class"], "enum");
        assert_eq!(tariff["options"], json!(["Off-peak", "Peak"]));
        assert_eq!(
            get("sensor/colour_tomorrow")["options"],
            json!(["Blue", "White", "Red"])
        );
        let pref = get("sensor/pref");
        assert_eq!(pref["unit_of_measurement"], "kVA");
        assert!(pref.get("device_class").is_none());
        assert_eq!(get("sensor/smaxsn")["name"], "Max power today");
        assert_eq!(get("sensor/smaxsn_1")["name"], "Max power yesterday");
        assert_eq!(get("sensor/ccasn")["device_class"], "power");
        assert_eq!(get("sensor/umoy1")["name"], "Mean voltage");
        assert_eq!(get("sensor/msg1")["name"], "Message");
        assert_eq!(get("sensor/prm")["entity_category"], "diagnostic");
        assert_eq!(get("binary_sensor/relay_1")["name"], "Relay 1");
        assert_eq!(
            get("binary_sensor/relay_2")["enabled_by_default"],
            json!(false)
        );
        let link = get("binary_sensor/tic_link");
        assert_eq!(link["state_topic"], "tic-rec/041876097171/link");
        assert_eq!(link["device_class"], "connectivity");
        assert_eq!(link["payload_on"], "online");
        assert_eq!(
            get("sensor/checksum_errors")["entity_category"],
            "diagnostic"
        );
        assert_eq!(get("sensor/held_rows")["entity_category"], "diagnostic");
        assert_eq!(
            get("binary_sensor/stge_over_reference")["device_class"],
            "problem"
        );
        assert_eq!(get("sensor/stge_cut_off")["options"][0], "closed");
        assert_eq!(get("sensor/date")["enabled_by_default"], json!(false));
        assert!(!c.contains_key("sensor/zzzz") && !c.contains_key("sensor/vtic"));
        assert!(!c.contains_key("sensor/adps"), "historique only");
    }

    #[test]
    fn historique_overcurrent_and_ejp() {
        let mut s = snapshot();
        let labels = [
            ("ADCO", "031328187235"),
            ("OPTARIF", "EJP."),
            ("ISOUSC", "30"),
            ("PTEC", "HN.."),
            ("IINST", "3"),
            ("PAPP", "680"),
        ];
        let mut columns = vec!["time".to_owned(), "time_source".to_owned()];
        columns.extend(labels.iter().map(|(l, _)| (*l).to_owned()));
        s.columns = Arc::from(columns);
        s.cells = std::iter::once("host".to_owned())
            .chain(labels.iter().map(|(_, v)| (*v).to_owned()))
            .collect();
        s.mode = Mode::Historique;
        s.meter = "031328187235".into();
        s.naming.calendar = "EJP.".into();
        s.heard = vec![("ADPS", "033".into())];
        s.status = None;
        s.tempo = None;
        s.energy.clear();
        s.in_force = Some(InForce::Index("EJPHN"));
        s.name(&Naming::default());
        assert_eq!(s.tariff.as_deref(), Some("Normal"));
        let c = by_object(&configs(&s, &ctx()));
        let adps = &c["sensor/adps"];
        assert_eq!(adps["value_template"], "{{ value_json.get('ADPS', 0) }}");
        let warning = &c["binary_sensor/adps_warning"];
        assert_eq!(warning["device_class"], "problem");
        assert_eq!(
            warning["default_entity_id"],
            "binary_sensor.linky_031328187235_adps"
        );
        assert!(c.contains_key("binary_sensor/pejp"));
        assert_eq!(
            c["sensor/tariff"]["default_entity_id"],
            "sensor.linky_031328187235_ptec"
        );
        assert_eq!(c["sensor/isousc"]["device_class"], "current");
        assert!(!c.keys().any(|k| k.contains("stge")), "standard only");
        assert!(c["sensor/optarif"].is_object());
        let any = c.values().next().unwrap();
        assert!(any["device"].get("sw_version").is_none(), "no VTIC");
    }
}

#[cfg(test)]
mod template_tests {
    //! The templates against the real Jinja are checked by tests/ha.rs; here, what each
    //! renders for a state with and without its key, by a small reading of the forms used.
    use super::*;

    #[test]
    fn each_form_reads_its_key_or_a_harmless_value() {
        let cases = [
            (Read::Value("SINSTS".into()), "{{ value_json.get('SINSTS') }}"),
            (
                Read::Kwh("EASF01".into()),
                "{% set v = value_json.get('EASF01') %}{{ v / 1000 if v is number else '' }}",
            ),
            (Read::Or("ADPS".into(), 0), "{{ value_json.get('ADPS', 0) }}"),
            (
                Read::Present("PEJP".into()),
                "{{ 'ON' if 'PEJP' in value_json else 'OFF' }}",
            ),
            (
                Read::Bit("RELAIS".into(), 2),
                "{% set v = value_json.get('RELAIS') %}{{ None if v is not number else ('ON' if (v // 4) % 2 else 'OFF') }}",
            ),
        ];
        for (read, want) in cases {
            assert_eq!(read.template().as_deref(), Some(want));
        }
        assert_eq!(Read::Payload.template(), None);
        assert_eq!(id_of("SMAXSN1-1"), "smaxsn1_1");
        assert_eq!(id_of("NJOURF+1"), "njourf_1");
    }
}
