//! The QoS booking domain. It holds the values a booking is made of (device, service area,
//! ports, QoS profile), the status state machine and its admission and conflict rules, and
//! the ports (traits) through which the rest of the gateway plugs in: [`BookingStore`],
//! [`Clock`], [`Southbound`] and [`Notifier`]. [`BookingService`] runs every use case over
//! those ports. Nothing here does I/O of its own: no tokio, no HTTP, no Redis.
#![forbid(unsafe_code)]

mod area;
mod booking;
mod clock;
mod device;
mod error;
mod notify;
mod ports;
mod profile;
mod resolver;
mod service;
mod southbound;
mod store;

pub use area::{AreaName, Coverage, CoverageRegion, Point, ServiceArea};
pub use booking::{
    ApplicationServer, Booking, BookingId, BookingStatus, NewBooking, Owner, SinkCredential, StatusInfo,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{Device, DeviceIpv4, PhoneNumber};
pub use error::{Rejection, RejectionKind};
pub use notify::{Notifier, StatusEvent};
pub use ports::PortsSpec;
pub use profile::{Catalog, ProfileStatus, QosProfile};
pub use resolver::{DeviceResolver, ResolvedDevice};
pub use service::{BookingService, Caller, Policy};
pub use southbound::{Southbound, SouthboundError};
pub use store::{BookingStore, CreateOutcome, StoreError, overlaps};
