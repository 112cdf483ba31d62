//! Reading a request body field by field, collecting every problem.
//!
//! Request bodies are deserialized loosely (each field a `serde_json::Value`), then parsed into
//! validated types one field at a time through [`Fields`], which records every field that is
//! missing, of the wrong JSON type or invalid. The handler gets either the validated value or
//! one 422 problem listing all of them (`errors: [{field, message}]`), rather than a 400 about
//! the first one serde happened to meet.

use std::fmt::Display;

use serde_json::Value;

use crate::problem::{ApiError, FieldError};

/// Collects field errors while a body is parsed.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with a field.
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Records `message` about `field`, which gives no value.
    fn refuse<T>(&mut self, field: &str, message: impl Into<String>) -> Option<T> {
        self.error(field, message);
        None
    }

    /// The value `parse` gave, or its error recorded against `field`.
    fn parsed<T, E: Display>(&mut self, field: &str, parse: Result<T, E>) -> Option<T> {
        parse.map_err(|e| self.error(field, e.to_string())).ok()
    }

    /// A required string field, parsed.
    pub fn string<T, E: Display>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match value {
            None | Some(Value::Null) => self.refuse(field, "is required"),
            Some(v) => self.present_string(field, v, parse),
        }
    }

    /// An optional string field (absent or null is `None`), parsed when present.
    pub fn optional_string<T, E: Display>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match value {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.present_string(field, v, parse).map(Some),
        }
    }

    fn present_string<T, E: Display>(
        &mut self,
        field: &str,
        value: &Value,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let Value::String(s) = value else {
            return self.refuse(field, format!("must be a string, not {}", kind(value)));
        };
        self.parsed(field, parse(s))
    }

    /// A required boolean.
    pub fn boolean(&mut self, field: &str, value: Option<&Value>) -> Option<bool> {
        match value {
            Some(Value::Bool(b)) => Some(*b),
            None | Some(Value::Null) => self.refuse(field, "is required"),
            Some(v) => self.refuse(field, format!("must be true or false, not {}", kind(v))),
        }
    }

    /// A required whole number, parsed.
    pub fn integer<T, E: Display>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        parse: impl FnOnce(u64) -> Result<T, E>,
    ) -> Option<T> {
        match value {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) => self.parsed(field, parse(n)),
                None => self.refuse(field, "must be a whole number of at least 0"),
            },
            None | Some(Value::Null) => self.refuse(field, "is required"),
            Some(v) => self.refuse(field, format!("must be a whole number, not {}", kind(v))),
        }
    }

    /// A required array, each element parsed by `each` (given the element's field path). Absent
    /// or null is "is required", whatever `min`: a document's required array is never null.
    pub fn array<T>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        min: usize,
        max: usize,
        each: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        match value {
            None | Some(Value::Null) => self.refuse(field, "is required"),
            Some(v) => self.present_array(field, v, min, max, each),
        }
    }

    /// An optional array that is not nullable (a document's array property left out of
    /// `required`): absent is `None`, null is refused like any other non-array.
    pub fn optional_array<T>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        min: usize,
        max: usize,
        each: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Option<Vec<T>>> {
        match value {
            None => Some(None),
            Some(v) => self.present_array(field, v, min, max, each).map(Some),
        }
    }

    fn present_array<T>(
        &mut self,
        field: &str,
        value: &Value,
        min: usize,
        max: usize,
        mut each: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = value else {
            return self.refuse(field, format!("must be an array, not {}", kind(value)));
        };
        if items.len() < min || items.len() > max {
            let count = items.len();
            return self.refuse(field, format!("must have {min} to {max} items, not {count}"));
        }
        let parsed: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| each(self, &format!("{field}[{i}]"), item))
            .collect();
        parsed.into_iter().collect()
    }

    /// The value when every field was fine, else a 422 problem listing every field error.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ if self.errors.is_empty() => {
                Err(ApiError::validation(vec![FieldError::new("", "the body is invalid")]))
            }
            _ => Err(ApiError::validation(self.errors)),
        }
    }
}

