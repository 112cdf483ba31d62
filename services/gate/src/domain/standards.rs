//! The standards: the catalog of supported products, the vendor list, and the gate policy.
//!
//! All of it lives in one stream, `standards-district`, so the stream's version names one exact
//! state of the standards: [`Standards::version`] is the *policy version* every decision records.
//!
//! Rules of IT's commands ([`Standards::handle`]):
//!
//! - An upsert replaces the product (by SKU) or vendor (by id) whole. An upsert, or a policy,
//!   equal to what is already there emits nothing, so repeating a `PUT` neither grows the log nor
//!   moves the policy version.
//! - A product may name the only vendor it may be bought from, which must be on the vendor list
//!   (`unknown-vendor` otherwise); without one it may be bought from any approved vendor. It
//!   gives its reference price and currency together or not at all (`incomplete-price`).
//! - Removing a product not in the catalog is `not-found`.
//! - A policy names at least one technology category or merchant category code
//!   (`empty-policy`), at most [`MAX_POLICY_ENTRIES`] entries in each list
//!   (`too-many-entries`), and no category as both technology and not technology
//!   (`category-in-both-lists`); its lists are stored sorted and without duplicates (technology
//!   terms in the order given, without duplicates ignoring case).
//! - **Classifying a category** (IT deciding once whether a category is technology) moves it
//!   into one of the policy's two lists: a new policy, unless it is already there
//!   (`no-policy` before there is a policy to change).
//! - All money of the standards is in one currency: a product's price must be in the policy's
//!   currency, and a policy may not change the currency while products are priced in another
//!   (`currency-mismatch`).

use std::collections::BTreeMap;

use events::gate::{PolicySet, ProductRemoved, ProductUpserted, StandardsEvent, VendorUpserted};
use events::values::{Category, Currency, Sku, VendorId};

use kernel::{Aggregate, At, Decision};

/// A product in the catalog: the data of its last `product-upserted`.
pub type Product = ProductUpserted;
/// A vendor on the vendor list: the data of its last `vendor-upserted`.
pub type Vendor = VendorUpserted;
/// The gate policy: the data of the last `policy-set`.
pub type Policy = PolicySet;

/// The most technology categories, or merchant category codes, a policy may list.
pub const MAX_POLICY_ENTRIES: usize = 500;

/// The standards as of [`version`](Standards::version) of `standards-district`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standards {
    pub products: BTreeMap<Sku, Product>,
    pub vendors: BTreeMap<VendorId, Vendor>,
    /// `None` until IT first sets a policy; the gate cannot decide before that.
    pub policy: Option<Policy>,
    /// The version of `standards-district` applied (0: no events): the policy version.
    pub version: u64,
}

impl Standards {
    /// Folds in the event recorded at `version` of `standards-district`.
    pub fn apply(&mut self, version: u64, event: &StandardsEvent) {
        match event {
            StandardsEvent::ProductUpserted(p) => {
                self.products.insert(p.sku.clone(), p.clone());
            }
            StandardsEvent::ProductRemoved(p) => {
                self.products.remove(&p.sku);
            }
            StandardsEvent::VendorUpserted(v) => {
                self.vendors.insert(v.vendor_id.clone(), v.clone());
            }
            StandardsEvent::PolicySet(p) => self.policy = Some(p.clone()),
        }
        self.version = version;
    }

    /// The catalog's product with this SKU.
    pub fn product(&self, sku: &Sku) -> Option<&Product> {
        self.products.get(sku)
    }

    /// The approved vendor a purchase check's free-text `vendor` names, if any.
    ///
    /// The text matches a vendor when, trimmed and ignoring case, it equals the vendor's id or
    /// its name. Only approved vendors match: when several vendors match, any approved one
    /// makes the vendor approved.
    pub fn approved_vendor(&self, vendor: &str) -> Option<&Vendor> {
        self.vendors.values().find(|v| v.approved && names(vendor, v))
    }

    /// Whether a purchase check's free-text `vendor` names the vendor `id` (by id or name,
    /// trimmed, ignoring case).
    pub fn names_vendor(&self, vendor: &str, id: &VendorId) -> bool {
        self.vendors.get(id).is_some_and(|v| names(vendor, v))
    }

