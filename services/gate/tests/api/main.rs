//! The gate over HTTP: the real app (plumbing, auth, routes) on a random port, on PostgreSQL
//! and on SQLite, driven with a real HTTP client.
//!
//! One test binary (modules below) so the workspace links it once. Every test body runs on
//! both backends (`on_both_backends!`), except the ones about several instances on one
//! database (PostgreSQL only) and the OpenAPI document (no store involved).

#[macro_use]
extern crate testkit;

mod common;

mod clocks;
mod consistency;
mod decisions;
mod district;
mod entered_late;
mod idempotency;
mod instances;
mod openapi;
mod outage;
mod review;
mod roles;
mod rules;
mod scheduler;
mod statements;
mod validation;
