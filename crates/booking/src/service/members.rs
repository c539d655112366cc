//! Which devices: the members of a reservation a caller may see, the caller's reservations
//! that hold a device, the devices of an assign or release (each checked as a create checks
//! its device, one place per device whichever identifier names it), and when two device
//! descriptions are one device.

use super::caller::resolve_device;
use super::{BookingService, Caller, DeviceInput, unavailable};
use crate::booking::{Booking, BookingId, Echo, Group, Member};
use crate::device::Device;
use crate::error::{Rejection, RejectionKind};

impl BookingService {
    /// The devices of a reservation the caller may see: all of them for the client (2-legged)
    /// or the subject that made it; an end user's 3-legged token sees its own device only.
    pub fn visible_members(&self, caller: &Caller, r: &Booking) -> Vec<Member> {
        let all = members_of(r);
        if caller.may_manage_reservation(r) {
            return all.to_vec();
        }
        let own = caller.subject.as_ref().map(|(s, _)| s.as_str());
        all.iter().filter(|m| m.subject.as_deref() == own).cloned().collect()
    }

    /// The caller's reservations that hold a device (from the body or the token), by start.
    pub async fn reservations_of(&self, caller: &Caller, device: Option<Device>) -> Result<Vec<Booking>, Rejection> {
        let (mut device, _) = resolve_device(caller, device)?;
        self.look_up(&mut device).await?;
        let all = self.store.by_device(&device.keys()).await.map_err(unavailable)?;
        let mut ids: Vec<BookingId> = all
            .iter()
            .filter(|b| b.owner.client_id == caller.client_id)
            .filter_map(|b| match b.group {
                Some(Group::Member { of }) => Some(of),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        let mut found = Vec::new();
        for of in ids {
            if let Some(r) = self.store.get(of).await.map_err(unavailable)?
                && caller.may_access_reservation(&r)
                && members_of(&r).iter().any(|m| same_device(&m.device, &device))
            {
                found.push(r);
            }
        }
        found.sort_by_key(|b| (b.start_time, b.id));
        found.truncate(self.policy.max_retrieve.min(50));
        Ok(found)
    }

    /// The devices of an assign or release, each checked as a create checks its device.
    pub(super) async fn devices_of(
        &self,
        caller: &Caller,
        devices: Vec<DeviceInput>,
    ) -> Result<Vec<DeviceInput>, Rejection> {
        let given: Vec<Option<DeviceInput>> = if devices.is_empty() {
            vec![None]
        } else {
            devices.into_iter().map(Some).collect()
        };
        let mut out: Vec<DeviceInput> = Vec::new();
        for d in given {
            let (echo, body) = match d {
                Some(d) => (d.echo, Some(d.device)),
                None => (Echo::default(), None),
            };
            let (mut device, _) = resolve_device(caller, body)?;
            let known = self.look_up(&mut device).await?;
            if !self.southbound.supports_device(&device, known) {
                return Err(Rejection::new(
                    RejectionKind::UnsupportedIdentifier,
                    "The network can only be reached with an IP address for this device; phone numbers are not supported here",
                ));
            }
            if out.iter().any(|o| same_device(&o.device, &device)) {
                return Err(Rejection::invalid("The same device is listed twice"));
            }
            out.push(DeviceInput { device, echo });
        }
        Ok(out)
    }
}

/// The members of a reservation (none for anything else).
pub fn members_of(b: &Booking) -> &[Member] {
    match &b.group {
        Some(Group::Reservation { members, .. }) => members,
        _ => &[],
    }
}

/// Whether two device descriptions name the same device (any identifier in common).
pub(super) fn same_device(a: &Device, b: &Device) -> bool {
    let keys = a.keys();
    b.keys().iter().any(|k| keys.contains(k))
}
