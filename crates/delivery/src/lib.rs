//! Event delivery: the CloudEvents `status-changed` events of bookings, sent from the durable
//! outbox by a leased worker ([`Outbox`]), each sink checked against the one
//! `booking::SinkPolicy` at every delivery: names are resolved only through
//! [`GuardedResolver`], which hands out no address the policy refuses, and redirects are not
//! followed. [`SystemResolver`] is the production `SinkResolver` (the system's DNS). Sinks
//! protected with PRIVATE_KEY_JWT get a token from the client's authorization server
//! ([`PrivateKeyJwtTokens`]).
#![forbid(unsafe_code)]

mod acks;
mod gate;
mod outbox;
mod resolve;
mod send;
mod shared;
mod tokens;

pub use outbox::Outbox;
pub use resolve::{GuardedResolver, SystemResolver};
pub use shared::{DeliveryOutcome, DeliverySettings, DeliveryTelemetry, EventFormat, Rendered, Wake};
pub use tokens::{PrivateKeyJwtTokens, TokenError};
