//! Redeeming a link, through the real handler on the local stack: ZITADEL's v2
//! RegisterPasskey / VerifyPasskeyRegistration (REST and Connect) with a software
//! authenticator, ListPasskeys / RemovePasskey and v1's passwordless `_search` / DELETE, and
//! the page the link opens with its anonymous calls.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::authenticator::SoftAuthenticator;
use common::passkeys::*;
use common::*;
use serde_json::{json, Value};

const ADMIN: Option<(&str, &str)> = Some((DEMO_ADMIN, DEMO_ORG));

/// The page for a link: status, the response's headers, the HTML.
async fn open_page(h: &Harness, query: &str, accept_language: Option<&str>) -> (u16, Value, String) {
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = query.into();
    if let Some(lang) = accept_language {
        e["headers"]["accept-language"] = lang.into();
    }
    let response = h.invoke(e).await;
    let status = response["statusCode"].as_u64().unwrap() as u16;
    (status, response["headers"].clone(), response["body"].as_str().unwrap_or_default().to_owned())
}

fn s<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

#[tokio::test]
async fn a_code_registers_a_passkey_once_and_is_spent_in_the_same_write() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let sequence = h.user_sequence(ALICE).await;

    // A code is no permission: a caller without user.credential.write on Alice is refused (the
    // helpdesk reads users, so it hears why) and the code stays as it was; Alice redeems it.
    let with_code = json!({"code":{"id":code_id,"code":code},"domain":"localhost"});
    let (status, body) = register(&h, ALICE, Some((HELPDESK, DEMO_ORG)), with_code.clone()).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let alice = Some((ALICE, DEMO_ORG));
    let (status, begun) = register(&h, ALICE, alice, with_code).await;
    assert_eq!(status, 200, "{begun}");
    let options = &begun["publicKeyCredentialCreationOptions"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(options["user"]["displayName"], "Alice Example");
    assert_eq!(options["excludeCredentials"], json!([]));
    assert_eq!(begun["details"]["sequence"], sequence.to_string(), "starting changes nothing");
    let link = &h.items(ALICE, &format!("PASSKEYLINK#{code_id}")).await[0];
    assert!(!link.contains_key("usedAt"), "starting does not spend the code");

    let mut authenticator = SoftAuthenticator::new();
    let credential =
        authenticator.register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let passkey_id = begun["passkeyId"].as_str().unwrap();
    let (status, body) = verify(&h, ALICE, passkey_id, alice, &credential).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], (sequence + 1).to_string());

    let stored = &h.items(ALICE, "PASSKEY#").await[0];
    assert_eq!(s(stored, "passkeyId"), passkey_id);
    assert_eq!(s(stored, "credentialId"), authenticator.credential_id());
    assert_eq!(s(stored, "aaguid"), authenticator.aaguid());
    assert_eq!(s(stored, "name"), "Alice's phone");
    assert_eq!(stored["signCount"].as_n().unwrap(), "0");
    assert!(s(stored, "publicKey").contains("EC2") || !s(stored, "publicKey").is_empty());
    assert!(!s(stored, "createdAt").is_empty());
    let link = &h.items(ALICE, &format!("PASSKEYLINK#{code_id}")).await[0];
    assert_eq!(s(link, "usedFor"), passkey_id);
    assert!(h.items(ALICE, "PASSKEYREG#").await.is_empty(), "the ceremony state is gone");
    let event = &h.items(ALICE, &format!("EVENT#{:020}", sequence + 1)).await[0];
    assert_eq!(s(event, "eventType"), "user.human.passwordless.token.verified");
    assert_eq!(s(event, "codeId"), code_id);
    assert_eq!(s(event, "editorUserId"), ALICE);

    // Replayed: the ceremony is gone; the spent code starts nothing new.
    let (status, body) = verify(&h, ALICE, passkey_id, alice, &credential).await;
    assert_eq!((status, error_id(&body)), (404, "PASSKEY-Cn7Wm"), "{body}");
    let (status, body) = register(&h, ALICE, alice, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Us4Dz"), "{body}");
    // A spent link is no longer outstanding.
    let (_, links) =
        call(&h, "POST", &format!("/v2/users/{ALICE}/passkeys/registration_links/_search"), ADMIN, json!({}))
            .await;
    assert_eq!(links["result"], json!([]), "{links}");
}

