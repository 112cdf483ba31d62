//! Reconciliation: which purchase check a card transaction is.
//!
//! A check **fits** a transaction when all of these hold (the district sets the numbers,
//! [`ReconciliationSet`]):
//!
//! - the same school, and the check was paid by card (`p_card`) in the same currency;
//! - the amounts differ by at most `amount_tolerance`, or by at most
//!   `amount_tolerance_percent` of the check's total, whichever is larger;
//! - the transaction is dated at most `date_window_days` before the district's day the check
//!   was asked ([`asked_on`]), or after that day or the day IT approved it, whichever is later
//!   (a held purchase is bought once IT approves it): its statement date against those days,
//!   all local calendar dates ([`CheckRef::days_from`]);
//! - the merchant's name is at least `min_vendor_similarity` similar to the check's vendor
//!   ([`similarity`]).
//!
//! Then ([`reconcile`]): a transaction that exactly one check fits, and that no other
//! transaction of the same statement claims, is **matched** (`exact` when the amounts are
//! equal to the cent, else `within_tolerance`). When several checks fit, or one check fits
//! several transactions, each is **ambiguous**: a choice for IT, never a guess. A check
//! already matched to a transaction is not a candidate again. Credits are never matched.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use events::calendar::DistrictCalendar;
use events::card::{
    CardTransactionRecorded, MatchCandidate, MatchHow, MatchMethod, ReconciliationSet,
};
use events::gate::{AmendedTotal, PurchaseSubmitted};
use events::values::{Currency, Money, SchoolId};
use uuid::Uuid;

/// A purchase check paid by card, as reconciliation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRef {
    pub purchase_id: Uuid,
    pub school_id: SchoolId,
    pub vendor: String,
    pub total: Money,
    pub currency: Currency,
    /// The district's day the check was asked ([`asked_on`]).
    pub date: NaiveDate,
    /// The district's day IT approved it, for a held purchase approved (as submitted or as
    /// amended): it is bought then, however long after it was asked.
    pub approved_on: Option<NaiveDate>,
}

/// A card transaction, as reconciliation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Charge<'a> {
    pub school_id: &'a SchoolId,
    pub date: NaiveDate,
    pub merchant: &'a str,
    pub amount: Money,
    pub currency: Currency,
    pub credit: bool,
}

impl CheckRef {
    /// The check `submitted` asked about, which the log recorded at `recorded_at`, at what it
    /// costs now (`amended`, folded from its stream) and approved `approved_at` (when it took
    /// place, for a held purchase approved), dated in the district's `calendar`.
    pub fn submitted(
        submitted: &PurchaseSubmitted,
        (amended, approved_at): (&AmendedTotal, Option<DateTime<Utc>>),
        recorded_at: DateTime<Utc>,
        calendar: &DistrictCalendar,
    ) -> Self {
        Self {
            purchase_id: submitted.purchase_id,
            school_id: submitted.school_id.clone(),
            vendor: submitted.vendor.to_string(),
            total: amended.total(submitted.total),
            currency: submitted.currency,
            date: asked_on(submitted.requested_at, recorded_at, calendar),
            approved_on: approved_at.map(|at| calendar.today(at)),
        }
    }

    /// How many days `date` (a transaction's) is from the check: before the day it was asked,
    /// or after that day or the day it was approved, whichever is later; 0 between them.
    pub fn days_from(&self, date: NaiveDate) -> u64 {
        let until = self.approved_on.map_or(self.date, |approved| approved.max(self.date));
        let apart = if date < self.date { self.date - date } else { date - until.min(date) };
        apart.num_days().unsigned_abs()
    }
}

/// The day a check is dated for matching: the district's day (in `calendar`, its time zone)
/// when the purchase was asked about, that is when it was requested for a check sent after
/// the fact, else when the log recorded the check ([`events::clocks::requested`], the instant
/// [`events::clocks::took_place_at`] gives its submission).
///
/// A statement dates a transaction by the local calendar, so the check is dated by the
/// district's: a check sent at 19:00 in Chicago is that day's, not the next (its UTC date).
pub fn asked_on(
    requested_at: Option<DateTime<Utc>>,
    recorded_at: DateTime<Utc>,
    calendar: &DistrictCalendar,
) -> NaiveDate {
    calendar.today(events::clocks::requested(requested_at, recorded_at))
}

