//! Erasing a person's personal data (`privacy-{stakeholder_id}`): the keys that seal it are
//! destroyed in the store (IO, done by the caller), then the erasure is announced with
//! `personal-data-erased`, naming the keys, so every reader forgets them.
//!
//! Rule: the first erasure is announced even when no key of theirs was left to destroy;
//! asked again, an erasure is announced only when it destroyed keys made since (otherwise
//! asking again changes nothing, and the first erasure stands). The first names the keys it
//! destroyed and those of theirs another destroyed without recording it (an attempt before it,
//! or a request asking at the same time), not notes keys retention announced
//! ([`first_erasure_keys`]).

use std::collections::BTreeSet;

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

/// The keys the first erasure of a person names: those it destroyed (`destroyed_now`), and of
/// the keys of theirs destroyed by others (`destroyed`) the ones no announcement named
/// (`announced`): an earlier attempt destroyed them and stopped before recording the erasure,
/// or a request asking at the same time did. Notes keys that retention erased and announced
/// are not the erasure's.
pub fn first_erasure_keys(
    destroyed_now: Vec<String>,
    destroyed: Vec<String>,
    announced: &BTreeSet<String>,
) -> Vec<String> {
    let mut keys: BTreeSet<String> = destroyed_now.into_iter().collect();
    keys.extend(destroyed.into_iter().filter(|k| !announced.contains(k)));
    keys.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_keys_destroyed_before_when_first_erasing_then_the_unannounced_ones_are_named() {
        let keys = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let announced: BTreeSet<String> = keys(&["conversation-1"]).into_iter().collect();
        // Given nothing destroyed before: what it destroyed now.
        let now = keys(&["call-2", "stakeholder-7"]);
        assert_eq!(first_erasure_keys(now.clone(), now.clone(), &announced), now);
        // Given an attempt that destroyed their key and a call's and stopped, a call logged
        // since, and notes retention erased years ago: the attempt's keys and the new one,
        // not the notes'.
        let all = keys(&["call-2", "call-3", "conversation-1", "stakeholder-7"]);
        assert_eq!(
            first_erasure_keys(keys(&["call-3"]), all, &announced),
            keys(&["call-2", "call-3", "stakeholder-7"])
        );
    }

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
