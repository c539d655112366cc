//! Who calls, and which device a request is about: CAMARA's access rule and its 2-/3-legged
//! device rules.

use crate::booking::Booking;
use crate::device::Device;
use crate::error::{Rejection, RejectionKind};

/// The authenticated caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    /// For a 3-legged token: the subject as the token names it, and the device it denotes.
    pub subject: Option<(String, Device)>,
}

impl Caller {
    pub fn two_legged(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            subject: None,
        }
    }

    /// CAMARA access rule: same API client and, under a 3-legged token, the same device.
    pub(super) fn may_access(&self, b: &Booking) -> bool {
        if b.owner.client_id != self.client_id {
            return false;
        }
        match &self.subject {
            None => true,
            Some((sub, device)) => {
                b.owner.subject.as_deref() == Some(sub.as_str())
                    || device.keys().iter().any(|k| b.device_keys.contains(k))
            }
        }
    }
}

impl Caller {
    /// Access to a reservation (QoS Booking and Assignment): the same API client and, when
    /// the reservation was made under a 3-legged token, the same subject. A reservation made
    /// 2-legged is the client's: its end users' 3-legged tokens assign their own devices.
    pub(super) fn may_access_reservation(&self, r: &Booking) -> bool {
        r.owner.client_id == self.client_id
            && match (&r.owner.subject, &self.subject) {
                (None, _) => true,
                (Some(owner), Some((sub, _))) => owner == sub,
                (Some(_), None) => false,
            }
    }
}

impl Caller {
    /// Who may see every device of a reservation and cancel it: the client with a 2-legged
    /// token, or the subject the reservation was made by (an end user of the client with a
    /// 3-legged token may only assign and release its own device).
    pub(super) fn may_manage_reservation(&self, r: &Booking) -> bool {
        match &self.subject {
            None => true,
            Some((sub, _)) => r.owner.subject.as_deref() == Some(sub.as_str()),
        }
    }
}

/// Picks the device of a request from the body or the token, per CAMARA's 2-/3-legged rules.
pub(super) fn resolve_device(
    caller: &Caller,
    body_device: Option<Device>,
) -> Result<(Device, Option<String>), Rejection> {
    let (device, subject) = match (&caller.subject, body_device) {
        (Some(_), Some(_)) => {
            return Err(Rejection::new(
                RejectionKind::UnnecessaryIdentifier,
                "The device is already identified by the access token; do not send 'device'",
            ));
        }
        (None, None) => {
            return Err(Rejection::new(
                RejectionKind::MissingIdentifier,
                "The device cannot be identified: send 'device' or use a token that identifies it",
            ));
        }
        (Some((sub, d)), None) => (d.clone(), Some(sub.clone())),
        (None, Some(d)) => (d, None),
    };
    if !device.has_supported_identifier() {
        return Err(Rejection::new(
            RejectionKind::UnsupportedIdentifier,
            "None of the provided device identifiers is supported (use phoneNumber, ipv4Address or ipv6Address)",
        ));
    }
    Ok((device, subject))
}