/// A whole number documented as `int64` (a log position): at most `i64::MAX`, as the document
/// says, though it is read as a `u64`. For [`Fields::integer`].
pub fn int64(n: u64) -> Result<u64, String> {
    if n <= i64::MAX as u64 { Ok(n) } else { Err(format!("must be at most {}", i64::MAX)) }
}

/// The fields of a JSON object body (a body that is not an object is one field error).
pub fn object<'a>(
    fields: &mut Fields,
    field: &str,
    value: &'a Value,
) -> Option<&'a serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            fields.error(field, format!("must be an object, not {}", kind(other)));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem() {
        let body = json!({ "name": 5, "count": "x", "tags": ["a", 1], "ok": "yes" });
        let mut f = Fields::new();
        let name = f.string("name", body.get("name"), |s| Ok::<_, String>(s.to_owned()));
        let count = f.integer("count", body.get("count"), Ok::<_, String>);
        let missing = f.string("missing", body.get("missing"), |s| Ok::<_, String>(s.len()));
        let tags = f.array("tags", body.get("tags"), 1, 5, |f, path, v| {
            f.string(path, Some(v), |s| Ok::<_, String>(s.to_owned()))
        });
        let ok = f.boolean("ok", body.get("ok"));
        assert!(name.is_none() && count.is_none() && missing.is_none() && tags.is_none());
        assert!(ok.is_none());
        let err = f.finish(Some(())).unwrap_err();
        let problem = err.to_problem(None, None);
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "count", "missing", "tags[1]", "ok"]);
    }

    #[test]
    fn optional_and_good_values() {
        let body = json!({ "a": "x", "n": 3, "list": [] });
        let mut f = Fields::new();
        assert_eq!(
            f.optional_string("a", body.get("a"), |s| Ok::<_, String>(s.len())),
            Some(Some(1))
        );
        assert_eq!(f.optional_string("b", body.get("b"), |s| Ok::<_, String>(s.len())), Some(None));
        assert_eq!(f.integer("n", body.get("n"), u8::try_from), Some(3));
        assert_eq!(f.integer("n", body.get("n"), int64), Some(3));
        assert_eq!(f.array("list", body.get("list"), 0, 3, |_, _, _| Some(1)), Some(vec![]));
        assert_eq!(f.optional_array("gone", body.get("gone"), 0, 3, |_, _, _| Some(1)), Some(None));
        assert_eq!(
            f.optional_array("list", body.get("list"), 0, 3, |_, _, _| Some(1)),
            Some(Some(vec![]))
        );
        assert!(f.is_ok());
        assert_eq!(f.finish(Some(7)).unwrap(), 7);
    }

    #[test]
    fn an_int64_stops_at_its_maximum() {
        assert_eq!(int64(i64::MAX as u64), Ok(i64::MAX as u64));
        assert_eq!(int64(i64::MAX as u64 + 1), Err(format!("must be at most {}", i64::MAX)));
    }

    #[test]
    fn an_array_is_never_null() {
        let body = json!({ "list": null, "maybe": null });
        let mut f = Fields::new();
        assert_eq!(f.array("list", body.get("list"), 0, 3, |_, _, _| Some(1)), None);
        assert_eq!(f.array("gone", body.get("gone"), 0, 3, |_, _, _| Some(1)), None);
        assert_eq!(f.optional_array("maybe", body.get("maybe"), 0, 3, |_, _, _| Some(1)), None);
        let problem = f.finish(Some(())).unwrap_err().to_problem(None, None);
        let errors: Vec<(&str, &str)> =
            problem.errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            errors,
            vec![
                ("list", "is required"),
                ("gone", "is required"),
                ("maybe", "must be an array, not null"),
            ]
        );
    }
}
