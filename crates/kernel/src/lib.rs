//! The service kernel: what every procgate service builds on, written once.
//!
//! | piece | module | what for |
//! |---|---|---|
//! | [`Aggregate`], [`Decision`], [`Opened`], [`At`] | [`aggregate`] | the one shape of a decision maker: `handle` → events, `apply` |
//! | [`testing`] | [`testing`] | `given(events).when(command).then_expect_events(..)` |
//! | [`Commands`], [`Run`] | [`commands`] | load, decide, append at the version read, retry on conflict; once per `Idempotency-Key` |
//! | [`ReadModel`], [`Documents`], [`View`], [`ReadModels`] | [`read_model`] | typed read models: each event decoded once, documents as types |
//! | [`Clock`] | [`clock`] | the time now, for handlers and schedulers; tests move it forward |
//! | [`Latest`] | [`latest`] | a settings stream's state as last read, brought up to date with one read of its tail |
//! | [`Schedule`], [`schedule::Wakes`] | [`schedule`] | a scheduler: follow the log, sleep until the next wake, write what falls due once |
//! | [`privacy::sealed`], [`privacy::audience`] | [`privacy`] | the personal fields of every event, sealed in the log under each person's key; what a caller reads of them |
//! | [`http`] | [`http`] | the caller and its roles (checked first), alone or in a [`http::Context`] with the state and the request; bodies that are their own schema, paths, pages, metadata, store errors, the OpenAPI document and its shared response sets ([`problem_responses!`]) |
//!
//! A handler parses, runs and renders:
//!
//! ```ignore
//! #[post("/v1/purchases/{id}/cancel")]
//! pub async fn cancel(cx: Context<State, Writers>, body: Body<CancelBody>) -> Reply {
//!     let id = cx.path_id("id")?;
//!     let reason = body.parse()?.reason;
//!     cx.state.commands.run(&cx.metadata("gate"), purchase_stream(id), &[], |p: &Purchase, _| {
//!         Ok(p.handle(PurchaseCommand::Cancel { reason: reason.clone() })?.into())
//!     }).await?;
//!     Ok(HttpResponse::Ok().json(cx.state.purchase_view(id).await?))
//! }
//! ```
//!
//! # Invariants
//!
//! - Depends on `eventlog`, `events`, `web` and `auth`, never on a service.
//! - Domain code built on [`Aggregate`] does no IO: time and ids come in with commands, the
//!   recorded time and version with [`At`].
//! - Every append of a command goes through [`Commands::run`]: expected versions on the
//!   aggregate's stream, "no stream" on every stream it opens, the caller's metadata.

pub mod aggregate;
pub mod clock;
pub mod commands;
pub mod http;
pub mod latest;
pub mod privacy;
pub mod read_model;
pub mod schedule;
pub mod testing;

pub use aggregate::{Aggregate, At, Decision, Opened, decode, load, new_event, stream};
pub use clock::Clock;
pub use commands::{Commands, Executed, RETRIES, Run};
pub use latest::{Latest, Versioned};
pub use read_model::{Applied, Documents, ReadModel, ReadModels, Recorded, View};
pub use schedule::Schedule;
