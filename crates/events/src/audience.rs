//! Who may receive which event, and what of it: the one rule every outgoing path (webhook
//! deliveries, durable subscriptions) applies before an event leaves procgate.
//!
//! | audience | receives |
//! |---|---|
//! | [`Audience::Staff`] (`it_staff`, `auditor`, `admin`) | every event, whole |
//! | [`Audience::Integration`] (the district's other systems) | every event but people's records and procgate's own bookkeeping ([`PRIVATE_CATEGORIES`]), with personal fields left out ([`PERSONAL_FIELDS`]) |
//! | [`Audience::Finance`] (one finance system) | the events of the purchases it checked (`purchase-…` and their clocks, `sla-…`), with personal fields left out but the requester's e-mail, which it sent itself |
//!
//! Personal data is the data of a person: stakeholders' records, visions, conversations,
//! wishes, promises and follow-ups (and their reminders), card holders, whom IT reached on a
//! call and the call's notes, the SLA escalation contact. A purchase's requester e-mail is
//! personal too (it names a principal), so only the finance system that sent it gets it back.

use serde_json::Value;

use crate::clocks::SLA_CATEGORY;
use crate::gate::PurchaseEvent;

/// Who an outgoing event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// IT staff, auditors, administrators: they may read personal data.
    Staff,
    /// The district's other systems: no personal data.
    Integration,
    /// A finance system, by its token subject: its own purchases only.
    Finance { subject: String },
}

/// Categories only [`Audience::Staff`] receives: people's records, and procgate's own
/// bookkeeping (who used which idempotency key, other parties' endpoints and subscriptions).
pub const PRIVATE_CATEGORIES: &[&str] = &[
    "stakeholder",
    "wish",
    "promise",
    "followup",
    "email",
    "reminder",
    "card",
    "idempotency",
    crate::privacy::PRIVACY_CATEGORY,
    crate::rounds::ROUND_CATEGORY,
    crate::notifications::WEBHOOK_CATEGORY,
    crate::notifications::SUBSCRIPTION_CATEGORY,
    crate::notifications::MAIL_CATEGORY,
    crate::notifications::MAIL_PREFERENCE_CATEGORY,
];

/// Fields left out of an event's data (at any depth) for audiences that may not read personal
/// data. The e-mail fields an event's schema requires ([`REDACTED_ADDRESSES`]) keep their place
/// and read [`REDACTED_EMAIL`], so that the event still matches its published schema.
pub const PERSONAL_FIELDS: &[&str] =
    &["requester_email", "holder_email", "escalate_to", "spoke_with", "notes", "email", "phone"];

/// The personal e-mail fields that events require: redacted in place, not left out.
pub const REDACTED_ADDRESSES: &[&str] = &["requester_email", "holder_email", "escalate_to"];

/// The roles of people (IT staff, auditors, administrators), by wire name. An event records
/// its actor's subject, which names the person; only [`Audience::Staff`] reads it.
pub const PEOPLE_ROLES: &[&str] = &["it_staff", "auditor", "admin"];

/// What a redacted e-mail address reads (the reserved `.invalid` domain: it reaches no one).
pub const REDACTED_EMAIL: &str = "redacted@redacted.invalid";

/// What an audience gets of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// Nothing: the event is not for it.
    No,
    /// The event as it is.
    Whole,
    /// The event with this data instead (personal fields left out).
    Redacted(Value),
}

impl Audience {
    /// Whether this audience may receive anything of `category` at all (cheap: lets readers
    /// filter before decoding).
    pub fn may_see_category(&self, category: &str) -> bool {
        match self {
            Audience::Staff => true,
            Audience::Integration => !PRIVATE_CATEGORIES.contains(&category),
            Audience::Finance { .. } => {
                category == PurchaseEvent::CATEGORY || category == SLA_CATEGORY
            }
        }
    }

