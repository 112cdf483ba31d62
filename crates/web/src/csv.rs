//! A small CSV writer (RFC 4180): CRLF line ends, fields quoted when they hold a comma, a
//! quote or a line break, and text that a spreadsheet would run as a formula (`=`, `+`, `-`,
//! `@` first) prefixed with `'`. Reports hold names people typed (vendors, owners, people's
//! names), and these files are opened in spreadsheets. Every service's reports answer
//! `?format=csv` with it, as a download ([`attachment`]).

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Deserialize;
use utoipa::ToSchema;

/// The format of a report (`?format=`), in every service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// `application/json`: every figure.
    #[default]
    Json,
    /// `text/csv`: a header row, then one row per figure group (or per person).
    Csv,
}

/// A CSV document being written.
#[derive(Debug, Clone)]
pub struct Csv {
    out: String,
    columns: usize,
}

impl Csv {
    /// A document with this header row.
    pub fn new(header: &[&str]) -> Self {
        let mut csv = Self { out: String::with_capacity(4096), columns: header.len() };
        csv.write(header.iter().map(|h| Cell::Text(h)));
        csv
    }

    /// Adds a row; it must have as many cells as the header.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        let cells: Vec<Cell<'a>> = cells.into_iter().collect();
        debug_assert_eq!(cells.len(), self.columns, "a CSV row has as many cells as its header");
        self.write(cells);
    }

    fn write<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match cell {
                Cell::Text(text) => push_text(&mut self.out, text),
                Cell::Owned(text) => push_text(&mut self.out, &text),
                Cell::Number(n) => self.out.push_str(&n.to_string()),
                Cell::Float(Some(x)) => self.out.push_str(&x.to_string()),
                Cell::Float(None) | Cell::Empty => {}
            }
        }
        self.out.push_str("\r\n");
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `200` with `csv` as a download, `procgate-{name}.csv`.
pub fn attachment(name: &str, csv: Csv) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8; header=present"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"procgate-{name}.csv\""),
        ))
        .body(csv.finish())
}

/// One field.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Text(&'a str),
    Owned(String),
    Number(i64),
    Float(Option<f64>),
    Empty,
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(text: &'a str) -> Self {
        Cell::Text(text)
    }
}

impl From<String> for Cell<'_> {
    fn from(text: String) -> Self {
        Cell::Owned(text)
    }
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(text: Option<&'a str>) -> Self {
        text.map_or(Cell::Empty, Cell::Text)
    }
}

impl From<u64> for Cell<'_> {
    fn from(n: u64) -> Self {
        Cell::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i64> for Cell<'_> {
    fn from(n: i64) -> Self {
        Cell::Number(n)
    }
}

impl From<Option<i64>> for Cell<'_> {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Cell::Empty, Cell::Number)
    }
}

impl From<Option<f64>> for Cell<'_> {
    fn from(x: Option<f64>) -> Self {
        Cell::Float(x)
    }
}

fn push_text(out: &mut String, text: &str) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || text.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_formulas() {
        let mut csv = Csv::new(&["name", "n", "share"]);
        csv.row([Cell::Text("Acme, Inc."), Cell::Number(3), Cell::Float(Some(0.5))]);
        csv.row([Cell::Text("say \"hi\""), Cell::Number(-1), Cell::Float(None)]);
        csv.row([Cell::Text("=HYPERLINK(\"x\")"), Cell::Empty, Cell::Owned("plain".into())]);
        assert_eq!(
            csv.finish(),
            "name,n,share\r\n\"Acme, Inc.\",3,0.5\r\n\"say \"\"hi\"\"\",-1,\r\n\"'=HYPERLINK(\"\"x\"\")\",,plain\r\n"
        );
    }
}
