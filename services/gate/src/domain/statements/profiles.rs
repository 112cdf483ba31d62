//! Statement profiles: how each kind of statement file says the same eight facts.
//!
//! Every profile is a [`Layout`]: a delimiter, whether the first line names the columns, where
//! each field is (by header name, case-insensitive, or by position), the date format, and how
//! a credit is written. Files are read with the `csv` crate, record by record, so a file is
//! never held whole.
//!
//! | profile | delimiter | header | dates | card | credits |
//! |---|---|---|---|---|---|
//! | `procgate` | `,` | `reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency` | `YYYY-MM-DD` | last four digits | a negative amount |
//! | `usbank` (in the style of U.S. Bank Access Online's transaction export) | `,` | named columns, any order, extra columns ignored (see [`Layout::usbank`]) | `MM/DD/YYYY` | a masked account number | `C` in `Debit Credit Indicator` |
//! | `munis` (in the style of Tyler Munis's pipe-delimited statement import) | `\|` | none: fields by position (see [`Layout::munis`]) | `MM/DD/YYYY` | a masked card number | a negative amount |
//! | `mapping` | any one character | named columns the district maps ([`Mapping`]) | any `strftime` format | last four digits or a masked number | a negative amount |
//!
//! Amounts may carry a `$`, thousands separators (`1,299.00`), a leading or trailing `-`, or
//! parentheses (`(45.00)`): the last three mean a credit.

use std::io::Read;

use chrono::{Datelike, NaiveDate};
use events::values::{BankReference, CardLast4, Currency, Mcc, Money, ShortText};

/// The earliest year a statement's date may have.
const FIRST_YEAR: i32 = 2000;

/// The facts a statement row gives, in the names the `procgate` profile uses (and errors
/// name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Reference,
    TransactionDate,
    PostedOn,
    CardLast4,
    Merchant,
    Mcc,
    Amount,
    Currency,
    /// Whether the amount is a credit (`C`, `CR`, `CREDIT`) or a debit (anything else).
    CreditIndicator,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Reference,
        Field::TransactionDate,
        Field::PostedOn,
        Field::CardLast4,
        Field::Merchant,
        Field::Mcc,
        Field::Amount,
        Field::Currency,
        Field::CreditIndicator,
    ];

    /// The field's name in errors and mappings (`transaction_date`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Reference => "reference",
            Field::TransactionDate => "transaction_date",
            Field::PostedOn => "posted_on",
            Field::CardLast4 => "card_last4",
            Field::Merchant => "merchant",
            Field::Mcc => "mcc",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::CreditIndicator => "credit_indicator",
        }
    }

    /// Whether every row must give it.
    pub fn required(self) -> bool {
        !matches!(self, Field::PostedOn | Field::Currency | Field::CreditIndicator)
    }
}

/// Where a field is in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The column with this header (compared case-insensitively, trimmed).
    Named(String),
    /// The 0-based position, in files without a header.
    At(usize),
    /// The profile does not give it.
    Absent,
}

/// How a statement file is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The profile's name, as recorded with the statement.
    pub profile: String,
    pub delimiter: u8,
    /// Whether the first line names the columns.
    pub headers: bool,
    /// Where each of [`Field::ALL`] is, in that order.
    pub columns: [Column; 9],
    /// A `strftime` format (`%Y-%m-%d`).
    pub date_format: String,
}

fn named(names: [&str; 9]) -> [Column; 9] {
    names.map(|n| if n.is_empty() { Column::Absent } else { Column::Named(n.to_owned()) })
}

impl Layout {
    /// The `procgate` profile: API.md's CSV header, ISO dates, negative amounts for credits.
    pub fn procgate() -> Self {
        Self {
            profile: "procgate".into(),
            delimiter: b',',
            headers: true,
            columns: named([
                "reference",
                "transaction_date",
                "posted_on",
                "card_last4",
                "merchant",
                "mcc",
                "amount",
                "currency",
                "",
            ]),
            date_format: "%Y-%m-%d".into(),
        }
    }

