//! The request body rules: at most [`MAX_BODY_BYTES`] of UTF-8 JSON that is one object,
//! with no key twice at any depth (as protojson refuses), or nothing at all (meaning `{}`).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The body is `{}` in practice; anything far larger is not a client of this API.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a body was refused; for logs only.
#[derive(Debug, PartialEq, Eq)]
pub struct BodyError(pub String);

/// `Ok` for an acceptable body. `content_type` is the request's header, if any.
pub fn check(bytes: &[u8], content_type: Option<&str>) -> Result<(), BodyError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError(format!("{} bytes, limit {MAX_BODY_BYTES}", bytes.len())));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if let Some(content_type) = content_type {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(BodyError(format!("content type {media:?}")));
        }
    }
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict("object")) => Ok(()),
        Ok(Strict(kind)) => Err(BodyError(format!("JSON {kind}, not an object"))),
        Err(e) => Err(BodyError(format!("not acceptable JSON: {e}"))),
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
        assert!(check(&[0x7b, 0xff, 0x7d], None).is_err(), "not UTF-8");
        assert!(check(b"{}", Some("text/plain")).is_err());
        assert!(check(b"{}", Some("application/x-www-form-urlencoded")).is_err());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(check(deep.as_bytes(), None).is_err(), "nesting bomb");
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert!(check(huge.as_bytes(), None).is_err());
    }
}