impl<'a> From<&'a CardTransactionRecorded> for Charge<'a> {
    fn from(t: &'a CardTransactionRecorded) -> Self {
        Charge {
            school_id: &t.school_id,
            date: t.transaction_date,
            merchant: t.merchant.as_str(),
            amount: t.amount,
            currency: t.currency,
            credit: t.credit,
        }
    }
}

/// What reconciliation decided for one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    Matched(MatchCandidate),
    /// Several checks fit (or one check fits several transactions): IT chooses.
    Ambiguous(Vec<MatchCandidate>),
    /// No check fits.
    Unmatched,
}

/// How well `check` fits `charge` whatever the thresholds: the numbers a match records.
pub fn measure(charge: &Charge<'_>, check: &CheckRef, method: MatchMethod) -> MatchHow {
    let difference = (charge.amount.cents() - check.total.cents()).abs();
    MatchHow {
        method,
        amount_difference: Money::from_cents(difference).unwrap_or(Money::MAX),
        days_apart: u32::try_from(check.days_from(charge.date)).unwrap_or(u32::MAX),
        vendor_similarity: similarity(&check.vendor, charge.merchant),
    }
}

/// How `check` fits `charge`, or `None` when it does not (see the module docs).
pub fn fit(
    charge: &Charge<'_>,
    check: &CheckRef,
    settings: &ReconciliationSet,
) -> Option<MatchHow> {
    if charge.credit || charge.school_id != &check.school_id || charge.currency != check.currency {
        return None;
    }
    let difference = (charge.amount.cents() - check.total.cents()).abs();
    let percent = check.total.cents() * i64::from(settings.amount_tolerance_percent) / 100;
    if difference > settings.amount_tolerance.cents().max(percent) {
        return None;
    }
    if check.days_from(charge.date) > u64::from(settings.date_window_days) {
        return None;
    }
    let method = if difference == 0 { MatchMethod::Exact } else { MatchMethod::WithinTolerance };
    let how = measure(charge, check, method);
    (how.vendor_similarity >= settings.min_vendor_similarity).then_some(how)
}

/// Reconciles a statement's `charges` with the `checks` not yet matched (see the module docs).
/// One result per charge, in order.
pub fn reconcile(
    charges: &[Charge<'_>],
    checks: &[CheckRef],
    settings: &ReconciliationSet,
) -> Vec<Reconciled> {
    let mut by_school: HashMap<&SchoolId, Vec<&CheckRef>> = HashMap::new();
    for check in checks {
        by_school.entry(&check.school_id).or_default().push(check);
    }
    let candidates: Vec<Vec<MatchCandidate>> = charges
        .iter()
        .map(|charge| {
            let school = by_school.get(charge.school_id).map_or(&[][..], Vec::as_slice);
            school
                .iter()
                .filter_map(|check| {
                    let how = fit(charge, check, settings)?;
                    Some(MatchCandidate { purchase_id: check.purchase_id, how })
                })
                .collect()
        })
        .collect();
    let mut claims: HashMap<Uuid, usize> = HashMap::new();
    for found in &candidates {
        for candidate in found {
            *claims.entry(candidate.purchase_id).or_default() += 1;
        }
    }
    candidates
        .into_iter()
        .map(|mut found| match found.len() {
            0 => Reconciled::Unmatched,
            1 if claims[&found[0].purchase_id] == 1 => Reconciled::Matched(found.remove(0)),
            _ => Reconciled::Ambiguous(found),
        })
        .collect()
}

/// Words in names that say nothing about who the business is.
const NOISE: [&str; 9] = ["INC", "LLC", "LTD", "CORP", "CO", "COM", "THE", "NET", "WWW"];

/// A name reduced to what identifies the business: upper case, without store numbers (words
/// with digits, `#1234`) and without legal-form words (`INC`, `LLC`, …). The words that
/// remain, in order: one reading of the whole name, and, when at most eight characters stand
/// before a `*`, a second of what follows it. What stands there is a payment processor's
/// prefix (`SQ *GEEK SQUAD`, `TST* `, `PAYPAL *`) or the brand itself (`GOOGLE *GSUITE`,
/// `ADOBE *ACROPRO`): a name may be either reading.
pub fn name_readings(name: &str) -> Vec<Vec<String>> {
    let words = |name: &str| -> Vec<String> {
        name.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))
            .filter(|w| !NOISE.contains(w))
            .map(str::to_owned)
            .collect()
    };
    let upper = name.to_uppercase();
    let mut readings = vec![words(&upper)];
    if let Some((prefix, rest)) = upper.split_once('*')
        && prefix.trim().len() <= 8
    {
        readings.push(words(rest));
    }
    readings
}