    /// `usbank`: a comma-delimited export in the style of U.S. Bank Access Online's
    /// transaction detail, columns found by name: `Transaction Reference Number`, `Transaction
    /// Date`, `Posting Date`, `Account Number` (masked: its last four digits are used),
    /// `Merchant Name`, `Merchant Category Code`, `Transaction Amount` (unsigned), `Debit
    /// Credit Indicator` (`D` or `C`), `Currency Code`. Other columns (cardholder name,
    /// merchant city and state, accounting codes…) are ignored.
    pub fn usbank() -> Self {
        Self {
            profile: "usbank".into(),
            delimiter: b',',
            headers: true,
            columns: named([
                "Transaction Reference Number",
                "Transaction Date",
                "Posting Date",
                "Account Number",
                "Merchant Name",
                "Merchant Category Code",
                "Transaction Amount",
                "Currency Code",
                "Debit Credit Indicator",
            ]),
            date_format: "%m/%d/%Y".into(),
        }
    }

    /// `munis`: pipe-delimited, no header, in the style of Tyler Munis's statement import.
    /// Fields by position: 1 card number (masked), 2 transaction date, 3 posting date, 4
    /// transaction reference, 5 amount (negative for a credit), 6 merchant name, 7 merchant
    /// category code, then merchant city, state and vendor id, which are ignored. The
    /// currency is the policy's (Munis statements are in the district's currency).
    pub fn munis() -> Self {
        Self {
            profile: "munis".into(),
            delimiter: b'|',
            headers: false,
            columns: [
                Column::At(3),
                Column::At(1),
                Column::At(2),
                Column::At(0),
                Column::At(5),
                Column::At(6),
                Column::At(4),
                Column::Absent,
                Column::Absent,
            ],
            date_format: "%m/%d/%Y".into(),
        }
    }

    /// A profile by name: `procgate`, `usbank` or `munis`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "procgate" => Some(Self::procgate()),
            "usbank" => Some(Self::usbank()),
            "munis" => Some(Self::munis()),
            _ => None,
        }
    }

    fn column(&self, field: Field) -> &Column {
        let i = Field::ALL.iter().position(|f| *f == field).expect("every field is listed");
        &self.columns[i]
    }
}

/// The columns of any CSV the district names: the `mapping` profile.
///
/// Sent as query parameters (`profile=mapping&delimiter=;&date_format=%d.%m.%Y&reference=Ref&
/// transaction_date=Date&…`): each field's name maps to the header of its column. Required:
/// `reference`, `transaction_date`, `card_last4` (a column holding the last four digits or a
/// masked card number), `merchant`, `mcc`, `amount`; optional: `posted_on`, `currency`
/// (otherwise the policy's) and `credit_indicator`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    pub delimiter: Option<String>,
    pub date_format: Option<String>,
    /// `(field name, column header)` pairs.
    pub columns: Vec<(String, String)>,
}

/// Whether `format` writes a date that it reads back as the same date. Written with `write!`,
/// not `to_string`: a specifier a date cannot fill (a time's, an unknown one) is an error
/// there, where `to_string` panics.
fn round_trips(format: &str) -> bool {
    use std::fmt::Write;
    let day = NaiveDate::from_ymd_opt(2025, 1, 2).expect("a real date");
    let mut written = String::new();
    write!(written, "{}", day.format(format)).is_ok()
        && NaiveDate::parse_from_str(&written, format) == Ok(day)
}

impl Mapping {
    /// The layout, or every problem with the mapping as `(parameter, message)`.
    pub fn layout(&self) -> Result<Layout, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let delimiter = match self.delimiter.as_deref() {
            None => b',',
            Some("tab" | "\\t") => b'\t',
            Some("pipe") => b'|',
            Some(d) if d.len() == 1 && d.is_ascii() && d != "\"" => d.as_bytes()[0],
            Some(_) => {
                problems.push((
                    "delimiter".into(),
                    "must be one ASCII character other than '\"', or `tab` or `pipe`".into(),
                ));
                b','
            }
        };
        let date_format = self.date_format.clone().unwrap_or_else(|| "%Y-%m-%d".into());
        if !date_format.contains('%') || !round_trips(&date_format) {
            problems.push((
                "date_format".into(),
                "must be a strftime date format such as %m/%d/%Y".into(),
            ));
        }
        let mut columns: [Column; 9] = std::array::from_fn(|_| Column::Absent);
        for (name, header) in &self.columns {
            match Field::ALL.iter().position(|f| f.name() == name) {
                Some(i) if header.trim().is_empty() => {
                    problems.push((name.clone(), "must name a column".into()));
                    columns[i] = Column::Absent;
                }
                Some(i) => columns[i] = Column::Named(header.trim().to_owned()),
                None => problems.push((name.clone(), "is not a statement field".into())),
            }
        }
        for (i, field) in Field::ALL.iter().enumerate() {
            if field.required() && columns[i] == Column::Absent {
                problems.push((
                    field.name().into(),
                    "is required: the header of the column that holds it".into(),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Layout { profile: "mapping".into(), delimiter, headers: true, columns, date_format })
        } else {
            Err(problems)
        }
    }
}

/// One row of a statement, parsed: the facts, not yet checked against the district's cards
/// and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    /// The row's line in the file (1 is the first line, the header where there is one).
    pub line: u64,
    pub reference: BankReference,
    pub transaction_date: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    pub card_last4: CardLast4,
    pub merchant: ShortText,
    pub mcc: Mcc,
    /// Always positive; `credit` says whether it was paid back.
    pub amount: Money,
    pub credit: bool,
    /// `None` when the profile has no currency column: the policy's.
    pub currency: Option<Currency>,
}

