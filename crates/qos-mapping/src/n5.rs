//! A booking as the PCF's N5 `AppSessionContext` (TS 29.514), for the gateway as a trusted AF:
//! one UE address, `afAppId`, `dnn`/`sliceInfo`, one media component (key "1") whose
//! sub-components are the booking's flows (key = `fNum`, at most two `fDescs` each, in the
//! same IPFilterRule encodings as the NEF path), the profile's N5 form, the events to be told
//! of, and the gateway's own N5 feature bits.
//!
//! PCFs differ in what carries the QoS (`pcf-southbound.md` §6.11: free5GC ignores
//! `qosReference`, Open5GS needs `medType` and a matching rule), so each profile states its
//! N5 form ([`N5Profile`]): `qosReference` (with feature 17, AuthorizationWithRequiredQoS),
//! and/or `medType` and bitrates.

use super::{MappingConfig, MappingError, UeAddresses, callback_url, check_flows, flows};
use booking::{Booking, QosProfile, Rate, RateUnit};
use pcf::{
    AfEventSubscription, AppSessionContext, AppSessionContextReqData, EventsSubscReqData, MediaComponent,
    MediaSubComponent,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// TS 29.514 §5.8 feature 17, AuthorizationWithRequiredQoS: needed for `qosReference`.
pub const FEATURE_AUTHORIZATION_WITH_REQUIRED_QOS: u32 = 17;

/// How one profile is expressed at the PCF.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct N5Profile {
    /// Send the profile's `qosReference` (and `altSerReqs`), claiming feature 17.
    #[serde(default = "yes")]
    pub qos_reference: bool,
    /// `medType`: AUDIO, VIDEO, DATA, APPLICATION, CONTROL, TEXT, MESSAGE, OTHER.
    #[serde(default)]
    pub med_type: Option<String>,
    /// A GBR profile: `mirBw*` are sent and QOS_NOTIF is subscribed.
    #[serde(default)]
    pub gbr: bool,
    /// `BitRate`s (`"10 Mbps"`); absent ones come from the profile's rates (max for `marBw*`,
    /// target minimum for `mirBw*`), if it has them.
    #[serde(default)]
    pub mar_bw_dl: Option<String>,
    #[serde(default)]
    pub mar_bw_ul: Option<String>,
    #[serde(default)]
    pub mir_bw_dl: Option<String>,
    #[serde(default)]
    pub mir_bw_ul: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for N5Profile {
    fn default() -> Self {
        Self {
            qos_reference: true,
            med_type: None,
            gbr: false,
            mar_bw_dl: None,
            mar_bw_ul: None,
            mir_bw_dl: None,
            mir_bw_ul: None,
        }
    }
}

/// What N5 needs beyond the shared [`MappingConfig`].
#[derive(Debug, Clone, Default)]
pub struct N5Config {
    /// `afAppId`, as the operator registered the gateway at the PCF.
    pub af_app_id: Option<String>,
    /// Per profile name; a profile not listed uses [`N5Profile::default`] (`qosReference`).
    pub profiles: HashMap<String, N5Profile>,
}

impl N5Config {
    pub fn form(&self, profile: &str) -> N5Profile {
        self.profiles.get(profile).cloned().unwrap_or_default()
    }
}

/// The PCF's callback base for a booking: `{notifUri}/terminate` and `{notifUri}/notify`.
pub fn notif_uri(cfg: &MappingConfig, b: &Booking) -> String {
    callback_url(cfg, b, "pcf-callbacks")
}

/// `suppFeat` for the features `form` uses, hex without leading zeros ("0" for none): only
/// what is used is claimed (a claimed feature without its data has crashed PCFs).
pub fn supported_features(form: &N5Profile) -> String {
    let mut bits: u64 = 0;
    if form.qos_reference {
        bits |= 1 << (FEATURE_AUTHORIZATION_WITH_REQUIRED_QOS - 1);
    }
    format!("{bits:x}")
}

pub use pcf::is_bit_rate;

/// A profile rate as a TS 29.571 `BitRate`.
fn bit_rate(r: &Rate) -> String {
    let unit = match r.unit {
        RateUnit::Bps => "bps",
        RateUnit::Kbps => "Kbps",
        RateUnit::Mbps => "Mbps",
        RateUnit::Gbps => "Gbps",
        RateUnit::Tbps => "Tbps",
    };
    format!("{} {unit}", r.value)
}

/// Builds the app session for `b` with the UE's current addresses.
pub fn map(
    cfg: &MappingConfig,
    n5: &N5Config,
    b: &Booking,
    profile: &QosProfile,
    ue: &UeAddresses,
) -> Result<AppSessionContext, MappingError> {
    check_flows(cfg, b)?;
    let address = ue.pick(&cfg.address_preference).ok_or(MappingError::NoUeAddressN5)?;
    let form = n5.form(&profile.name);
    let notif = notif_uri(cfg, b);
    let med_sub_comps: BTreeMap<String, MediaSubComponent> = flows(cfg, b, Some(address))
        .into_iter()
        .map(|f| {
            let sub = MediaSubComponent {
                f_num: f.flow_id,
                f_descs: f.flow_descriptions,
                ..Default::default()
            };
            (f.flow_id.to_string(), sub)
        })
        .collect();
    let rate = |given: &Option<String>, from: Option<&Rate>| given.clone().or_else(|| from.map(bit_rate));
    let component = MediaComponent {
        med_comp_n: 1,
        qos_reference: form.qos_reference.then(|| profile.qos_reference.clone()),
        alt_ser_reqs: (form.qos_reference && !profile.alt_qos_references.is_empty())
            .then(|| profile.alt_qos_references.clone()),
        f_status: Some("ENABLED".into()),
        med_type: form.med_type.clone(),
        mar_bw_dl: rate(&form.mar_bw_dl, profile.max_downstream_rate.as_ref()),
        mar_bw_ul: rate(&form.mar_bw_ul, profile.max_upstream_rate.as_ref()),
        mir_bw_dl: form
            .gbr
            .then(|| rate(&form.mir_bw_dl, profile.target_min_downstream_rate.as_ref()))
            .flatten(),
        mir_bw_ul: form
            .gbr
            .then(|| rate(&form.mir_bw_ul, profile.target_min_upstream_rate.as_ref()))
            .flatten(),
        med_sub_comps,
        ..Default::default()
    };
    let mut events = vec!["SUCCESSFUL_RESOURCES_ALLOCATION", "FAILED_RESOURCES_ALLOCATION"];
    if form.gbr {
        events.push("QOS_NOTIF");
    }
    let ev_subsc = EventsSubscReqData {
        events: events
            .into_iter()
            .map(|e| AfEventSubscription {
                event: e.to_owned(),
                notif_method: None,
            })
            .collect(),
        notif_uri: Some(notif.clone()),
        ..Default::default()
    };
    Ok(AppSessionContext {
        asc_req_data: Some(AppSessionContextReqData {
            af_app_id: n5.af_app_id.clone(),
            dnn: cfg.dnn.clone(),
            slice_info: cfg.snssai.clone(),
            notif_uri: notif,
            supp_feat: supported_features(&form),
            ue_ipv4: match address {
                IpAddr::V4(a) => Some(a.to_string()),
                IpAddr::V6(_) => None,
            },
            ue_ipv6: match address {
                IpAddr::V6(a) => Some(a.to_string()),
                IpAddr::V4(_) => None,
            },
            med_components: BTreeMap::from([("1".to_owned(), component)]),
            ev_subsc: Some(ev_subsc),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
