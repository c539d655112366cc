//! The rules of `TS32291_Nchf_ConvergedCharging.yaml` a `ChargingDataRequest` must keep (the
//! ones a CHF refuses with 400), and those of its `NEFChargingInformation`.

use serde_json::Value;

const NODE_FUNCTIONALITIES: [&str; 20] = [
    "AMF",
    "SMF",
    "SMS",
    "SMSF",
    "PGW_C_SMF",
    "NEFF",
    "SGW",
    "I_SMF",
    "ePDG",
    "CEF",
    "NEF",
    "MnS_Producer",
    "SGSN",
    "V_SMF",
    "5G_DDNMF",
    "IMS_Node",
    "EES",
    "PCF",
    "UDM",
    "UPF",
];

fn u32_at(v: &Value, key: &str) -> Option<u32> {
    v.get(key)?.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn date_time(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok())
}

/// The first broken rule, if any.
pub fn request(body: &Value) -> Option<String> {
    let Some(nf) = body.get("nfConsumerIdentification") else {
        return Some("nfConsumerIdentification is required".into());
    };
    match nf.get("nodeFunctionality").and_then(Value::as_str) {
        None => return Some("nfConsumerIdentification.nodeFunctionality is required".into()),
        Some(f) if !NODE_FUNCTIONALITIES.contains(&f) => {
            return Some(format!("nodeFunctionality {f:?} is not one the CHF knows"));
        }
        Some(_) => {}
    }
    if !date_time(body.get("invocationTimeStamp")) {
        return Some("invocationTimeStamp must be an RFC 3339 date-time".into());
    }
    if u32_at(body, "invocationSequenceNumber").is_none() {
        return Some("invocationSequenceNumber must be a Uint32".into());
    }
    if let Some(usages) = body.get("multipleUnitUsage") {
        let Some(usages) = usages.as_array() else {
            return Some("multipleUnitUsage must be an array".into());
        };
        for u in usages {
            if u32_at(u, "ratingGroup").is_none() {
                return Some("multipleUnitUsage[].ratingGroup is required (Uint32)".into());
            }
            for c in u
                .get("usedUnitContainer")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if c.get("localSequenceNumber").and_then(Value::as_u64).is_none() {
                    return Some("usedUnitContainer[].localSequenceNumber is required".into());
                }
                if c.get("time")
                    .is_some_and(|t| t.as_u64().and_then(|n| u32::try_from(n).ok()).is_none())
                {
                    return Some("usedUnitContainer[].time must be a Uint32".into());
                }
                if c.get("triggerTimestamp").is_some() && !date_time(c.get("triggerTimestamp")) {
                    return Some("usedUnitContainer[].triggerTimestamp must be a date-time".into());
                }
            }
        }
    }
    if let Some(nef) = body.get("nEFChargingInformation") {
        if nef.get("aPIName").and_then(Value::as_str).is_none() {
            return Some("nEFChargingInformation.aPIName is required".into());
        }
        if let Some(d) = nef.get("aPIDirection")
            && !matches!(d.as_str(), Some("INVOCATION" | "NOTIFICATION"))
        {
            return Some("aPIDirection must be INVOCATION or NOTIFICATION".into());
        }
        if let Some(g) = nef.get("externalIndividualIdentifier").and_then(Value::as_str)
            && !(g.starts_with("msisdn-") || g.starts_with("extid-"))
        {
            return Some("externalIndividualIdentifier must be a GPSI".into());
        }
        if nef.get("aPIResultCode").is_some() && u32_at(nef, "aPIResultCode").is_none() {
            return Some("aPIResultCode must be a Uint32".into());
        }
    }
    None
}

/// Seconds the request reports as used (the sum of its containers' `time`).
pub fn used_seconds(body: &Value) -> u64 {
    body.get("multipleUnitUsage")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|u| {
            u.get("usedUnitContainer")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| c.get("time").and_then(Value::as_u64))
        .sum()
}
