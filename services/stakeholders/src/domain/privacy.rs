//! Erasing a person's personal data (`privacy-{stakeholder_id}`): the keys that seal it are
//! destroyed in the store (IO, done by the caller), then the erasure is announced with
//! `personal-data-erased`, naming the keys, so every reader forgets them.
//!
//! Rule: the first erasure is announced even when no key of theirs was left to destroy;
//! asked again, an erasure is announced only when it destroyed keys made since (otherwise
//! asking again changes nothing, and the first erasure stands).

use events::privacy::PersonalDataErased;
use events::values::LongText;
use uuid::Uuid;

/// The erasure to announce: `None` when an earlier one stands and no key of theirs was left
/// to destroy (asking again changes nothing).
pub fn announcement(
    earlier: bool,
    stakeholder_id: Uuid,
    destroyed: Vec<String>,
    reason: &LongText,
    by: &str,
) -> Option<PersonalDataErased> {
    (!earlier || !destroyed.is_empty()).then(|| PersonalDataErased {
        stakeholder_id,
        reason: reason.clone(),
        erased_by: by.to_owned(),
        keys: destroyed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason() -> LongText {
        LongText::parse("Left the district").unwrap()
    }

    #[test]
    fn given_no_erasure_when_erasing_then_it_is_announced_even_without_keys() {
        let e = announcement(false, Uuid::from_u128(1), vec![], &reason(), "admin").unwrap();
        assert_eq!(e.keys, Vec::<String>::new());
        assert_eq!(e.erased_by, "admin");
    }

    #[test]
    fn given_an_erasure_when_erasing_again_then_only_new_keys_are_announced() {
        assert_eq!(announcement(true, Uuid::from_u128(1), vec![], &reason(), "admin"), None);
        let again = announcement(true, Uuid::from_u128(1), vec!["call-9".into()], &reason(), "a");
        assert_eq!(again.unwrap().keys, vec!["call-9".to_owned()]);
    }
}
