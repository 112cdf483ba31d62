//! What e-mail each event calls for, to whom, in words a principal can read. Pure: the
//! mailer ([`super::Mailer`]) keeps the facts these need from the log and sends the result.

use std::collections::HashMap;

use events::Published;
use events::clocks::{ClockKind, SlaEvent};
use events::gate::{Decision, PurchaseEvent};
use events::reminders::ReminderEvent;
use uuid::Uuid;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    /// Which kind of message (`purchase-held`, …): part of its identity.
    pub template: &'static str,
    pub subject: String,
    pub body: String,
}

/// What the messages need to know beyond the event itself, folded from earlier events.
#[derive(Debug, Default)]
pub struct Facts {
    /// Each purchase: who asked (the requester's e-mail), the school, the finance system's
    /// reference, the vendor.
    pub purchases: HashMap<Uuid, Purchase>,
    /// Who scheduled each follow-up (their token subject).
    pub followup_owners: HashMap<Uuid, String>,
    /// IT staff's addresses (`PROCGATE_NOTIFY_IT`).
    pub it_staff: Vec<String>,
}

/// A purchase, as the messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub requester: String,
    pub school: String,
    pub reference: String,
    pub vendor: String,
}

impl Purchase {
    fn name(&self) -> String {
        format!("purchase {} from {} ({})", self.reference, self.vendor, self.school)
    }
}

/// Whether `s` looks like an e-mail address (a token subject may be anything).
fn is_address(s: &str) -> bool {
    events::values::Email::parse(s).is_ok()
}

fn clock_words(clock: ClockKind) -> &'static str {
    match clock {
        ClockKind::FirstContact => "first call to the requester",
        ClockKind::Decision => "decision",
        ClockKind::AdvisoryOutreach => "outreach call",
    }
}

const SIGNATURE: &str = "\n\n-- \nprocgate, the district's technology purchase gate. To stop these e-mails, ask IT \
     to turn them off for your address.\n";

/// The messages `event` of stream `stream_id` (the part after the category) calls for.
pub fn messages(event: &Published, stream_id: &str, facts: &Facts) -> Vec<Message> {
    let purchase = |id: &str| id.parse::<Uuid>().ok().and_then(|id| facts.purchases.get(&id));
    let to_it = |template, subject: String, body: String| -> Vec<Message> {
        facts
            .it_staff
            .iter()
            .map(|to| Message {
                to: to.clone(),
                template,
                subject: subject.clone(),
                body: body.clone() + SIGNATURE,
            })
            .collect()
    };
    match event {
        Published::Purchase(PurchaseEvent::Decided(d)) if d.decision == Decision::Held => {
            let Some(p) = purchase(stream_id) else { return vec![] };
            let reasons: Vec<String> =
                d.reasons.iter().map(|r| format!("- {}", r.detail)).collect();
            let reasons = reasons.join("\n");
            let mut out = to_it(
                "purchase-held",
                format!("Held for review: {}", p.name()),
                format!(
                    "The gate held {} for {}; finance is waiting for IT.\n\nWhy:\n{reasons}\n\n\
                     Call the requester before anything else: hear what they are trying to \
                     accomplish, and propose an alternative if this one cannot be supported.",
                    p.name(),
                    p.requester
                ),
            );
            out.push(Message {
                to: p.requester.clone(),
                template: "purchase-held-requester",
                subject: format!("Your {} is waiting for IT", p.name()),
                body: format!(
                    "Hello,\n\nYour {} is on hold until IT has looked at it, as your school \
                     agreed. Here is why:\n\n{reasons}\n\nSomeone from IT will call you to hear \
                     what you are trying to accomplish. IT will not cancel it without talking \
                     to you first.{SIGNATURE}",
                    p.name()
                ),
            });
            out
        }
        Published::Purchase(e @ (PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_))) => {
            let Some(p) = purchase(stream_id) else { return vec![] };
            let outcome = match e {
                PurchaseEvent::Cancelled(c) => {
                    format!("was cancelled by IT. Their reason:\n\n{}", c.reason)
                }
                _ => "was approved: finance may go ahead.".to_owned(),
            };
            vec![Message {
                to: p.requester.clone(),
                template: "purchase-decided",
                subject: format!("Your {} is decided", p.name()),
                body: format!("Hello,\n\nYour {} {outcome}{SIGNATURE}", p.name()),
            }]
        }
        Published::Sla(SlaEvent::Warning(w)) => {
            let Some(p) = facts.purchases.get(&w.purchase_id) else { return vec![] };
            to_it(
                "sla-warning",
                format!(
                    "{}% of the time for the {} is gone: {}",
                    w.percent,
                    clock_words(w.clock),
                    p.name()
                ),
                format!(
                    "The {} on {} has used {}% of its time{}.",
                    clock_words(w.clock),
                    p.name(),
                    w.percent,
                    w.due_at.map(|d| format!("; it is due at {d}")).unwrap_or_default()
                ),
            )
        }
        Published::Sla(SlaEvent::Breached(b)) => {
            let Some(p) = facts.purchases.get(&b.purchase_id) else { return vec![] };
            to_it(
                "sla-breached",
                format!("Overdue: the {} on {}", clock_words(b.clock), p.name()),
                format!(
                    "The {} on {} was due at {} and has not happened.",
                    clock_words(b.clock),
                    p.name(),
                    b.due_at
                ),
            )
        }
        Published::Sla(SlaEvent::Escalated(x)) => {
            let Some(p) = facts.purchases.get(&x.purchase_id) else { return vec![] };
            vec![Message {
                to: x.escalate_to.to_string(),
                template: "sla-escalated",
                subject: format!("Escalated to you: {}", p.name()),
                body: format!(
                    "The {} on {} was due at {} and has not happened; it is escalated to you \
                     as the district's escalation contact.{SIGNATURE}",
                    clock_words(x.clock),
                    p.name(),
                    x.due_at
                ),
            }]
        }
        Published::Reminder(ReminderEvent::PromiseDueSoon(r)) if is_address(&r.owner) => {
            vec![Message {
                to: r.owner.clone(),
                template: "promise-due",
                subject: format!("A promise you made is due on {}", r.due_on),
                body: format!(
                    "A promise you made is due on {}. Keeping it is how trust is kept.{SIGNATURE}",
                    r.due_on
                ),
            }]
        }
        Published::Reminder(ReminderEvent::PromiseOverdue(r)) if is_address(&r.owner) => {
            vec![Message {
                to: r.owner.clone(),
                template: "promise-overdue",
                subject: format!("A promise you made was due on {}", r.due_on),
                body: format!(
                    "A promise you made was due on {} and is not kept yet. Keep it, or tell the \
                     person why not.{SIGNATURE}",
                    r.due_on
                ),
            }]
        }
        Published::Reminder(ReminderEvent::FollowUpDueSoon(r)) => followup(
            facts,
            r.followup_id,
            "followup-due",
            format!("A follow-up is due on {}", r.due_on),
        ),
        Published::Reminder(ReminderEvent::FollowUpOverdue(r)) => followup(
            facts,
            r.followup_id,
            "followup-overdue",
            format!("A follow-up was due on {}", r.due_on),
        ),
        _ => vec![],
    }
}

