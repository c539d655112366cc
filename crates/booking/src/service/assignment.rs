//! QoS Booking and Assignment: a reservation books the window, area and profile for up to
//! `numDevices` devices; devices are then assigned and released. Each assigned device is a
//! booking of its own (`Group::Member`) that the one engine activates at the start (at once
//! when assigned later), removes at the end and tells the NEF about like any other. The
//! reservation lists its members, and every change of that list is a versioned write of the
//! reservation: concurrent assigns on any number of replicas can never list more devices than
//! it has room for. Which devices a request names, and who sees which: `members.rs`.

use super::members::{members_of, same_device};
use super::{BookingService, Caller, check_sink, unavailable};
use crate::booking::{
    Booking, BookingId, BookingStatus, Echo, Group, Member, NewBooking, Owner, SinkCredential, StatusInfo,
};
use crate::device::Device;
use crate::error::{Rejection, RejectionKind};
use tracing::{info, warn};

/// Versioned writes of one reservation a request may lose to concurrent ones before giving
/// up (50 devices assigned at once by separate requests all land).
const RESERVATION_TRIES: usize = 200;

/// A device of an assign or release request: as parsed, and as the client sent it.
#[derive(Debug, Clone)]
pub struct DeviceInput {
    pub device: Device,
    pub echo: Echo,
}

/// Why some devices of a request were not assigned or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// More devices than the reservation had room for: only the first ones were assigned.
    NoRoom,
    /// Some devices could not be assigned (another booking of theirs overlaps, or no
    /// capacity for them).
    Refused,
    /// Some devices of a release are not assigned to the reservation.
    NotAssigned,
}

/// The outcome of an assign or release: the reservation after it, the devices concerned,
/// and what fell short.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub reservation: Booking,
    pub devices: Vec<Member>,
    pub shortfall: Option<Shortfall>,
}

fn incompatible(message: impl Into<String>) -> Rejection {
    Rejection::new(RejectionKind::IncompatibleState, message)
}

fn lost() -> Rejection {
    Rejection::new(
        RejectionKind::Unavailable,
        "The booking is changing too fast; try again",
    )
}

impl BookingService {
    /// Creates a reservation for up to `total` devices: the checks of a booking without its
    /// device, then SCHEDULED with its start timer.
    pub async fn create_reservation(
        &self,
        caller: &Caller,
        mut req: NewBooking,
        total: u32,
    ) -> Result<Booking, Rejection> {
        let record = self.clients.get(&caller.client_id);
        check_sink(record.as_deref(), req.sink.as_deref())?;
        let now = self.clock.now();
        self.check_request(record.as_deref(), &req, now)?;
        self.bind_credential(caller, &mut req.sink_credential)?;
        self.check_quota(record.as_deref(), &caller.client_id).await?;
        req.device = None;
        let owner = Owner {
            client_id: caller.client_id.clone(),
            subject: caller.subject.as_ref().map(|(s, _)| s.clone()),
        };
        let mut booking = Booking::reservation(BookingId::new(), owner, req, total, now);
        booking.origin = self.telemetry.current_trace();
        // Room for every device in the pools it draws on, held from now on (its devices take
        // no more when they are assigned). B&A answers a refusal, not a declined booking.
        let claims = match self.hold_capacity(&booking, now).await? {
            Ok(claims) => claims,
            Err((pool, _)) => {
                return Err(Rejection::new(
                    RejectionKind::NoCapacity,
                    format!("Pool {pool} cannot carry {total} more devices of this profile in that window"),
                ));
            }
        };
        // As for a booking, the network must agree too (for all its devices at once).
        if self.ask_network(&mut booking, now).await == super::admission::Asked::Refused {
            let pools: Vec<String> = claims.iter().map(crate::capacity::PoolClaim::bucket).collect();
            self.give_back(&pools, booking.id).await;
            let offered = booking.network_hold.as_ref().and_then(|h| h.offered);
            self.release_network(&booking).await;
            return Err(Rejection::new(
                RejectionKind::NoCapacity,
                crate::admission::refusal_message(total, offered),
            ));
        }
        if claims.iter().any(|c| c.deferred) && booking.retry_at.is_none() {
            // As for a booking: the operator decides (admin API, or its policy service at
            // once), the capacity held meanwhile; no device is assigned until it is accepted.
            booking.status = BookingStatus::Requested;
            if self.has_decider() {
                booking.retry_at = Some(now);
            }
        }
        self.store_new(&booking).await?;
        info!(booking.id = %booking.id, client.id = %caller.client_id, devices = total, "reservation created");
        Ok(booking)
    }

    /// A reservation of the caller (404 for anything else, a device booking included).
    pub async fn reservation(&self, caller: &Caller, id: BookingId) -> Result<Booking, Rejection> {
        let b = self.reservation_any(id).await?;
        if !caller.may_access_reservation(&b) {
            return Err(Rejection::new(
                RejectionKind::PermissionDenied,
                "The booking belongs to another client or subject",
            ));
        }
        Ok(b)
    }

