//! The stakeholder relations service over HTTP: the real app (plumbing, auth, routes), served
//! beside the gate as the all-in-one server does, on a random port, on PostgreSQL and on
//! SQLite, driven with a real HTTP client.
//!
//! One test binary (modules below) so the workspace links it once. Every test body runs on
//! both backends (`on_both_backends!`), except the OpenAPI document's (no store involved).

#[macro_use]
extern crate testkit;

mod common;

mod concurrency;
mod district_time;
mod gating;
mod going_cold;
mod once;
mod openapi;
mod practices;
mod privacy;
mod rebuild;
mod relationships;
mod reminders;
mod roles;
mod validation;
mod vision;
