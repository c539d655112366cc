//! The network's word on a booking: a NEF notification, already verified as far as the
//! deployment's proof goes and reduced to a [`NetworkEvent`] by the southbound. One load of
//! the booking checks the per-booking proof, correlates the subscription and ends the booking
//! when the network ended its QoS.

use super::{Attempt, BookingService};
use crate::booking::{BookingId, StatusInfo};
use crate::error::Chain;
use crate::store::StoreError;
use crate::telemetry::NetworkCall;
use tracing::{info, warn};

/// What proves that a callback comes from the NEF the booking was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackProof<'a> {
    /// The per-booking token of the callback URL, checked against the booking's own.
    Token(&'a str),
    /// The deployment's shared secret in the callback URL.
    SharedSecret { given: &'a str, expected: &'a str },
    /// None configured: the network protects the endpoint (an IP allow-list).
    Unprotected,
}

/// What a NEF notification means for the booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEvent {
    /// The network ended the QoS or could not set it up: the booking is NETWORK_TERMINATED.
    QosEnded,
    /// Anything else (a report, an unknown event): noted, no change.
    Report,
}

/// How a notification was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkOutcome {
    /// No such booking, or the proof does not match: the caller answers as for an unknown URL.
    Unknown,
    /// About an older subscription of this booking (one removed after a lost answer): ignored.
    OtherSubscription,
    /// Noted; nothing changed (a report, or the booking had already ended).
    Noted,
    /// The booking ended NETWORK_TERMINATED.
    Ended,
}

/// Compares secrets without an early exit, so timing does not reveal a matching prefix.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The subscription id: the last path segment of its URI (NEFs name it by full URI or by id).
fn last_segment(uri: &str) -> &str {
    uri.trim_end_matches('/').rsplit('/').next().unwrap_or_default()
}

impl BookingService {
    /// Takes a notification for booking `id`. `subscription`: the subscription it is about, if
    /// the NEF said (`transaction`). Also applies while the activation is still in flight: the
    /// activation then finds the booking changed and removes the subscription it created.
    pub async fn network_event(
        &self,
        id: BookingId,
        proof: CallbackProof<'_>,
        subscription: Option<&str>,
        event: NetworkEvent,
    ) -> Result<NetworkOutcome, StoreError> {
        let busy = || StoreError::Unavailable {
            what: format!("booking {id} kept changing"),
            source: None,
        };
        if let CallbackProof::SharedSecret { given, expected } = proof
            && !same_secret(given, expected)
        {
            return Ok(NetworkOutcome::Unknown);
        }
        self.until_written(busy, || async move {
            let Some(b) = self.store.get(id).await? else {
                return Ok(Attempt::Done(NetworkOutcome::Unknown));
            };
            if let CallbackProof::Token(t) = proof
                && !same_secret(t, &b.callback_token)
            {
                warn!(booking.id = %id, "NEF callback with a wrong token");
                return Ok(Attempt::Done(NetworkOutcome::Unknown));
            }
            // Before the create's answer is stored there is nothing to compare with, and the
            // event still counts.
            if let (Some(tx), Some(current)) = (subscription, &b.nef_subscription)
                && last_segment(tx) != last_segment(current)
            {
                warn!(booking.id = %id, nef.transaction = %tx, "notification for another subscription; ignored");
                return Ok(Attempt::Done(NetworkOutcome::OtherSubscription));
            }
            if event == NetworkEvent::Report {
                return Ok(Attempt::Done(NetworkOutcome::Noted));
            }
            let Ok(ended) = b.end(StatusInfo::NetworkTerminated, self.clock.now()) else {
                return Ok(Attempt::Done(NetworkOutcome::Noted));
            };
            if !self.commit(&ended, true).await? {
                return Ok(Attempt::Lost);
            }
            // One best-effort removal (404 is fine): never leave a subscription behind, but no
            // retry storm toward a NEF that just ended the session itself.
            if let Some(sub) = &b.nef_subscription
                && let Err(e) = self
                    .network(NetworkCall::Deactivate, id, self.southbound.deactivate(sub))
                    .await
            {
                warn!(booking.id = %id, error = %Chain(&e), "could not remove the subscription after a network termination");
            }
            info!(booking.id = %id, "booking ended by the network");
            self.abandon_attempts(&b).await;
            Ok(Attempt::Done(NetworkOutcome::Ended))
        })
        .await
    }
}
