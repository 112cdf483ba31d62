//! The reporting service over HTTP: the real app (plumbing, auth, routes) on a random port, on
//! PostgreSQL and on SQLite, driven with a real HTTP client.
//!
//! One test binary (modules below) so the workspace links it once.

#[macro_use]
extern crate testkit;

mod common;

mod audit;
mod district_dates;
mod feed;
mod history;
mod limits;
mod live;
mod mail;
mod openapi;
mod rebuild;
mod replay;
mod reports;
mod rogue_spend;
mod roles;
mod scope;
mod sla;
mod streams;
mod webhooks;
