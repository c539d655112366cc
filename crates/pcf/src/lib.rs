//! The southbound client of the operator's PCF for a trusted AF (N5, TS 29.514
//! Npcf_PolicyAuthorization): its wire types, an HTTP/2-only client that creates and deletes
//! app sessions, and the two ways of finding the PCF ([`discovery`]: the NRF's discovery, the
//! BSF's binding of a UE address), on `sbi`'s transport. It knows nothing of bookings;
//! `qos-mapping` builds its requests, and the `southbound` crate decides which PCF to ask.
#![forbid(unsafe_code)]

mod client;
pub mod discovery;
mod types;

pub use client::{Created, PcfClient, device_not_attached};
pub use types::*;