#[tokio::test]
async fn of_concurrent_finishes_exactly_one_wins() {
    let h = Harness::new().await;
    // Rounds, because the losers' paths depend on timing: the ceremony gone, the code spent,
    // or (read before the winner's write) the winner's credential already stored.
    for round in 1..=4 {
        let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
        let (_, begun) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code}})).await;
        let credential = SoftAuthenticator::new()
            .register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN)
            .unwrap();
        let passkey_id = begun["passkeyId"].as_str().unwrap();
        let sequence = h.user_sequence(ALICE).await;
        let outcomes = futures_join(&h, passkey_id, &credential).await;
        let wins = outcomes.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(wins, 1, "{outcomes:?}");
        for (status, body) in outcomes.iter().filter(|(status, _)| *status != 200) {
            assert!(matches!(error_id(body), "PASSKEY-Cn7Wm" | "CODE-Us4Dz"), "{status} {body}");
        }
        assert_eq!(h.items(ALICE, "PASSKEY#").await.len(), round);
        assert_eq!(h.user_sequence(ALICE).await, sequence + 1);
    }
}

async fn futures_join(h: &Harness, passkey_id: &str, credential: &Value) -> Vec<(u16, Value)> {
    let (a, b, c, d) = tokio::join!(
        verify(h, ALICE, passkey_id, ADMIN, credential),
        verify(h, ALICE, passkey_id, ADMIN, credential),
        verify(h, ALICE, passkey_id, Some((ALICE, DEMO_ORG)), credential),
        verify(h, ALICE, passkey_id, ADMIN, credential),
    );
    vec![a, b, c, d]
}

#[tokio::test]
async fn wrong_codes_lock_the_link_and_a_failed_ceremony_leaves_the_code_usable() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let (status, begun) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!(status, 200);
    // An answer for another origin fails verification; the code stays usable.
    let mut authenticator = SoftAuthenticator::new();
    let foreign =
        authenticator.register(&begun["publicKeyCredentialCreationOptions"], "https://evil.example").unwrap();
    let passkey_id = begun["passkeyId"].as_str().unwrap();
    let (status, body) = verify(&h, ALICE, passkey_id, ADMIN, &foreign).await;
    assert_eq!((status, error_id(&body)), (400, "PASSKEY-At8Rf"), "{body}");
    let (status, body) = verify(&h, ALICE, passkey_id, ADMIN, &json!({"id":"x"})).await;
    assert_eq!((status, error_id(&body)), (400, "PASSKEY-At8Rf"), "{body}");
    let good = authenticator.register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let (status, body) = verify(&h, ALICE, passkey_id, ADMIN, &good).await;
    assert_eq!(status, 200, "the same ceremony still finishes: {body}");

    // Five wrong codes lock a link, for the right code too.
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    for _ in 0..5 {
        let (status, body) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":"guess"}})).await;
        assert_eq!((status, error_id(&body)), (400, "CODE-Iv3Kp"), "{body}");
    }
    let (status, body) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Lk6Tr"), "{body}");
    let (status, body) =
        register(&h, ALICE, ADMIN, json!({"code":{"id":"00000000-0000-0000-0000-000000000000","code":code}}))
            .await;
    assert_eq!((status, error_id(&body)), (404, "CODE-Nf2Qe"), "{body}");
}

#[tokio::test]
async fn expired_codes_and_foreign_domains_are_refused() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let (status, body) =
        register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code},"domain":"evil.example"})).await;
    assert_eq!((status, error_id(&body)), (400, "PASSKEY-Rp1Dn"), "{body}");
    expire(&h, ALICE, &code_id).await;
    let (status, body) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Ex5Pr"), "{body}");
    let (status, _, html) =
        open_page(&h, &format!("userID={ALICE}&codeID={code_id}&code={code}"), None).await;
    assert_eq!((status, state_of(&html)), (410, "expired"));
}

