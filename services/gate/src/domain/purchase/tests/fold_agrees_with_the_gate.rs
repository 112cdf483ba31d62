//! The published fold and the gate decide call before cancel alike.

use super::*;
use events::rules::CallBeforeCancel;
use proptest::prelude::*;

/// One event of a purchase's history, drawn from small pools of ids so that histories
/// collide; a call took place `minutes` from the time it was logged (before the flag when
/// far enough back).
#[derive(Debug, Clone)]
enum Fact {
    Decided(Decision),
    Call { id: u8, reached: bool, with_goal: bool, minutes: i64 },
    Propose { id: u8 },
    Accept { id: u8 },
    Approve,
    Cancel,
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![3 => Just(Decision::Held), 1 => Just(Decision::Advisory), 1 => Just(Decision::Approved)]
}

fn fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        1 => decision().prop_map(Fact::Decided),
        6 => (0u8..4, any::<bool>(), any::<bool>(), -45i64..10).prop_map(
            |(id, reached, with_goal, minutes)| Fact::Call { id, reached, with_goal, minutes }
        ),
        3 => (0u8..3).prop_map(|id| Fact::Propose { id }),
        1 => (0u8..3).prop_map(|id| Fact::Accept { id }),
        1 => Just(Fact::Approve),
        1 => Just(Fact::Cancel),
    ]
}

fn decided(decision: Decision) -> PurchaseEvent {
    let events = match decision {
        Decision::Held => held_purchase(),
        Decision::Advisory => advisory_purchase(),
        Decision::Approved => approved_purchase(),
    };
    events[1].clone()
}

/// The event of a fact recorded at `recorded_at`.
fn event(fact: &Fact, recorded_at: DateTime<Utc>) -> PurchaseEvent {
    match fact {
        Fact::Decided(decision) => decided(*decision),
        Fact::Call { id, reached, with_goal, minutes } => CallLogged {
            call_id: Uuid::from_u128(u128::from(*id) + 1),
            requester_reached: *reached,
            goal: with_goal.then(|| long("Wants to teach coding")),
            notes: None,
            occurred_at: recorded_at + TimeDelta::minutes(*minutes),
            spoke_with: reached.then(|| PersonReached::stakeholder(requester())),
        }
        .into(),
        Fact::Propose { id } => proposal_event(&proposal(u128::from(*id) + 100)),
        Fact::Accept { id } => {
            AlternativeAccepted { alternative_id: Uuid::from_u128(u128::from(*id) + 100) }.into()
        }
        Fact::Approve => {
            PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()
        }
        Fact::Cancel => {
            PurchaseCancelled { reason: long("The requester chose to wait."), occurred_at: None }
                .into()
        }
    }
}

/// The rule read off the whole history, independently of both folds: a logged call that
/// reached the requester, recorded the goal and took place at or after the latest flag (the
/// recorded time of the latest held or advisory decision) and not after it was logged
/// (beyond the clock skew), and an alternative proposed at or after that flag.
fn rule_over(history: &[(PurchaseEvent, DateTime<Utc>)]) -> (bool, bool) {
    let flag = history.iter().rev().find_map(|(e, at)| match e {
        PurchaseEvent::Decided(d) if d.decision != Decision::Approved => Some(*at),
        _ => None,
    });
    let reached = history.iter().any(|(e, at)| {
        matches!(e, PurchaseEvent::CallLogged(c)
            if c.requester_reached
                && c.goal.is_some()
                && flag.is_some_and(|f| c.occurred_at >= f)
                && c.occurred_at <= *at + MAX_CALL_AHEAD)
    });
    let proposed = history.iter().any(|(e, at)| {
        matches!(e, PurchaseEvent::AlternativeProposed(_)) && flag.is_some_and(|f| *at >= f)
    });
    (reached, proposed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// On every prefix of every history: for a held purchase, the published fold is
    /// satisfied exactly when the gate does not refuse a cancellation with
    /// `call-required`, and the refusal names what the fold lacks; the gate accepts a
    /// proposed alternative exactly when the fold says it may; the gate never answers
    /// `call-required` for a purchase that is not held.
    #[test]
    fn the_fold_is_satisfied_iff_the_gate_lets_a_held_purchase_be_cancelled(
        first in decision(),
        facts in proptest::collection::vec(fact(), 0..20),
        gap in 1i64..20,
    ) {
        let mut history = vec![(held_purchase()[0].clone(), t0())];
        history.push((decided(first), t0()));
        for (i, fact) in facts.iter().enumerate() {
            let recorded_at = at(gap * (i as i64 + 1));
            history.push((event(fact, recorded_at), recorded_at));
        }
        for end in 1..=history.len() {
            let prefix = &history[..end];
            let purchase = given_at::<Purchase>(prefix.to_vec()).state().clone();
            let fold = CallBeforeCancel::from_events(prefix.iter().map(|(e, at)| (e, *at)));
            let (reached, proposed) = rule_over(prefix);
            prop_assert_eq!(fold.reached_call(), reached);
            prop_assert_eq!(fold.alternative_proposed(), proposed);
            prop_assert_eq!(fold.flagged_at(), purchase.flagged_at);
            let answer = purchase.handle(cancel());
            let accepted = purchase.alternatives.first().map(|a| {
                let alternative_id = a.proposal.alternative_id;
                purchase.handle(PurchaseCommand::AcceptAlternative { alternative_id, occurred: None })
            });
            if purchase.status == Some(PurchaseStatus::Held) {
                match accepted {
                    None => {}
                    Some(Ok(events)) => {
                        prop_assert!(fold.may_accept());
                        prop_assert!(matches!(&events[..], [PurchaseEvent::AlternativeAccepted(_), PurchaseEvent::Approved(_)]));
                    }
                    Some(Err(PurchaseError::AcceptNeedsCall)) => prop_assert!(!fold.may_accept()),
                    Some(Err(other)) => prop_assert!(false, "accepting refused otherwise: {other:?}"),
                }
                match answer {
                    Err(PurchaseError::CallRequired { reached_call, alternative_proposed }) => {
                        prop_assert!(!fold.satisfied());
                        prop_assert_eq!(reached_call, fold.reached_call());
                        prop_assert_eq!(alternative_proposed, fold.alternative_proposed());
                    }
                    Ok(events) => {
                        prop_assert!(fold.satisfied());
                        prop_assert!(matches!(&events[..], [PurchaseEvent::Cancelled(_)]));
                    }
                    Err(other) => prop_assert!(false, "refused otherwise: {other:?}"),
                }
            } else {
                prop_assert!(
                    !matches!(answer, Err(PurchaseError::CallRequired { .. })),
                    "call-required for a purchase that is not held"
                );
                prop_assert!(
                    !matches!(accepted, Some(Err(PurchaseError::AcceptNeedsCall))),
                    "call-required to accept on a purchase that is not held"
                );
            }
        }
    }
}
