//! The send-link call through the real handler, against the DynamoDB and SES endpoints of
//! the local stack. Each test has its own table and its own e-mail addresses.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use send_passkey_link::link::hash_code;
use send_passkey_link::store::dynamodb::admin::{LinkState, OperatorLink};
use serde_json::Value;

fn attr_s<'a>(
    item: &'a std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> &'a str {
    item[name].as_s().unwrap()
}

#[tokio::test]
async fn sends_a_link_whose_secret_only_the_mail_knows() {
    let h = Harness::new().await;
    let before = Utc::now();
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["details"], "{body}");
    let details = body["details"].as_object().unwrap();
    // ZITADEL's details of an addition: no changeDate.
    assert_eq!(details.keys().collect::<Vec<_>>(), ["creationDate", "resourceOwner", "sequence"], "{body}");
    assert_eq!(details["sequence"], "1");
    assert_eq!(details["resourceOwner"], DEMO_ORG);
    let created = details["creationDate"].as_str().unwrap();
    // RFC 3339 UTC with milliseconds, e.g. 2024-06-13T06:44:37.459Z
    assert_eq!(created.len(), 24, "{created}");
    assert!(created.ends_with('Z'));
    let created: DateTime<Utc> = created.parse().unwrap();
    assert!(created >= before - chrono::Duration::milliseconds(1) && created <= Utc::now());

    let links = h.items(ALICE, "PASSKEYLINK#").await;
    assert_eq!(links.len(), 1);
    let link = &links[0];
    let expires: i64 = link["expiresAt"].as_n().unwrap().parse().unwrap();
    let ttl_left = expires - Utc::now().timestamp();
    assert!((3590..=3600).contains(&ttl_left), "TTL {ttl_left}s from now");
    assert_eq!(attr_s(link, "orgId"), DEMO_ORG);

    let mails = mails_to(&h.email_of("alice", "demo.example"));
    assert_eq!(mails.len(), 1, "exactly one mail");
    let (code_id, code, url) = link_in(&mails[0]);
    assert!(url.starts_with(&format!(
        "http://localhost:8080/ui/login/login/passwordless/init?userID={ALICE}&orgID={DEMO_ORG}&codeID="
    )));
    assert_eq!(attr_s(link, "codeId"), code_id);
    assert!(code.len() >= 22, "at least 128 bits");
    assert_ne!(attr_s(link, "codeHash"), code, "the secret itself is not stored");
    assert_eq!(attr_s(link, "codeHash"), hash_code(&code), "the stored hash is the mailed secret's");
    assert!(!link.values().any(|v| v.as_s().is_ok_and(|s| s.contains(&code))));
    assert!(mails[0]["body"]["html"].as_str().unwrap().contains(&code));
    assert!(!body.to_string().contains(&code), "the response never carries the secret");

    let events = h.items(ALICE, "EVENT#").await;
    assert_eq!(events.len(), 1);
    assert!(!link.contains_key("messageId"), "the mail's tags, not a write after it, lead back to the link");
    assert_eq!(attr_s(&events[0], "eventType"), "user.human.passwordless.initialization.code.requested");
    assert_eq!(attr_s(&events[0], "editorUserId"), DEMO_ADMIN);
    assert_eq!(h.user_sequence(ALICE).await, 1);
}

#[tokio::test]
async fn sequence_grows_by_one_per_call_and_every_call_gets_a_fresh_link() {
    let h = Harness::new().await;
    for expected in 1..=3u64 {
        let (status, body) = h.admin_sends_to_alice().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["details"]["sequence"], expected.to_string());
    }
    assert_eq!(h.user_sequence(ALICE).await, 3);
    assert_eq!(h.items(ALICE, "EVENT#").await.len(), 3);
    let mails = mails_to(&h.email_of("alice", "demo.example"));
    assert_eq!(mails.len(), 3);
    let codes: std::collections::HashSet<String> = mails.iter().map(|m| link_in(m).1).collect();
    assert_eq!(codes.len(), 3, "a fresh secret per call");
    let stored: std::collections::HashSet<String> =
        h.items(ALICE, "PASSKEYLINK#").await.iter().map(|l| attr_s(l, "codeHash").to_owned()).collect();
    assert_eq!(stored, codes.iter().map(|c| hash_code(c)).collect());
}

/// Asserts an error answer in the contract's shape, and that nothing was written or sent.
async fn assert_refused(h: &Harness, event: &Value, status: u16, code: i64, id: &str) {
    let (got, body) = h.call(event).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(error_id(&body), id, "{body}");
    assert_eq!(body["details"][0]["@type"], "type.googleapis.com/zitadel.v1.ErrorDetail");
    let message = body["message"].as_str().unwrap();
    assert!(message.ends_with(&format!("({id})")), "{message}");
    for user in [ALICE, BOB, MACHINE] {
        assert!(h.items(user, "PASSKEYLINK#").await.is_empty(), "no link stored");
        assert!(h.items(user, "EVENT#").await.is_empty(), "no event stored");
        assert_eq!(h.user_sequence(user).await, 0);
    }
    for (local, domain) in [("alice", "demo.example"), ("bob", "other.example")] {
        assert!(mails_to(&h.email_of(local, domain)).is_empty(), "no mail sent");
    }
}