    /// Assigns devices (2-legged: `devices`; 3-legged: the token's device) to a reservation.
    pub async fn assign(
        &self,
        caller: &Caller,
        id: BookingId,
        devices: Vec<DeviceInput>,
        mut sink: Option<String>,
        mut credential: Option<SinkCredential>,
    ) -> Result<Assignment, Rejection> {
        let r = self.reservation(caller, id).await?;
        let record = self.clients.get(&caller.client_id);
        check_sink(record.as_deref(), sink.as_deref())?;
        let wanted = self.devices_of(caller, devices).await?;
        self.bind_credential(caller, &mut credential)?;
        if sink.is_none() {
            // Without a sink of their own, the devices' events go where the reservation's go.
            sink.clone_from(&r.sink);
            credential.clone_from(&r.sink_credential);
        }
        let now = self.clock.now();
        let subject = caller.subject.as_ref().map(|(s, _)| s.clone());

        // Room first, in the reservation (one versioned write per try).
        let mut added = Vec::new();
        let mut shortfall = None;
        let mut reservation = r;
        for _ in 0..RESERVATION_TRIES {
            if !reservation.is_live() || now >= reservation.end_time() {
                return Err(incompatible(format!("Booking {id} has ended")));
            }
            if reservation.status == BookingStatus::Requested {
                let whose = if self.awaits_network(&reservation) {
                    "the network's answer"
                } else {
                    "the operator's decision"
                };
                return Err(incompatible(format!(
                    "Booking {id} is waiting for {whose}; devices can be assigned once it is accepted"
                )));
            }
            let held = members_of(&reservation);
            let (fresh, already): (Vec<_>, Vec<_>) = wanted
                .iter()
                .partition(|d| !held.iter().any(|m| same_device(&m.device, &d.device)));
            if fresh.is_empty() {
                return Err(Rejection::new(
                    RejectionKind::AlreadyExists,
                    "The devices are already assigned to this booking",
                ));
            }
            let room = usize::try_from(reservation.group.as_ref().map_or(0, Group::remaining)).unwrap_or(0);
            if room == 0 {
                return Err(Rejection::new(
                    RejectionKind::NoCapacity,
                    format!("Booking {id} has no devices remaining to assign"),
                ));
            }
            let owner = Owner {
                client_id: caller.client_id.clone(),
                subject: subject.clone(),
            };
            added = fresh
                .iter()
                .take(room)
                .map(|d| Member {
                    // The store places a booking by its device (sharded stores check
                    // overlaps within the device's shard).
                    id: self.store.new_id(&owner, &d.device.keys()),
                    device: d.device.clone(),
                    echo: d.echo.clone(),
                    subject: subject.clone(),
                })
                .collect();
            shortfall = if fresh.len() > room {
                Some(Shortfall::NoRoom)
            } else if !already.is_empty() {
                Some(Shortfall::Refused)
            } else {
                None
            };
            let Ok(next) = reservation.with_members(added.clone()) else {
                return Err(incompatible(format!("Booking {id} cannot take devices now")));
            };
            if self
                .store
                .update(&next, self.due_of(&next), None)
                .await
                .map_err(unavailable)?
            {
                reservation = next;
                break;
            }
            added.clear();
            reservation = self.reservation(caller, id).await?;
        }
        if added.is_empty() {
            return Err(lost());
        }

        // Then each device's own booking; one that cannot be stored gives its place back.
        let owner = Owner {
            client_id: caller.client_id.clone(),
            subject,
        };
        let mut assigned = Vec::new();
        let mut refused = Vec::new();
        let mut first_refusal = None;
        for m in added {
            let member = Booking::member_of(&reservation, &m, owner.clone(), sink.clone(), credential.clone(), now);
            match self.store_member(&member).await {
                Ok(()) => assigned.push(m),
                Err(e) => {
                    warn!(booking.id = %id, member.id = %m.id, reason = %e.message, "device not assigned");
                    first_refusal.get_or_insert(e);
                    refused.push(m.id);
                }
            }
        }
        if !refused.is_empty() {
            self.drop_members(caller, id, &refused).await?;
            shortfall = Some(shortfall.unwrap_or(Shortfall::Refused));
        }
        // A cancel or a release may have run between the two writes: a device whose place is
        // gone (or whose reservation ended) must not keep a booking.
        let now_listed = self.reservation_any(id).await?;
        let orphaned: Vec<BookingId> = assigned
            .iter()
            .filter(|m| !now_listed.is_live() || !members_of(&now_listed).iter().any(|l| l.id == m.id))
            .map(|m| m.id)
            .collect();
        for m in &orphaned {
            self.end_member(*m).await?;
        }
        if !orphaned.is_empty() {
            assigned.retain(|m| !orphaned.contains(&m.id));
            if assigned.is_empty() {
                return Err(incompatible(format!(
                    "Booking {id} changed while the devices were assigned"
                )));
            }
            shortfall = Some(Shortfall::Refused);
        }
        reservation = now_listed;
        if assigned.is_empty() {
            return Err(first_refusal.unwrap_or_else(lost));
        }
        info!(booking.id = %id, client.id = %caller.client_id, devices = assigned.len(), "devices assigned");
        Ok(Assignment {
            reservation,
            devices: assigned,
            shortfall,
        })
    }

