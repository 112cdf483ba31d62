//! [`DomainError`]: why a command was refused, with a stable slug for the problem type.

use chrono::NaiveDate;
use events::stakeholders::WishStatus;

/// What sort of refusal an error is; a hint for the HTTP layer's status code (404, 409, 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something the command is about, or names, does not exist.
    NotFound,
    /// The command does not fit the current state (already signed, already settled, …).
    Conflict,
    /// The command itself breaks a rule (wrong number of stars, a date in the future, …).
    Invalid,
}

/// Why a command was refused. The message is a sentence a person can act on; [`slug`] is the
/// problem type's stable name.
///
/// [`slug`]: DomainError::slug
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the school is not registered; register it first")]
    UnknownSchool,
    #[error("the stakeholder is not registered; register them first")]
    UnknownStakeholder,
    #[error("there is no such wish; wishes are recorded by holding a conversation")]
    UnknownWish,
    #[error("there is no such promise")]
    UnknownPromise,
    #[error("there is no such follow-up")]
    UnknownFollowUp,
    #[error("this {what} already exists")]
    AlreadyExists { what: &'static str },
    #[error(
        "only a principal registered at this school signs its purchasing agreement; check the stakeholder's role and school"
    )]
    NotAPrincipalOfSchool,
    #[error(
        "the school's purchasing agreement is already signed; it must be withdrawn before it is signed again"
    )]
    AgreementAlreadySigned,
    #[error("the school has no purchasing agreement in force to withdraw")]
    AgreementNotSigned,
    #[error("{field} may not be in the future")]
    DateInFuture { field: &'static str },
    #[error("{field} may not be before {earliest}: {because}")]
    DateTooEarly { field: &'static str, earliest: NaiveDate, because: &'static str },
    #[error("{field} is too late: {because}")]
    DateTooLate { field: &'static str, because: &'static str },
    #[error("a conversation has exactly two stars (two things IT does well); {found} were given")]
    ExactlyTwoStars { found: usize },
    #[error(
        "the first conversation with a person asks for two stars and a wish; {missing} missing (later conversations may record neither)"
    )]
    FirstConversationAsks { missing: &'static str },
    #[error("the person has no conversation with two stars of that id to acknowledge")]
    NoStarsToAcknowledge,
    #[error("an advocate speaks for IT to someone else")]
    SpokeToThemselves,
    #[error("to_stakeholder_id is not a registered stakeholder")]
    UnknownListener,
    #[error(
        "{theme} is not a theme of IT's vision (GET /v1/vision); a conversation connects only to themes the vision has"
    )]
    UnknownTheme { theme: events::values::ThemeId },
    #[error("a vision's themes each have their own id; {theme} is given twice")]
    DuplicateTheme { theme: events::values::ThemeId },
    #[error(
        "a round meets at least one person: name them in stakeholder_ids, or register the principals first"
    )]
    EmptyRound,
    #[error("{stakeholder_id} is not a registered stakeholder; a round meets registered people")]
    UnknownInvitee { stakeholder_id: uuid::Uuid },
    #[error(
        "the wish is {status}; it can only be reopened (status open or in_progress), with a note saying why"
    )]
    WishClosed { status: WishStatus },
    #[error("the promise was already {outcome}; an outcome is recorded once")]
    PromiseAlreadySettled { outcome: &'static str },
    #[error(
        "the purchasing agreement's call-before-cancel promise is kept or broken by the gate's record of calls and cancellations, not by hand"
    )]
    StandingPromise,
    #[error("the follow-up is already done")]
    FollowUpAlreadyDone,
    #[error(
        "the e-mail address is already registered to stakeholder {stakeholder_id}; update that stakeholder (PUT /v1/stakeholders/{stakeholder_id}) rather than registering them again"
    )]
    EmailTaken { stakeholder_id: uuid::Uuid },
    #[error(
        "the person's personal data was erased; a name, e-mail address or phone is not given to an erased record (register the person anew); their role and school may still change"
    )]
    Erased,
}