async fn expire(h: &Harness, user: &str, code_id: &str) {
    h.table
        .client()
        .update_item()
        .table_name(h.table.name())
        .key("pk", AttributeValue::S(format!("USER#{user}")))
        .key("sk", AttributeValue::S(format!("PASSKEYLINK#{code_id}")))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_code_the_user_or_user_credential_write_registers() {
    let h = Harness::new().await;
    let (status, body) = register(&h, ALICE, Some((HELPDESK, DEMO_ORG)), json!({})).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) = register(&h, ALICE, Some((OTHER_OWNER, OTHER_ORG)), json!({})).await;
    assert_eq!((status, error_id(&body)), (404, "USER-3n8fS"), "another org's owner: {body}");
    let (status, own) = register(
        &h,
        ALICE,
        Some((ALICE, DEMO_ORG)),
        json!({"authenticator":"PASSKEY_AUTHENTICATOR_PLATFORM"}),
    )
    .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(
        own["publicKeyCredentialCreationOptions"]["publicKey"]["authenticatorSelection"]
            ["authenticatorAttachment"],
        "platform"
    );
    let mut authenticator = SoftAuthenticator::new();
    let credential = authenticator.register(&own["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    // Only the user or user.credential.write may finish it.
    let id = own["passkeyId"].as_str().unwrap();
    let (status, body) = verify(&h, ALICE, id, Some((HELPDESK, DEMO_ORG)), &credential).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) = verify(&h, ALICE, id, Some((ALICE, DEMO_ORG)), &credential).await;
    assert_eq!(status, 200, "{body}");

    // The next ceremony excludes the registered credential; the same authenticator is
    // refused by the browser and, if it answered anyway, by the service.
    let (_, by_admin) = register(&h, ALICE, ADMIN, json!({})).await;
    let excluded = &by_admin["publicKeyCredentialCreationOptions"]["publicKey"]["excludeCredentials"];
    assert_eq!(excluded[0]["id"], authenticator.credential_id().as_str(), "{by_admin}");
    assert_eq!(
        authenticator.register(&by_admin["publicKeyCredentialCreationOptions"], PAGE_ORIGIN),
        Err("excluded")
    );
    let (code_id, code) = code_for(&h, BOB, Some((OTHER_OWNER, OTHER_ORG))).await;
    let (_, begun) =
        register(&h, BOB, Some((OTHER_OWNER, OTHER_ORG)), json!({"code":{"id":code_id,"code":code}})).await;
    let same = authenticator.register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let (status, body) =
        verify(&h, BOB, begun["passkeyId"].as_str().unwrap(), Some((OTHER_OWNER, OTHER_ORG)), &same).await;
    assert_eq!((status, error_id(&body)), (409, "PASSKEY-Dp9Ex"), "a credential has one owner: {body}");
}

#[tokio::test]
async fn passkeys_are_listed_and_removed_in_v2_and_v1_with_permissions() {
    let h = Harness::new().await;
    let (status, begun) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    assert_eq!(status, 200, "{begun}");
    let credential =
        SoftAuthenticator::new().register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let id = begun["passkeyId"].as_str().unwrap();
    assert_eq!(verify(&h, ALICE, id, Some((ALICE, DEMO_ORG)), &credential).await.0, 200);

    let search = format!("/v2/users/{ALICE}/passkeys/_search");
    for caller in [Some((ALICE, DEMO_ORG)), ADMIN, Some((HELPDESK, DEMO_ORG))] {
        let (status, body) = call(&h, "POST", &search, caller, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["result"],
            json!([{"id": id, "state": "AUTH_FACTOR_STATE_READY", "name": "Alice's phone"}])
        );
        let details = body["details"].as_object().unwrap();
        assert_eq!(details.keys().collect::<Vec<_>>(), ["processedSequence", "timestamp", "totalResult"]);
        assert_eq!(details["totalResult"], "1");
        assert_eq!(details["processedSequence"], h.user_sequence(ALICE).await.to_string());
    }
    let (status, body) = call(&h, "POST", &search, Some((OTHER_OWNER, OTHER_ORG)), json!({})).await;
    assert_eq!((status, error_id(&body)), (404, "USER-3n8fS"), "{body}");
    let (status, body) =
        call(&h, "POST", "/zitadel.user.v2.UserService/ListPasskeys", ADMIN, json!({"userId": ALICE})).await;
    assert_eq!((status, body["result"][0]["id"].as_str()), (200, Some(id)), "{body}");
    assert_eq!(body["details"]["totalResult"], "1", "{body}");

    let v1 = format!("/management/v1/users/{ALICE}/passwordless");
    let (status, body) = call(&h, "POST", &format!("{v1}/_search"), ADMIN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": [{"id": id, "state": "AUTH_FACTOR_STATE_READY", "name": "Alice's phone"}]})
    );
    // v1 acts in the caller's org (or the header's): Alice is not in Other Org.
    let (status, body) =
        call(&h, "POST", &format!("{v1}/_search"), Some((OTHER_OWNER, OTHER_ORG)), json!({})).await;
    assert_eq!(status, 404, "{body}");
    // HELPDESK reads but does not write.
    let (status, body) =
        call(&h, "DELETE", &format!("{v1}/{id}"), Some((HELPDESK, DEMO_ORG)), json!({})).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let sequence = h.user_sequence(ALICE).await;
    let (status, body) = call(&h, "DELETE", &format!("{v1}/{id}"), ADMIN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], (sequence + 1).to_string());
    let details = body["details"].as_object().unwrap();
    assert_eq!(
        details.keys().collect::<Vec<_>>(),
        ["changeDate", "resourceOwner", "sequence"],
        "ZITADEL's details of a change: {body}"
    );
    assert!(h.items(ALICE, "PASSKEY#").await.is_empty());
    let event = &h.items(ALICE, &format!("EVENT#{:020}", sequence + 1)).await[0];
    assert_eq!(s(event, "eventType"), "user.human.passwordless.token.removed");
    let (status, body) =
        call(&h, "DELETE", &format!("/v2/users/{ALICE}/passkeys/{id}"), Some((ALICE, DEMO_ORG)), json!({}))
            .await;
    assert_eq!((status, error_id(&body)), (404, "PASSKEY-Nf2Rm"), "{body}");
    // Protobuf JSON omits the empty list and the zero count.
    let (status, body) = call(&h, "POST", &search, ADMIN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["details"], "{body}");
    let details = body["details"].as_object().unwrap();
    assert_eq!(details.keys().collect::<Vec<_>>(), ["processedSequence", "timestamp"], "{body}");
    assert_eq!(details["processedSequence"], (sequence + 1).to_string());
    let (status, body) = call(&h, "POST", &format!("{v1}/_search"), ADMIN, json!({})).await;
    assert_eq!((status, body), (200, json!({})));
}

