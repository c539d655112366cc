//! Network-confirmed admission over the NEF's PDTQ policy negotiation (TS 29.522 Rel-18):
//! the `booking::admission::NetworkAdmission` port. A booking becomes a `Pdtq` (its window,
//! its number of devices, its area as GAD shapes or the operator's configured area, the
//! profile's QoS reference, a callback URL under the booking's secret); of the candidate
//! policies the NEF answers with, the first that covers the window is selected.

use crate::prepare::{self, from_sbi};
use async_trait::async_trait;
use booking::admission::{Answer, Candidate, NetworkAdmission, NetworkHold, Window, covering};
use booking::{Booking, Catalog, Group, ServiceArea, SouthboundError};
use nef::pdtq::{GeographicArea, GeographicalCoordinates, LocationArea5G, Pdtq, PdtqClient, PdtqPolicy, TimeWindow};
use qos_mapping::MappingConfig;
use sbi::SbiError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::{info, warn};

/// What the operator configures for PDTQ.
#[derive(Debug, Clone)]
pub struct PdtqSettings {
    /// `aspId`: the application service provider this gateway asks for.
    pub asp_id: String,
    /// Where each AREANAME is, as the NEF knows it (tracking areas, cells or civic addresses).
    pub areas: HashMap<String, LocationArea5G>,
    /// How long one negotiation may take before the booking is answered REQUESTED.
    pub answer_within: Duration,
}

pub struct PdtqAdmission {
    client: PdtqClient,
    mapping: MappingConfig,
    catalog: Arc<Catalog>,
    settings: PdtqSettings,
}

/// The candidates of `policies` whose windows can be read, in the network's order.
pub fn candidates(policies: &[PdtqPolicy]) -> Vec<Candidate> {
    policies
        .iter()
        .filter_map(|p| {
            Some(Candidate {
                id: p.pdtq_policy_id,
                window: Window {
                    start: OffsetDateTime::parse(&p.rec_time_int.start_time, &Rfc3339).ok()?,
                    stop: OffsetDateTime::parse(&p.rec_time_int.stop_time, &Rfc3339).ok()?,
                },
            })
        })
        .collect()
}

/// A failed call as the booking sees it: besides what every southbound call counts as
/// passing (5xx, network), a NEF that asks to slow down (429) or timed the request out (408)
/// has not said no.
fn classify(what: &str, e: SbiError) -> SouthboundError {
    match e.status() {
        Some(408 | 429) => SouthboundError::unavailable(what).because(e),
        _ => from_sbi(what, e),
    }
}

fn rfc3339(t: OffsetDateTime) -> Result<String, SouthboundError> {
    t.format(&Rfc3339)
        .map_err(|e| SouthboundError::rejected(format!("time {t} cannot be written")).because(e))
}

/// The places a booking asks for: a reservation's devices, else one.
fn devices(b: &Booking) -> u32 {
    match &b.group {
        Some(Group::Reservation { total, .. }) => *total,
        _ => 1,
    }
}

impl PdtqAdmission {
    pub fn new(client: PdtqClient, mapping: MappingConfig, catalog: Arc<Catalog>, settings: PdtqSettings) -> Self {
        Self {
            client,
            mapping,
            catalog,
            settings,
        }
    }

    /// The area as the NEF reads it: a circle is a point with an uncertainty circle of its
    /// radius, a polygon a GAD polygon, an area name what the operator configured for it.
    fn location(&self, b: &Booking) -> Result<LocationArea5G, SouthboundError> {
        let coords = |p: &booking::Point| GeographicalCoordinates {
            lon: p.longitude,
            lat: p.latitude,
        };
        Ok(match &b.service_area {
            Some(ServiceArea::Circle { center, radius }) => LocationArea5G {
                geographic_areas: vec![GeographicArea::PointUncertaintyCircle {
                    point: coords(center),
                    uncertainty: *radius,
                }],
                ..LocationArea5G::default()
            },
            Some(ServiceArea::Polygon { boundary }) => LocationArea5G {
                geographic_areas: vec![GeographicArea::Polygon {
                    point_list: boundary.iter().map(coords).collect(),
                }],
                ..LocationArea5G::default()
            },
            Some(ServiceArea::AreaName(name)) => {
                self.settings.areas.get(name).cloned().ok_or_else(|| {
                    SouthboundError::rejected(format!("area {name} has no location configured for PDTQ"))
                })?
            }
            None => return Err(SouthboundError::rejected("the booking has no service area")),
        })
    }