    /// Stores an assigned device's booking (its place is its reservation's).
    async fn store_member(&self, member: &Booking) -> Result<(), Rejection> {
        self.store_new(member).await.map_err(|e| {
            // A device already in an overlapping booking of this client: CAMARA's 409 here.
            if e.kind == RejectionKind::Conflict {
                incompatible(e.message)
            } else {
                e
            }
        })
    }

    /// The reservation without the members `ids` (their bookings are ended or never stored).
    async fn drop_members(&self, caller: &Caller, id: BookingId, ids: &[BookingId]) -> Result<Booking, Rejection> {
        for _ in 0..RESERVATION_TRIES {
            let r = self.reservation(caller, id).await?;
            let Ok(next) = r.without_members(ids) else {
                return Ok(r);
            };
            if self
                .store
                .update(&next, self.due_of(&next), None)
                .await
                .map_err(unavailable)?
            {
                return Ok(next);
            }
        }
        Err(lost())
    }

    /// Releases devices (2-legged: `devices`; 3-legged: the token's device): each device's
    /// booking ends (its NEF subscription removed when active), then its place is free.
    pub async fn release(
        &self,
        caller: &Caller,
        id: BookingId,
        devices: Vec<DeviceInput>,
    ) -> Result<Assignment, Rejection> {
        let r = self.reservation(caller, id).await?;
        if !r.is_live() {
            return Err(incompatible(format!("Booking {id} has ended")));
        }
        let wanted = self.devices_of(caller, devices).await?;
        let held = members_of(&r);
        let chosen: Vec<Member> = held
            .iter()
            .filter(|m| wanted.iter().any(|d| same_device(&m.device, &d.device)))
            .cloned()
            .collect();
        if chosen.is_empty() {
            return Err(Rejection::new(
                RejectionKind::NotFound,
                "None of these devices is assigned to this booking",
            ));
        }
        let shortfall = (chosen.len() < wanted.len()).then_some(Shortfall::NotAssigned);
        for m in &chosen {
            self.end_member(m.id).await?;
        }
        let ids: Vec<BookingId> = chosen.iter().map(|m| m.id).collect();
        let reservation = self.drop_members(caller, id, &ids).await?;
        info!(booking.id = %id, client.id = %caller.client_id, devices = ids.len(), "devices released");
        Ok(Assignment {
            reservation,
            devices: chosen,
            shortfall,
        })
    }

    /// Cancels a reservation (the client, 2-legged or as the reservation's own subject).
    pub async fn cancel_reservation(&self, caller: &Caller, id: BookingId) -> Result<Booking, Rejection> {
        let r = self.reservation(caller, id).await?;
        if !caller.may_manage_reservation(&r) {
            return Err(Rejection::new(
                RejectionKind::PermissionDenied,
                "Only the client (or the subject that made it) may cancel this booking",
            ));
        }
        self.end_reservation(id, StatusInfo::DeleteRequested)
            .await?
            .ok_or_else(|| incompatible(format!("Booking {id} has already ended")))
    }

    /// Ends a reservation with `reason` (a cancel, an operator's revocation): first the
    /// reservation itself, so that no assign lands any more, then every device listed in the
    /// ended record (NEF removal first when active). `None`: it had already ended.
    pub(super) async fn end_reservation(
        &self,
        id: BookingId,
        reason: StatusInfo,
    ) -> Result<Option<Booking>, Rejection> {
        let Some(ended) = self.end_on_request(None, id, reason).await? else {
            return Ok(None);
        };
        for m in members_of(&ended) {
            self.end_member(m.id).await?;
        }
        Ok(Some(ended))
    }

    /// Ends a device's booking (NEF removal first); one already ended or purged is fine.
    async fn end_member(&self, id: BookingId) -> Result<(), Rejection> {
        match self.end_on_request(None, id, StatusInfo::DeleteRequested).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == RejectionKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A reservation whoever owns it.
    async fn reservation_any(&self, id: BookingId) -> Result<Booking, Rejection> {
        let b = self.load_any(id).await?;
        if !b.is_reservation() {
            return Err(Rejection::new(
                RejectionKind::NotFound,
                format!("Booking {id} does not exist"),
            ));
        }
        Ok(b)
    }
}
