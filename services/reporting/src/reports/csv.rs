//! The CSV writer every service's reports share ([`web::csv`]).

pub use web::csv::{Cell, Csv};