    /// The `Pdtq` that asks for `b`.
    pub fn request(&self, b: &Booking) -> Result<Pdtq, SouthboundError> {
        let profile = prepare::profile(&self.catalog, b)?;
        Ok(Pdtq {
            asp_id: self.settings.asp_id.clone(),
            des_time_ints: vec![TimeWindow {
                start_time: rfc3339(b.start_time)?,
                stop_time: rfc3339(b.end_time())?,
            }],
            number_of_ues: devices(b),
            location_area_5g: Some(self.location(b)?),
            qos_reference: Some(profile.qos_reference.clone()),
            notification_destination: Some(qos_mapping::pdtq_notification_destination(&self.mapping, b)),
            warn_notif_enabled: Some(true),
            ..Pdtq::default()
        })
    }

    /// The PDTQ subscriptions at the NEF whose callback is `b`'s (what an unanswered ask
    /// may have created).
    async fn find(&self, b: &Booking) -> Result<Vec<Pdtq>, SouthboundError> {
        let dest = qos_mapping::pdtq_notification_destination(&self.mapping, b);
        let all = self.client.list().await.map_err(|e| classify("PDTQ list failed", e))?;
        let mine: Vec<Pdtq> = all
            .into_iter()
            .filter(|p| p.notification_destination.as_deref() == Some(dest.as_str()))
            .collect();
        if mine.iter().any(|p| p.self_link.is_none()) {
            warn!(booking.id = %b.id, "the NEF lists a PDTQ subscription of this booking without `self`: it cannot be adopted or deleted");
        }
        Ok(mine)
    }

    /// The subscription this booking already has at the NEF, if any (after an earlier ask).
    async fn existing(&self, b: &Booking) -> Result<Option<(String, Pdtq)>, SouthboundError> {
        let Some(hold) = &b.network_hold else {
            return Ok(None);
        };
        if let Some(loc) = &hold.subscription {
            let found = self
                .client
                .get(loc)
                .await
                .map_err(|e| classify("PDTQ read failed", e))?;
            return Ok(found.map(|p| (loc.clone(), p)));
        }
        // Adopt the first; any other (a second unanswered ask landed too) holds network
        // capacity for nothing and goes now (best effort: the release looks again).
        let mut listed = self
            .find(b)
            .await?
            .into_iter()
            .filter_map(|p| p.self_link.clone().map(|loc| (loc, p)));
        let adopted = listed.next();
        for (extra, _) in listed {
            match self.client.delete(&extra).await {
                Ok(()) => {
                    info!(booking.id = %b.id, pdtq.subscription = %extra, "a second PDTQ subscription of the booking deleted")
                }
                Err(e) => {
                    warn!(booking.id = %b.id, pdtq.subscription = %extra, error = %e, "could not delete a second PDTQ subscription of the booking")
                }
            }
        }
        Ok(adopted)
    }

    /// Of the NEF's answer, the policy that covers the window: selected (unless it already
    /// is), else refused with what was offered instead.
    async fn choose(&self, b: &Booking, location: String, pdtq: Pdtq) -> Answer {
        let cands = candidates(&pdtq.pdtq_policies);
        let hold = NetworkHold {
            subscription: Some(location.clone()),
            reference_id: pdtq.reference_id.clone(),
            ..NetworkHold::default()
        };
        if cands.is_empty() {
            return Answer::Pending(hold);
        }
        let Some(c) = covering(&cands, b.start_time, b.end_time()) else {
            return Answer::Refused(NetworkHold {
                offered: cands.first().map(|c| c.window),
                refused: true,
                ..hold
            });
        };
        if pdtq.selected_policy == Some(c.id) {
            return Answer::Agreed(NetworkHold {
                policy: Some(c.id),
                ..hold
            });
        }
        match self.client.select(&location, c.id).await {
            Ok(answer) => {
                info!(booking.id = %b.id, pdtq.subscription = %location, pdtq.policy = c.id, "PDTQ policy selected");
                Answer::Agreed(NetworkHold {
                    policy: Some(c.id),
                    reference_id: answer.and_then(|p| p.reference_id).or(hold.reference_id.clone()),
                    ..hold
                })
            }
            // Not taken now: asked again (the answer is read again then); else refused.
            Err(e) => {
                if classify("PDTQ selection failed", e).is_unavailable() {
                    Answer::Pending(hold)
                } else {
                    // The network no longer offers it.
                    Answer::Refused(NetworkHold { refused: true, ..hold })
                }
            }
        }
    }
}

