//! Who the caller is (every authorizer shape), what roles grant, and which users and
//! organisations can get a link. Real handler, real emulators.

mod common;

use common::*;
use send_passkey_link::http::ClaimNames;
use send_passkey_link::permissions::RolePermissions;
use serde_json::{json, Value};

const LOCKED: &str = "100000000000000014";
const INACTIVE: &str = "100000000000000015";
const DELETED: &str = "100000000000000016";
const NO_MAIL: &str = "100000000000000017";
const INITIAL: &str = "100000000000000018";
const DORMANT_ORG: &str = "400000000000000001";
const DORA: &str = "400000000000000011";

fn events_file(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn expect(h: &Harness, e: &Value, status: u16, id: &str) {
    let (got, body) = h.call(e).await;
    assert_eq!(got, status, "{body}");
    if status != 200 {
        assert_eq!(error_id(&body), id, "{body}");
    }
}

#[tokio::test]
async fn rest_api_cognito_claims_identify_the_caller() {
    let h = Harness::new().await;
    let (status, body) = h.call(&events_file("rest-v1-cognito.json")).await;
    assert_eq!(status, 200, "{body}");
    let events = h.items(ALICE, "EVENT#").await;
    assert_eq!(events[0]["editorUserId"].as_s().unwrap(), DEMO_ADMIN);
    // The same event with a caller lacking the role is refused.
    let mut e = events_file("rest-v1-cognito.json");
    e["requestContext"]["authorizer"]["claims"]["sub"] = HELPDESK.into();
    expect(&h, &e, 403, "AUTH-5mWD2").await;
}

#[tokio::test]
async fn rest_api_lambda_authorizer_context_identifies_the_caller() {
    let h = Harness::new().await;
    let (status, body) = h.call(&events_file("rest-v1-lambda-authorizer.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(h.items(ALICE, "EVENT#").await[0]["editorUserId"].as_s().unwrap(), INSTANCE_OWNER);
}

#[tokio::test]
async fn http_api_lambda_authorizer_context_identifies_the_caller() {
    let h = Harness::new().await;
    let (status, body) = h.call(&events_file("http-v2-lambda-authorizer.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(h.items(ALICE, "EVENT#").await[0]["editorUserId"].as_s().unwrap(), DEMO_ADMIN);
    // Context values that are not strings name nobody; a JWT authorizer's claims win over
    // context keys beside them.
    let mut e = events_file("http-v2-lambda-authorizer.json");
    e["requestContext"]["authorizer"]["lambda"]["sub"] = json!(100000000000000010u64);
    expect(&h, &e, 401, "AUTH-7kZq2").await;
    let mut e = events_file("http-v2-lambda-authorizer.json");
    e["requestContext"]["authorizer"]["jwt"] = json!({"claims": {"sub": HELPDESK,
        "urn:zitadel:iam:user:resourceowner:id": DEMO_ORG}, "scopes": null});
    expect(&h, &e, 403, "AUTH-5mWD2").await;
}

#[tokio::test]
async fn rest_api_without_authorizer_is_unauthenticated() {
    let h = Harness::new().await;
    let mut e = events_file("rest-v1-cognito.json");
    e["requestContext"].as_object_mut().unwrap().remove("authorizer");
    e["headers"]["x-zitadel-userid"] = DEMO_ADMIN.into();
    expect(&h, &e, 401, "AUTH-7kZq2").await;
}

#[tokio::test]
async fn alb_and_function_url_events_carry_no_identity() {
    let h = Harness::new().await;
    let path = format!("/management/v1/users/{ALICE}/passwordless/_send_link");
    let alb = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/passkeys/6d0ecf831eec9f09"}},
        "httpMethod": "POST", "path": path, "queryStringParameters": {},
        "headers": {"content-type": "application/json", "host": "passkeys.example", "x-amzn-oidc-identity": DEMO_ADMIN},
        "body": "{}", "isBase64Encoded": false
    });
    expect(&h, &alb, 401, "AUTH-7kZq2").await;
    let mut function_url = event(None, ALICE, None);
    function_url["requestContext"]["authorizer"] = json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012",
        "callerId": "AIDA", "userArn": "arn:aws:iam::123456789012:user/admin", "userId": "AIDA"}});
    expect(&h, &function_url, 401, "AUTH-7kZq2").await;
}

#[tokio::test]
async fn claim_names_are_configurable() {
    let mut h = Harness::new().await;
    h.api.claims = ClaimNames { user: "uid".into(), org: "tenant".into() };
    let mut e = event(None, ALICE, None);
    e["requestContext"]["authorizer"] =
        json!({"jwt": {"claims": {"uid": DEMO_ADMIN, "tenant": DEMO_ORG}, "scopes": null}});
    expect(&h, &e, 200, "").await;
    // The default names no longer identify anyone.
    expect(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), 401, "AUTH-7kZq2").await;
}

#[tokio::test]
async fn a_configured_role_mapping_replaces_the_defaults() {
    let mut h = Harness::new().await;
    h.api.links.policy.permissions =
        RolePermissions::from_json(r#"{"instance":{},"org":{"ORG_USER_PERMISSION_EDITOR":["user.write"]}}"#)
            .unwrap();
    expect(&h, &event(Some((HELPDESK, DEMO_ORG)), ALICE, None), 200, "").await;
    expect(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), 403, "AUTH-5mWD2").await;
    expect(&h, &event(Some((INSTANCE_OWNER, INSTANCE_ORG)), ALICE, Some(DEMO_ORG)), 403, "AUTH-5mWD2").await;
}

