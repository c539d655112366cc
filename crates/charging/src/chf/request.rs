//! The ChargingDataRequests of one booking's charging session, from its ledger entries: the
//! initial one when the QoS goes into place, interim ones with the time used since the last
//! report, the final one (release) with the rest. TS 32.254's exposure-function charging:
//! `nodeFunctionality` NEF, `nEFChargingInformation` naming the API, the booking's resource
//! and the device's GPSI; time as the unit, a rating group per QoS profile.

use crate::record::Renderer;
use booking::Booking;
use chf::{
    ChargingDataRequest, MultipleUnitUsage, NefChargingInformation, NfIdentification, RequestedUnit, Trigger,
    UsedUnitContainer,
};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the requests carry that configuration decides.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    /// The gateway's NF instance id (a UUID): `nfConsumerIdentification.nFName`.
    pub nf_instance_id: String,
    /// Prefix of `aPIReference` (the API's public URL, scheme and authority).
    pub public_url: String,
    /// Rating group per QoS profile; others get `default_rating_group`.
    pub rating_groups: HashMap<String, u32>,
    pub default_rating_group: u32,
}

pub(super) struct Requests<'a> {
    pub settings: &'a RequestSettings,
    pub renderer: &'a Renderer,
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Whole seconds from `a` to `b` (0 if `b` is not later), as a `Uint32`.
pub(super) fn seconds(a: OffsetDateTime, b: OffsetDateTime) -> u32 {
    u32::try_from((b - a).whole_seconds().max(0)).unwrap_or(u32::MAX)
}

impl Requests<'_> {
    fn rating_group(&self, b: &Booking) -> u32 {
        self.settings
            .rating_groups
            .get(&b.qos_profile)
            .copied()
            .unwrap_or(self.settings.default_rating_group)
    }

    fn nef_info(&self, b: &Booking, result: u16) -> NefChargingInformation {
        let names = self.renderer.names(b);
        let gpsi = b.device.as_ref().and_then(|d| {
            self.renderer
                .device(d)
                .get("gpsi")
                .and_then(|g| g.as_str())
                .map(str::to_owned)
        });
        NefChargingInformation {
            external_individual_identifier: gpsi,
            api_direction: Some("INVOCATION".into()),
            api_result_code: Some(u32::from(result)),
            api_name: names.api.to_owned(),
            api_reference: Some(format!(
                "{}{}",
                self.settings.public_url.trim_end_matches('/'),
                names.resource
            )),
            api_content: None,
        }
    }

    fn base(
        &self,
        b: &Booking,
        seq: u32,
        at: OffsetDateTime,
        retransmission: bool,
        result: u16,
    ) -> ChargingDataRequest {
        ChargingDataRequest {
            nf_consumer_identification: NfIdentification {
                node_functionality: "NEF".into(),
                nf_name: Some(self.settings.nf_instance_id.clone()),
                nf_fqdn: None,
            },
            invocation_time_stamp: stamp(at),
            invocation_sequence_number: seq,
            retransmission_indicator: retransmission.then_some(true),
            service_specification_info: Some(format!("{} {}", self.renderer.names(b).api, b.qos_profile)),
            multiple_unit_usage: Vec::new(),
            triggers: Vec::new(),
            nef_charging_information: Some(self.nef_info(b, result)),
        }
    }

    /// The initial request: the booking's window left as the requested time.
    pub fn initial(&self, b: &Booking, at: OffsetDateTime, retransmission: bool) -> ChargingDataRequest {
        let names = self.renderer.names(b);
        let mut r = self.base(b, 0, at, retransmission, names.create.1);
        let from = b.started_at.unwrap_or(at);
        r.multiple_unit_usage = vec![MultipleUnitUsage {
            rating_group: self.rating_group(b),
            requested_unit: Some(RequestedUnit {
                time: seconds(from, b.end_time()),
            }),
            used_unit_container: Vec::new(),
        }];
        r
    }

    /// An interim or final report of `used` seconds, as request `seq`.
    pub fn report(
        &self,
        b: &Booking,
        seq: u32,
        used: u32,
        at: OffsetDateTime,
        last: bool,
        retransmission: bool,
    ) -> ChargingDataRequest {
        let names = self.renderer.names(b);
        let deleted = booking::usage::Outcome::of(b) == Some(booking::usage::Outcome::Deleted);
        let result = if deleted { names.delete.1 } else { names.create.1 };
        let mut r = self.base(b, seq, at, retransmission, result);
        let trigger = if last { "FINAL" } else { "TIME_LIMIT" };
        r.multiple_unit_usage = vec![MultipleUnitUsage {
            rating_group: self.rating_group(b),
            requested_unit: None,
            used_unit_container: vec![UsedUnitContainer {
                local_sequence_number: seq,
                time: Some(used),
                trigger_timestamp: Some(stamp(at)),
                triggers: vec![Trigger::immediate(trigger)],
            }],
        }];
        r
    }
}
