//! The CAMARA-facing front of the gateway: the axum router for the QoS Booking API in each of
//! its published versions (`version.rs`; and the
//! QoS Profiles API over the same catalog, `profiles.rs`), the wire
//! shapes exactly as the CAMARA YAML defines them, parsing of request bodies into domain
//! values (every 400/422 code decided in the documented order), the one place where errors
//! become CAMARA `{status, code, message}` bodies, `x-correlator` handling and the
//! authenticated request context. Business rules live in the `booking` crate.
#![forbid(unsafe_code)]

mod assignment;
pub mod auth;
mod correlator;
mod error;
mod events;
mod handler;
pub mod json;
pub mod limits;
mod parse;
mod profiles;
mod routes;
mod version;
mod wire;

pub use auth::{
    AuthSettings, Authenticator, DevIssuer, KeySource, KeyStore, RequestContext, SubjectForms, bearer, scopes,
};
pub use error::{ApiError, ErrorCode};
pub use events::{ASSIGNMENT_DEVICE_TYPE, ASSIGNMENT_STATUS_TYPE, CloudEvents, EVENT_TYPE};
pub use handler::{ApiParts, ApiState, CallerSlot, json_body};
pub use parse::{AreaTypes, ParseOptions};
pub use routes::router;
pub use version::Version;
pub use wire::{BookingInfo, render_area};

/// The CAMARA OpenAPI document this front implements, served at `<base>/openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../openapi/qos-booking.yaml");
/// The r1.2 shape (qos-booking 0.1.0) of the same API: the released file, byte for byte.
pub const OPENAPI_V0_1_YAML: &str = include_str!("../openapi/qos-booking-v0.1.yaml");
/// `qos-profiles.yaml` with the common definitions it references bundled in
/// (`openapi/bundle.py`).
pub const PROFILES_OPENAPI_YAML: &str = include_str!("../openapi/qos-profiles.yaml");
/// `qos-booking-and-assignment.yaml`, bundled the same way.
pub const ASSIGNMENT_OPENAPI_YAML: &str = include_str!("../openapi/qos-booking-and-assignment.yaml");
/// QoS Booking and Assignment r1.2 (0.1.0): the released file, byte for byte.
pub const ASSIGNMENT_V0_1_OPENAPI_YAML: &str = include_str!("../openapi/qos-booking-and-assignment-v0.1.yaml");