/// Protobuf JSON omits zeros: a user without any event yet answers no sequence, an empty
/// list no count and no result, over REST and Connect alike.
#[tokio::test]
async fn a_user_without_history_answers_without_zero_fields() {
    let h = Harness::new().await;
    assert_eq!(h.user_sequence(BOB).await, 0);
    let owner = Some((OTHER_OWNER, OTHER_ORG));
    let (status, body) =
        call(&h, "POST", &format!("/v2/users/{BOB}/passkeys/_search"), owner, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["details"], "{body}");
    assert_eq!(body["details"].as_object().unwrap().keys().collect::<Vec<_>>(), ["timestamp"], "{body}");
    let (status, connect) =
        call(&h, "POST", "/zitadel.user.v2.UserService/ListPasskeys", owner, json!({"userId": BOB})).await;
    assert_eq!(status, 200, "{connect}");
    assert_eq!(connect["details"].as_object().unwrap().keys().collect::<Vec<_>>(), ["timestamp"]);
    let (status, begun) = register(&h, BOB, owner, json!({})).await;
    assert_eq!(status, 200, "{begun}");
    assert_eq!(
        begun["details"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["changeDate", "resourceOwner"]
    );
}

#[tokio::test]
async fn connect_carries_the_ids_in_the_body() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let (status, begun) = call(
        &h,
        "POST",
        "/zitadel.user.v2.UserService/RegisterPasskey",
        ADMIN,
        json!({"userId": ALICE, "code": {"id": code_id, "code": code}, "authenticator": "PASSKEY_AUTHENTICATOR_UNSPECIFIED"}),
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let credential =
        SoftAuthenticator::new().register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let verify_path = "/zitadel.user.v2.UserService/VerifyPasskeyRegistration";
    let (status, body) = call(
        &h,
        "POST",
        verify_path,
        ADMIN,
        json!({"userId": ALICE, "publicKeyCredential": credential, "passkeyName": "x"}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    let passkey_id = begun["passkeyId"].as_str().unwrap();
    let (status, body) = call(
        &h,
        "POST",
        verify_path,
        ADMIN,
        json!({"userId": ALICE, "passkeyId": passkey_id, "publicKeyCredential": credential, "passkeyName": "Phone"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &h,
        "POST",
        "/zitadel.user.v2.UserService/RemovePasskey",
        ADMIN,
        json!({"userId": ALICE, "passkeyId": passkey_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &h,
        "POST",
        "/zitadel.user.v2.UserService/RemovePasskey",
        ADMIN,
        json!({"userId": ALICE, "passkeyId": passkey_id}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
}

#[tokio::test]
async fn the_page_shows_each_state_and_opening_it_never_spends_the_code() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let query = format!("userID={ALICE}&orgID={DEMO_ORG}&codeID={code_id}&code={code}");
    for _ in 0..2 {
        let (status, headers, html) = open_page(&h, &query, None).await;
        assert_eq!((status, state_of(&html)), (200, "ready"), "{html}");
        assert!(html.contains(r#"<dd id="display-name">Alice Example</dd>"#), "{html}");
        assert!(html.contains(r#"<dd id="org-name">Demo Corp</dd>"#), "{html}");
        assert!(html.contains(r#"<button id="create" type="button">Create passkey</button>"#));
        assert!(!html.contains(&code), "the code is never echoed into the page");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let csp = headers["content-security-policy"].as_str().unwrap();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe")
        );
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    }
    assert!(!h.items(ALICE, &format!("PASSKEYLINK#{code_id}")).await[0].contains_key("usedAt"));
    // Localized: Alice prefers English; Bob (German) gets German whatever the browser says.
    let (_, _, html) = open_page(&h, &query, Some("de")).await;
    assert!(html.contains(r#"<html lang="en">"#));
    let (bob_code_id, bob_code) = code_for(&h, BOB, Some((OTHER_OWNER, OTHER_ORG))).await;
    let (_, headers, html) =
        open_page(&h, &format!("userID={BOB}&codeID={bob_code_id}&code={bob_code}"), Some("fr, en;q=0.5"))
            .await;
    assert!(html.contains("Passkey erstellen"), "{html}");
    assert_eq!(headers["content-language"], "de");

    // The page's own calls, anonymous: the code is the proof.
    let proof = json!({"userId": ALICE, "codeId": code_id, "code": code});
    let (status, begun) = call(&h, "POST", &format!("{PAGE}/_begin"), None, proof.clone()).await;
    assert_eq!(status, 200, "{begun}");
    let credential =
        SoftAuthenticator::new().register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let mut finish = proof.clone();
    finish["passkeyId"] = begun["passkeyId"].clone();
    finish["publicKeyCredential"] = credential;
    finish["passkeyName"] = "Passkey 1/12/2026".into();
    let (status, body) = call(&h, "POST", &format!("{PAGE}/_finish"), None, finish.clone()).await;
    assert_eq!(status, 200, "{body}");
    let event = h.items(ALICE, "EVENT#").await.pop().unwrap();
    assert_eq!(s(&event, "editorUserId"), ALICE, "the link's holder acts as the user");

    let (status, _, html) = open_page(&h, &query, None).await;
    assert_eq!((status, state_of(&html)), (410, "used"));
    assert!(html.contains("This link has already been used"));
    let (status, body) = call(&h, "POST", &format!("{PAGE}/_finish"), None, finish).await;
    assert_eq!((status, error_id(&body)), (404, "PASSKEY-Cn7Wm"), "{body}");

    // Unknown, incomplete or wrong: one "not valid" page, which reveals nothing.
    for bad in [
        format!("userID={ALICE}&codeID=00000000-0000-0000-0000-000000000000&code={code}"),
        format!("userID={ALICE}&codeID={code_id}&code=wrong"),
        format!("userID={ALICE}&codeID={code_id}"),
        "userID=%00&codeID=%22%3E%3Cscript%3E&code=x".to_owned(),
        String::new(),
    ] {
        let (status, _, html) = open_page(&h, &bad, None).await;
        assert_eq!((status, state_of(&html)), (404, "unknown"), "{bad}");
        assert!(!html.contains("<script>"), "{bad}");
    }
}

#[tokio::test]
async fn the_page_locks_a_guessed_link_and_limits_requests_per_link() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    for _ in 0..5 {
        let (_, _, html) = open_page(&h, &format!("userID={ALICE}&codeID={code_id}&code=guess"), None).await;
        assert_eq!(state_of(&html), "unknown");
    }
    let (status, _, html) =
        open_page(&h, &format!("userID={ALICE}&codeID={code_id}&code={code}"), None).await;
    assert_eq!((status, state_of(&html)), (403, "locked"));

    // Ten requests a minute per link; the window may turn over once during the loop.
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let proof = json!({"userId": ALICE, "codeId": code_id, "code": code});
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let response = h.invoke(request("POST", &format!("{PAGE}/_begin"), None, Some(proof.clone()))).await;
        let (status, body) = parse_invocation(&response);
        if status == 429 {
            assert_eq!(error_id(&body), "PAGE-Rl3Sl");
            let retry: u64 = response["headers"]["retry-after"].as_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry));
        }
        statuses.push(status);
    }
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let (status, _, html) =
        open_page(&h, &format!("userID={ALICE}&codeID={code_id}&code={code}"), None).await;
    assert!(status == 429 && state_of(&html) == "limited" || status == 200, "{status}");
}

#[tokio::test]
async fn the_script_and_style_are_served_with_the_policy() {
    let h = Harness::new().await;
    for (path, content_type) in
        [("page.js", "text/javascript; charset=utf-8"), ("page.css", "text/css; charset=utf-8")]
    {
        let response = h.invoke(request("GET", &format!("{PAGE}/{path}"), None, None)).await;
        assert_eq!(response["statusCode"], 200);
        assert_eq!(response["headers"]["content-type"], content_type);
        assert!(response["headers"]["content-security-policy"].is_string());
        assert!(!response["body"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_page_limits_requests_per_source_address() {
    let h = Harness::new().await;
    // Thirty a minute from one address, whatever the link: 65 requests span at most two
    // windows, so one of them sees more than thirty.
    let mut limited = 0;
    for n in 0..65 {
        let (status, headers, html) =
            open_page(&h, &format!("userID={ALICE}&codeID=00000000-0000-4000-8000-{n:012}&code=x"), None)
                .await;
        if status == 429 {
            assert_eq!(state_of(&html), "limited");
            assert!(headers["retry-after"].is_string());
            limited += 1;
        } else {
            assert_eq!((status, state_of(&html)), (404, "unknown"));
        }
    }
    assert!(limited > 0);
    // Another address is not affected.
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = format!("userID={ALICE}&codeID=c&code=x").into();
    e["requestContext"]["http"]["sourceIp"] = "198.51.100.9".into();
    assert_eq!(h.invoke(e).await["statusCode"], 404);
}