#[tokio::test]
async fn instance_user_manager_and_org_user_manager_are_allowed() {
    let h = Harness::new().await;
    h.table
        .put_instance_member(
            &send_passkey_link::model::UserId::parse(BOB).unwrap(),
            &["IAM_USER_MANAGER".into()],
        )
        .await
        .unwrap();
    expect(&h, &event(Some((BOB, OTHER_ORG)), ALICE, Some(DEMO_ORG)), 200, "").await;
    let manager = send_passkey_link::model::UserId::parse(NO_MAIL).unwrap();
    let demo_org = send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap();
    h.table.put_org_member(&demo_org, &manager, &["ORG_USER_MANAGER".into()]).await.unwrap();
    expect(&h, &event(Some((NO_MAIL, DEMO_ORG)), ALICE, None), 200, "").await;
}

async fn set_state(h: &Harness, user: &str, state: &str) {
    h.set_user_attribute(user, "state", aws_sdk_dynamodb::types::AttributeValue::S(state.into())).await;
}

/// A token outlives its account: an org owner whose user is locked, deleted or gone, or who
/// never signed in, still holds the membership, and used to get 200.
#[tokio::test]
async fn callers_whose_own_account_is_not_active_are_refused() {
    let h = Harness::new().await;
    let owner = Some((DEMO_ADMIN, DEMO_ORG));
    for state in ["locked", "deleted", "inactive"] {
        set_state(&h, DEMO_ADMIN, state).await;
        expect(&h, &event(owner, ALICE, None), 401, "AUTH-Cl5Ac").await;
    }
    // Holds ORG_USER_MANAGER in the seed, but has not signed in yet: it holds no token.
    expect(&h, &event(Some((INITIAL, DEMO_ORG)), ALICE, None), 401, "AUTH-Cl5Ac").await;
    let ghost = send_passkey_link::model::UserId::parse("100000000000000099").unwrap();
    let demo_org = send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap();
    h.table.put_org_member(&demo_org, &ghost, &["ORG_OWNER".into()]).await.unwrap();
    expect(&h, &event(Some(("100000000000000099", DEMO_ORG)), ALICE, None), 401, "AUTH-Cl5Ac").await;
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    assert_eq!(h.user_sequence(ALICE).await, 0);

    set_state(&h, DEMO_ADMIN, "active").await;
    expect(&h, &event(owner, ALICE, None), 200, "").await;
}

/// The org claim must be the caller's own org: a token naming another org is not the caller's.
#[tokio::test]
async fn a_caller_whose_org_claim_is_not_its_own_org_is_refused() {
    let h = Harness::new().await;
    expect(&h, &event(Some((DEMO_ADMIN, OTHER_ORG)), ALICE, Some(DEMO_ORG)), 401, "AUTH-Cl5Ac").await;
    expect(&h, &event(Some((INSTANCE_OWNER, DEMO_ORG)), ALICE, None), 401, "AUTH-Cl5Ac").await;
}

/// The caller's and the target's user item are one key then; BatchGetItem refuses duplicates.
#[tokio::test]
async fn a_caller_may_send_a_link_to_themself() {
    let h = Harness::new().await;
    expect(&h, &event(Some((DEMO_ADMIN, DEMO_ORG)), DEMO_ADMIN, None), 200, "").await;
}

#[tokio::test]
async fn users_that_cannot_register_a_passkey_are_refused() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    expect(&h, &event(admin, LOCKED, None), 400, "USER-Ds3Fv").await;
    expect(&h, &event(admin, INACTIVE, None), 400, "USER-Ds3Fv").await;
    expect(&h, &event(admin, DELETED, None), 400, "USER-Ds3Fv").await;
    expect(&h, &event(admin, NO_MAIL, None), 400, "USER-Em4Nz").await;
    expect(&h, &event(admin, MACHINE, None), 400, "USER-Mk8Ht").await;
    for user in [LOCKED, INACTIVE, DELETED, NO_MAIL, MACHINE] {
        assert!(h.items(user, "PASSKEYLINK#").await.is_empty());
        assert_eq!(h.user_sequence(user).await, 0);
    }
    // A user still in its initial state (not yet signed in) can get a link.
    expect(&h, &event(admin, INITIAL, None), 200, "").await;
}

#[tokio::test]
async fn an_inactive_org_gets_no_links() {
    let h = Harness::new().await;
    expect(&h, &event(Some((INSTANCE_OWNER, INSTANCE_ORG)), DORA, Some(DORMANT_ORG)), 400, "ORG-Hs9Lk").await;
    assert!(h.items(DORA, "PASSKEYLINK#").await.is_empty());
}

#[tokio::test]
async fn wrong_method_and_unknown_routes_answer_in_the_same_json_shape() {
    let h = Harness::new().await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let mut e = event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None);
        e["requestContext"]["http"]["method"] = method.into();
        let response = h.api.handle(lambda_http::request::from_str(&e.to_string()).unwrap()).await;
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        let (status, body) = parse_response(response);
        assert_eq!((status, body["code"].as_i64()), (405, Some(12)), "{method}: {body}");
        assert_eq!(error_id(&body), "HTTP-Mt7Qa");
    }
    for path in [
        "/management/v1/users",
        "/management/v1/users/1/passwordless",
        "/",
        "/management/v2/users/1/passwordless/_send_link",
    ] {
        let mut e = event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None);
        e["rawPath"] = path.into();
        e["requestContext"]["http"]["path"] = path.into();
        e.as_object_mut().unwrap().remove("pathParameters");
        let (status, body) = h.call(&e).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(error_id(&body), "HTTP-9vR3k");
    }
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
}