/// Something wrong with a row (or with the file, at line 1 or 0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line in the file (1 is the first line).
    pub line: u64,
    /// The statement field (`amount`, `card_last4`, …), or `file` for the file as a whole.
    pub field: String,
    /// What is wrong, as a sentence a person can act on.
    pub message: String,
}

impl RowError {
    pub fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { line, field: field.into(), message: message.into() }
    }
}

/// Where each field is in this file's records.
struct Positions([Option<usize>; 9]);

/// Reads a statement with `layout`, handing each row (or its errors) to `row` as it is read.
/// Returns how many data rows there were, or the errors that stop the file from being read at
/// all (a missing column, a file that is not text).
pub fn read_rows(
    layout: &Layout,
    input: impl Read,
    mut row: impl FnMut(Result<StatementRow, Vec<RowError>>),
) -> Result<u64, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(layout.delimiter)
        .has_headers(layout.headers)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let positions = positions(layout, &mut reader)?;
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(rows),
            Ok(true) => {}
            Err(e) => return Err(vec![file_error(line, &e)]),
        }
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        row(parse_row(layout, &positions, &record, line));
    }
}

fn file_error(line: u64, e: &csv::Error) -> RowError {
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8 text".to_owned(),
        csv::ErrorKind::Io(e) => format!("the file could not be read: {e}"),
        _ => format!("the file is not a readable statement: {e}"),
    };
    let line = e.position().map_or(line, csv::Position::line);
    RowError::new(line, "file", message)
}