fn followup(facts: &Facts, id: Uuid, template: &'static str, subject: String) -> Vec<Message> {
    match facts.followup_owners.get(&id) {
        Some(owner) if is_address(owner) => vec![Message {
            to: owner.clone(),
            template,
            body: format!("{subject}: one you scheduled.{SIGNATURE}"),
            subject,
        }],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {

    use events::notifications::mail_id;

    use super::*;
    use crate::reports::purchases::fixtures::{cancelled, submitted};

    fn facts(id: Uuid) -> Facts {
        let Published::Purchase(PurchaseEvent::Submitted(s)) = Published::Purchase(submitted(id))
        else {
            unreachable!()
        };
        let purchase = Purchase {
            requester: s.requester_email.to_string(),
            school: s.school_id.to_string(),
            reference: s.external_ref.to_string(),
            vendor: s.vendor.to_string(),
        };
        Facts {
            purchases: HashMap::from([(id, purchase)]),
            followup_owners: HashMap::new(),
            it_staff: vec!["it@district.org".into(), "cto@district.org".into()],
        }
    }

    #[test]
    fn a_held_purchase_tells_it_staff_and_the_requester_why_in_plain_words() {
        let id = Uuid::from_u128(1);
        let decided = PurchaseEvent::from(events::testing::laptop_held());
        let out = messages(&Published::Purchase(decided), &id.to_string(), &facts(id));
        let to: Vec<(&str, &str)> = out.iter().map(|m| (m.to.as_str(), m.template)).collect();
        assert_eq!(
            to,
            [
                ("it@district.org", "purchase-held"),
                ("cto@district.org", "purchase-held"),
                ("pat@district.org", "purchase-held-requester"),
            ]
        );
        let requester = &out[2];
        assert!(
            requester.body.contains("not in the district's standards catalog"),
            "{}",
            requester.body
        );
        assert!(requester.body.contains("will not cancel it without talking to you"));
        assert!(requester.subject.contains("REQ-1"));
        // Each message has its own identity, the same in every instance.
        let ids: std::collections::HashSet<Uuid> =
            out.iter().map(|m| mail_id(Uuid::nil(), m.template, &m.to)).collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn a_decision_tells_the_requester_and_unknown_purchases_tell_no_one() {
        let id = Uuid::from_u128(1);
        let out = messages(&Published::Purchase(cancelled()), &id.to_string(), &facts(id));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].to.as_str(), out[0].template), ("pat@district.org", "purchase-decided"));
        assert!(out[0].body.contains("Not needed"));
        let other = Uuid::from_u128(2).to_string();
        assert!(messages(&Published::Purchase(cancelled()), &other, &facts(id)).is_empty());
    }
}