    /// The events IT's command produces, or why it is refused (see the module docs).
    pub fn handle(&self, command: StandardsCommand) -> Result<Vec<StandardsEvent>, StandardsError> {
        match command {
            StandardsCommand::UpsertProduct(product) => self.upsert_product(product),
            StandardsCommand::RemoveProduct { sku } => {
                if !self.products.contains_key(&sku) {
                    return Err(StandardsError::ProductNotFound { sku });
                }
                Ok(vec![ProductRemoved { sku }.into()])
            }
            StandardsCommand::UpsertVendor(vendor) => {
                if self.vendors.get(&vendor.vendor_id) == Some(&vendor) {
                    return Ok(vec![]);
                }
                Ok(vec![vendor.into()])
            }
            StandardsCommand::SetPolicy(policy) => self.set_policy(policy),
            StandardsCommand::ClassifyCategory { category, technology } => {
                let mut policy = self.policy.clone().ok_or(StandardsError::NoPolicy)?;
                policy.technology_categories.retain(|c| *c != category);
                policy.non_technology_categories.retain(|c| *c != category);
                match technology {
                    true => policy.technology_categories.push(category),
                    false => policy.non_technology_categories.push(category),
                }
                self.set_policy(policy)
            }
        }
    }

    fn upsert_product(&self, product: Product) -> Result<Vec<StandardsEvent>, StandardsError> {
        if let Some(vendor_id) = &product.vendor_id
            && !self.vendors.contains_key(vendor_id)
        {
            return Err(StandardsError::UnknownVendor { vendor_id: vendor_id.clone() });
        }
        match (&product.unit_price, &product.currency) {
            (Some(_), Some(currency)) => {
                if let Some(policy) = &self.policy
                    && policy.currency != *currency
                {
                    return Err(StandardsError::CurrencyMismatch {
                        expected: policy.currency,
                        found: *currency,
                    });
                }
            }
            (None, None) => {}
            _ => return Err(StandardsError::IncompletePrice),
        }
        if self.products.get(&product.sku) == Some(&product) {
            return Ok(vec![]);
        }
        Ok(vec![product.into()])
    }

    fn set_policy(&self, mut policy: Policy) -> Result<Vec<StandardsEvent>, StandardsError> {
        policy.technology_categories.sort();
        policy.technology_categories.dedup();
        policy.non_technology_categories.sort();
        policy.non_technology_categories.dedup();
        policy.technology_mccs.sort();
        policy.technology_mccs.dedup();
        let mut seen = std::collections::BTreeSet::new();
        policy.technology_terms.retain(|t| seen.insert(t.as_str().to_lowercase()));
        if policy.technology_categories.is_empty() && policy.technology_mccs.is_empty() {
            return Err(StandardsError::EmptyPolicy);
        }
        for (field, len) in [
            ("technology_categories", policy.technology_categories.len()),
            ("non_technology_categories", policy.non_technology_categories.len()),
            ("technology_mccs", policy.technology_mccs.len()),
            ("technology_terms", policy.technology_terms.len()),
        ] {
            if len > MAX_POLICY_ENTRIES {
                return Err(StandardsError::TooManyEntries { field, max: MAX_POLICY_ENTRIES });
            }
        }
        if let Some(both) = policy
            .technology_categories
            .iter()
            .find(|c| policy.non_technology_categories.contains(c))
        {
            return Err(StandardsError::CategoryInBothLists { category: both.clone() });
        }
        if let Some(priced) =
            self.products.values().find(|p| p.currency.is_some_and(|c| c != policy.currency))
        {
            return Err(StandardsError::PricedInOtherCurrency {
                policy: policy.currency,
                sku: priced.sku.clone(),
                found: priced.currency.unwrap_or(policy.currency),
            });
        }
        if self.policy.as_ref() == Some(&policy) {
            return Ok(vec![]);
        }
        Ok(vec![policy.into()])
    }
}

/// What IT can do to the standards.
#[derive(Debug, Clone, PartialEq)]
pub enum StandardsCommand {
    /// Add a product to the catalog or replace it (`PUT /v1/catalog/products/{sku}`).
    UpsertProduct(Product),
    /// Take a product out of the catalog (`DELETE /v1/catalog/products/{sku}`).
    RemoveProduct { sku: Sku },
    /// Add a vendor or replace it (`PUT /v1/catalog/vendors/{vendor_id}`).
    UpsertVendor(Vendor),
    /// Replace the policy (`PUT /v1/catalog/policy`).
    SetPolicy(Policy),
    /// Say once whether a category is technology (`PUT /v1/catalog/categories/{category}`).
    ClassifyCategory { category: Category, technology: bool },
}

