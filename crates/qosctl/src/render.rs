//! What each command prints: the admin API's JSON as it came (`--json`), or a table.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde_json::Value;
use std::time::Duration;

/// `println!` that does not panic when stdout is closed (`qosctl ... | head -1`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// A spinner on stderr while a long call runs; drawn only on a terminal, so scripts and
/// pipes see nothing of it.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(header.iter().copied());
    t
}

fn json_out(v: &Value) {
    say!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A field as text: strings bare, absent as `-`, anything else as compact JSON.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The identifier a person recognises a device by.
fn device(b: &Value) -> String {
    let Some(d) = b.get("device") else {
        return b.get("reservation").map_or("-".into(), |_| "(reservation)".into());
    };
    if let Some(p) = d.get("phoneNumber").and_then(Value::as_str) {
        return p.to_owned();
    }
    if let Some(v4) = d.get("ipv4Address") {
        return text(v4.get("publicAddress"));
    }
    if let Some(v6) = d.get("ipv6Address").and_then(Value::as_str) {
        return v6.to_owned();
    }
    text(d.get("networkAccessIdentifier"))
}

fn status(b: &Value) -> String {
    match b.get("statusInfo").and_then(Value::as_str) {
        Some(info) => format!("{} ({info})", text(b.get("bookingStatus"))),
        None => text(b.get("bookingStatus")),
    }
}

pub fn bookings(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut t = table(&["BOOKING", "CLIENT", "STATUS", "PROFILE", "START", "DURATION", "DEVICE"]);
    for b in list {
        t.add_row([
            text(b.get("bookingId")),
            text(b.get("clientId")),
            status(b),
            text(b.get("qosProfile")),
            text(b.get("startTime")),
            format!("{} s", text(b.get("duration"))),
            device(b),
        ]);
    }
    say!("{t}");
    say!("{} booking(s)", list.len());
}

/// One object as a two-column table of its fields.
fn fields(v: &Value) {
    let mut t = table(&["FIELD", "VALUE"]);
    if let Some(o) = v.as_object() {
        for (k, val) in o {
            t.add_row([k.clone(), text(Some(val))]);
        }
    }
    say!("{t}");
}

pub fn booking(v: &Value, json: bool) {
    if json { json_out(v) } else { fields(v) }
}

pub fn client(v: &Value, json: bool) {
    if json { json_out(v) } else { fields(v) }
}

pub fn capacities(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    let mut t = table(&["POOL", "PROFILE", "CONFIGURED", "CAPACITY"]);
    for c in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        t.add_row([
            text(c.get("pool")),
            text(c.get("qosProfile")),
            text(c.get("configured")),
            text(c.get("capacity")),
        ]);
    }
    say!("{t}");
}

pub fn capacity_set(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    let capacity = match v.get("capacity") {
        None | Some(Value::Null) => "the configured capacity".to_owned(),
        Some(c) => c.to_string(),
    };
    say!("{} / {}: {capacity}", text(v.get("pool")), text(v.get("qosProfile")));
    let revoked = v
        .get("revoked")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    say!("{} booking(s) revoked", revoked.len());
    for id in revoked {
        say!("  {}", text(Some(id)));
    }
}

pub fn calendar(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    say!(
        "{} / {}: capacity {}",
        text(v.get("pool")),
        text(v.get("qosProfile")),
        text(v.get("capacity"))
    );
    let mut t = table(&["TIME", "BOOKED", "AVAILABLE"]);
    for p in v
        .get("points")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        t.add_row([text(p.get("time")), text(p.get("booked")), text(p.get("available"))]);
    }
    say!("{t}");
}

pub fn clients(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    let mut t = table(&["CLIENT", "SOURCE", "PROFILES", "MAX LIVE", "SINKS"]);
    for c in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        t.add_row([
            text(c.get("client_id")),
            text(c.get("source")),
            text(c.get("profiles")),
            text(c.get("max_live_bookings")),
            text(c.get("sinks")),
        ]);
    }
    say!("{t}");
}

/// Text as the gateway wrote it (a CSV report).
pub fn raw(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// A usage report: a line per group, then the total.
pub fn usage(v: &Value, json: bool) {
    if json {
        return json_out(v);
    }
    let mut t = table(&[
        "group",
        "bookings",
        "served",
        "declined",
        "revoked",
        "net. ended",
        "deleted",
        "failed",
        "hours",
        "reserved",
        "assigned",
    ]);
    let rows = v.get("rows").and_then(Value::as_array).into_iter().flatten();
    for row in rows.chain(v.get("total")) {
        let outcome = |k: &str| text(row.get("outcomes").and_then(|o| o.get(k)));
        t.add_row(vec![
            text(row.get("group")),
            text(row.get("bookings")),
            outcome("SERVED"),
            outcome("DECLINED"),
            outcome("REVOKED"),
            outcome("NETWORK_TERMINATED"),
            outcome("DELETED"),
            outcome("FAILED_TO_ACTIVATE"),
            text(row.get("hoursInPlace")),
            text(row.get("reservedDevices")),
            text(row.get("assignedDevices")),
        ]);
    }
    say!("{t}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_device_is_shown_by_the_identifier_it_was_booked_with() {
        assert_eq!(
            device(&json!({"device": {"phoneNumber": "+34600000001"}})),
            "+34600000001"
        );
        assert_eq!(
            device(&json!({"device": {"ipv4Address": {"publicAddress": "203.0.113.7", "publicPort": 1}}})),
            "203.0.113.7"
        );
        assert_eq!(device(&json!({"reservation": {}})), "(reservation)");
        assert_eq!(device(&json!({})), "-");
    }

    #[test]
    fn a_status_shows_why() {
        assert_eq!(
            status(&json!({"bookingStatus": "TERMINATED", "statusInfo": "DELETE_REQUESTED"})),
            "TERMINATED (DELETE_REQUESTED)"
        );
        assert_eq!(status(&json!({"bookingStatus": "SCHEDULED"})), "SCHEDULED");
    }
}
