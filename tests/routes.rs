//! The calls around the mailed link, through the real handler on the local stack: v1's
//! returned link (`_link`), the auth API's self-service (`/auth/v1/users/me/...`), v2's
//! CreatePasskeyRegistrationLink over REST and over Connect, and how the router answers
//! methods it does not serve.

mod common;

use common::*;
use send_passkey_link::link::hash_code;
use serde_json::{json, Value};

const NO_MAIL: &str = "100000000000000017";
const CONNECT_CREATE: &str = "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink";

fn links_of(user: &str) -> String {
    format!("/v2/users/{user}/passkeys/registration_links")
}

/// `request` with another method.
fn with_method(mut e: Value, method: &str) -> Value {
    e["requestContext"]["http"]["method"] = method.into();
    e
}

/// An HTTP API event for `path`, from `caller` (user, org), with `body`.
fn request(path: &str, caller: Option<(&str, &str)>, body: Value) -> Value {
    let mut e = event(caller, ALICE, None);
    e["rawPath"] = path.into();
    e["requestContext"]["http"]["path"] = path.into();
    e["routeKey"] = format!("POST {path}").into();
    e.as_object_mut().unwrap().remove("pathParameters");
    e["body"] = body.to_string().into();
    e
}

fn v1_link(user: &str) -> String {
    format!("/management/v1/users/{user}/passwordless/_link")
}

fn v1_send(user: &str) -> String {
    format!("/management/v1/users/{user}/passwordless/_send_link")
}

fn v2(user: &str) -> String {
    format!("/v2/users/{user}/passkeys/registration_link")
}

/// The `code` query parameter of a link.
fn code_of(link: &str) -> &str {
    link.split("code=").nth(1).unwrap().split('&').next().unwrap()
}

