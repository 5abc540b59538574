//! Helpers of the passkey tests (tests/passkeys.rs, tests/adversarial.rs): events for any
//! route, and the v2 calls they repeat.

use serde_json::{json, Value};

use super::{event, parse_invocation, Harness, ALICE};

/// Where the mailed link opens.
pub const PAGE: &str = "/ui/login/login/passwordless/init";

/// An HTTP API event: `method path` from `caller` (none: no authorizer ran) with `body`.
pub fn request(method: &str, path: &str, caller: Option<(&str, &str)>, body: Option<Value>) -> Value {
    let mut e = event(caller, ALICE, None);
    e["rawPath"] = path.into();
    e["requestContext"]["http"]["path"] = path.into();
    e["requestContext"]["http"]["method"] = method.into();
    e["routeKey"] = "$default".into();
    e.as_object_mut().unwrap().remove("pathParameters");
    match body {
        Some(body) => e["body"] = body.to_string().into(),
        None => {
            e.as_object_mut().unwrap().remove("body");
        }
    }
    e
}

pub async fn call(
    h: &Harness,
    method: &str,
    path: &str,
    caller: Option<(&str, &str)>,
    body: Value,
) -> (u16, Value) {
    parse_invocation(&h.invoke(request(method, path, caller, Some(body))).await)
}

pub fn state_of(html: &str) -> &str {
    html.split("data-state=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("none")
}

/// A code for `user`, handed to the admin (v2 `returnCode`).
pub async fn code_for(h: &Harness, user: &str, caller: Option<(&str, &str)>) -> (String, String) {
    let (status, body) = call(
        h,
        "POST",
        &format!("/v2/users/{user}/passkeys/registration_link"),
        caller,
        json!({"returnCode":{}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (body["code"]["id"].as_str().unwrap().to_owned(), body["code"]["code"].as_str().unwrap().to_owned())
}

pub async fn register(h: &Harness, user: &str, caller: Option<(&str, &str)>, body: Value) -> (u16, Value) {
    call(h, "POST", &format!("/v2/users/{user}/passkeys"), caller, body).await
}

pub async fn verify(
    h: &Harness,
    user: &str,
    passkey_id: &str,
    caller: Option<(&str, &str)>,
    credential: &Value,
) -> (u16, Value) {
    let body = json!({"publicKeyCredential": credential, "passkeyName": "Alice's phone"});
    call(h, "POST", &format!("/v2/users/{user}/passkeys/{passkey_id}"), caller, body).await
}
