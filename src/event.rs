//! Lambda events in and out: the raw JSON of an API Gateway (REST v1, HTTP API v2) or ALB
//! event becomes a [`Request`], a [`Response`] becomes the JSON that event's source expects.
//!
//! lambda_http does this itself, but panics or fails the invocation on events it cannot
//! read (a body marked base64 that is not, a header value HTTP forbids): a function error
//! that counts against the Errors alarm. Here such events are checked first and answered
//! with the catalogue's 400; nothing in this module panics on any JSON.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use base64::Engine;
use lambda_http::http::{HeaderName, HeaderValue};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::request_body::{BodyError, BodyProblem};

/// Which service sent the event, and so which response shape it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// REST API (payload 1.0): headers in `multiValueHeaders`.
    RestApi,
    /// HTTP API or function URL (payload 2.0).
    HttpApi,
    /// Application Load Balancer; `multi` when the target group has multi-value headers on.
    LoadBalancer { multi: bool },
}

impl Origin {
    pub fn of(event: &Value) -> Self {
        if event.pointer("/requestContext/elb").is_some() {
            Origin::LoadBalancer { multi: event.get("multiValueHeaders").is_some_and(Value::is_object) }
        } else if event.get("version").and_then(Value::as_str) == Some("2.0") {
            Origin::HttpApi
        } else {
            Origin::RestApi
        }
    }
}

/// The query string's parameters, percent-decoded, as the request's extension: lambda_http
/// never sees the query (see [`request_from`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// From payload 2.0's `rawQueryString`, else the decoded `queryStringParameters` of
    /// REST APIs; a parameter given twice keeps its first value.
    fn of(event: &Value) -> Self {
        let mut params = HashMap::new();
        if let Some(raw) = event.get("rawQueryString").and_then(Value::as_str) {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| percent_decode(&s.replace('+', " "));
                if let (Some(name), Some(value)) = (decode(name), decode(value)) {
                    params.entry(name).or_insert(value);
                }
            }
        } else if let Some(fields) = event.get("queryStringParameters").and_then(Value::as_object) {
            for (name, value) in fields {
                if let Some(value) = value.as_str() {
                    params.insert(name.clone(), value.to_owned());
                }
            }
        }
        Self(params)
    }
}

/// `%XX` escapes decoded; `None` for a broken escape or a result that is not UTF-8.
pub(crate) fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly: from_str_radix alone also takes a sign ("%+1").
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The request in `event`, or why it cannot be one.
pub fn request_from(mut event: Value) -> Result<Request, Error> {
    let query = Query::of(&event);
    // lambda_http panics on query characters the http crate will not put in a URI (`"`,
    // `<`, `>`), which an ordinary client could send: the query travels as [`Query`] instead.
    if let Some(fields) = event.as_object_mut() {
        for name in ["rawQueryString", "queryStringParameters", "multiValueQueryStringParameters"] {
            fields.remove(name);
        }
    }
    check_headers(&event)?;
    check_body_encoding(&event)?;
    let lambda_request: LambdaRequest =
        serde_json::from_value(event).map_err(|e| Error::NotHttpEvent(e.to_string()))?;
    // lambda_http still unwraps on some inputs (a Host header that is no URL authority, a
    // path that is no URI); the checks above keep known cases out, this keeps out the rest.
    let mut request = catch_unwind(AssertUnwindSafe(|| Request::from(lambda_request)))
        .map_err(|_| Error::NotHttpEvent("lambda_http could not convert the event".into()))?;
    request.extensions_mut().insert(query);
    Ok(request)
}

fn check_headers(event: &Value) -> Result<(), Error> {
    let readable = |name: &str, value: &Value| {
        HeaderName::from_bytes(name.as_bytes()).is_ok()
            && match value {
                Value::String(v) => HeaderValue::from_str(v).is_ok(),
                Value::Null => true,
                _ => false,
            }
    };
    if let Some(headers) = event.get("headers").and_then(Value::as_object) {
        if let Some((name, _)) = headers.iter().find(|(name, value)| !readable(name, value)) {
            return Err(Error::UnreadableHeader(printable(name)));
        }
    }
    if let Some(headers) = event.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in headers {
            let all_readable = match values {
                Value::Array(values) => values.iter().all(|v| readable(name, v)),
                Value::Null => true,
                _ => false,
            };
            if !all_readable {
                return Err(Error::UnreadableHeader(printable(name)));
            }
        }
    }
    Ok(())
}

