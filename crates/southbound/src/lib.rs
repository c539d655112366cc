//! The NEF side of the booking domain. [`NefSouthbound`] implements the domain's
//! `Southbound` port over the 3GPP AsSessionWithQoS API: it resolves the device's current
//! addresses, maps the booking with `qos-mapping`, calls the NEF with the `nef` client, and
//! adopts the subscription of an earlier attempt whose answer was lost. [`devices`] holds the
//! lab device resolver (inline table and a watched device file). [`callbacks`] is the NEF
//! notification endpoint: it states which NEF events end a booking and which proof a callback
//! must carry, and hands the result to `BookingService::network_event`. `nef` stays a client
//! that knows nothing of bookings; `qos-mapping` stays a pure function.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod devices;
mod nef;

pub use callbacks::{CallbackAuth, network_event};
pub use devices::{DeviceEntry, DeviceFileError, StaticResolver};
pub use nef::NefSouthbound;