impl DomainError {
    /// The problem type's stable name (`agreement-already-signed`).
    pub fn slug(&self) -> &'static str {
        self.problem().1
    }

    /// A short, fixed title for the problem type.
    pub fn title(&self) -> &'static str {
        self.problem().2
    }

    /// What sort of refusal it is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        self.problem().0
    }

    /// What sort of refusal it is, its slug and its title, side by side for every error.
    fn problem(&self) -> (ErrorKind, &'static str, &'static str) {
        use ErrorKind::{Conflict, Invalid, NotFound};
        match self {
            Self::UnknownSchool => (NotFound, "unknown-school", "Unknown school"),
            Self::UnknownStakeholder => (NotFound, "unknown-stakeholder", "Unknown stakeholder"),
            Self::UnknownWish => (NotFound, "unknown-wish", "Unknown wish"),
            Self::UnknownPromise => (NotFound, "unknown-promise", "Unknown promise"),
            Self::UnknownFollowUp => (NotFound, "unknown-follow-up", "Unknown follow-up"),
            Self::AlreadyExists { .. } => (Conflict, "already-exists", "Already exists"),
            Self::NotAPrincipalOfSchool => {
                (Invalid, "not-a-principal-of-school", "Not a principal of the school")
            }
            Self::AgreementAlreadySigned => {
                (Conflict, "agreement-already-signed", "Agreement already signed")
            }
            Self::AgreementNotSigned => (Conflict, "agreement-not-signed", "Agreement not signed"),
            Self::DateInFuture { .. } => (Invalid, "date-in-future", "Date in the future"),
            Self::DateTooEarly { .. } => (Invalid, "date-too-early", "Date too early"),
            Self::DateTooLate { .. } => (Invalid, "date-too-late", "Date too late"),
            Self::ExactlyTwoStars { .. } => (Invalid, "exactly-two-stars", "Exactly two stars"),
            Self::UnknownTheme { .. } => (Invalid, "unknown-theme", "Unknown theme"),
            Self::FirstConversationAsks { .. } => {
                (Invalid, "two-stars-and-a-wish-first", "Two stars and a wish first")
            }
            Self::NoStarsToAcknowledge => {
                (NotFound, "no-stars-to-acknowledge", "No stars to acknowledge")
            }
            Self::SpokeToThemselves => (Invalid, "spoke-to-themselves", "Spoke to themselves"),
            Self::UnknownListener => (Invalid, "unknown-listener", "Unknown listener"),
            Self::DuplicateTheme { .. } => (Invalid, "duplicate-theme", "Duplicate theme"),
            Self::EmptyRound => (Invalid, "empty-round", "Empty round"),
            Self::UnknownInvitee { .. } => (Invalid, "unknown-invitee", "Unknown invitee"),
            Self::WishClosed { .. } => (Conflict, "wish-closed", "Wish closed"),
            Self::PromiseAlreadySettled { .. } => {
                (Conflict, "promise-already-settled", "Promise already settled")
            }
            Self::StandingPromise => (Conflict, "standing-promise", "Standing promise"),
            Self::FollowUpAlreadyDone => {
                (Conflict, "follow-up-already-done", "Follow-up already done")
            }
            Self::EmailTaken { .. } => (Conflict, "email-taken", "E-mail address taken"),
            Self::Erased => (Conflict, "stakeholder-erased", "Stakeholder erased"),
        }
    }

    /// Every slug, for documentation and tests.
    pub const SLUGS: &'static [&'static str] = &[
        "unknown-school",
        "unknown-stakeholder",
        "unknown-wish",
        "unknown-promise",
        "unknown-follow-up",
        "already-exists",
        "not-a-principal-of-school",
        "agreement-already-signed",
        "agreement-not-signed",
        "date-in-future",
        "date-too-early",
        "date-too-late",
        "exactly-two-stars",
        "wish-closed",
        "promise-already-settled",
        "standing-promise",
        "follow-up-already-done",
        "email-taken",
        "unknown-theme",
        "duplicate-theme",
        "two-stars-and-a-wish-first",
        "no-stars-to-acknowledge",
        "spoke-to-themselves",
        "unknown-listener",
        "empty-round",
        "unknown-invitee",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_listed_unique_and_kebab_case() {
        let examples = [
            DomainError::UnknownSchool,
            DomainError::UnknownStakeholder,
            DomainError::UnknownWish,
            DomainError::UnknownPromise,
            DomainError::UnknownFollowUp,
            DomainError::AlreadyExists { what: "school" },
            DomainError::NotAPrincipalOfSchool,
            DomainError::AgreementAlreadySigned,
            DomainError::AgreementNotSigned,
            DomainError::DateInFuture { field: "signed_on" },
            DomainError::DateTooEarly {
                field: "due_on",
                earliest: NaiveDate::MIN,
                because: "test",
            },
            DomainError::DateTooLate { field: "starts_on", because: "test" },
            DomainError::ExactlyTwoStars { found: 3 },
            DomainError::WishClosed { status: WishStatus::Done },
            DomainError::PromiseAlreadySettled { outcome: "kept" },
            DomainError::StandingPromise,
            DomainError::FollowUpAlreadyDone,
            DomainError::EmailTaken { stakeholder_id: uuid::Uuid::nil() },
            DomainError::UnknownTheme { theme: events::values::ThemeId::parse("robots").unwrap() },
            DomainError::DuplicateTheme { theme: events::values::ThemeId::parse("art").unwrap() },
            DomainError::FirstConversationAsks { missing: "wish" },
            DomainError::NoStarsToAcknowledge,
            DomainError::SpokeToThemselves,
            DomainError::UnknownListener,
            DomainError::EmptyRound,
            DomainError::UnknownInvitee { stakeholder_id: uuid::Uuid::nil() },
        ];
        let slugs: Vec<_> = examples.iter().map(DomainError::slug).collect();
        assert_eq!(slugs, DomainError::SLUGS);
        let unique: std::collections::BTreeSet<_> = slugs.iter().collect();
        assert_eq!(unique.len(), slugs.len());
        for e in &examples {
            assert!(e.slug().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert!(!e.title().is_empty() && !e.to_string().is_empty());
        }
        assert!(examples[12].to_string().contains("3 were given"));
        assert!(examples[13].to_string().contains("the wish is done"));
    }
}
