//! Call before cancel over random command sequences.

use super::*;
use proptest::prelude::*;

/// A command, drawn from small pools of ids and times so that sequences collide
/// (duplicate ids, accepting what was proposed, calls around the flag). A call's requester
/// is a registered stakeholder or not, and the call names someone (the requester's id, or
/// a name and a phone) or nobody.
#[derive(Debug, Clone)]
enum Step {
    Call { id: u8, reached: bool, with_goal: bool, minutes: i64, registered: bool, named: u8 },
    Propose { id: u8 },
    Accept { id: u8 },
    Approve,
    Cancel,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..4, any::<bool>(), any::<bool>(), -15i64..12, any::<bool>(), 0u8..3).prop_map(
            |(id, reached, with_goal, minutes, registered, named)| Step::Call {
                id, reached, with_goal, minutes, registered, named
            }
        ),
        2 => (0u8..3).prop_map(|id| Step::Propose { id }),
        2 => (0u8..4).prop_map(|id| Step::Accept { id }),
        1 => Just(Step::Approve),
        3 => Just(Step::Cancel),
    ]
}

/// The command for a step taken at `now`; the purchase was flagged at `t0`.
fn command(step: &Step, now: DateTime<Utc>) -> PurchaseCommand {
    match step {
        Step::Call { id, reached, with_goal, minutes, registered, named } => {
            PurchaseCommand::LogCall(LogCall {
                call_id: Uuid::from_u128(u128::from(*id) + 1),
                requester_reached: *reached,
                goal: with_goal.then(|| long("Wants to teach coding")),
                notes: None,
                occurred_at: now + TimeDelta::minutes(*minutes),
                now,
                spoke_with: match named {
                    0 => None,
                    1 => Some(PersonReached::stakeholder(requester())),
                    _ => Some(pat_by_phone()),
                },
                requester: registered.then(requester),
            })
        }
        Step::Propose { id } => PurchaseCommand::ProposeAlternative(ProposeAlternative {
            alternative_id: Uuid::from_u128(u128::from(*id) + 100),
            description: long("A supported model"),
            lines: vec![],
            call_id: None,
            assessment: None,
            occurred: None,
        }),
        Step::Accept { id } => PurchaseCommand::AcceptAlternative {
            alternative_id: Uuid::from_u128(u128::from(*id) + 100),
            occurred: None,
        },
        Step::Approve => PurchaseCommand::Approve { note: None, occurred: None },
        Step::Cancel => cancel(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the commands, a held purchase is cancelled only after a call that reached
    /// the requester (named, with their goal) after the flag and an alternative, and an
    /// alternative is accepted only after such a call; and once they are on record, the
    /// gate lets it happen.
    #[test]
    fn no_cancel_without_a_reached_call_after_the_flag_and_an_alternative(
        steps in proptest::collection::vec(step(), 0..25),
        start in 0i64..30,
    ) {
        let mut purchase = given::<Purchase>(held_purchase()).state().clone();
        let flagged_at = purchase.flagged_at.unwrap();
        // What the log holds, judged from the emitted events alone, independently of the
        // aggregate's own bookkeeping.
        let mut reached_after_flag = false;
        let mut proposed = false;
        for (i, step) in steps.iter().enumerate() {
            let now = at(start + 10 * i as i64);
            let before = purchase.clone();
            let held_before = before.status == Some(PurchaseStatus::Held);
            let accepting_a_proposed = match step {
                Step::Accept { id } => before
                    .alternative(Uuid::from_u128(u128::from(*id) + 100))
                    .is_some(),
                _ => false,
            };
            match purchase.handle(command(step, now)) {
                Err(err) => {
                    // A refusal emits nothing and changes nothing.
                    prop_assert_eq!(&purchase, &before);
                    if matches!(step, Step::Cancel) && held_before {
                        prop_assert_eq!(err.slug(), "call-required");
                        prop_assert!(!(reached_after_flag && proposed));
                    }
                    if accepting_a_proposed && held_before {
                        prop_assert_eq!(err.slug(), "call-required");
                        prop_assert!(!reached_after_flag, "refused to accept after a reached call");
                    }
                }
                Ok(events) => {
                    if accepting_a_proposed {
                        prop_assert!(reached_after_flag, "accepted without a reached call");
                    }
                    for event in &events {
                        match event {
                            PurchaseEvent::Cancelled(_) => {
                                prop_assert!(reached_after_flag, "cancelled without a reached call");
                                prop_assert!(proposed, "cancelled without an alternative");
                                prop_assert!(held_before, "cancelled a purchase that was not held");
                            }
                            PurchaseEvent::AlternativeAccepted(_) => {
                                prop_assert!(reached_after_flag, "accepted without a reached call");
                                prop_assert!(held_before, "accepted on a purchase that was not held");
                            }
                            PurchaseEvent::CallLogged(c) if c.requester_reached => {
                                prop_assert!(c.goal.is_some());
                                prop_assert!(c.occurred_at >= flagged_at);
                                prop_assert!(c.occurred_at <= now + MAX_CALL_AHEAD);
                                // Who was reached is on record: the requester.
                                let who = c.spoke_with.as_ref();
                                prop_assert!(who.is_some_and(PersonReached::names_someone));
                                if let Some(id) = who.and_then(|p| p.stakeholder_id) {
                                    prop_assert_eq!(id, requester());
                                }
                                reached_after_flag = true;
                            }
                            PurchaseEvent::AlternativeProposed(_) => proposed = true,
                            _ => {}
                        }
                        purchase.apply(event, now);
                    }
                    // Liveness: once both are on record, a held purchase can be cancelled, and
                    // once the call is, any of its alternatives accepted.
                    if purchase.status == Some(PurchaseStatus::Held) {
                        prop_assert_eq!(
                            purchase.can_cancel().is_ok(),
                            reached_after_flag && proposed
                        );
                        if let Some(a) = purchase.alternatives.first() {
                            let id = a.proposal.alternative_id;
                            let accept = PurchaseCommand::AcceptAlternative { alternative_id: id, occurred: None };
                            prop_assert_eq!(purchase.handle(accept).is_ok(), reached_after_flag);
                        }
                    }
                }
            }
        }
        if purchase.status == Some(PurchaseStatus::Cancelled) {
            prop_assert!(purchase.reached_call_after_flag().is_some());
            prop_assert!(!purchase.alternatives.is_empty());
        }
    }
}