#[tokio::test]
async fn no_identity_is_unauthenticated() {
    let h = Harness::new().await;
    assert_refused(&h, &event(None, ALICE, None), 401, 16, "AUTH-7kZq2").await;
}

#[tokio::test]
async fn identity_headers_cannot_stand_in_for_the_authorizer() {
    let h = Harness::new().await;
    let mut e = event(None, ALICE, Some(DEMO_ORG));
    e["headers"]["x-zitadel-userid"] = DEMO_ADMIN.into();
    e["headers"]["x-forwarded-user"] = DEMO_ADMIN.into();
    e["headers"]["sub"] = DEMO_ADMIN.into();
    assert_refused(&h, &e, 401, 16, "AUTH-7kZq2").await;
}

#[tokio::test]
async fn owner_of_another_org_is_denied() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((OTHER_OWNER, OTHER_ORG)), ALICE, Some(DEMO_ORG)), 403, 7, "AUTH-5mWD2")
        .await;
}

#[tokio::test]
async fn member_without_a_role_holding_user_write_is_denied() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((HELPDESK, DEMO_ORG)), ALICE, None), 403, 7, "AUTH-5mWD2").await;
}

#[tokio::test]
async fn unknown_user_is_not_found() {
    let h = Harness::new().await;
    assert_refused(
        &h,
        &event(Some((DEMO_ADMIN, DEMO_ORG)), "999999999999999999", None),
        404,
        5,
        "USER-3n8fS",
    )
    .await;
}

#[tokio::test]
async fn user_of_another_org_is_not_found() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), BOB, None), 404, 5, "USER-3n8fS").await;
    // Even an instance owner acting in one org does not reach users of another.
    assert_refused(
        &h,
        &event(Some((INSTANCE_OWNER, INSTANCE_ORG)), BOB, Some(DEMO_ORG)),
        404,
        5,
        "USER-3n8fS",
    )
    .await;
}

#[tokio::test]
async fn instance_owner_acts_in_the_org_named_by_the_header() {
    let h = Harness::new().await;
    let (status, body) = h.call(&event(Some((INSTANCE_OWNER, INSTANCE_ORG)), ALICE, Some(DEMO_ORG))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 1);
    // Without the header the instance owner acts in its own org, where Alice does not exist.
    let (status, _) = h.call(&event(Some((INSTANCE_OWNER, INSTANCE_ORG)), ALICE, None)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn header_naming_an_unknown_org_is_denied_before_anything_is_revealed() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, Some("555")), 403, 7, "AUTH-5mWD2").await;
    assert_refused(
        &h,
        &event(Some((INSTANCE_OWNER, INSTANCE_ORG)), ALICE, Some("555")),
        404,
        5,
        "AUTH-Bs7Ds",
    )
    .await;
}

#[tokio::test]
async fn empty_and_empty_object_bodies_are_accepted() {
    let h = Harness::new().await;
    for (i, body) in
        [Some("{}"), None, Some(""), Some("  "), Some(r#"{"unknownField":1}"#)].into_iter().enumerate()
    {
        let (status, resp) = h.call(&with_body(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), body)).await;
        assert_eq!(status, 200, "{body:?}: {resp}");
        assert_eq!(resp["details"]["sequence"], (i + 1).to_string());
    }
}

#[tokio::test]
async fn non_object_bodies_are_invalid_arguments() {
    let h = Harness::new().await;
    for body in ["[]", "null", "42", "\"{}\"", "{", "not json", "{}{}"] {
        assert_refused(
            &h,
            &with_body(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), Some(body)),
            400,
            3,
            "HTTP-Bd7Jn",
        )
        .await;
    }
}

#[tokio::test]
async fn machine_users_cannot_get_a_link() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), MACHINE, None), 400, 9, "USER-Mk8Ht").await;
}

#[tokio::test]
async fn malformed_ids_are_invalid_arguments() {
    let h = Harness::new().await;
    assert_refused(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), "a#b", None), 400, 3, "USER-x9Ql1").await;
    assert_refused(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, Some("ORG#x")), 400, 3, "AUTH-Pq4Wd")
        .await;
}

#[tokio::test]
async fn success_costs_three_aws_calls() {
    let h = Harness::new().await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    // Read, write, send: nothing after the send (the mail's tags identify the link).
    assert_eq!(h.calls.take(), ["DynamoDB.BatchGetItem", "DynamoDB.TransactWriteItems", "SESv2.SendEmail"]);
    // A refusal costs the one read and nothing else.
    let (status, _) = h.call(&event(Some((HELPDESK, DEMO_ORG)), ALICE, None)).await;
    assert_eq!(status, 403);
    assert_eq!(h.calls.take(), ["DynamoDB.BatchGetItem"]);
}

