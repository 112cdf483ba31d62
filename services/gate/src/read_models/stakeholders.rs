//! `gate.stakeholders`: the registered stakeholders' e-mail addresses, from the
//! `stakeholder-…` streams the stakeholder relations service writes, so that a call can say
//! whether the purchase's requester is a registered stakeholder, and which.
//!
//! Why a read model, and not the streams themselves: the question is asked by e-mail, and the
//! streams are named by stakeholder id; a reverse index over every stakeholder ever registered
//! (including those registered before e-mails were claimed, and following every change of
//! address) is what a read model is. The call handler waits for it to reach the log's head
//! before deciding ([`kernel::ReadModels::caught_up`]), so a stakeholder registered before the
//! call was sent is always known. It keeps only the id and the address lowercased: no other
//! personal data.

use eventlog::Filter;
use events::Published;
use events::stakeholders::{STAKEHOLDER_CATEGORY, StakeholderEvent};
use events::values::Email;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stakeholder's e-mail address as the gate knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StakeholderEmailDoc {
    pub stakeholder_id: Uuid,
    /// Their current address, lowercased.
    pub email: String,
    /// The log position of their registration: of two stakeholders with one address (possible
    /// only before addresses were claimed), the first registered is the requester.
    pub registered_at: u64,
}

/// Keeps `gate.stakeholders`.
#[derive(Debug, Default)]
pub struct StakeholderEmails;

impl ReadModel for StakeholderEmails {
    const NAME: &'static str = "gate.stakeholders";
    type Doc = StakeholderEmailDoc;

    fn filter(&self) -> Filter {
        Filter::categories([STAKEHOLDER_CATEGORY])
            .with_types(["stakeholder-registered", "stakeholder-updated"])
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, StakeholderEmailDoc>,
    ) -> Applied {
        let key = event.stream_id();
        match event.event {
            Published::Stakeholder(StakeholderEvent::Registered(r)) => {
                let doc = StakeholderEmailDoc {
                    stakeholder_id: r.stakeholder_id,
                    email: r.email.key(),
                    registered_at: event.position,
                };
                docs.put(key, &doc);
            }
            Published::Stakeholder(StakeholderEvent::Updated(u)) => {
                return docs.change(key, event, |doc| doc.email = u.email.key());
            }
            _ => {}
        }
        Ok(())
    }
}

/// The registered stakeholder whose address is `email` (ignoring case), if any: the first
/// registered when several share it.
pub fn stakeholder_with_email(docs: &[StakeholderEmailDoc], email: &Email) -> Option<Uuid> {
    let wanted = email.key();
    docs.iter()
        .filter(|d| d.email == wanted)
        .min_by_key(|d| d.registered_at)
        .map(|d| d.stakeholder_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: u128, email: &str, at: u64) -> StakeholderEmailDoc {
        StakeholderEmailDoc {
            stakeholder_id: Uuid::from_u128(id),
            email: email.into(),
            registered_at: at,
        }
    }

    #[test]
    fn looks_up_by_address_ignoring_case_first_registered_first() {
        let docs = [
            doc(1, "pat@district.org", 9),
            doc(2, "dana@district.org", 3),
            doc(3, "pat@district.org", 4),
        ];
        let pat = Email::parse("Pat@District.org").unwrap();
        assert_eq!(stakeholder_with_email(&docs, &pat), Some(Uuid::from_u128(3)));
        let nobody = Email::parse("kim@district.org").unwrap();
        assert_eq!(stakeholder_with_email(&docs, &nobody), None);
    }
}
