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
}

impl DomainError {
    /// The problem type's stable name (`agreement-already-signed`).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::UnknownSchool => "unknown-school",
            Self::UnknownStakeholder => "unknown-stakeholder",
            Self::UnknownWish => "unknown-wish",
            Self::UnknownPromise => "unknown-promise",
            Self::UnknownFollowUp => "unknown-follow-up",
            Self::AlreadyExists { .. } => "already-exists",
            Self::NotAPrincipalOfSchool => "not-a-principal-of-school",
            Self::AgreementAlreadySigned => "agreement-already-signed",
            Self::AgreementNotSigned => "agreement-not-signed",
            Self::DateInFuture { .. } => "date-in-future",
            Self::DateTooEarly { .. } => "date-too-early",
            Self::ExactlyTwoStars { .. } => "exactly-two-stars",
            Self::UnknownTheme { .. } => "unknown-theme",
            Self::FirstConversationAsks { .. } => "two-stars-and-a-wish-first",
            Self::NoStarsToAcknowledge => "no-stars-to-acknowledge",
            Self::SpokeToThemselves => "spoke-to-themselves",
            Self::UnknownListener => "unknown-listener",
            Self::DuplicateTheme { .. } => "duplicate-theme",
            Self::EmptyRound => "empty-round",
            Self::UnknownInvitee { .. } => "unknown-invitee",
            Self::WishClosed { .. } => "wish-closed",
            Self::PromiseAlreadySettled { .. } => "promise-already-settled",
            Self::StandingPromise => "standing-promise",
            Self::FollowUpAlreadyDone => "follow-up-already-done",
            Self::EmailTaken { .. } => "email-taken",
        }
    }

    /// A short, fixed title for the problem type.
    pub fn title(&self) -> &'static str {
        match self {
            Self::UnknownSchool => "Unknown school",
            Self::UnknownStakeholder => "Unknown stakeholder",
            Self::UnknownWish => "Unknown wish",
            Self::UnknownPromise => "Unknown promise",
            Self::UnknownFollowUp => "Unknown follow-up",
            Self::AlreadyExists { .. } => "Already exists",
            Self::NotAPrincipalOfSchool => "Not a principal of the school",
            Self::AgreementAlreadySigned => "Agreement already signed",
            Self::AgreementNotSigned => "Agreement not signed",
            Self::DateInFuture { .. } => "Date in the future",
            Self::DateTooEarly { .. } => "Date too early",
            Self::ExactlyTwoStars { .. } => "Exactly two stars",
            Self::UnknownTheme { .. } => "Unknown theme",
            Self::FirstConversationAsks { .. } => "Two stars and a wish first",
            Self::NoStarsToAcknowledge => "No stars to acknowledge",
            Self::SpokeToThemselves => "Spoke to themselves",
            Self::UnknownListener => "Unknown listener",
            Self::DuplicateTheme { .. } => "Duplicate theme",
            Self::EmptyRound => "Empty round",
            Self::UnknownInvitee { .. } => "Unknown invitee",
            Self::WishClosed { .. } => "Wish closed",
            Self::PromiseAlreadySettled { .. } => "Promise already settled",
            Self::StandingPromise => "Standing promise",
            Self::FollowUpAlreadyDone => "Follow-up already done",
            Self::EmailTaken { .. } => "E-mail address taken",
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownSchool
            | Self::UnknownStakeholder
            | Self::UnknownWish
            | Self::UnknownPromise
            | Self::UnknownFollowUp
            | Self::NoStarsToAcknowledge => ErrorKind::NotFound,
            Self::AlreadyExists { .. }
            | Self::AgreementAlreadySigned
            | Self::AgreementNotSigned
            | Self::WishClosed { .. }
            | Self::PromiseAlreadySettled { .. }
            | Self::StandingPromise
            | Self::FollowUpAlreadyDone
            | Self::EmailTaken { .. } => ErrorKind::Conflict,
            Self::NotAPrincipalOfSchool
            | Self::DateInFuture { .. }
            | Self::DateTooEarly { .. }
            | Self::ExactlyTwoStars { .. }
            | Self::UnknownTheme { .. }
            | Self::FirstConversationAsks { .. }
            | Self::SpokeToThemselves
            | Self::UnknownListener
            | Self::DuplicateTheme { .. }
            | Self::EmptyRound
            | Self::UnknownInvitee { .. } => ErrorKind::Invalid,
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
        assert!(examples[11].to_string().contains("3 were given"));
        assert!(examples[12].to_string().contains("the wish is done"));
    }
}
