//! The request body rules: at most [`MAX_BODY_BYTES`] of UTF-8 JSON that is one object,
//! with no key twice at any depth (as protojson refuses), or nothing at all (meaning `{}`).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The body is `{}` in practice; anything far larger is not a client of this API.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Which rule a body broke: each has its own message for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    TooLarge,
    ContentType,
    NotJson,
    NotObject,
    /// The event says the body is base64 but it does not decode.
    NotBase64,
}

/// Why a body was refused: the rule, and details for the logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem:?}: {detail}")]
pub struct BodyError {
    pub problem: BodyProblem,
    pub detail: String,
}

impl BodyError {
    pub fn new(problem: BodyProblem, detail: impl Into<String>) -> Self {
        Self { problem, detail: detail.into() }
    }
}

/// The object an acceptable body holds (empty for no body). `content_type` is the request's
/// header, if any.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Map<String, Value>, BodyError> {
    check(bytes, content_type)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    serde_json::from_slice(bytes).map_err(|e| BodyError::new(BodyProblem::NotJson, e.to_string()))
}

/// `Ok` for an acceptable body.
fn check(bytes: &[u8], content_type: Option<&str>) -> Result<(), BodyError> {
    if bytes.len() > MAX_BODY_BYTES {
        let detail = format!("{} bytes, limit {MAX_BODY_BYTES}", bytes.len());
        return Err(BodyError::new(BodyProblem::TooLarge, detail));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if let Some(content_type) = content_type {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(BodyError::new(BodyProblem::ContentType, format!("content type {media:?}")));
        }
    }
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict("object")) => Ok(()),
        Ok(Strict(kind)) => Err(BodyError::new(BodyProblem::NotObject, format!("JSON {kind}"))),
        Err(e) => Err(BodyError::new(BodyProblem::NotJson, e.to_string())),
    }
}

/// A JSON value checked for duplicate keys and reduced to its kind; serde_json's recursion
/// limit (128 levels) bounds nesting.
struct Strict(&'static str);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict("boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict("number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict("number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict("string"))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<Strict>()?;
            if !keys.insert(key) {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Strict("object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> bool {
        check(body.as_bytes(), Some("application/json")).is_ok()
    }

    #[test]
    fn objects_and_nothing_are_accepted() {
        for body in ["", " \n", "{}", r#"{"returnCode":false}"#, r#"{"a":{"b":[1,{"c":null}]}}"#] {
            assert!(ok(body), "{body}");
        }
        assert!(check(b"{}", None).is_ok());
        assert_eq!(parse(b" ", None).unwrap(), Map::new());
        assert_eq!(parse(br#"{"a":{"b":1}}"#, None).unwrap()["a"]["b"], 1);
        assert!(check(b"{}", Some("application/json; charset=utf-8")).is_ok());
        assert!(check(b"", Some("text/plain")).is_ok(), "no body, no content to type");
    }

    #[test]
    fn everything_else_is_refused() {
        for body in [
            "[]",
            "null",
            "1",
            "\"x\"",
            "true",
            "{",
            "{}{}",
            "{} x",
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"[{"a":1,"a":1}]"#,
            "{'a':1}",
            "{\"a\":\"\\ud800\"}",
        ] {
            assert!(!ok(body), "{body}");
        }
        let problem = |bytes: &[u8], content_type| check(bytes, content_type).unwrap_err().problem;
        assert_eq!(problem(&[0x7b, 0xff, 0x7d], None), BodyProblem::NotJson, "not UTF-8");
        assert_eq!(problem(b"{}", Some("text/plain")), BodyProblem::ContentType);
        assert_eq!(problem(b"{}", Some("application/x-www-form-urlencoded")), BodyProblem::ContentType);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(1_000), "]".repeat(1_000));
        assert_eq!(problem(deep.as_bytes(), None), BodyProblem::NotJson, "nesting bomb");
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(problem(huge.as_bytes(), None), BodyProblem::TooLarge);
        assert_eq!(problem(b"[]", None), BodyProblem::NotObject);
    }
}
