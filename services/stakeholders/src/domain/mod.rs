//! The stakeholder relations service's decision core: commands in, events out.
//!
//! Nothing here does IO, reads a clock or draws random numbers. Whatever a rule needs from
//! outside arrives with the command: the time (`now`) and the district's date (`today`, in its
//! time zone: [`district::District::today`]), the
//! ids of new things (a promise id, a wish id), and facts the HTTP layer looked up in the read
//! models (whether a school exists, the signer's registered role and school).
//!
//! Each aggregate ([`school::School`], [`stakeholder::Stakeholder`], [`wish::Wish`],
//! [`promise::Promise`], [`followup::FollowUp`]) is a [`kernel::Aggregate`]: rebuilt from its
//! own stream with `apply`, deciding with `handle`, which returns a [`kernel::Decision`]: the
//! events for its own stream, and the events that open new streams in the same atomic append
//! ([`kernel::Opened`]: a conversation opens its wish's stream; a signature opens the standing
//! promise's). A refusal is a [`DomainError`]. [`health`] turns read-model facts into a
//! relationship-health score.
//!
//! Every rule is proven given/when/then with [`kernel::testing`]:
//!
//! ```
//! use kernel::testing::given;
//! use stakeholders::domain::school::{School, SchoolCommand};
//! use events::values::{SchoolId, ShortText};
//!
//! let id = SchoolId::parse("lincoln-elem").unwrap();
//! let name = ShortText::parse("Lincoln Elementary").unwrap();
//! given::<School>([])
//!     .when(SchoolCommand::Put { school_id: id.clone(), name: name.clone() })
//!     .then_expect_events(vec![
//!         events::school::SchoolRegistered { school_id: id, name }.into(),
//!     ]);
//! ```
//!
//! # Rules
//!
//! | rule | error |
//! |---|---|
//! | PUT of a school registers it if new, renames it if the name changed, and does nothing if it is the same | — |
//! | only a principal registered **at that school** signs its agreement | `not-a-principal-of-school` (`unknown-stakeholder` if the signer is not registered) |
//! | an agreement is not signed twice without a withdrawal between | `agreement-already-signed` |
//! | only a signed agreement is withdrawn, with a reason | `agreement-not-signed` |
//! | `signed_on`, `withdrawn_on`, a promise's or a follow-up's settling date: not after `today` | `date-in-future` |
//! | a re-signing is not dated before the previous withdrawal; a withdrawal not before its signing | `date-too-early` |
//! | a signing opens the standing `call-before-cancel` promise to the school, made and due on `signed_on` | — |
//! | a stakeholder's school, when given, is registered | `unknown-school` |
//! | a conversation has exactly two stars and one wish; `held_at` is at most [`CLOCK_SKEW`] after `now` | `exactly-two-stars`, `date-in-future` |
//! | a conversation's wish becomes a tracked wish (its own stream), `open` | — |
//! | every headway on a wish has a note; `done`/`declined` wishes only reopen (`open`/`in_progress`), and the note then says why | `wish-closed` |
//! | a promise is due no earlier than the day it is made, and is kept or broken once, with evidence, not before it was made | `date-too-early`, `promise-already-settled` |
//! | the standing `call-before-cancel` promise is settled by the gate's record, never by hand | `standing-promise` |
//! | a follow-up is due today or later, and done once, not before the day it was scheduled | `date-too-early`, `follow-up-already-done` |
//! | two stars are praised only on a conversation of theirs that recorded them, not before the day it was held | `no-stars-to-acknowledge`, `date-too-early` |
//! | a round of meetings meets at least one registered person, each once; it is due on its last work day in the district's calendar, in year 9999 at the latest | `empty-round`, `unknown-invitee`, `date-too-late` |
//! | a person's erasure is announced the first time, and again only when it destroyed keys made since ([`privacy::announcement`]) | — |
//! | a promise or follow-up is *overdue* when its due date is before `today` and it is not settled ([`events::rules::is_past_due`]; [`promise::is_overdue`], [`followup::is_overdue`]) | — |
//!
//! Text bounds come from the value types the commands carry: [`ShortText`](events::values::ShortText)
//! (1 to 200 characters, one line: names, locations, stars) and
//! [`LongText`](events::values::LongText) (1 to 4000: vision, wishes, notes, evidence,
//! reasons). A required text that is missing or blank never reaches the domain: the HTTP
//! layer refuses it while parsing the request.

pub mod district;
pub mod error;
pub mod followup;
pub mod health;
pub mod privacy;
pub mod promise;
pub mod reminders;
pub mod round;
pub mod school;
pub mod stakeholder;
pub mod vision;
pub mod wish;

use chrono::{NaiveDate, TimeDelta};

pub use error::{DomainError, ErrorKind};

/// How far in the future a reported time (a conversation's `held_at`) may be: clocks of the
/// device a person types on and of the server differ.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// `date` must not be after `today`.
pub(crate) fn not_in_future(
    field: &'static str,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if date > today { Err(DomainError::DateInFuture { field }) } else { Ok(()) }
}

/// `date` must not be before `earliest`.
pub(crate) fn not_before(
    field: &'static str,
    date: NaiveDate,
    earliest: NaiveDate,
    because: &'static str,
) -> Result<(), DomainError> {
    if date < earliest {
        Err(DomainError::DateTooEarly { field, earliest, because })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use events::school::{SchoolEvent, SchoolRegistered, school_stream};
    use events::values::{SchoolId, ShortText};
    use kernel::{Decision, Opened, stream};

    #[test]
    fn openings_know_their_streams() {
        let id = SchoolId::parse("lincoln-elem").unwrap();
        let registered =
            SchoolRegistered { school_id: id.clone(), name: ShortText::parse("Lincoln").unwrap() };
        let opened = Opened::new(stream(school_stream(&id)), &SchoolEvent::from(registered));
        assert_eq!(opened.stream.as_str(), "school-lincoln-elem");
        assert_eq!(opened.event_type, "school-registered");
        assert_eq!(opened.data["name"], "Lincoln");
        let decision: Decision<SchoolEvent> = Decision::nothing();
        assert!(decision.is_empty());
    }
}
