//! The network side of the booking domain: two adapters of the domain's `Southbound` port,
//! siblings that share their preparation (`prepare`: profile, device addresses, flow limit,
//! attempt marker, error classes). [`NefSouthbound`] speaks the 3GPP AsSessionWithQoS API to
//! a NEF and adopts the subscription of an earlier attempt whose answer was lost (found by
//! listing). [`PcfSouthbound`] speaks N5 to a PCF as a trusted AF and adopts through the
//! PCF's `303 See Other`. [`devices`] holds the lab device resolver (inline table and a
//! watched device file). [`callbacks`] has each network's notification endpoint: which
//! events end a booking and which proof a callback must carry, handed to
//! `BookingService::network_event`. [`PdtqAdmission`] asks the NEF's PDTQ policy negotiation
//! whether the network can carry a booking before it is SCHEDULED. The clients (`nef`, `pcf`) know nothing of bookings;
//! `qos-mapping` stays a pure function.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod devices;
mod nef;
mod pcf;
pub mod pdtq;
mod prepare;

pub use callbacks::nef::network_event;
pub use callbacks::{CallbackAuth, pcf::pcf_event};
pub use devices::{DeviceEntry, DeviceFileError, StaticResolver};
pub use nef::NefSouthbound;
pub use pcf::{PcfLocator, PcfSouthbound};
pub use pdtq::{PdtqAdmission, PdtqSettings};
