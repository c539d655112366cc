//! The QoS Booking gateway as a library: typed configuration ([`settings`]), the wiring of the
//! API, store, southbound and notifier into one [`Application`] ([`startup`]), the scheduler
//! worker that fires due timers, the CloudEvents sender, the in-process NEF simulator used by
//! the quick start, and telemetry. `main.rs` only reads arguments and calls into this.
//! The NEF notification endpoint lives here too (not in `nef`): it drives booking
//! transitions, and `nef` stays a client that knows nothing of bookings.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod notifier;
pub mod serve;
pub mod settings;
pub mod southbound;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
