//! The QoS booking domain. It holds the values a booking is made of (device, service area,
//! ports, QoS profile), the booking's lifecycle as a type ([`Booking`]'s transition methods),
//! its admission, conflict and sink rules, and the ports (traits) through which the rest of
//! the gateway plugs in: [`BookingStore`], [`Clock`], [`Southbound`], [`Notifier`], [`Telemetry`],
//! [`DeviceResolver`] and [`SinkResolver`]. [`BookingService`] runs every use case over those
//! ports. Nothing here does I/O of its own: no tokio, no HTTP, no Redis, no JSON.
#![forbid(unsafe_code)]

pub mod admission;
mod area;
mod booking;
pub mod capacity;
mod clients;
mod clock;
mod device;
mod error;
mod hold;
mod notify;
mod ports;
mod profile;
mod resolver;
mod service;
pub mod sink;
mod southbound;
mod store;
mod telemetry;
pub mod usage;

pub use area::{AreaName, Coverage, CoverageRegion, Point, ServiceArea};
pub use booking::{
    AccessToken, ApplicationServer, Booking, BookingId, BookingStatus, Dialect, Echo, Group, Member, NewBooking, Owner,
    SinkCredential, StatusInfo, TransitionError,
};
pub use clients::{ClientBook, ClientRate, ClientRates, ClientRecord, PrivateKeyJwt};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{Device, DeviceIpv4, PhoneNumber};
pub use error::{BoxError, Chain, Rejection, RejectionKind};
pub use notify::{Notifier, StatusEvent};
pub use ports::PortsSpec;
pub use profile::{Catalog, ProfileStatus, QosProfile, Rate, RateUnit};
pub use resolver::{DeviceResolver, ResolvedDevice};
pub use service::{
    Assignment, BookingFilter, BookingService, CallbackProof, Caller, Deleted, DeviceInput, FixedLease, Lease,
    NetworkEvent, NetworkOutcome, Policy, Shortfall, TimerWake, members_of,
};
pub use sink::{SinkPolicy, SinkResolver};
pub use southbound::{Southbound, SouthboundError};
pub use store::{BookingStore, CreateOutcome, EventAck, StoreError, StoreStats, overlaps};
pub use telemetry::{CallOutcome, NetworkCall, NoTelemetry, Telemetry, TraceOrigin, Transition};
