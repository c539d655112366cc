//! N5 wire types (TS 29.514 Rel-17, JSON exactly as the YAML names the fields): what the
//! gateway sends in full, and what the PCF sends back read leniently (PCFs omit required
//! fields, send nulls and add their own). Unknown fields are kept in `other`.

use sbi::{Snssai, null_as_empty};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `AppSessionContext`: the Individual Application Session Context resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSessionContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asc_req_data: Option<AppSessionContextReqData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asc_resp_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evs_notif: Option<Value>,
}

/// `AppSessionContextReqData`: `notifUri` and `suppFeat` required, and exactly one of
/// `ueIpv4`, `ueIpv6`, `ueMac`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSessionContextReqData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub af_app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ev_subsc: Option<EventsSubscReqData>,
    /// Key: the component's `medCompN`, in decimal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub med_components: BTreeMap<String, MediaComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_domain: Option<String>,
    /// Base of the termination callback: the PCF POSTs `{notifUri}/terminate`.
    #[serde(default)]
    pub notif_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_info: Option<Snssai>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpsi: Option<String>,
    /// TS 29.514 §5.8 features, hex (feature n = bit n-1).
    #[serde(default)]
    pub supp_feat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ue_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ue_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ue_mac: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `MediaComponent`: one media component and its flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaComponent {
    pub med_comp_n: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_ser_reqs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dis_ue_notif: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f_status: Option<String>,
    /// `BitRate`: `"<number> <bps|Kbps|Mbps|Gbps|Tbps>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mar_bw_dl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mar_bw_ul: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mir_bw_dl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mir_bw_ul: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med_type: Option<String>,
    /// Key: the sub-component's `fNum`, in decimal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub med_sub_comps: BTreeMap<String, MediaSubComponent>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `MediaSubComponent`: up to two flow descriptions (one uplink, one downlink).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSubComponent {
    pub f_num: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub f_descs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f_status: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `EventsSubscReqData`: the events to be told of, at `{notifUri}/notify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsSubscReqData {
    pub events: Vec<AfEventSubscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notif_uri: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AfEventSubscription {
    /// An `AfEvent` (an open enumeration).
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notif_method: Option<String>,
}

/// `EventsNotification` (to `{evSubsc.notifUri}/notify`), read leniently.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsNotification {
    #[serde(default)]
    pub ev_subs_uri: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ev_notifs: Vec<AfEventNotification>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub succ_resourc_alloc_reports: Vec<ResourcesAllocationInfo>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub failed_resourc_alloc_reports: Vec<ResourcesAllocationInfo>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub qnc_reports: Vec<QosNotificationControlInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AfEventNotification {
    #[serde(default)]
    pub event: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesAllocationInfo {
    /// `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub mc_resourc_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QosNotificationControlInfo {
    /// `GUARANTEED` or `NOT_GUARANTEED`.
    #[serde(default)]
    pub notif_type: Option<String>,
}

/// `TerminationInfo` (to `{notifUri}/terminate`), read leniently: some PCFs send an empty
/// body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminationInfo {
    #[serde(default)]
    pub term_cause: Option<String>,
    #[serde(default)]
    pub res_uri: Option<String>,
}

/// TS 29.571 `BitRate`: `^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$` (a number without its
/// unit is a mistake real N5 clients made).
pub fn is_bit_rate(s: &str) -> bool {
    let Some((n, unit)) = s.split_once(' ') else {
        return false;
    };
    let (int, frac) = n.split_once('.').unwrap_or((n, "0"));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac) && matches!(unit, "bps" | "Kbps" | "Mbps" | "Gbps" | "Tbps")
}

/// The app session a URI names: `Location` may name the events-subscription sub-resource
/// (TS 29.514 l.47-56); the session is its parent.
pub fn app_session_of(uri: &str) -> &str {
    let u = uri.trim_end_matches('/');
    u.strip_suffix("/events-subscription").unwrap_or(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_tolerate_nulls_extras_unknown_events_and_empty_bodies() {
        let raw = r#"{"evSubsUri":"http://pcf/app-sessions/7/events-subscription","evNotifs":[{"event":"FAILED_RESOURCES_ALLOCATION","flows":[{"medCompN":1}]},{"event":"L4S_SOMETHING"}],
            "failedResourcAllocReports":[{"mcResourcStatus":"INACTIVE","flows":null}],"succResourcAllocReports":null,"ueLoc":{}}"#;
        let n: EventsNotification = serde_json::from_str(raw).unwrap();
        assert_eq!(n.ev_notifs.len(), 2);
        assert_eq!(
            n.failed_resourc_alloc_reports[0].mc_resourc_status.as_deref(),
            Some("INACTIVE")
        );
        assert!(n.succ_resourc_alloc_reports.is_empty());
        let t: TerminationInfo = serde_json::from_str("{}").unwrap();
        assert_eq!(t.res_uri, None);
    }

    #[test]
    fn map_keys_and_field_names_are_the_yamls() {
        let mut subs = BTreeMap::new();
        subs.insert(
            "1".to_owned(),
            MediaSubComponent {
                f_num: 1,
                f_descs: vec!["permit in ip from 10.0.0.1 to any".into()],
                ..Default::default()
            },
        );
        let mut comps = BTreeMap::new();
        comps.insert(
            "1".to_owned(),
            MediaComponent {
                med_comp_n: 1,
                mar_bw_dl: Some("10 Mbps".into()),
                med_sub_comps: subs,
                ..Default::default()
            },
        );
        let v = serde_json::to_value(AppSessionContext {
            asc_req_data: Some(AppSessionContextReqData {
                notif_uri: "http://gw/cb".into(),
                supp_feat: "10000".into(),
                ue_ipv4: Some("10.0.0.1".into()),
                med_components: comps,
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let c = &v["ascReqData"]["medComponents"]["1"];
        assert_eq!(c["medCompN"], 1);
        assert_eq!(c["marBwDl"], "10 Mbps");
        assert_eq!(c["medSubComps"]["1"]["fNum"], 1);
        assert_eq!(v["ascReqData"]["suppFeat"], "10000");
        assert!(v["ascReqData"].get("ueIpv6").is_none());
    }

    #[test]
    fn bit_rates_need_their_unit() {
        assert!(is_bit_rate("10 Mbps"));
        assert!(is_bit_rate("1.5 Gbps"));
        assert!(!is_bit_rate("120000000"));
        assert!(!is_bit_rate("10 mbps"));
        assert!(!is_bit_rate("10Mbps"));
    }

    #[test]
    fn the_session_of_an_events_subscription_uri_is_its_parent() {
        assert_eq!(
            app_session_of("http://p/app-sessions/9/events-subscription"),
            "http://p/app-sessions/9"
        );
        assert_eq!(app_session_of("http://p/app-sessions/9"), "http://p/app-sessions/9");
    }
}
