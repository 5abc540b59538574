//! Tokens of exactly the shape ZITADEL issues, as API Gateway's HTTP API JWT authorizer hands
//! their claims to the function (docs/zitadel.md): the caller and its organisation come out
//! right, a service user acts only through a membership in the table, and a token requested
//! without the resourceowner scope is refused by name.

mod common;

use common::*;
use send_passkey_link::seed::Seed;
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://passkeys-demo.zitadel.cloud";
const PROJECT_ID: &str = "263765553217306625";
/// An application's client id (`<id>@<project name>` in most ZITADEL versions).
const CLIENT_ID: &str = "263765553217306626@passkeys";
const SERVICE_USER: &str = "100000000000000020";
const SERVICE_USER_NAME: &str = "passkeys-bot";
const NO_ORG_CLAIM: &str = "AUTH-Or6Cm";

/// The claims of a JWT access token ZITADEL issues for `sub` of `org` to a web or API
/// application set to JWT access tokens, asked for `openid` and
/// `urn:zitadel:iam:user:resourceowner`: the audience is the project and its client ids,
/// dates are numbers, `client_id` names the application, and there is no `scope` claim.
fn user_token(sub: &str, org: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": [PROJECT_ID, CLIENT_ID],
        "exp": 1893456000,
        "iat": 1764000000,
        "nbf": 1764000000,
        "jti": "V2_263765588621492226-at_263765588621557762",
        "client_id": CLIENT_ID,
        "urn:zitadel:iam:user:resourceowner:id": org,
        "urn:zitadel:iam:user:resourceowner:name": "Demo Corp",
        "urn:zitadel:iam:user:resourceowner:primary_domain": "demo.example",
    })
}

/// A service user's token from the client credentials grant, asked for `openid`,
/// `urn:zitadel:iam:user:resourceowner` and `urn:zitadel:iam:org:project:id:<project>:aud`:
/// the audience is the project alone and `client_id` is the service user's user name.
fn service_user_token() -> Value {
    let mut claims = user_token(SERVICE_USER, DEMO_ORG);
    claims["aud"] = json!([PROJECT_ID]);
    claims["client_id"] = SERVICE_USER_NAME.into();
    claims
}

/// A claim as an HTTP API's JWT authorizer puts it into `requestContext.authorizer.jwt.claims`:
/// every value a string, numbers as their digits, an array as `[a b]`.
fn as_gateway_claim(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(as_gateway_claim).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}

/// `event` with the authorizer's claims replaced by `token`'s, as API Gateway renders them.
fn with_token(mut event: Value, token: &Value) -> Value {
    let claims: Map<String, Value> =
        token.as_object().unwrap().iter().map(|(k, v)| (k.clone(), as_gateway_claim(v).into())).collect();
    event["requestContext"]["authorizer"]["jwt"] = json!({"claims": claims, "scopes": null});
    event
}

/// Invokes the function with the raw event, as Lambda does.
async fn invoke(h: &Harness, event: Value) -> (u16, Value) {
    parse_invocation(&h.invoke(event).await)
}

fn send_link_to_alice(token: &Value) -> Value {
    with_token(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), token)
}

#[test]
fn the_gateway_form_of_a_zitadel_token_is_what_api_gateway_passes() {
    let e = send_link_to_alice(&user_token(DEMO_ADMIN, DEMO_ORG));
    let claims = &e["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["aud"], format!("[{PROJECT_ID} {CLIENT_ID}]"));
    assert_eq!(claims["exp"], "1893456000");
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert!(claims.get("scope").is_none(), "ZITADEL's access tokens carry no scope claim");
}

#[tokio::test]
async fn a_zitadel_user_token_names_the_caller_and_its_org() {
    let h = Harness::new().await;
    let (status, body) = invoke(&h, send_link_to_alice(&user_token(DEMO_ADMIN, DEMO_ORG))).await;
    assert_eq!(status, 200, "{body}");
    // No x-zitadel-orgid header: the org acted in is the one the token's claim names.
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG, "{body}");
    let events = h.items(ALICE, "EVENT#").await;
    assert_eq!(events[0]["editorUserId"].as_s().unwrap(), DEMO_ADMIN);
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 1);

    // The auth API acts on the caller alone: its link names the token's user and org.
    let mut own: Value = serde_json::from_str(include_str!("../events/auth-add-my-link.json")).unwrap();
    own["requestContext"]["requestId"] = uuid::Uuid::new_v4().to_string().into();
    let (status, body) = invoke(&h, with_token(own, &user_token(ALICE, DEMO_ORG))).await;
    assert_eq!(status, 200, "{body}");
    let link = body["link"].as_str().unwrap();
    assert!(link.contains(&format!("userID={ALICE}&orgID={DEMO_ORG}&")), "{link}");
}