    /// What this audience gets of an event of `category` with `data`; `purchase_owner` is the
    /// subject that asked for the purchase check the event belongs to (for `purchase-…` and
    /// `sla-…` events; `None` otherwise or when unknown).
    pub fn admit(&self, category: &str, data: &Value, purchase_owner: Option<&str>) -> Admitted {
        if !self.may_see_category(category) {
            return Admitted::No;
        }
        if !self.reads_purchase_of(purchase_owner) {
            return Admitted::No;
        }
        match self.personal_fields_kept() {
            Some(keep) if holds_personal(data, keep) => {
                let mut data = data.clone();
                redact(&mut data, keep);
                Admitted::Redacted(data)
            }
            _ => Admitted::Whole,
        }
    }

    /// Whether this audience reads a purchase asked for by `owner` (the subject that sent its
    /// check; `None` when unknown): a finance system reads only its own, staff and
    /// integrations every one (integrations without personal data).
    pub fn reads_purchase_of(&self, owner: Option<&str>) -> bool {
        match self {
            Audience::Finance { subject } => owner == Some(subject.as_str()),
            Audience::Staff | Audience::Integration => true,
        }
    }

    /// `data` (an event's, or a view built from events) as this audience may read it: the
    /// personal fields it may not read left out, as in [`admit`](Self::admit). The caller has
    /// decided that the audience may see the thing at all.
    pub fn redact(&self, data: &mut Value) {
        if let Some(keep) = self.personal_fields_kept() {
            redact(data, keep);
        }
    }

    /// `value` (a view built from events) serialized as this audience may read it
    /// ([`redact`](Self::redact)).
    pub fn shown<T: serde::Serialize>(&self, value: &T) -> serde_json::Result<Value> {
        let mut shown = serde_json::to_value(value)?;
        self.redact(&mut shown);
        Ok(shown)
    }

    /// Whether the audience reads who an actor of `role` (a role's wire name) is: people
    /// ([`PEOPLE_ROLES`]) are named by their role only to anyone but staff.
    pub fn names_actor(&self, role: &str) -> bool {
        *self == Audience::Staff || !PEOPLE_ROLES.contains(&role)
    }

    /// The personal fields the audience reads despite not reading personal data (`None`: it
    /// reads them all). A finance system reads the requester's e-mail, which it sent itself.
    fn personal_fields_kept(&self) -> Option<&'static [&'static str]> {
        match self {
            Audience::Staff => None,
            Audience::Integration => Some(&[]),
            Audience::Finance { .. } => Some(&["requester_email"]),
        }
    }
}

fn is_personal(key: &str, keep: &[&str]) -> bool {
    PERSONAL_FIELDS.contains(&key) && !keep.contains(&key)
}

fn holds_personal(data: &Value, keep: &[&str]) -> bool {
    match data {
        Value::Object(map) => {
            map.iter().any(|(k, v)| is_personal(k, keep) || holds_personal(v, keep))
        }
        Value::Array(items) => items.iter().any(|v| holds_personal(v, keep)),
        _ => false,
    }
}

