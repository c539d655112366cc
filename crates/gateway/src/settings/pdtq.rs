//! `capacity.network_admission` and `capacity.pdtq`: whether the network itself is asked
//! before a booking is SCHEDULED, and how (the NEF's PDTQ policy negotiation).

use super::units;
use nef::pdtq::LocationArea5G;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkAdmissionKind {
    /// The operator's pools decide alone.
    None,
    /// The NEF's PDTQ policy negotiation (TS 29.522 Rel-18) must agree too.
    Pdtq,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdtqSettings {
    /// `{apiRoot}` of the PDTQ API; `None`: the NEF's (or the in-process simulator's).
    pub api_root: Option<Url>,
    /// `aspId`.
    pub asp_id: String,
    /// The `{afId}` of the path; `None`: `southbound.scs_as_id`.
    pub af_id: Option<String>,
    #[serde(rename = "answer_within_ms", deserialize_with = "units::ms")]
    pub answer_within: Duration,
    /// Where each AREANAME is, as the NEF knows it.
    pub areas: HashMap<String, LocationArea5G>,
}

impl PdtqSettings {
    /// The southbound adapter's part of these settings.
    pub fn adapter(&self) -> southbound::PdtqSettings {
        southbound::PdtqSettings {
            asp_id: self.asp_id.clone(),
            areas: self.areas.clone(),
            answer_within: self.answer_within,
        }
    }
}