fn positions<R: Read>(
    layout: &Layout,
    reader: &mut csv::Reader<R>,
) -> Result<Positions, Vec<RowError>> {
    let headers = if layout.headers {
        let headers = reader.headers().map_err(|e| vec![file_error(1, &e)])?;
        Some(
            headers
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let mut found = [None; 9];
    let mut missing = Vec::new();
    for (i, field) in Field::ALL.iter().enumerate() {
        found[i] = match (layout.column(*field), &headers) {
            (Column::At(at), _) => Some(*at),
            (Column::Named(name), Some(headers)) => {
                let name = name.to_lowercase();
                let at = headers.iter().position(|h| *h == name);
                if at.is_none() && field.required() {
                    missing.push(RowError::new(
                        1,
                        field.name(),
                        format!("the header has no column {name:?} ({} profile)", layout.profile),
                    ));
                }
                at
            }
            (Column::Named(_), None) | (Column::Absent, _) => None,
        };
    }
    if missing.is_empty() { Ok(Positions(found)) } else { Err(missing) }
}

fn parse_row(
    layout: &Layout,
    positions: &Positions,
    record: &csv::StringRecord,
    line: u64,
) -> Result<StatementRow, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut get = |field: Field| -> Option<&str> {
        let i = Field::ALL.iter().position(|f| *f == field).expect("listed");
        let value = positions.0[i].and_then(|at| record.get(at)).filter(|v| !v.is_empty());
        if value.is_none() && field.required() {
            errors.push(RowError::new(line, field.name(), "is missing"));
        }
        value
    };
    let reference = get(Field::Reference);
    let transaction_date = get(Field::TransactionDate);
    let posted_on = get(Field::PostedOn);
    let card = get(Field::CardLast4);
    let merchant = get(Field::Merchant);
    let mcc = get(Field::Mcc);
    let amount = get(Field::Amount);
    let currency = get(Field::Currency);
    let indicator = get(Field::CreditIndicator);
    let mut check = Checked { line, errors: &mut errors };
    let text = |e: events::values::ValueError| e.message().to_owned();
    let date = |s: &str| {
        let date = NaiveDate::parse_from_str(s, &layout.date_format).map_err(|_| {
            format!(
                "{s:?} is not a date in the {} profile's format {}",
                layout.profile, layout.date_format
            )
        })?;
        // `%Y` takes `25` as the year 25: a file re-saved with two-digit years would be dated
        // two thousand years ago, match nothing, and stretch every period it is counted in.
        if date.year() < FIRST_YEAR {
            return Err(format!(
                "{s:?} reads as the year {}: a statement's years have four digits, from \
                 {FIRST_YEAR} (was the file saved with two-digit years?)",
                date.year()
            ));
        }
        Ok(date)
    };
    let reference =
        reference.and_then(|s| check.ok(Field::Reference, BankReference::parse(s).map_err(text)));
    let transaction_date = transaction_date.and_then(|s| check.ok(Field::TransactionDate, date(s)));
    let posted_on = posted_on.and_then(|s| check.ok(Field::PostedOn, date(s)));
    let card =
        card.and_then(|s| check.ok(Field::CardLast4, CardLast4::from_card_number(s).map_err(text)));
    let merchant =
        merchant.and_then(|s| check.ok(Field::Merchant, ShortText::parse(s).map_err(text)));
    let mcc = mcc.and_then(|s| check.ok(Field::Mcc, Mcc::parse(s).map_err(text)));
    let amount = amount.and_then(|s| check.ok(Field::Amount, parse_amount(s)));
    let currency = match currency {
        Some(s) => check.ok(Field::Currency, Currency::parse(s).map_err(text)).map(Some),
        None => Some(None),
    };
    let credit_flag = match indicator.map(|s| s.to_ascii_uppercase()) {
        None => Some(false),
        Some(s) if matches!(s.as_str(), "C" | "CR" | "CREDIT") => Some(true),
        Some(s) if matches!(s.as_str(), "D" | "DR" | "DEBIT") => Some(false),
        Some(s) => check.ok(
            Field::CreditIndicator,
            Err::<bool, _>(format!("{s:?} is neither D (debit) nor C (credit)")),
        ),
    };
    match (reference, transaction_date, card, merchant, mcc, amount, currency, credit_flag) {
        (
            Some(reference),
            Some(transaction_date),
            Some(card_last4),
            Some(merchant),
            Some(mcc),
            Some((amount, negative)),
            Some(currency),
            Some(credit_flag),
        ) if errors.is_empty() => Ok(StatementRow {
            line,
            reference,
            transaction_date,
            posted_on,
            card_last4,
            merchant,
            mcc,
            amount,
            credit: negative || credit_flag,
            currency,
        }),
        _ => Err(errors),
    }
}

/// Records a field's parse error at its line.
struct Checked<'a> {
    line: u64,
    errors: &'a mut Vec<RowError>,
}

impl Checked<'_> {
    fn ok<T>(&mut self, field: Field, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.errors.push(RowError::new(self.line, field.name(), message)))
            .ok()
    }
}

/// An amount as statements write it: `1299.99`, `$1,299.99`, `-45.00`, `45.00-`, `(45.00)`.
/// The amount, and whether it is negative (a credit).
pub fn parse_amount(input: &str) -> Result<(Money, bool), String> {
    let mut s = input.trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        (s, negative) = (inner.trim(), true);
    }
    if let Some(rest) = s.strip_prefix('-') {
        (s, negative) = (rest.trim_start(), true);
    } else if let Some(rest) = s.strip_suffix('-') {
        (s, negative) = (rest.trim_end(), true);
    }
    let s = s.strip_prefix('$').unwrap_or(s);
    let plain: String = if grouped(s) { s.replace(',', "") } else { s.to_owned() };
    Money::parse(&plain)
        .map(|m| (m, negative))
        .map_err(|e| format!("{input:?} is not an amount: {}", e.message()))
}

