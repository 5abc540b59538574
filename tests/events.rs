//! Every API Gateway event in events/ goes through the real handler against the local stack
//! with the demo seed and gets its documented status; a new file needs an entry here. Events
//! lambda_http cannot read get the catalogue's 400 in their source's shape, never a panic.

mod common;

use common::*;
use serde_json::{json, Value};

/// The documented outcome of each event in events/ (docs/events.md).
const EXPECTED: &[(&str, u16)] = &[
    ("send-link.json", 200),
    ("send-link-org-override.json", 200),
    ("send-link-missing-identity.json", 401),
    ("send-link-forbidden.json", 403),
    ("send-link-other-tenant.json", 403),
    ("send-link-unknown-user.json", 404),
    ("rest-v1-cognito.json", 200),
    ("rest-v1-lambda-authorizer.json", 200),
    ("http-v2-lambda-authorizer.json", 200),
    ("add-link.json", 200),
    ("auth-send-my-link.json", 200),
    ("auth-add-my-link.json", 200),
    ("v2-return-code.json", 200),
    ("v2-send-link-template.json", 200),
    ("connect-create-link.json", 200),
    ("v2-list-links.json", 200),
    ("v2-revoke-links.json", 200),
    ("v2-register-passkey.json", 200),
    ("connect-register-passkey.json", 200),
    ("v2-verify-passkey-unknown.json", 404),
    ("v2-list-passkeys.json", 200),
    ("v2-remove-passkey-unknown.json", 404),
    ("mgmt-list-passwordless.json", 200),
    ("mgmt-remove-passwordless-unknown.json", 404),
    ("page-open-unknown-link.json", 404),
    ("page-begin-unknown-link.json", 404),
    ("mgmt-set-message-text.json", 200),
    ("mgmt-get-message-text.json", 200),
    ("mgmt-get-default-message-text.json", 200),
    ("mgmt-reset-message-text-unset.json", 404),
    ("admin-set-message-text.json", 200),
    ("admin-get-message-text-forbidden.json", 403),
];

#[tokio::test]
async fn every_event_file_gets_its_documented_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = EXPECTED
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("events/{name} has no expected status in tests/events.rs"))
            .1;
        // A fresh table per file: the seed's state is what each event is written against.
        let h = Harness::new().await;
        let event = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let response = h.invoke(event).await;
        assert_eq!(response["statusCode"], expected, "events/{name}: {response}");
        seen += 1;
    }
    assert_eq!(seen, EXPECTED.len(), "every expectation has its file");
}