/// How similar a check's vendor and a statement's merchant name are, 0 to 100.
///
/// Both are reduced to their identifying words ([`name_readings`], each reading of each) and
/// joined without spaces (`Best Buy` and `BESTBUY.COM #00123` both become `BESTBUY`). Then,
/// the largest, over the readings, of:
///
/// - **100** when one contains the other (at least three letters): `GEEKSQUAD` in
///   `BESTBUYGEEKSQUAD`;
/// - **80** when their first words are the same (at least three letters): `Dell
///   Technologies` and `DELL MARKETING`;
/// - the **Dice coefficient** of their letter pairs, × 100: twice the pairs they share over
///   the pairs they have (`CDW Government` and `CDW GOVT`: 56).
///
/// Symmetric, and 0 when either name has no identifying word.
pub fn similarity(a: &str, b: &str) -> u8 {
    let (ra, rb) = (name_readings(a), name_readings(b));
    let pairs = ra.iter().flat_map(|wa| rb.iter().map(move |wb| (wa, wb)));
    pairs.map(|(wa, wb)| words_similarity(wa, wb)).max().unwrap_or(0)
}

fn words_similarity(wa: &[String], wb: &[String]) -> u8 {
    let (ja, jb) = (wa.concat(), wb.concat());
    if ja.is_empty() || jb.is_empty() {
        return 0;
    }
    let shorter = ja.chars().count().min(jb.chars().count());
    if shorter >= 3 && (ja.contains(&jb) || jb.contains(&ja)) {
        return 100;
    }
    let first_words = if wa[0] == wb[0] && wa[0].chars().count() >= 3 { 80 } else { 0 };
    first_words.max(dice(&ja, &jb))
}

