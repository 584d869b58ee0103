//! The JSON API (shapes documented in docs/dashboard.md).

use serde_json::{json, Map, Value};

use super::cost::{CostError, CostTable, OptionCost, PeriodCost};
use super::data::{period_name, rfc, Series};
use super::now::{class_slot, Now};
use crate::export::output::{columns, Values};
use crate::export::{Period, Table};

fn money(m: Option<crate::cost::Money>) -> Value {
    m.map_or(Value::Null, |m| Value::String(m.plain()))
}

/// An option's € (a decimal string, rounded to the cent; `null`: not priced, or no recorded
/// day), the days with hours of unknown Tempo colour (the same count as `tic-rec cost`'s
/// `tempo_missing_days`), and why it is not priced (`null` when it is).
fn option(c: &OptionCost) -> Value {
    obj([
        ("eur", money(c.eur)),
        ("missing_days", c.missing_days.into()),
        ("unpriced", c.unpriced.clone().into()),
    ])
}

/// `/api/now`.
pub fn now(now: &Now, cost: &Result<CostTable, CostError>) -> Value {
    let today = now.today.as_ref().and_then(|(day, t)| {
        let row = t.rows.first()?;
        let classes = now.classes;
        let indexes: Vec<Value> = t
            .labels
            .iter()
            .map(|&k| {
                obj([
                    ("index", crate::export::ENERGY_LABELS[k].into()),
                    ("slot", super::now::slot_name(k, &classes).into()),
                    ("wh", row.wh[k].into()),
                ])
            })
            .collect();
        Some(obj([
            ("day", day.to_string().into()),
            ("hc_wh", t.hc(row).into()),
            ("hp_wh", t.hp(row).into()),
            ("total_wh", t.total(row).into()),
            ("indexes", indexes.into()),
            ("records", row.records.into()),
            ("coverage", row.coverage.into()),
            ("flags", flags(row.flags.names())),
        ]))
    });
    let link = now.counters.as_ref().map(|c| {
        obj([
            ("frames", c.decoder.frames.into()),
            ("checksum_errors", c.decoder.groups_bad.into()),
            ("port_reopens", c.port_reopens.into()),
            ("port_open", c.port_open.into()),
            ("rows_written", c.written.into()),
            ("rows_held", c.held.into()),
            (
                "mqtt",
                now.mqtt.as_ref().map_or(Value::Null, |m| {
                    obj([
                        ("broker", m.broker.as_str().into()),
                        ("state", m.state.name().into()),
                        ("detail", m.state.to_string().into()),
                        ("connects", m.connects.into()),
                        ("failures", m.failures.into()),
                        ("states", m.states.into()),
                        ("last_state", m.last_state.map(|t| t.to_rfc3339()).into()),
                    ])
                }),
            ),
        ])
    });
    let indexes: Vec<Value> = now
        .indexes
        .iter()
        .map(|i| {
            obj([
                ("index", i.label.into()),
                ("slot", i.slot.as_str().into()),
                ("wh", i.wh.into()),
            ])
        })
        .collect();
    obj([
        ("source", now.source.name().into()),
        ("time", now.time().map(|t| t.to_rfc3339()).into()),
        ("age_s", now.age_s().into()),
        ("power_va", now.power.map(|(_, v)| v).into()),
        ("power_label", now.power.map(|(l, _)| l).into()),
        (
            "tariff",
            now.tariff.as_ref().map_or(Value::Null, |(name, c)| {
                obj([
                    ("name", name.as_str().into()),
                    ("slot", class_slot(*c).into()),
                ])
            }),
        ),
        (
            "tempo",
            obj([
                ("today", now.colour_today.map(|c| c.name()).into()),
                ("tomorrow", now.colour_tomorrow.map(|c| c.name()).into()),
            ]),
        ),
        ("indexes", indexes.into()),
        ("today", today.unwrap_or(Value::Null)),
        ("cost", cost_summary(cost)),
        ("link", link.unwrap_or(Value::Null)),
    ])
}