fn redact(data: &mut Value, keep: &[&str]) {
    match data {
        Value::Object(map) => {
            map.retain(|k, _| !is_personal(k, keep) || REDACTED_ADDRESSES.contains(&k.as_str()));
            for (k, v) in map.iter_mut() {
                if is_personal(k, keep) {
                    *v = Value::String(REDACTED_EMAIL.to_owned());
                } else {
                    redact(v, keep);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, keep)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call() -> Value {
        json!({
            "call_id": "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00",
            "requester_reached": true,
            "goal": "Students film science experiments",
            "notes": "Pat was at the science fair",
            "spoke_with": {"name": "Pat Lee", "phone": "+1 555 0100"},
        })
    }

    #[test]
    fn staff_receive_every_event_whole() {
        assert_eq!(
            Audience::Staff.admit("stakeholder", &json!({"email": "a@b.org"}), None),
            Admitted::Whole
        );
        assert_eq!(Audience::Staff.admit("purchase", &call(), None), Admitted::Whole);
    }

    #[test]
    fn integrations_never_receive_personal_data() {
        let integration = Audience::Integration;
        for category in PRIVATE_CATEGORIES {
            assert_eq!(integration.admit(category, &json!({}), None), Admitted::No, "{category}");
        }
        let Admitted::Redacted(data) = integration.admit("purchase", &call(), None) else {
            panic!("a call names whom IT reached")
        };
        assert_eq!(
            data,
            json!({
                "call_id": "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00",
                "requester_reached": true,
                "goal": "Students film science experiments",
            })
        );
        let submitted = json!({"requester_email": "pat@district.org", "lines": [{"sku": "X"}]});
        assert_eq!(
            integration.admit("purchase", &submitted, Some("erp")),
            Admitted::Redacted(json!({"requester_email": REDACTED_EMAIL, "lines": [{"sku": "X"}]})),
            "a required address keeps its place, redacted"
        );
        let school = json!({"school_id": "lincoln-elem", "name": "Lincoln"});
        assert_eq!(integration.admit("school", &school, None), Admitted::Whole);
    }

    #[test]
    fn a_finance_system_receives_only_its_own_purchases_and_its_own_requesters_email() {
        let erp = Audience::Finance { subject: "erp".into() };
        let submitted = json!({"requester_email": "pat@district.org", "amount": "10.00"});
        assert_eq!(erp.admit("purchase", &submitted, Some("erp")), Admitted::Whole);
        assert_eq!(erp.admit("purchase", &submitted, Some("other-erp")), Admitted::No);
        assert_eq!(erp.admit("purchase", &submitted, None), Admitted::No);
        assert_eq!(erp.admit("sla", &json!({"target": "decision"}), Some("erp")), Admitted::Whole);
        assert_eq!(erp.admit("school", &json!({}), Some("erp")), Admitted::No);
        let Admitted::Redacted(data) = erp.admit("purchase", &call(), Some("erp")) else {
            panic!("a call names whom IT reached")
        };
        assert!(data.get("spoke_with").is_none() && data.get("notes").is_none());
    }

    #[test]
    fn given_a_view_built_from_events_when_redacted_then_each_audience_reads_what_it_would_in_the_feed()
     {
        let view = json!({"requester_email": "pat@district.org", "calls": [call()],
                          "timeline": [{"actor": "it-jdoe", "actor_role": "it_staff"}]});
        let mut staff = view.clone();
        Audience::Staff.redact(&mut staff);
        assert_eq!(staff, view);

        let mut finance = view.clone();
        Audience::Finance { subject: "erp".into() }.redact(&mut finance);
        assert_eq!(finance["requester_email"], "pat@district.org");
        assert_eq!(finance["calls"][0]["goal"], "Students film science experiments");
        assert!(finance["calls"][0].get("notes").is_none(), "{finance}");
        assert!(finance["calls"][0].get("spoke_with").is_none(), "{finance}");

        let mut integration = view;
        Audience::Integration.redact(&mut integration);
        assert_eq!(integration["requester_email"], REDACTED_EMAIL);
        assert!(integration["calls"][0].get("notes").is_none());
    }

    #[test]
    fn people_are_named_to_staff_only_and_systems_to_everyone() {
        let finance = Audience::Finance { subject: "erp".into() };
        for role in PEOPLE_ROLES {
            assert!(Audience::Staff.names_actor(role));
            assert!(!finance.names_actor(role), "{role}");
            assert!(!Audience::Integration.names_actor(role), "{role}");
        }
        assert!(finance.names_actor("finance"));
        assert!(Audience::Integration.names_actor("system"));
    }

    #[test]
    fn a_finance_system_reads_only_the_purchases_it_asked_about() {
        let finance = Audience::Finance { subject: "erp".into() };
        assert!(finance.reads_purchase_of(Some("erp")));
        assert!(!finance.reads_purchase_of(Some("other-erp")));
        assert!(!finance.reads_purchase_of(None), "an unknown owner is not its own");
        for everyone in [Audience::Staff, Audience::Integration] {
            assert!(everyone.reads_purchase_of(Some("erp")) && everyone.reads_purchase_of(None));
        }
    }
}
