//! Integration tests of the gateway over real HTTP: the app on 127.0.0.1:0 with a manual
//! clock, the in-process NEF simulator and a real HTTP sink for CloudEvents.
#![allow(clippy::disallowed_methods, reason = "tests and examples compare with real time")]

mod admin;
mod assignment;
mod assignment_v0_1;
mod auth;
mod capacity;
mod clients;
mod errors;
mod failover;
mod helpers;
mod hostile;
mod identity;
mod idp;
mod lifecycle;
mod limits;
mod ops;
mod ownership;
mod pcf;
mod pcf_sbi;
mod pdtq;
mod profiles;
mod published;
mod redis;
mod server;
mod sinks;
mod southbound;
mod subjects;
mod usage;
mod versions;
