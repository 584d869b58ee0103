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

/// An option's € (a decimal string, rounded to the cent; `null`: not priced) and the days
/// left out of it.
fn option(c: &OptionCost) -> Value {
    json!({"eur": money(c.eur), "missing_days": c.missing_days})
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
                json!({
                    "index": crate::export::ENERGY_LABELS[k],
                    "slot": super::now::slot_name(k, &classes),
                    "wh": row.wh[k],
                })
            })
            .collect();
        Some(json!({
            "day": day.to_string(),
            "hc_wh": t.hc(row),
            "hp_wh": t.hp(row),
            "total_wh": t.total(row),
            "indexes": indexes,
            "records": row.records,
            "coverage": row.coverage,
            "flags": flags(row.flags.names()),
        }))
    });
    let link = now.counters.as_ref().map(|c| {
        json!({
            "frames": c.decoder.frames,
            "checksum_errors": c.decoder.groups_bad,
            "port_reopens": c.port_reopens,
            "port_open": c.port_open,
            "rows_written": c.written,
            "rows_held": c.held,
            "mqtt": now.mqtt.as_ref().map(|m| json!({
                "broker": m.broker,
                "state": m.state.name(),
                "detail": m.state.to_string(),
                "connects": m.connects,
                "failures": m.failures,
                "states": m.states,
                "last_state": m.last_state.map(|t| t.to_rfc3339()),
            })),
        })
    });
    let indexes: Vec<Value> = now
        .indexes
        .iter()
        .map(|i| json!({"index": i.label, "slot": i.slot, "wh": i.wh}))
        .collect();
    json!({
        "source": now.source.name(),
        "time": now.time().map(|t| t.to_rfc3339()),
        "age_s": now.age_s(),
        "power_va": now.power.map(|(_, v)| v),
        "power_label": now.power.map(|(l, _)| l),
        "tariff": now.tariff.as_ref().map(|(name, c)| json!({
            "name": name,
            "slot": class_slot(*c),
        })),
        "tempo": {
            "today": now.colour_today.map(|c| c.name()),
            "tomorrow": now.colour_tomorrow.map(|c| c.name()),
        },
        "indexes": indexes,
        "today": today,
        "cost": cost_summary(cost),
        "link": link,
    })
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
        Ok(t) => json!({
            "available": true,
            "contract": t.contract,
            "total_eur": money(t.total.as_ref().and_then(|p| p.actual.eur)),
            "summary": t.summary,
        }),
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
                "notes": t.notes,
            })
        }
    }
}