fn dice(a: &str, b: &str) -> u8 {
    let pairs = |s: &str| -> Vec<(char, char)> {
        let chars: Vec<char> = s.chars().collect();
        chars.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let (pa, pb) = (pairs(a), pairs(b));
    if pa.is_empty() || pb.is_empty() {
        return 0;
    }
    let mut remaining: Vec<(char, char)> = pb.clone();
    let mut shared = 0;
    for pair in &pa {
        if let Some(i) = remaining.iter().position(|p| p == pair) {
            remaining.swap_remove(i);
            shared += 1;
        }
    }
    u8::try_from(200 * shared / (pa.len() + pb.len())).unwrap_or(100)
}

/// Whether a merchant is one IT lists as technology: its name holds a listed name as whole
/// words (`GEEK SQUAD #12` and `BESTBUY GEEKSQUAD` hold `Geek Squad`; `APPLEBEE'S` does not
/// hold `Apple`). Stricter than a check's vendor, and whatever the vendor threshold is: a
/// listed name makes every charge at such a merchant technology.
pub fn listed_merchant(merchant: &str, settings: &ReconciliationSet) -> bool {
    let readings = name_readings(merchant);
    settings.technology_merchants.iter().any(|listed| {
        let listed = name_readings(listed.as_str()).swap_remove(0).concat();
        !listed.is_empty() && readings.iter().any(|words| holds_whole_words(words, &listed))
    })
}

/// Whether some run of consecutive `words`, joined, is `name`.
fn holds_whole_words(words: &[String], name: &str) -> bool {
    (0..words.len()).any(|start| {
        let mut joined = String::new();
        words[start..].iter().any(|word| {
            joined.push_str(word);
            joined == name
        })
    })
}

/// The purchase ids among `candidates`, for quick membership tests.
pub fn purchase_ids(candidates: &[MatchCandidate]) -> HashSet<Uuid> {
    candidates.iter().map(|c| c.purchase_id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(id: &str) -> SchoolId {
        SchoolId::parse(id).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 10, d).unwrap()
    }

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn check(n: u128, school_id: &str, vendor: &str, total: &str, date: u32) -> CheckRef {
        CheckRef {
            purchase_id: Uuid::from_u128(n),
            school_id: school(school_id),
            vendor: vendor.into(),
            total: money(total),
            currency: usd(),
            date: day(date),
            approved_on: None,
        }
    }

    fn charge<'a>(
        school_id: &'a SchoolId,
        merchant: &'a str,
        amount: &str,
        date: u32,
    ) -> Charge<'a> {
        Charge {
            school_id,
            date: day(date),
            merchant,
            amount: money(amount),
            currency: usd(),
            credit: false,
        }
    }

    fn settings() -> ReconciliationSet {
        ReconciliationSet::default()
    }

    #[test]
    fn the_same_amount_at_a_similar_merchant_within_the_window_is_an_exact_match() {
        let lincoln = school("lincoln-elem");
        let checks = [check(1, "lincoln-elem", "Best Buy", "1299.99", 1)];
        let found =
            reconcile(&[charge(&lincoln, "BEST BUY #1234", "1299.99", 3)], &checks, &settings());
        let Reconciled::Matched(m) = &found[0] else { panic!("{found:?}") };
        assert_eq!(m.purchase_id, Uuid::from_u128(1));
        assert_eq!(m.how.method, MatchMethod::Exact);
        assert_eq!((m.how.days_apart, m.how.vendor_similarity), (2, 100));
        assert_eq!(m.how.amount_difference, Money::ZERO);
    }

    #[test]
    fn an_amount_within_the_tolerance_matches_and_says_by_how_much() {
        let lincoln = school("lincoln-elem");
        // 2 % of 1000.00 is 20.00, more than the 5.00 floor.
        let checks = [check(1, "lincoln-elem", "Dell Technologies", "1000.00", 5)];
        let found = reconcile(
            &[charge(&lincoln, "DELL MARKETING L.P.", "1018.40", 1)],
            &checks,
            &settings(),
        );
        let Reconciled::Matched(m) = &found[0] else { panic!("{found:?}") };
        assert_eq!(m.how.method, MatchMethod::WithinTolerance);
        assert_eq!(m.how.amount_difference, money("18.40"));
        assert_eq!(m.how.vendor_similarity, 80);
        // Past the tolerance, past the window, another school, another vendor: no fit.
        for c in [
            charge(&lincoln, "DELL MARKETING", "1020.01", 5),
            charge(&lincoln, "DELL MARKETING", "1000.00", 13),
        ] {
            assert_eq!(reconcile(&[c], &checks, &settings()), [Reconciled::Unmatched]);
        }
        let adams = school("adams-middle");
        assert_eq!(
            reconcile(&[charge(&adams, "DELL", "1000.00", 5)], &checks, &settings()),
            [Reconciled::Unmatched]
        );
        assert_eq!(
            reconcile(&[charge(&lincoln, "OFFICE DEPOT #12", "1000.00", 5)], &checks, &settings()),
            [Reconciled::Unmatched]
        );
    }

    #[test]
    fn a_held_purchase_bought_once_approved_is_in_the_window_from_its_approval() {
        // Given Lincoln's check asked on the 1st, held, and approved by IT on the 20th.
        let lincoln = school("lincoln-elem");
        let asked = check(1, "lincoln-elem", "Best Buy", "1299.99", 1);
        let approved = CheckRef { approved_on: Some(day(20)), ..asked.clone() };
        let bought = |date| charge(&lincoln, "BEST BUY #1234", "1299.99", date);
        // When it is bought on the 22nd, then it is 2 days from the approval: a match, which a
        // check not approved (the window from the 1st) is not.
        let found = reconcile(&[bought(22)], std::slice::from_ref(&approved), &settings());
        let Reconciled::Matched(m) = &found[0] else { panic!("{found:?}") };
        assert_eq!(m.how.days_apart, 2);
        assert_eq!(reconcile(&[bought(22)], &[asked], &settings()), [Reconciled::Unmatched]);
        // Between asking and approval it is 0 days from the check; before asking, counted from
        // the day it was asked; past the window after approval, no fit.
        assert_eq!((approved.days_from(day(10)), approved.days_from(day(20))), (0, 0));
        assert_eq!(CheckRef { date: day(5), ..approved.clone() }.days_from(day(2)), 3);
        assert_eq!(reconcile(&[bought(28)], &[approved], &settings()), [Reconciled::Unmatched]);
    }

    #[test]
    fn two_fitting_checks_are_a_choice_for_it_not_a_guess() {
        let lincoln = school("lincoln-elem");
        let checks = [
            check(1, "lincoln-elem", "Best Buy", "499.00", 2),
            check(2, "lincoln-elem", "Best Buy", "499.00", 4),
        ];
        let found =
            reconcile(&[charge(&lincoln, "BEST BUY 00123", "499.00", 3)], &checks, &settings());
        let Reconciled::Ambiguous(candidates) = &found[0] else { panic!("{found:?}") };
        let ids = purchase_ids(candidates);
        assert_eq!(ids, HashSet::from([Uuid::from_u128(1), Uuid::from_u128(2)]));
    }

    #[test]
    fn one_check_fitting_two_transactions_is_ambiguous_for_both() {
        let lincoln = school("lincoln-elem");
        let checks = [check(1, "lincoln-elem", "Apple", "329.00", 2)];
        let charges = [
            charge(&lincoln, "APPLE.COM/US", "329.00", 3),
            charge(&lincoln, "APPLE STORE R102", "329.00", 4),
        ];
        let found = reconcile(&charges, &checks, &settings());
        assert!(
            found.iter().all(|r| matches!(r, Reconciled::Ambiguous(c) if c.len() == 1)),
            "{found:?}"
        );
    }

    #[test]
    fn credits_are_never_matched() {
        let lincoln = school("lincoln-elem");
        let checks = [check(1, "lincoln-elem", "Best Buy", "49.99", 2)];
        let refund = Charge { credit: true, ..charge(&lincoln, "BEST BUY", "49.99", 3) };
        assert_eq!(reconcile(&[refund], &checks, &settings()), [Reconciled::Unmatched]);
    }

    fn in_zone(zone: &str) -> DistrictCalendar {
        use events::calendar::{BusinessHours, TimeZoneName};
        DistrictCalendar::new(TimeZoneName::parse(zone).unwrap(), BusinessHours::office())
    }

    /// `time` on 2025-10-`d` in `calendar`'s time zone.
    fn local(calendar: &DistrictCalendar, d: u32, time: &str) -> DateTime<Utc> {
        let time = events::calendar::ClockTime::parse(time).unwrap();
        calendar.instant(day(d), time).unwrap()
    }

    #[test]
    fn an_evening_check_in_chicago_is_dated_on_the_district_s_day() {
        // Given a district in Chicago and a check sent at 19:00 on 2025-10-06 (CDT), which is
        // already 2025-10-07 in UTC.
        let chicago = in_zone("America/Chicago");
        let evening = local(&chicago, 6, "19:00");
        assert_eq!(evening.date_naive(), day(7));
        // When its day is asked, then it is the district's: the 6th, whether the log's time
        // or the time it was requested dates it.
        assert_eq!(asked_on(None, evening, &chicago), day(6));
        assert_eq!(asked_on(Some(evening), evening + chrono::TimeDelta::days(3), &chicago), day(6));
        // East of UTC, a morning check is the local day too: 08:00 on the 7th in Tokyo is
        // still the 6th in UTC.
        let tokyo = in_zone("Asia/Tokyo");
        let morning = local(&tokyo, 7, "08:00");
        assert_eq!((morning.date_naive(), asked_on(None, morning, &tokyo)), (day(6), day(7)));
        // Until the district sets its zone, the calendar is UTC's, and so is the day.
        assert_eq!(asked_on(None, evening, &DistrictCalendar::default()), day(7));
    }

    #[test]
    fn an_evening_check_in_chicago_and_a_transaction_of_that_day_are_0_days_apart() {
        // Given a district in Chicago, a window of 0 days, and a card-paid check sent at 19:00
        // on 2025-10-06 (the UTC date would say the 7th: 1 day apart, outside the window).
        let chicago = in_zone("America/Chicago");
        let no_days = ReconciliationSet { date_window_days: 0, ..settings() };
        let submitted = PurchaseSubmitted {
            vendor: events::values::ShortText::parse("Best Buy").unwrap(),
            payment_method: events::values::PaymentMethod::PCard,
            ..events::testing::submitted(Uuid::from_u128(1))
        };
        let (amended, asked) = (AmendedTotal::default(), local(&chicago, 6, "19:00"));
        let checks = [CheckRef::submitted(&submitted, (&amended, None), asked, &chicago)];
        assert_eq!(checks[0].date, day(6));
        // When the statement's transaction dated that local day is reconciled with it.
        let lincoln = school("lincoln-elem");
        let total = &checks[0].total.to_string();
        let found = reconcile(&[charge(&lincoln, "BEST BUY #1234", total, 6)], &checks, &no_days);
        // Then it is a match, 0 days apart.
        let Reconciled::Matched(m) = &found[0] else { panic!("{found:?}") };
        assert_eq!((m.purchase_id, m.how.days_apart), (submitted.purchase_id, 0));
        // And a transaction dated the next day is 1 day apart: outside the window.
        let next_day = charge(&lincoln, "BEST BUY #1234", total, 7);
        assert_eq!(reconcile(&[next_day], &checks, &no_days), [Reconciled::Unmatched]);
        assert_eq!(measure(&next_day, &checks[0], MatchMethod::ChosenByIt).days_apart, 1);
    }

    #[test]
    fn similarity_reads_names_as_statements_print_them() {
        assert_eq!(similarity("Best Buy", "BESTBUY.COM 00123"), 100);
        assert_eq!(similarity("Geek Squad", "SQ *GEEK SQUAD #12"), 100);
        assert_eq!(similarity("Apple", "APPLE.COM/US"), 100);
        assert_eq!(similarity("Dell Technologies", "DELL MARKETING L.P."), 80);
        assert_eq!(similarity("CDW Government", "CDW GOVT #A123"), 80);
        assert!(similarity("Best Buy", "OFFICE DEPOT #1105") < 30);
        assert_eq!(similarity("Best Buy", "#1234"), 0);
        assert_eq!(similarity("Staples", "STAPLES"), similarity("STAPLES", "Staples"));
        let listed = ReconciliationSet {
            technology_merchants: vec![events::values::ShortText::parse("Geek Squad").unwrap()],
            ..settings()
        };
        assert!(listed_merchant("BEST BUY GEEK SQUAD 0042", &listed));
        assert!(listed_merchant("SQ *GEEKSQUAD", &listed));
        assert!(!listed_merchant("TRADER JOES #552", &listed));
        assert!(!listed_merchant("BESTBUYGEEKSQUAD", &listed), "inside a word");
        // Whole words, whatever the vendor threshold: a listed Apple is not Applebee's.
        let apple = ReconciliationSet {
            technology_merchants: vec![events::values::ShortText::parse("Apple").unwrap()],
            min_vendor_similarity: 0,
            ..ReconciliationSet::default()
        };
        assert!(listed_merchant("APPLE.COM/BILL", &apple));
        assert!(!listed_merchant("APPLEBEE'S #123", &apple));
        assert!(!listed_merchant("SHELL OIL 5743", &apple));
        // A brand before the `*` is the merchant as much as what follows it.
        assert_eq!(similarity("Google", "GOOGLE *GSUITE_district.org"), 100);
        assert_eq!(similarity("Adobe", "ADOBE *ACROPRO SUBS"), 100);
        assert_eq!(similarity("Lenovo", "LENOVO*US"), 100);
        assert!(similarity("Best Buy", "GOOGLE *GSUITE") < 30);
    }
}