#[async_trait]
impl NetworkAdmission for PdtqAdmission {
    async fn negotiate(&self, b: &Booking) -> Result<Answer, SouthboundError> {
        let ask = async {
            let (location, pdtq) = match self.existing(b).await? {
                Some(found) => found,
                None => {
                    let req = self.request(b)?;
                    let created = self
                        .client
                        .create(&req)
                        .await
                        .map_err(|e| classify("PDTQ create failed", e))?;
                    (created.location, created.subscription)
                }
            };
            Ok(self.choose(b, location, pdtq).await)
        };
        tokio::time::timeout(self.settings.answer_within, ask)
            .await
            .unwrap_or_else(|_| {
                Err(SouthboundError::unavailable(format!(
                    "no PDTQ answer within {} ms",
                    self.settings.answer_within.as_millis()
                )))
            })
    }

    async fn select(
        &self,
        b: &Booking,
        reference: Option<&str>,
        cands: &[Candidate],
        start: OffsetDateTime,
        stop: OffsetDateTime,
    ) -> Result<Option<NetworkHold>, SouthboundError> {
        let Some(c) = covering(cands, start, stop) else {
            return Ok(None);
        };
        let hold = b.network_hold.clone().unwrap_or_default();
        // Not known yet (an unanswered ask): the negotiation that sent these candidates.
        let location = match &hold.subscription {
            Some(loc) => loc.clone(),
            None => match self
                .find(b)
                .await?
                .into_iter()
                .find(|p| reference.is_none() || p.reference_id.as_deref() == reference)
                .and_then(|p| p.self_link)
            {
                Some(loc) => loc,
                None => return Err(SouthboundError::unavailable("the PDTQ subscription is not known yet")),
            },
        };
        let answer = self
            .client
            .select(&location, c.id)
            .await
            .map_err(|e| classify("PDTQ selection failed", e))?;
        info!(booking.id = %b.id, pdtq.subscription = %location, pdtq.policy = c.id, "PDTQ policy selected");
        Ok(Some(NetworkHold {
            subscription: Some(location),
            policy: Some(c.id),
            reference_id: answer.and_then(|p| p.reference_id).or(hold.reference_id),
            ..NetworkHold::default()
        }))
    }

    async fn release(&self, b: &Booking) -> Result<(), SouthboundError> {
        let Some(hold) = &b.network_hold else {
            return Ok(());
        };
        // The known negotiation first, whatever the listing below does.
        if let Some(loc) = &hold.subscription {
            self.client
                .delete(loc)
                .await
                .map_err(|e| classify("PDTQ delete failed", e))?;
            info!(booking.id = %b.id, pdtq.subscription = %loc, "PDTQ subscription deleted");
        }
        // An unanswered ask may have left a negotiation beside it (its POST landed after the
        // answer was given up on): every one with the booking's callback URL goes. With no
        // known one the listing decides; else it is best effort.
        if hold.unanswered {
            let listed = match self.find(b).await {
                Ok(listed) => listed,
                Err(e) if hold.subscription.is_none() => return Err(e),
                Err(e) => {
                    warn!(booking.id = %b.id, error = %e, "could not list the booking's PDTQ subscriptions after its release");
                    return Ok(());
                }
            };
            for loc in listed.into_iter().filter_map(|p| p.self_link) {
                if hold.subscription.as_deref() == Some(loc.as_str()) {
                    continue;
                }
                self.client
                    .delete(&loc)
                    .await
                    .map_err(|e| classify("PDTQ delete failed", e))?;
                info!(booking.id = %b.id, pdtq.subscription = %loc, "PDTQ subscription deleted");
            }
        }
        Ok(())
    }
}