#[tokio::test]
async fn a_zitadel_user_token_acts_only_where_its_user_holds_a_role() {
    let h = Harness::new().await;
    // Alice is in Demo Corp with no membership: her valid token may not mail others.
    let (status, body) = invoke(&h, send_link_to_alice(&user_token(ALICE, DEMO_ORG))).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    // A user the table does not hold is no caller, whatever ZITADEL says about it.
    let (status, body) = invoke(&h, send_link_to_alice(&user_token("999999999999999999", DEMO_ORG))).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-Cl5Ac"), "{body}");
    // The org claim must be the user's own org in the table.
    let (status, body) = invoke(&h, send_link_to_alice(&user_token(DEMO_ADMIN, OTHER_ORG))).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-Cl5Ac"), "{body}");
}

/// Demo Corp as `passkey-admin seed` would write it for the service user: the user (a
/// machine user of the org) and, when `roles` is given, its membership beside the others.
fn seed_service_user(roles: Option<&[&str]>) -> Seed {
    let mut members = vec![
        json!({"userId": DEMO_ADMIN, "roles": ["ORG_OWNER"]}),
        json!({"userId": HELPDESK, "roles": ["ORG_USER_PERMISSION_EDITOR"]}),
    ];
    if let Some(roles) = roles {
        members.push(json!({"userId": SERVICE_USER, "roles": roles}));
    }
    let file = json!({"orgs": [{
        "id": DEMO_ORG, "name": "Demo Corp",
        "users": [{"id": SERVICE_USER, "userName": SERVICE_USER_NAME, "type": "machine"}],
        "members": members,
    }]});
    Seed::from_json(&file.to_string()).unwrap()
}

#[tokio::test]
async fn a_zitadel_service_user_acts_through_its_membership_in_the_table() {
    let h = Harness::new().await;
    let call = || send_link_to_alice(&service_user_token());
    let (status, body) = invoke(&h, call()).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-Cl5Ac"), "not seeded yet: {body}");

    seed_service_user(None).apply(&h.table).await.unwrap();
    let (status, body) = invoke(&h, call()).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "a user without a role: {body}");

    seed_service_user(Some(&["ORG_USER_MANAGER"])).apply(&h.table).await.unwrap();
    let (status, body) = invoke(&h, call()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(h.items(ALICE, "EVENT#").await[0]["editorUserId"].as_s().unwrap(), SERVICE_USER);
}

#[tokio::test]
async fn a_zitadel_token_without_the_resourceowner_scope_is_refused_by_name() {
    let h = Harness::new().await;
    let mut token = user_token(DEMO_ADMIN, DEMO_ORG);
    for suffix in ["id", "name", "primary_domain"] {
        token.as_object_mut().unwrap().remove(&format!("urn:zitadel:iam:user:resourceowner:{suffix}"));
    }
    let (status, body) = invoke(&h, send_link_to_alice(&token)).await;
    assert_eq!((status, error_id(&body)), (401, NO_ORG_CLAIM), "{body}");
    assert_eq!(body["code"], 16);
    let message = body["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("urn:zitadel:iam:user:resourceowner"), "{message}");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());

    // An org claim that is there but empty is no identity at all, as before.
    token["urn:zitadel:iam:user:resourceowner:id"] = "".into();
    let (status, body) = invoke(&h, send_link_to_alice(&token)).await;
    assert_eq!((status, error_id(&body)), (401, "AUTH-7kZq2"), "{body}");
}
