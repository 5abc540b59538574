//! The name the registration page sends with its passkey, through the real handler on the local
//! stack: the page offers a field for it, the server stores it trimmed and refuses what ZITADEL's
//! API refuses (empty, over 200 characters) and what would hide or reorder text where admins
//! read it, with the catalogue's error, leaving the ceremony and the code usable. `_begin` refuses
//! a bad name before it starts a ceremony, so the browser never makes a credential for it.

mod common;

use common::authenticator::SoftAuthenticator;
use common::passkeys::*;
use common::*;
use serde_json::{json, Value};

const ADMIN: Option<(&str, &str)> = Some((DEMO_ADMIN, DEMO_ORG));

/// The page's `_begin` for a fresh code of Alice's, and the `_finish` body it leads to, without
/// its name.
async fn begun(h: &Harness) -> Value {
    let (code_id, code) = code_for(h, ALICE, ADMIN).await;
    let proof = json!({"userId": ALICE, "codeId": code_id, "code": code});
    let (status, begun) = call(h, "POST", &format!("{PAGE}/_begin"), None, proof.clone()).await;
    assert_eq!(status, 200, "{begun}");
    let credential =
        SoftAuthenticator::new().register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let mut finish = proof;
    finish["passkeyId"] = begun["passkeyId"].clone();
    finish["publicKeyCredential"] = credential;
    finish
}

async fn finish_named(h: &Harness, finish: &Value, name: &str) -> (u16, Value) {
    let mut body = finish.clone();
    body["passkeyName"] = name.into();
    call(h, "POST", &format!("{PAGE}/_finish"), None, body).await
}

async fn names(h: &Harness) -> Vec<String> {
    let (status, body) =
        call(h, "POST", &format!("/v2/users/{ALICE}/passkeys/_search"), ADMIN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // An empty list is left out, as ZITADEL leaves out empty fields.
    let listed = body["result"].as_array().cloned().unwrap_or_default();
    listed.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_ready_page_offers_a_name_field() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = format!("userID={ALICE}&codeID={code_id}&code={code}").into();
    let html = h.invoke(e).await["body"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&html), "ready", "{html}");
    assert!(html.contains(r#"<label for="passkey-name">Name of this passkey</label>"#), "{html}");
    assert!(html.contains(r#"<input id="passkey-name" type="text" maxlength="200""#), "{html}");
    assert!(html.contains(r#"data-name-invalid="The name must be 1-200 characters"#), "{html}");
}

#[tokio::test]
async fn the_page_stores_the_name_trimmed_and_refuses_a_bad_one_leaving_the_code_usable() {
    let h = Harness::new().await;
    let finish = begun(&h).await;
    let too_long = "x".repeat(201);
    for bad in ["", "   ", too_long.as_str(), "Phone\u{200B}", "Phone\nWork", "\u{202E}enohP", "Tab\there"] {
        let (status, body) = finish_named(&h, &finish, bad).await;
        assert_eq!((status, error_id(&body)), (400, "REQ-Fd3Kw"), "{bad:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("passkeyName"), "{body}");
    }
    assert!(names(&h).await.is_empty(), "a refused name registers nothing");
    let (status, body) = finish_named(&h, &finish, "  Work laptop  ").await;
    assert_eq!(status, 200, "the ceremony and the code outlive the refusals: {body}");
    assert_eq!(names(&h).await, ["Work laptop"]);

    // 200 characters is the limit, counted as characters, not bytes.
    let finish = begun(&h).await;
    let longest = "é".repeat(200);
    let (status, body) = finish_named(&h, &finish, &longest).await;
    assert_eq!(status, 200, "{body}");
    assert!(names(&h).await.contains(&longest));
}

#[tokio::test]
async fn a_bad_name_is_refused_at_begin_before_a_ceremony_starts_leaving_the_link_usable() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let proof = json!({"userId": ALICE, "codeId": code_id, "code": code});
    let link = format!("PASSKEYLINK#{code_id}");
    let before = h.items(ALICE, &link).await;
    let too_long = "x".repeat(201);
    let bad_names =
        [json!(""), json!("   "), json!(too_long), json!("Phone\u{200B}"), json!("Phone\nWork"), json!(7)];
    for bad in bad_names {
        let mut body = proof.clone();
        body["passkeyName"] = bad.clone();
        let (status, answer) = call(&h, "POST", &format!("{PAGE}/_begin"), None, body).await;
        assert_eq!((status, error_id(&answer)), (400, "REQ-Fd3Kw"), "{bad}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("passkeyName"), "{answer}");
    }
    assert!(h.items(ALICE, "PASSKEYREG#").await.is_empty(), "a refused name starts no ceremony");
    assert_eq!(h.items(ALICE, &link).await, before, "a refused name counts no attempt on the code");

    let mut body = proof.clone();
    body["passkeyName"] = "  Work laptop  ".into();
    let (status, begun) = call(&h, "POST", &format!("{PAGE}/_begin"), None, body).await;
    assert_eq!(status, 200, "the link outlives the refusals: {begun}");
    assert_eq!(h.items(ALICE, "PASSKEYREG#").await.len(), 1);
    let credential =
        SoftAuthenticator::new().register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let mut finish = proof;
    finish["passkeyId"] = begun["passkeyId"].clone();
    finish["publicKeyCredential"] = credential;
    let (status, body) = finish_named(&h, &finish, "  Work laptop  ").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&h).await, ["Work laptop"]);
}