/// Whether `s` uses commas only as thousands separators (`1,299.99`).
fn grouped(s: &str) -> bool {
    let whole = s.split('.').next().unwrap_or("");
    let groups: Vec<&str> = whole.split(',').collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(layout: &Layout, text: &str) -> (Vec<StatementRow>, Vec<RowError>) {
        let (mut rows, mut errors) = (vec![], vec![]);
        let result = read_rows(layout, text.as_bytes(), |r| match r {
            Ok(row) => rows.push(row),
            Err(e) => errors.extend(e),
        });
        if let Err(e) = result {
            errors.extend(e);
        }
        (rows, errors)
    }

    #[test]
    fn amounts_as_statements_write_them() {
        let cents = |s| parse_amount(s).map(|(m, neg)| (m.cents(), neg));
        assert_eq!(cents("1299.99"), Ok((129_999, false)));
        assert_eq!(cents("$1,299.99"), Ok((129_999, false)));
        assert_eq!(cents("-45.00"), Ok((4500, true)));
        assert_eq!(cents("45.00-"), Ok((4500, true)));
        assert_eq!(cents("(45.00)"), Ok((4500, true)));
        assert!(parse_amount("12,99").is_err());
        assert!(parse_amount("1.999").is_err());
        assert!(parse_amount("ten").is_err());
    }

    #[test]
    fn a_row_with_several_bad_fields_names_each() {
        let text = "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n\
                    R-1,2025-13-01,,48x1,BEST BUY,57,12.345,US\n";
        let (rows, errors) = read(&Layout::procgate(), text);
        assert!(rows.is_empty());
        let fields: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            fields,
            [
                (2, "transaction_date"),
                (2, "card_last4"),
                (2, "mcc"),
                (2, "amount"),
                (2, "currency")
            ]
        );
    }

    #[test]
    fn a_two_digit_year_is_a_row_error_not_the_year_25() {
        let mapping = Mapping {
            date_format: Some("%m/%d/%Y".into()),
            ..crate::domain::statements::tests::fixture_mapping()
        };
        let layout = mapping.layout().unwrap();
        let header = "Txn Ref;Date;Card;Vendor;MCC;Amount\n";
        let (rows, errors) = read(&layout, &format!("{header}X1;10/14/25;4821;Dell;5732;10.00\n"));
        assert!(rows.is_empty());
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "transaction_date"));
        assert!(errors[0].message.contains("two-digit years"), "{errors:?}");
        let (rows, errors) =
            read(&layout, &format!("{header}X1;10/14/2025;4821;Dell;5732;10.00\n"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0].transaction_date, NaiveDate::from_ymd_opt(2025, 10, 14).unwrap());
    }

    #[test]
    fn a_missing_column_stops_the_file_at_its_header() {
        let (_, errors) = read(&Layout::procgate(), "reference,amount\nR-1,5.00\n");
        assert_eq!(errors[0].line, 1);
        assert!(errors.iter().any(|e| e.field == "mcc"), "{errors:?}");
    }

    #[test]
    fn a_mapping_names_the_columns_of_any_csv() {
        let mapping = Mapping {
            delimiter: Some(";".into()),
            date_format: Some("%d.%m.%Y".into()),
            columns: [
                ("reference", "Ref"),
                ("transaction_date", "Datum"),
                ("card_last4", "Karte"),
                ("merchant", "Händler"),
                ("mcc", "MCC"),
                ("amount", "Betrag"),
            ]
            .map(|(f, h)| (f.to_owned(), h.to_owned()))
            .to_vec(),
        };
        let layout = mapping.layout().unwrap();
        let (rows, errors) = read(
            &layout,
            "Ref;Datum;Karte;Händler;MCC;Betrag\nX9;03.10.2025;****4821;Dell;5732;10.00\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows[0].transaction_date, NaiveDate::from_ymd_opt(2025, 10, 3).unwrap());
        assert_eq!(rows[0].card_last4.as_str(), "4821");
        assert_eq!(rows[0].currency, None);

        let bad = Mapping { delimiter: Some("ab".into()), ..Mapping::default() };
        let problems: Vec<String> = bad.layout().unwrap_err().into_iter().map(|p| p.0).collect();
        assert!(
            problems.contains(&"delimiter".to_owned()) && problems.contains(&"amount".to_owned())
        );
    }

    #[test]
    fn given_a_date_format_a_date_cannot_fill_then_it_is_a_problem_not_a_panic() {
        let problem = |format: &str| {
            let mapping = Mapping {
                date_format: Some(format.into()),
                ..crate::domain::statements::tests::fixture_mapping()
            };
            let problems = mapping.layout().err().unwrap_or_default();
            problems.iter().any(|(parameter, _)| parameter == "date_format")
        };
        for bad in ["%m/%d/%Y %H:%M", "%Q", "%Y-%m-%", "%Y-%m-%d %z", "%m/%d", "today"] {
            assert!(problem(bad), "{bad:?} is accepted");
        }
        for good in ["%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%b-%y"] {
            assert!(!problem(good), "{good:?} is refused");
        }
    }
}