#[tokio::test]
async fn ses_unreachable_is_unavailable_and_leaves_no_usable_link() {
    let h = Harness::with_endpoints(Endpoints { ses: Some(closed_port()), ..Default::default() }).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 14);
    assert_eq!(error_id(&body), "MAIL-Un2Ks");
    assert!(!body.to_string().contains("127.0.0.1"), "no internals in the answer: {body}");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty(), "the unsent link is removed");
    assert!(mails_to(&h.email_of("alice", "demo.example")).is_empty());
}

#[tokio::test]
async fn dynamodb_unreachable_is_unavailable_and_sends_nothing() {
    let h = Harness::with_endpoints(Endpoints { dynamodb: Some(closed_port()), ..Default::default() }).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 14);
    assert_eq!(error_id(&body), "STORE-Un5Wb");
    assert!(!body.to_string().contains("127.0.0.1"), "no internals in the answer: {body}");
    assert!(mails_to(&h.email_of("alice", "demo.example")).is_empty());
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    assert_eq!(h.user_sequence(ALICE).await, 0);
}

#[tokio::test]
async fn expired_links_are_gone_on_read_whatever_ttl_has_deleted() {
    let h = Harness::new().await;
    let (status, _) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200);
    let fresh = h.items(ALICE, "PASSKEYLINK#").await[0]["codeId"].as_s().unwrap().clone();
    // An expired link TTL has not removed yet (emulators never do, AWS does so late).
    let mut expired = h.items(ALICE, "PASSKEYLINK#").await[0].clone();
    expired.insert("sk".into(), aws_sdk_dynamodb::types::AttributeValue::S("PASSKEYLINK#expired".into()));
    expired.insert("codeId".into(), aws_sdk_dynamodb::types::AttributeValue::S("expired".into()));
    let past = chrono::Utc::now().timestamp() - 1;
    expired.insert("expiresAt".into(), aws_sdk_dynamodb::types::AttributeValue::N(past.to_string()));
    h.table.client().put_item().table_name(h.table.name()).set_item(Some(expired)).send().await.unwrap();

    let user = send_passkey_link::model::UserId::parse(ALICE).unwrap();
    let usable = |links: Vec<OperatorLink>| {
        links.into_iter().filter(|l| l.state == LinkState::Usable).map(|l| l.link).collect::<Vec<_>>()
    };
    let active = usable(h.table.operator_links(&user, chrono::Utc::now().timestamp(), 5).await.unwrap());
    assert_eq!(active.iter().map(|l| l.code_id.as_str()).collect::<Vec<_>>(), [fresh.as_str()]);
    assert!(!serde_json::to_string(&active).unwrap().contains("codeHash"), "operators never see the hash");
    // An hour later the fresh one is gone too.
    let later =
        usable(h.table.operator_links(&user, chrono::Utc::now().timestamp() + 3601, 5).await.unwrap());
    assert!(later.is_empty());
}

#[tokio::test]
async fn each_refusal_costs_at_most_the_one_read() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    // Refused before any AWS call: the request itself.
    for (e, status) in [(event(None, ALICE, None), 401), (event(admin, "a#b", None), 400)] {
        assert_eq!(h.call(&e).await.0, status);
        assert_eq!(h.calls.take(), Vec::<String>::new(), "{status}");
    }
    // Refused after the read: who may, who and what the user is.
    for (e, status) in [
        (event(Some((HELPDESK, DEMO_ORG)), ALICE, None), 403),
        (event(admin, "100000000000000099", None), 404),
        (event(admin, MACHINE, None), 400),
    ] {
        assert_eq!(h.call(&e).await.0, status);
        assert_eq!(h.calls.take(), ["DynamoDB.BatchGetItem"], "{status}");
    }
    // The rate limit is on the user item the read returns.
    for _ in 0..send_passkey_link::config::DEFAULT_RATE_LIMIT.links {
        assert_eq!(h.admin_sends_to_alice().await.0, 200);
    }
    h.calls.take();
    assert_eq!(h.admin_sends_to_alice().await.0, 429);
    assert_eq!(h.calls.take(), ["DynamoDB.BatchGetItem"]);
}

#[tokio::test]
async fn a_refused_send_adds_the_one_write_that_takes_the_link_back() {
    let (h, _stub) = Harness::with_ses_stub(vec![SES_REJECTED]).await;
    assert_eq!(h.admin_sends_to_alice().await.0, 400);
    assert_eq!(
        h.calls.take(),
        [
            "DynamoDB.BatchGetItem",
            "DynamoDB.TransactWriteItems",
            "SESv2.SendEmail",
            "DynamoDB.TransactWriteItems"
        ]
    );
}