/// Why a standards command was refused. The `Display` text is the problem's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardsError {
    #[error("There is no product with SKU {sku} in the catalog.")]
    ProductNotFound { sku: Sku },
    #[error(
        "There is no vendor {vendor_id} on the vendor list; add the vendor (PUT /v1/catalog/vendors/{vendor_id}) before its products."
    )]
    UnknownVendor { vendor_id: VendorId },
    #[error("Give a product's unit_price and currency together, or neither.")]
    IncompletePrice,
    #[error(
        "The catalog is kept in the policy's currency, {expected}; this product is priced in {found}."
    )]
    CurrencyMismatch { expected: Currency, found: Currency },
    #[error(
        "The policy's currency would be {policy}, but product {sku} is priced in {found}; reprice or remove such products first."
    )]
    PricedInOtherCurrency { policy: Currency, sku: Sku, found: Currency },
    #[error(
        "A policy must name at least one technology category or technology merchant category code."
    )]
    EmptyPolicy,
    #[error("A policy may list at most {max} entries in `{field}`.")]
    TooManyEntries { field: &'static str, max: usize },
    #[error(
        "Category {category} is listed both as technology and as not technology; list it in one of `technology_categories` and `non_technology_categories`."
    )]
    CategoryInBothLists { category: Category },
    #[error(
        "There is no policy yet to classify the category in: set the policy first (PUT /v1/catalog/policy)."
    )]
    NoPolicy,
}

impl StandardsError {
    /// The stable problem-type slug: `not-found` (404), `no-policy` (409); the others are 422.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::ProductNotFound { .. } => "not-found",
            Self::UnknownVendor { .. } => "unknown-vendor",
            Self::IncompletePrice => "incomplete-price",
            Self::CurrencyMismatch { .. } | Self::PricedInOtherCurrency { .. } => {
                "currency-mismatch"
            }
            Self::EmptyPolicy => "empty-policy",
            Self::TooManyEntries { .. } => "too-many-entries",
            Self::CategoryInBothLists { .. } => "category-in-both-lists",
            Self::NoPolicy => "no-policy",
        }
    }
}

/// Whether the free-text `vendor` names `v`: its id or its name, trimmed, ignoring case.
fn names(vendor: &str, v: &Vendor) -> bool {
    let wanted = vendor.trim().to_lowercase();
    v.vendor_id.as_str() == wanted || v.name.as_str().to_lowercase() == wanted
}

impl Aggregate for Standards {
    type Command = StandardsCommand;
    type Event = StandardsEvent;
    type Error = StandardsError;

    fn handle(
        &self,
        command: StandardsCommand,
    ) -> Result<Decision<StandardsEvent>, StandardsError> {
        Standards::handle(self, command).map(Decision::events)
    }

    fn apply(&mut self, event: &StandardsEvent, at: At) {
        Standards::apply(self, at.version, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::fixtures::*;
    use crate::domain::testing::given;
    use events::values::{Category, Mcc, Money, TechnologyTerm};

    fn product_without_price() -> Product {
        Product { unit_price: None, currency: None, ..laptop() }
    }

    #[test]
    fn upserting_a_product_of_a_known_vendor_emits_it() {
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertProduct(laptop()))
            .then_expect_events(vec![laptop().into()]);
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertProduct(product_without_price()))
            .then_expect_events(vec![product_without_price().into()]);
    }

    #[test]
    fn upserting_the_same_product_again_emits_nothing() {
        given::<Standards>([dell().into(), laptop().into()])
            .when(StandardsCommand::UpsertProduct(laptop()))
            .then_expect_events(vec![]);
        let changed = Product { unit_price: Some(money("849.00")), ..laptop() };
        given::<Standards>([dell().into(), laptop().into()])
            .when(StandardsCommand::UpsertProduct(changed.clone()))
            .then_expect_events(vec![changed.into()]);
    }

    #[test]
    fn a_product_needs_a_listed_vendor() {
        given::<Standards>([])
            .when(StandardsCommand::UpsertProduct(laptop()))
            .then_expect_error(StandardsError::UnknownVendor { vendor_id: dell().vendor_id });
    }

    #[test]
    fn a_product_may_name_no_vendor() {
        let anywhere = Product { vendor_id: None, ..laptop() };
        given::<Standards>([])
            .when(StandardsCommand::UpsertProduct(anywhere.clone()))
            .then_expect_events(vec![anywhere.into()]);
    }