/// A header name for the logs, cut short and without control characters.
fn printable(name: &str) -> String {
    name.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn check_body_encoding(event: &Value) -> Result<(), Error> {
    let marked = event.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
    match event.get("body").and_then(Value::as_str) {
        Some(body) if marked => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(drop)
            .map_err(|e| Error::InvalidBody(BodyError::new(BodyProblem::NotBase64, e.to_string()))),
        _ => Ok(()),
    }
}

/// `response` in the shape `origin` reads.
pub fn response_for(origin: Origin, response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let (body, is_base64) = match body {
        Body::Empty => (Value::Null, false),
        Body::Text(text) => (Value::String(text), false),
        Body::Binary(bytes) => (Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
        _ => (Value::Null, false),
    };
    let mut single = Map::new();
    let mut multi = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        single.insert(name.as_str().to_owned(), values.join(",").into());
        multi.insert(name.as_str().to_owned(), values.into());
    }
    let status = parts.status;
    let mut out = json!({ "statusCode": status.as_u16(), "body": body, "isBase64Encoded": is_base64 });
    match origin {
        Origin::HttpApi => {
            out["headers"] = single.into();
            out["cookies"] = json!([]);
        }
        Origin::RestApi => {
            out["headers"] = json!({});
            out["multiValueHeaders"] = multi.into();
        }
        Origin::LoadBalancer { multi: true } => {
            out["multiValueHeaders"] = multi.into();
            out["statusDescription"] = status_description(status).into();
        }
        Origin::LoadBalancer { multi: false } => {
            out["headers"] = single.into();
            out["statusDescription"] = status_description(status).into();
        }
    }
    out
}

fn status_description(status: lambda_http::http::StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(headers: Value, body: Option<&str>, base64: bool) -> Value {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/x", "rawQueryString": "",
            "headers": headers, "body": body, "isBase64Encoded": base64,
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "h.example",
                "domainPrefix": "h", "http": {"method": "POST", "path": "/x", "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "t"}, "requestId": "r", "routeKey": "$default",
                "stage": "$default", "time": "t", "timeEpoch": 0}
        })
    }

    #[test]
    fn a_body_marked_base64_that_is_not_is_a_body_error() {
        match request_from(v2(json!({}), Some("not base64!"), true)) {
            Err(Error::InvalidBody(e)) => assert_eq!(e.problem, BodyProblem::NotBase64),
            other => panic!("{other:?}"),
        }
        assert!(request_from(v2(json!({}), Some("e30="), true)).is_ok());
    }

    #[test]
    fn headers_http_forbids_are_refused_by_name() {
        for headers in [json!({"x-a": "line\nbreak"}), json!({"bad name": "v"}), json!({"x-a": 5})] {
            assert!(
                matches!(request_from(v2(headers.clone(), None, false)), Err(Error::UnreadableHeader(_))),
                "{headers}"
            );
        }
    }

    #[test]
    fn events_that_are_not_http_are_refused() {
        for event in [json!({}), json!([1]), json!("x"), json!({"Records": []})] {
            assert!(matches!(request_from(event.clone()), Err(Error::NotHttpEvent(_))), "{event}");
        }
    }

    #[test]
    fn responses_take_the_shape_of_their_origin() {
        let response = || {
            let mut r = Response::new(Body::Text("{}".into()));
            *r.status_mut() = lambda_http::http::StatusCode::BAD_REQUEST;
            r.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
            r
        };
        let v2 = response_for(Origin::HttpApi, response());
        assert_eq!(v2["statusCode"], 400);
        assert_eq!(v2["headers"]["content-type"], "application/json");
        let v1 = response_for(Origin::RestApi, response());
        assert_eq!(v1["multiValueHeaders"]["content-type"][0], "application/json");
        let alb = response_for(Origin::LoadBalancer { multi: false }, response());
        assert_eq!(alb["statusDescription"], "400 Bad Request");
    }

    #[test]
    fn percent_escapes_decode_and_broken_ones_do_not() {
        assert_eq!(percent_decode("alice%40example.com").as_deref(), Some("alice@example.com"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        for bad in ["%", "%4", "%zz", "%ff", "a%e2%82", "%+1e", "%-1"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
