//! The southbound client of the operator's PCF for a trusted AF (N5, TS 29.514
//! Npcf_PolicyAuthorization): its wire types and an HTTP/2-only client that creates and
//! deletes app sessions, on `sbi`'s transport. It knows nothing of bookings; `qos-mapping`
//! builds its requests, and the `southbound` crate decides which PCF to ask.
#![forbid(unsafe_code)]

mod client;
mod types;

pub use client::{Created, PcfClient, device_not_attached};
pub use types::*;