    #[test]
    fn price_and_currency_come_together() {
        let no_currency = Product { currency: None, ..laptop() };
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertProduct(no_currency))
            .then_expect_error(StandardsError::IncompletePrice);
        let no_price = Product { unit_price: None, ..laptop() };
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertProduct(no_price))
            .then_expect_error(StandardsError::IncompletePrice);
    }

    #[test]
    fn product_prices_are_in_the_policy_currency() {
        let euros = Product { currency: Some(currency("EUR")), ..laptop() };
        given::<Standards>([dell().into(), policy().into()])
            .when(StandardsCommand::UpsertProduct(euros))
            .then_expect_error(StandardsError::CurrencyMismatch {
                expected: currency("USD"),
                found: currency("EUR"),
            });
        let euro_policy = Policy { currency: currency("EUR"), ..policy() };
        given::<Standards>([dell().into(), laptop().into()])
            .when(StandardsCommand::SetPolicy(euro_policy))
            .then_expect_error(StandardsError::PricedInOtherCurrency {
                policy: currency("EUR"),
                sku: laptop().sku,
                found: currency("USD"),
            });
    }

    #[test]
    fn removing_needs_the_product() {
        given::<Standards>([dell().into(), laptop().into()])
            .when(StandardsCommand::RemoveProduct { sku: laptop().sku })
            .then_expect_events(vec![ProductRemoved { sku: laptop().sku }.into()]);
        let err = given::<Standards>([])
            .when(StandardsCommand::RemoveProduct { sku: laptop().sku })
            .then_expect_error(StandardsError::ProductNotFound { sku: laptop().sku });
        assert_eq!(err.slug(), "not-found");
    }

    #[test]
    fn vendor_upserts() {
        given::<Standards>([])
            .when(StandardsCommand::UpsertVendor(dell()))
            .then_expect_events(vec![dell().into()]);
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertVendor(dell()))
            .then_expect_events(vec![]);
        let unapproved = Vendor { approved: false, ..dell() };
        given::<Standards>([dell().into()])
            .when(StandardsCommand::UpsertVendor(unapproved.clone()))
            .then_expect_events(vec![unapproved.into()]);
    }

    #[test]
    fn policy_lists_are_normalized() {
        let messy = Policy {
            technology_categories: vec![
                category("software"),
                category("laptops"),
                category("software"),
            ],
            technology_mccs: vec![mcc("5734"), mcc("5732"), mcc("5734")],
            ..policy()
        };
        let clean = Policy {
            technology_categories: vec![category("laptops"), category("software")],
            technology_mccs: vec![mcc("5732"), mcc("5734")],
            ..policy()
        };
        given::<Standards>([])
            .when(StandardsCommand::SetPolicy(messy.clone()))
            .then_expect_events(vec![clean.clone().into()]);
        given::<Standards>([clean.into()])
            .when(StandardsCommand::SetPolicy(messy))
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_other_lists_are_normalized_too() {
        let terms = |ts: &[&str]| -> Vec<TechnologyTerm> {
            ts.iter().map(|t| TechnologyTerm::parse(t).unwrap()).collect()
        };
        let messy = Policy {
            non_technology_categories: vec![
                category("paper"),
                category("books"),
                category("paper"),
            ],
            technology_terms: terms(&["laptop", "iPad", "Laptop", "3D printer"]),
            ..policy()
        };
        let clean = Policy {
            non_technology_categories: vec![category("books"), category("paper")],
            technology_terms: terms(&["laptop", "iPad", "3D printer"]),
            ..policy()
        };
        given::<Standards>([])
            .when(StandardsCommand::SetPolicy(messy))
            .then_expect_events(vec![clean.into()]);
    }

    #[test]
    fn a_category_is_technology_or_not_never_both() {
        let both = Policy {
            non_technology_categories: vec![category("laptops"), category("paper")],
            ..policy()
        };
        let err = given::<Standards>([]).when(StandardsCommand::SetPolicy(both)).then_expect_error(
            StandardsError::CategoryInBothLists { category: category("laptops") },
        );
        assert_eq!(err.slug(), "category-in-both-lists");
    }

    #[test]
    fn classifying_a_category_moves_it_into_one_list() {
        let classify = |c: &str, technology| StandardsCommand::ClassifyCategory {
            category: category(c),
            technology,
        };
        // Not technology: added to the non-technology list.
        let mut books = policy();
        books.non_technology_categories.insert(0, category("books"));
        given::<Standards>([policy().into()])
            .when(classify("books", false))
            .then_expect_events(vec![books.clone().into()]);
        // Already there: nothing.
        given::<Standards>([books.clone().into()])
            .when(classify("books", false))
            .then_expect_events(vec![]);
        // Technology after all: moved.
        let mut moved = policy();
        moved.technology_categories.insert(0, category("books"));
        given::<Standards>([books.into()])
            .when(classify("books", true))
            .then_expect_events(vec![moved.into()]);
        // The last technology category made not technology, with no codes: an empty policy.
        let only_laptops = Policy {
            technology_categories: vec![category("laptops")],
            technology_mccs: vec![],
            ..policy()
        };
        given::<Standards>([only_laptops.into()])
            .when(classify("laptops", false))
            .then_expect_error(StandardsError::EmptyPolicy);
        let err = given::<Standards>([])
            .when(classify("books", true))
            .then_expect_error(StandardsError::NoPolicy);
        assert_eq!(err.slug(), "no-policy");
    }

    #[test]
    fn policy_must_say_what_technology_is() {
        let empty = Policy { technology_categories: vec![], technology_mccs: vec![], ..policy() };
        let err = given::<Standards>([])
            .when(StandardsCommand::SetPolicy(empty))
            .then_expect_error(StandardsError::EmptyPolicy);
        assert_eq!(err.slug(), "empty-policy");
        let only_mcc = Policy { technology_categories: vec![], ..policy() };
        given::<Standards>([])
            .when(StandardsCommand::SetPolicy(only_mcc.clone()))
            .then_expect_events(vec![only_mcc.into()]);
    }

    #[test]
    fn policy_lists_are_bounded() {
        let many: Vec<Category> =
            (0..=MAX_POLICY_ENTRIES).map(|i| category(&format!("c{i}"))).collect();
        given::<Standards>([])
            .when(StandardsCommand::SetPolicy(Policy { technology_categories: many, ..policy() }))
            .then_expect_error(StandardsError::TooManyEntries {
                field: "technology_categories",
                max: MAX_POLICY_ENTRIES,
            });
        let many: Vec<Mcc> = (0..=MAX_POLICY_ENTRIES).map(|i| mcc(&format!("{i:04}"))).collect();
        given::<Standards>([])
            .when(StandardsCommand::SetPolicy(Policy { technology_mccs: many, ..policy() }))
            .then_expect_error(StandardsError::TooManyEntries {
                field: "technology_mccs",
                max: MAX_POLICY_ENTRIES,
            });
    }

    #[test]
    fn fold_tracks_version_and_state() {
        let mut standards = Standards::default();
        standards.apply(1, &dell().into());
        standards.apply(2, &laptop().into());
        standards.apply(3, &policy().into());
        assert_eq!(standards.version, 3);
        assert!(standards.product(&laptop().sku).is_some());
        standards.apply(4, &ProductRemoved { sku: laptop().sku }.into());
        assert!(standards.product(&laptop().sku).is_none());
        assert_eq!(standards.policy.as_ref().unwrap().review_threshold, money("5000.00"));
        assert_eq!(standards.version, 4);
    }

    #[test]
    fn a_check_names_a_vendor_by_id_or_name() {
        let standards = standards();
        let dell = dell().vendor_id;
        assert!(standards.names_vendor("Dell", &dell));
        assert!(standards.names_vendor(" dell technologies ", &dell));
        assert!(!standards.names_vendor("CDW Education", &dell));
        assert!(!standards.names_vendor("Dell", &cdw().vendor_id));
    }

    #[test]
    fn vendor_matching_uses_id_or_name_ignoring_case() {
        let standards = standards();
        assert!(standards.approved_vendor("dell").is_some());
        assert!(standards.approved_vendor(" DELL ").is_some());
        assert!(standards.approved_vendor("dell technologies").is_some());
        assert!(standards.approved_vendor("Dell Technologies").is_some());
        assert!(standards.approved_vendor("Dell Inc").is_none());
        assert!(standards.approved_vendor("Gadget Barn").is_none(), "listed but not approved");
    }

    #[test]
    fn slugs() {
        assert_eq!(StandardsError::IncompletePrice.slug(), "incomplete-price");
        assert_eq!(
            StandardsError::UnknownVendor { vendor_id: dell().vendor_id }.slug(),
            "unknown-vendor"
        );
        let _ = Money::ZERO;
    }
}
