//! A QoS Booking and Assignment reservation and its members as stored (layout 4), and the
//! resolved identities of a booking's device and of each member's (layout 5).

use super::DeviceV1;
use super::fields::{device, device_of};
use booking::{Booking, BookingId, Device, Echo, Group, Member, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(super) enum GroupV4 {
    /// Total devices, members.
    Reservation(u32, Vec<MemberV4>),
    /// The reservation's id.
    Member([u8; 16]),
}

#[derive(Serialize, Deserialize)]
pub(super) struct MemberV4 {
    pub(super) id: [u8; 16],
    pub(super) device: DeviceV1,
    pub(super) echo: String,
    pub(super) subject: Option<String>,
}

pub(super) fn group(g: &Group) -> GroupV4 {
    match g {
        Group::Reservation { total, members } => GroupV4::Reservation(
            *total,
            members
                .iter()
                .map(|m| MemberV4 {
                    id: *m.id.as_bytes(),
                    device: device(&m.device),
                    echo: m.echo.0.clone(),
                    subject: m.subject.clone(),
                })
                .collect(),
        ),
        Group::Member { of } => GroupV4::Member(*of.as_bytes()),
    }
}

pub(super) fn group_of(g: GroupV4) -> Result<Group, StoreError> {
    Ok(match g {
        GroupV4::Reservation(total, members) => Group::Reservation {
            total,
            members: members
                .into_iter()
                .map(|m| {
                    Ok(Member {
                        id: BookingId::from_bytes(m.id),
                        device: device_of(m.device)?,
                        echo: Echo(m.echo),
                        subject: m.subject,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        },
        GroupV4::Member(of) => Group::Member {
            of: BookingId::from_bytes(of),
        },
    })
}

/// The identities layout 5 appends: the booking's device's, then each member's in order;
/// `None` when there is none to keep (the booking is written in an older layout). An
/// identity that is the device's own phone key adds nothing and is not kept, so a booking
/// made by phone number stays in the layout the previous release reads.
pub(super) fn identities(b: &Booking) -> Option<Vec<Option<String>>> {
    let members: &[Member] = match &b.group {
        Some(Group::Reservation { members, .. }) => members,
        _ => &[],
    };
    let ids: Vec<Option<String>> = std::iter::once(b.device.as_ref().and_then(kept))
        .chain(members.iter().map(|m| kept(&m.device)))
        .collect();
    ids.iter().any(Option::is_some).then_some(ids)
}

/// A device's identity when it names more than its own identifiers do.
fn kept(d: &Device) -> Option<String> {
    let r = d.resolved.as_ref()?;
    let own = d.phone_number.as_ref().map(|p| format!("tel:{p}"));
    (own.as_ref() != Some(r)).then(|| r.clone())
}

/// Puts the identities of layout 5 back, and the index keys that follow from them.
pub(super) fn with_identities(b: &mut Booking, ids: Vec<Option<String>>) {
    let mut ids = ids.into_iter();
    if let Some(d) = b.device.as_mut() {
        d.resolved = ids.next().flatten();
        b.device_keys = d.keys();
    } else {
        ids.next();
    }
    if let Some(Group::Reservation { members, .. }) = b.group.as_mut() {
        for (m, id) in members.iter_mut().zip(ids) {
            m.device.resolved = id;
        }
    }
}