/// The documented outcome of each SES event in events/ses/ (docs/events.md): what the
/// delivery-feedback function answers, or `error` (the invocation fails, for the DLQ).
const SES_EXPECTED: &[(&str, &str)] = &[
    ("send.json", r#"{"recorded":"sent","linkChanged":false,"addressMarked":false}"#),
    ("delivery.json", r#"{"recorded":"delivered","linkChanged":false,"addressMarked":false}"#),
    ("delivery-delay.json", r#"{"recorded":"delayed","linkChanged":false,"addressMarked":false}"#),
    ("bounce-permanent.json", r#"{"recorded":"bounced","linkChanged":false,"addressMarked":true}"#),
    ("complaint.json", r#"{"recorded":"complained","linkChanged":false,"addressMarked":true}"#),
    ("open-not-recorded.json", r#"{"ignored":"not-recorded: Open"}"#),
    ("malformed-no-code-tag.json", "error"),
];

/// Against the demo seed the events' link does not exist (its code id is the file's): each
/// is recorded in the helpdesk user's history all the same, and the two that say so mark its
/// address (each file on a table of its own).
#[tokio::test]
async fn every_ses_event_file_gets_its_documented_outcome() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join("ses");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = SES_EXPECTED
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("events/ses/{name} has no expected outcome in tests/events.rs"))
            .1;
        let h = Harness::new().await;
        // The harness tags each test's addresses, as it tags the seed's.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("helpdesk@demo.example", &h.email_of("helpdesk", "demo.example"));
        let event: Value = serde_json::from_str(&text).unwrap();
        let answer = match h.feedback().invoke(&event).await {
            Ok(answer) => answer,
            Err(_) => json!("error"),
        };
        let expected: Value = serde_json::from_str(expected).unwrap_or(json!(expected));
        assert_eq!(answer, expected, "events/ses/{name}");
        seen += 1;
    }
    assert_eq!(seen, SES_EXPECTED.len(), "every expectation has its file");
}

fn events_file(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The response's status and its body's error ID.
fn refused(response: &Value) -> (u64, String) {
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (response["statusCode"].as_u64().unwrap(), error_id(&body).to_owned())
}

/// lambda_http panicked on these before the handler ran ("failed to decode aws base64 encoded
/// body"), or failed the invocation: function errors that count against the Errors alarm.
#[tokio::test]
async fn events_lambda_http_cannot_read_get_a_400_and_write_nothing() {
    let h = Harness::new().await;
    let v2 = || event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None);
    let v1 = || events_file("rest-v1-cognito.json");
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    for (shape, mut e) in [("v2", v2()), ("v1", v1())] {
        e["isBase64Encoded"] = true.into();
        e["body"] = "{}".into();
        cases.push((shape, e, "HTTP-Bd7Jn"));
    }
    let mut e = v2();
    e["headers"]["x-note"] = "line\nbreak".into();
    cases.push(("v2 header value", e, "HTTP-Hd4Rv"));
    let mut e = v2();
    e["headers"]["bad name"] = "v".into();
    cases.push(("v2 header name", e, "HTTP-Hd4Rv"));
    let mut e = v1();
    e["multiValueHeaders"] = json!({"x-note": ["ok", "nul\u{0}"]});
    cases.push(("v1 multi-value header", e, "HTTP-Hd4Rv"));
    cases.push(("not an HTTP event", json!({"Records": [{"eventSource": "aws:sqs"}]}), "HTTP-Ev5Nh"));
    cases.push(("not an object", json!("hello"), "HTTP-Ev5Nh"));

    for (case, e, id) in cases {
        let response = h.invoke(e).await;
        assert_eq!(refused(&response), (400, id.to_owned()), "{case}: {response}");
    }
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    assert_eq!(h.user_sequence(ALICE).await, 0);

    // Correctly encoded, the same events go through, answered in their own shapes.
    let mut e = v2();
    e["isBase64Encoded"] = true.into();
    e["body"] = "e30=".into();
    let response = h.invoke(e).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let response = h.invoke(v1()).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["multiValueHeaders"]["content-type"][0], "application/json");
}

/// Each cause of HTTP-Bd7Jn says which rule the body broke.
#[tokio::test]
async fn body_errors_say_which_rule_was_broken() {
    let h = Harness::new().await;
    let with = |body: &str, content_type: &str| {
        let mut e = with_body(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), Some(body));
        e["headers"]["content-type"] = content_type.into();
        e
    };
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(17 * 1024));
    let mut messages = Vec::new();
    for e in [
        with("{}", "text/plain"),
        with(&big, "application/json"),
        with("{", "application/json"),
        with("[]", "application/json"),
    ] {
        let (status, body) = h.call(&e).await;
        assert_eq!((status, error_id(&body)), (400, "HTTP-Bd7Jn"), "{body}");
        messages.push(body["message"].as_str().unwrap().to_owned());
    }
    assert!(messages[0].contains("application/json"), "{messages:?}");
    assert!(messages[1].contains("16 KiB"), "{messages:?}");
    assert!(messages[2].contains("not valid JSON"), "{messages:?}");
    assert!(messages[3].contains("JSON object"), "{messages:?}");
    messages.dedup();
    assert_eq!(messages.len(), 4, "four causes, four messages");
}

/// lambda_http panicked on query strings the http crate will not put in a URI, so an ordinary
/// client got 400 "not an HTTP event" (and an ERROR log line); no call reads the query.
#[tokio::test]
async fn query_strings_are_ignored_whatever_they_hold() {
    let h = Harness::new().await;
    for query in ["a=\"b\"", "a<b>", "x=%zz&y", "{}|^`"] {
        let mut e = event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None);
        e["rawQueryString"] = query.into();
        e["queryStringParameters"] = json!({ "a": query });
        let response = h.invoke(e).await;
        assert_eq!(response["statusCode"], 200, "{query}: {response}");
    }
}