#[tokio::test]
async fn v1_link_answers_the_link_stores_its_hash_and_mails_nothing() {
    let h = Harness::new().await;
    let (status, body) = h.call(&request(&v1_link(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expiration"], "3600s");
    assert_eq!(body["details"]["sequence"], "1");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    let details = body["details"].as_object().unwrap();
    assert_eq!(
        details.keys().collect::<Vec<_>>(),
        ["creationDate", "resourceOwner", "sequence"],
        "ZITADEL's details of an addition: {body}"
    );
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["details", "expiration", "link"]);
    let link = body["link"].as_str().unwrap();
    assert!(link.starts_with("http://localhost:8080/ui/login/login/passwordless/init?userID=100000000000000011&orgID=100000000000000001&codeID="), "{link}");
    assert!(mails_to(&h.email_of("alice", "demo.example")).is_empty(), "a returned link is not mailed");

    let items = h.items(ALICE, "PASSKEYLINK#").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["codeHash"].as_s().unwrap(), &hash_code(code_of(link)));
    assert_eq!(items[0]["delivery"].as_s().unwrap(), "returned");
    assert!(!format!("{items:?}").contains(code_of(link)), "only the hash is stored");
    let events = h.items(ALICE, "EVENT#").await;
    assert_eq!(events[0]["eventType"].as_s().unwrap(), "user.human.passwordless.initialization.code.added");
}

#[tokio::test]
async fn v1_link_needs_user_credential_write_which_user_managers_lack() {
    let h = Harness::new().await;
    let manager = send_passkey_link::model::UserId::parse(NO_MAIL).unwrap();
    let demo = send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap();
    h.table.put_org_member(&demo, &manager, &["ORG_USER_MANAGER".into()]).await.unwrap();
    let (status, _) = h.call(&request(&v1_send(ALICE), Some((NO_MAIL, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 200, "the user manager may mail the link to the user");
    let (status, body) = h.call(&request(&v1_link(ALICE), Some((NO_MAIL, DEMO_ORG)), json!({}))).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) = h.call(&request(&v1_link(ALICE), Some((HELPDESK, DEMO_ORG)), json!({}))).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");

    let mut other_org = request(&v1_link(ALICE), Some((INSTANCE_OWNER, INSTANCE_ORG)), json!({}));
    other_org["headers"]["x-zitadel-orgid"] = DEMO_ORG.into();
    let (status, body) = h.call(&other_org).await;
    assert_eq!(status, 200, "IAM_OWNER holds it in every org: {body}");
    let (status, body) = h.call(&request(&v1_link(ALICE), Some((OTHER_OWNER, OTHER_ORG)), json!({}))).await;
    assert_eq!(status, 404, "Alice is not in the caller's org: {body}");
}

#[tokio::test]
async fn a_returned_link_needs_no_address_and_shares_the_rate_limit() {
    let h = Harness::new().await;
    let (status, body) = h.call(&request(&v1_link(NO_MAIL), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h.call(&request(&v1_send(NO_MAIL), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await;
    assert_eq!((status, error_id(&body)), (400, "USER-Em4Nz"));
    for _ in 0..4 {
        let (status, body) =
            h.call(&request(&v1_link(NO_MAIL), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) =
        h.call(&request(&v2(NO_MAIL), Some((DEMO_ADMIN, DEMO_ORG)), json!({"returnCode":{}}))).await;
    assert_eq!((status, error_id(&body)), (429, "USER-Rl8Pq"), "one window for every variant: {body}");
}

#[tokio::test]
async fn auth_me_calls_act_on_the_callers_own_user_only() {
    let h = Harness::new().await;
    // Alice holds no role at all: acting on herself needs none.
    let mut send = request("/auth/v1/users/me/passwordless/_send_link", Some((ALICE, DEMO_ORG)), json!({}));
    send["headers"]["x-zitadel-orgid"] = OTHER_ORG.into();
    let (status, body) = h.call(&send).await;
    assert_eq!(status, 200, "the org header means nothing on /me: {body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 1);

    let (status, body) =
        h.call(&request("/auth/v1/users/me/passwordless/_link", Some((ALICE, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["link"].as_str().unwrap().contains("userID=100000000000000011&"));
    assert_eq!(body["expiration"], "3600s");
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 1, "the returned link is not mailed");
    assert_eq!(h.user_sequence(ALICE).await, 2);

    let (status, body) = h.call(&request("/auth/v1/users/me/passwordless/_send_link", None, json!({}))).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-7kZq2"));
    // A token naming another org than the user's own is refused, as for every call.
    let (status, body) =
        h.call(&request("/auth/v1/users/me/passwordless/_link", Some((ALICE, OTHER_ORG)), json!({}))).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-Cl5Ac"), "{body}");
    let (status, body) =
        h.call(&request("/auth/v1/users/me/passwordless/_link", Some((MACHINE, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 400, "a machine user registers no passkey: {body}");
}

#[tokio::test]
async fn v2_return_code_answers_the_code_with_v2_details() {
    let h = Harness::new().await;
    let (status, body) =
        h.call(&request(&v2(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), json!({"returnCode":{}}))).await;
    assert_eq!(status, 200, "{body}");
    let details = body["details"].as_object().unwrap();
    assert_eq!(details.keys().collect::<Vec<_>>(), ["changeDate", "resourceOwner", "sequence"]);
    assert_eq!(details["resourceOwner"], DEMO_ORG);
    let code = body["code"]["code"].as_str().unwrap();
    let items = h.items(ALICE, "PASSKEYLINK#").await;
    assert_eq!(items[0]["codeId"].as_s().unwrap(), body["code"]["id"].as_str().unwrap());
    assert_eq!(items[0]["codeHash"].as_s().unwrap(), &hash_code(code));
    assert!(mails_to(&h.email_of("alice", "demo.example")).is_empty());
}

#[tokio::test]
async fn v2_send_link_mails_with_the_default_or_the_requests_template() {
    let h = Harness::new().await;
    let (status, body) = h.call(&request(&v2(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await;
    assert_eq!(status, 200, "no medium means sendLink: {body}");
    assert!(body.get("code").is_none());
    let template =
        "https://app.example/passkey?user={{.UserID}}&org={{.OrgID}}&id={{.CodeID}}&code={{.Code}}";
    let (status, body) = h
        .call(&request(
            &v2(ALICE),
            Some((DEMO_ADMIN, DEMO_ORG)),
            json!({"sendLink":{"urlTemplate": template}}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let mails = mails_to(&h.email_of("alice", "demo.example"));
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| m
        .to_string()
        .contains("https://app.example/passkey?user=100000000000000011&org=100000000000000001&id=")));

    for (request_body, id) in [
        (json!({"sendLink":{"urlTemplate":"http://app.example/{{.Code}}"}}), "LINK-Ut6Vz"),
        (json!({"sendLink":{"urlTemplate":"https://app.example/{{.Secret}}"}}), "LINK-Ut6Vz"),
        (json!({"sendLink":{},"returnCode":{}}), "REQ-Fd3Kw"),
        (json!({"sendLink":"yes"}), "REQ-Fd3Kw"),
        (json!({"returnCode":1}), "REQ-Fd3Kw"),
    ] {
        let (status, body) =
            h.call(&request(&v2(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), request_body.clone())).await;
        assert_eq!((status, error_id(&body)), (400, id), "{request_body}: {body}");
    }
    assert_eq!(h.user_sequence(ALICE).await, 2, "refused requests write nothing");
}

/// ZITADEL's own login runs on `http://localhost:3000` in development and sends that as its
/// template; plain http is taken for loopback hosts only, and the length is ZITADEL's 1-200.
#[tokio::test]
async fn v2_send_link_takes_http_for_loopback_hosts_only() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    let send = |template: String| request(&v2(ALICE), admin, json!({"sendLink":{"urlTemplate": template}}));
    for (origin, n) in [("http://localhost:3000", 1), ("http://127.0.0.1:3000", 2), ("http://[::1]:3000", 3)]
    {
        let template =
            format!("{origin}/passkey/set?userId={{{{.UserID}}}}&code={{{{.Code}}}}&codeId={{{{.CodeID}}}}");
        let (status, body) = h.call(&send(template)).await;
        assert_eq!(status, 200, "{origin}: {body}");
        let mails = mails_to(&h.email_of("alice", "demo.example"));
        assert_eq!(mails.len(), n);
        let link = format!("{origin}/passkey/set?userId=100000000000000011&code=");
        assert!(mails.iter().any(|m| m.to_string().contains(&link)), "{link} not in {mails:?}");
    }
    let long = format!("https://app.example/{}?c={{{{.Code}}}}", "a".repeat(200 - 32));
    assert_eq!(long.chars().count(), 200);
    for template in [
        "http://example.com/passkey/set?code={{.Code}}".to_owned(),
        "http://localhost.evil.example/passkey/set?code={{.Code}}".to_owned(),
        "http://127.0.0.1.evil.example/{{.Code}}".to_owned(),
        "http://localhost@evil.example/{{.Code}}".to_owned(),
        String::new(),
        format!("{long}a"),
    ] {
        let (status, body) = h.call(&send(template.clone())).await;
        assert_eq!((status, error_id(&body)), (400, "LINK-Ut6Vz"), "{template}: {body}");
    }
    let (status, body) = h.call(&send(long)).await;
    assert_eq!(status, 200, "200 characters are ZITADEL's limit: {body}");
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 4);
}

#[tokio::test]
async fn v2_finds_the_user_in_its_own_org_and_checks_permission_there() {
    let h = Harness::new().await;
    let body = json!({"returnCode":{}});
    // The instance owner lives in another org: the user's org is found by a second read.
    let (status, answer) =
        h.call(&request(&v2(ALICE), Some((INSTANCE_OWNER, INSTANCE_ORG)), body.clone())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["details"]["resourceOwner"], DEMO_ORG);
    // Users manage their own passkeys.
    let (status, answer) = h.call(&request(&v2(ALICE), Some((ALICE, DEMO_ORG)), body.clone())).await;
    assert_eq!(status, 200, "{answer}");
    // Without the permission in Alice's org, v2 answers as for a user that does not exist,
    // unless the caller may read her (the helpdesk): then it hears why.
    for (caller, org, refusal) in [
        (OTHER_OWNER, OTHER_ORG, (404, "USER-3n8fS")),
        (HELPDESK, DEMO_ORG, (403, "AUTH-5mWD2")),
        (BOB, OTHER_ORG, (404, "USER-3n8fS")),
    ] {
        let (status, answer) = h.call(&request(&v2(ALICE), Some((caller, org)), body.clone())).await;
        assert_eq!((status, error_id(&answer)), refusal, "{caller}: {answer}");
    }
    let manager = send_passkey_link::model::UserId::parse(NO_MAIL).unwrap();
    let demo = send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap();
    h.table.put_org_member(&demo, &manager, &["ORG_USER_MANAGER".into()]).await.unwrap();
    let (status, _) = h.call(&request(&v2(ALICE), Some((NO_MAIL, DEMO_ORG)), body.clone())).await;
    assert_eq!(status, 403, "ORG_USER_MANAGER lacks user.credential.write (and reads users)");
    let (status, answer) =
        h.call(&request(&v2("100000000000000099"), Some((DEMO_ADMIN, DEMO_ORG)), body.clone())).await;
    assert_eq!((status, error_id(&answer)), (404, "USER-3n8fS"));
    assert_eq!(h.user_sequence(ALICE).await, 2);
}

#[tokio::test]
async fn connect_path_takes_the_user_from_the_body_and_answers_connect_errors() {
    let h = Harness::new().await;
    let (status, body) = h
        .call(&request(
            CONNECT_CREATE,
            Some((DEMO_ADMIN, DEMO_ORG)),
            json!({"userId": ALICE, "returnCode": {}}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "1");
    assert!(body["code"]["code"].is_string());

    for (request_body, caller, expected_status, code) in [
        (
            json!({"userId": "100000000000000099", "returnCode": {}}),
            Some((DEMO_ADMIN, DEMO_ORG)),
            404,
            "not_found",
        ),
        (json!({"returnCode": {}}), Some((DEMO_ADMIN, DEMO_ORG)), 400, "invalid_argument"),
        (json!({"userId": "", "returnCode": {}}), Some((DEMO_ADMIN, DEMO_ORG)), 400, "invalid_argument"),
        (json!({"userId": 5}), Some((DEMO_ADMIN, DEMO_ORG)), 400, "invalid_argument"),
        (json!({"userId": ALICE}), Some((HELPDESK, DEMO_ORG)), 403, "permission_denied"),
        (json!({"userId": ALICE}), Some((OTHER_OWNER, OTHER_ORG)), 404, "not_found"),
        (json!({"userId": ALICE}), None, 401, "unauthenticated"),
    ] {
        let (status, body) = h.call(&request(CONNECT_CREATE, caller, request_body.clone())).await;
        assert_eq!(status, expected_status, "{request_body}: {body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].is_string());
        assert_eq!(body["details"][0]["type"], "zitadel.v1.ErrorDetail");
    }
    let mut e = request(CONNECT_CREATE, Some((DEMO_ADMIN, DEMO_ORG)), json!({"userId": ALICE}));
    e["headers"]["connect-protocol-version"] = "2".into();
    let (status, body) = h.call(&e).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    e["headers"]["connect-protocol-version"] = "1".into();
    assert_eq!(h.call(&e).await.0, 200);
}

#[tokio::test]
async fn methods_a_route_does_not_serve_get_405_with_allow() {
    let h = Harness::new().await;
    for path in
        [v1_link(ALICE), "/auth/v1/users/me/passwordless/_send_link".into(), v2(ALICE), CONNECT_CREATE.into()]
    {
        let response =
            h.invoke(with_method(request(&path, Some((DEMO_ADMIN, DEMO_ORG)), json!({})), "GET")).await;
        assert_eq!(response["statusCode"], 405, "{path}: {response}");
        assert_eq!(response["headers"]["allow"], "POST", "{path}");
    }
}

#[tokio::test]
async fn outstanding_links_are_listed_without_their_codes_and_revoked_one_or_all() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    assert_eq!(h.call(&request(&v1_send(ALICE), admin, json!({}))).await.0, 200);
    let (_, returned) = h.call(&request(&v1_link(ALICE), admin, json!({}))).await;
    let code = code_of(returned["link"].as_str().unwrap()).to_owned();

    let search = format!("{}/_search", links_of(ALICE));
    let (status, list) = h.call(&request(&search, admin, json!({}))).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["details"]["totalResult"], "2");
    let result = list["result"].as_array().unwrap();
    assert_eq!(result[0]["delivery"], "REGISTRATION_LINK_DELIVERY_MAIL");
    assert_eq!(result[1]["delivery"], "REGISTRATION_LINK_DELIVERY_RETURNED");
    for link in result {
        assert_eq!(link["creator"], DEMO_ADMIN);
        assert_eq!(link["state"], "REGISTRATION_LINK_STATE_ACTIVE");
        assert!(link["creationDate"].is_string() && link["expirationDate"].is_string());
    }
    assert!(!list.to_string().contains(&code), "never the code");
    assert!(!list.to_string().contains(&hash_code(&code)), "never the hash");

    let first = result[0]["id"].as_str().unwrap().to_owned();
    let one = with_method(request(&format!("{}/{first}", links_of(ALICE)), admin, json!({})), "DELETE");
    let (status, body) = h.call(&one).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "3");
    let (status, body) = h.call(&one).await;
    assert_eq!((status, error_id(&body)), (404, "LINK-Nf4Rk"), "revoked already: {body}");
    let events = h.items(ALICE, "EVENT#").await;
    let revoked = events.last().unwrap();
    assert_eq!(revoked["eventType"].as_s().unwrap(), "user.human.passwordless.initialization.code.revoked");
    assert_eq!(revoked["codeIds"].as_l().unwrap().len(), 1);
    assert_eq!(revoked["editorUserId"].as_s().unwrap(), DEMO_ADMIN);

    let all = with_method(request(&links_of(ALICE), admin, json!({})), "DELETE");
    let (status, body) = h.call(&all).await;
    assert_eq!((status, &body["details"]["sequence"]), (200, &json!("4")), "{body}");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    let (status, body) = h.call(&all).await;
    assert_eq!(
        (status, &body["details"]["sequence"]),
        (200, &json!("4")),
        "nothing left, nothing written: {body}"
    );
    let (_, list) = h.call(&request(&search, admin, json!({}))).await;
    assert_eq!(list["details"]["totalResult"], "0");
    assert_eq!(h.user_sequence(ALICE).await, 4);
}

#[tokio::test]
async fn links_as_objects_need_user_write_in_the_users_org() {
    let h = Harness::new().await;
    assert_eq!(h.call(&request(&v1_send(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), json!({}))).await.0, 200);
    let search = format!("{}/_search", links_of(ALICE));
    // Another org's owner is answered as for a user that does not exist; Alice, who knows she
    // exists, and the helpdesk, who may read her, hear that they lack the permission.
    for (caller, org, refused) in
        [(HELPDESK, DEMO_ORG, 403), (OTHER_OWNER, OTHER_ORG, 404), (ALICE, DEMO_ORG, 403)]
    {
        let (status, body) = h.call(&request(&search, Some((caller, org)), json!({}))).await;
        assert_eq!(status, refused, "{caller}: {body}");
        let revoke = with_method(request(&links_of(ALICE), Some((caller, org)), json!({})), "DELETE");
        let (status, _) = h.call(&revoke).await;
        assert_eq!(status, refused, "{caller}");
    }
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1, "nothing revoked");
    // The instance owner acts in every org: Alice is found in hers by a second read.
    let (status, body) = h.call(&request(&search, Some((INSTANCE_OWNER, INSTANCE_ORG)), json!({}))).await;
    assert_eq!((status, &body["details"]["totalResult"]), (200, &json!("1")), "{body}");
    let (status, body) = h
        .call(&request(
            &format!("{}/_search", links_of("100000000000000099")),
            Some((DEMO_ADMIN, DEMO_ORG)),
            json!({}),
        ))
        .await;
    assert_eq!((status, error_id(&body)), (404, "USER-3n8fS"), "{body}");
    let response =
        h.invoke(with_method(request(&search, Some((DEMO_ADMIN, DEMO_ORG)), json!({})), "DELETE")).await;
    assert_eq!(
        (response["statusCode"].as_u64(), response["headers"]["allow"].as_str()),
        (Some(405), Some("POST"))
    );
    let response = h
        .invoke(with_method(request(&links_of(ALICE), Some((DEMO_ADMIN, DEMO_ORG)), json!({})), "GET"))
        .await;
    assert_eq!(
        (response["statusCode"].as_u64(), response["headers"]["allow"].as_str()),
        (Some(405), Some("DELETE"))
    );
}

#[tokio::test]
async fn with_supersede_on_a_new_link_revokes_the_outstanding_ones() {
    let mut h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    assert_eq!(h.call(&request(&v1_send(ALICE), admin, json!({}))).await.0, 200);
    assert_eq!(h.call(&request(&v1_link(ALICE), admin, json!({}))).await.0, 200);
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 2, "off by default, as in ZITADEL");

    h.api.links.policy.supersede = true;
    let (status, body) = h.call(&request(&v2(ALICE), admin, json!({"returnCode":{}}))).await;
    assert_eq!(status, 200, "{body}");
    let links = h.items(ALICE, "PASSKEYLINK#").await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["codeId"].as_s().unwrap(), body["code"]["id"].as_str().unwrap());
    let event = h.items(ALICE, "EVENT#").await.pop().unwrap();
    assert_eq!(event["supersededCodeIds"].as_l().unwrap().len(), 2);
    assert_eq!(h.user_sequence(ALICE).await, 3);
}

/// ZITADEL's v2 asks only for user.passkey.write, which IAM_USER_MANAGER holds: a user manager
/// got a usable code (or a link to a host of its choice) for the instance owner's account.
#[tokio::test]
async fn v2_codes_in_the_callers_hands_need_user_credential_write() {
    let h = Harness::new().await;
    let manager = send_passkey_link::model::UserId::parse(NO_MAIL).unwrap();
    h.table.put_instance_member(&manager, &["IAM_USER_MANAGER".into()]).await.unwrap();
    let caller = Some((NO_MAIL, DEMO_ORG));
    let attacker_template =
        json!({"sendLink":{"urlTemplate":"https://attacker.example/c?u={{.UserID}}&c={{.Code}}"}});
    // Proto field names are the same fields (protobuf JSON): they used to be ignored.
    let proto_names = json!({"send_link":{"url_template":"https://attacker.example/c?c={{.Code}}"}});
    for body in [json!({"returnCode":{}}), json!({"return_code":{}}), attacker_template, proto_names] {
        let (status, answer) = h.call(&request(&v2(INSTANCE_OWNER), caller, body.clone())).await;
        assert_eq!((status, error_id(&answer)), (403, "AUTH-5mWD2"), "{body}: {answer}");
        let mut connect = body.clone();
        connect["userId"] = INSTANCE_OWNER.into();
        let (status, answer) = h.call(&request(CONNECT_CREATE, caller, connect)).await;
        assert_eq!((status, answer["code"].as_str()), (403, Some("permission_denied")), "{answer}");
    }
    assert_eq!(h.user_sequence(INSTANCE_OWNER).await, 0);
    // Mailing the default link to the user's own address is what user.passkey.write allows.
    let (status, answer) = h.call(&request(&v2(INSTANCE_OWNER), caller, json!({"sendLink":{}}))).await;
    assert_eq!(status, 200, "{answer}");
    // The user themself may still take the code.
    let (status, answer) =
        h.call(&request(&v2(ALICE), Some((ALICE, DEMO_ORG)), json!({"returnCode":{}}))).await;
    assert_eq!(status, 200, "{answer}");
}

/// `.../registration_links/` (a client that built `.../{codeId}` with an empty id) used to
/// revoke every outstanding link.
#[tokio::test]
async fn an_empty_link_id_revokes_nothing() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    assert_eq!(h.call(&request(&v1_link(ALICE), admin, json!({}))).await.0, 200);
    for path in [format!("{}/", links_of(ALICE)), format!("{}//", links_of(ALICE))] {
        let (status, body) = h.call(&with_method(request(&path, admin, json!({})), "DELETE")).await;
        assert_eq!((status, error_id(&body)), (404, "LINK-Nf4Rk"), "{path}: {body}");
    }
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1);
}

#[tokio::test]
async fn the_connect_route_answers_a_wrong_method_as_connect_does() {
    let h = Harness::new().await;
    let response =
        h.invoke(with_method(request(CONNECT_CREATE, Some((DEMO_ADMIN, DEMO_ORG)), json!({})), "GET")).await;
    assert_eq!(response["statusCode"], 405);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], "unimplemented", "{body}");
}