/// An object of `pairs`, in their order, the values moved in (`json!` would copy a nested
/// `Value` through the serializer: `/api/now` is built for every record inside the
/// recorder).
fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn flags(names: String) -> Value {
    Value::Array(
        names
            .split('|')
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

fn cost_summary(cost: &Result<CostTable, CostError>) -> Value {
    match cost {
        Err(e) => json!({"available": false, "reason": crate::error::Chain(e).to_string()}),
        Ok(t) => obj([
            ("available", true.into()),
            ("contract", t.contract.as_str().into()),
            (
                "total_eur",
                money(t.total.as_ref().and_then(|p| p.actual.eur)),
            ),
            ("summary", t.summary.clone().into()),
            (
                "what_if",
                Value::Object(
                    t.alternatives
                        .iter()
                        .zip(t.total.iter().flat_map(|p| &p.what_if))
                        .map(|((k, _), c)| (k.clone(), option(c)))
                        .collect(),
                ),
            ),
        ]),
    }
}

/// `/api/periods`: the export's columns, one object per period.
pub fn periods(period: Period, table: &Table) -> Value {
    let cols = columns(table);
    let n = table.rows.len();
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let mut o = Map::new();
        for (name, values) in &cols {
            let v = match values {
                Values::Time(v) => Value::String(rfc(v[i])),
                Values::Int(v) => v[i].map_or(Value::Null, Value::from),
                Values::Float(v) => v[i].map_or(Value::Null, Value::from),
                Values::Text(v) if name == "flags" => flags(v[i].clone().unwrap_or_default()),
                Values::Text(v) => v[i].clone().map_or(Value::Null, Value::String),
                Values::Kwh(v) => v[i].map_or(Value::Null, |w| Value::from(w as f64 / 1000.0)),
                Values::Decimal(scale, v) => v[i].map_or(Value::Null, |x| {
                    Value::from(x as f64 / 10f64.powi(i32::from(*scale)))
                }),
            };
            o.insert(name.clone(), v);
        }
        rows.push(Value::Object(o));
    }
    json!({
        "period": period_name(period),
        "columns": cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// `/api/records`.
pub fn records(s: &Series) -> Value {
    let buckets: Vec<Value> = s
        .buckets
        .iter()
        .map(|b| {
            json!({
                "start": rfc(b.start),
                "end": rfc(b.end),
                "n": b.n,
                "min": b.min,
                "max": b.max,
                "mean": (b.mean * 10.0).round() / 10.0,
                "slot": b.class.map(class_slot),
            })
        })
        .collect();
    json!({
        "label": s.label,
        "from": rfc(s.from),
        "to": rfc(s.to),
        "step_s": s.step,
        "rows": s.rows,
        "buckets": buckets,
    })
}

/// `/api/cost`.
pub fn cost(period: Period, cost: &Result<CostTable, CostError>) -> Value {
    match cost {
        Err(e) => {
            json!({"available": false, "reason": crate::error::Chain(e).to_string(), "period": period_name(period), "rows": []})
        }
        Ok(t) => {
            let row = |r: &PeriodCost| {
                let what_if: Map<String, Value> = t
                    .alternatives
                    .iter()
                    .zip(&r.what_if)
                    .map(|((key, _), c)| (key.clone(), option(c)))
                    .collect();
                json!({
                    "period_start": rfc(r.start),
                    "period_end": rfc(r.end),
                    "actual": option(&r.actual),
                    "what_if": what_if,
                    "cheapest": r.cheapest,
                })
            };
            let rows: Vec<Value> = t.rows.iter().map(row).collect();
            let alternatives: Map<String, Value> = t
                .alternatives
                .iter()
                .map(|(k, n)| (k.clone(), Value::String(n.clone())))
                .collect();
            json!({
                "available": true,
                "contract": t.contract,
                "contract_key": t.contract_key,
                "alternatives": alternatives,
                "period": period_name(period),
                "rows": rows,
                "total": t.total.as_ref().map(row),
                "summary": t.summary,
                "notes": t.notes.iter().map(|(warning, text)| json!({"warning": warning, "text": text})).collect::<Vec<_>>(),
                "describe": t.describe,
            })
        }
    }
}
