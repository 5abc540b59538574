//! Who may read or change a user's credentials, through the real handler on the local stack:
//! every such route (REST and Connect), for every role of the default mapping, acting on a
//! user of the caller's own organisation and on one of another, with and without a code, with
//! and without a token. The expectations are written out here from ZITADEL's defaults, not
//! taken from the mapping the handler uses, so a change to either shows.

mod common;

use common::authenticator::SoftAuthenticator;
use common::passkeys::{call, code_for, register, request};
use common::*;
use send_passkey_link::model::{OrgId, UserId};
use serde_json::{json, Value};

/// The caller: a demo-org user with no role of its own, given one role per case.
const CALLER: &str = "100000000000000017";
const OWNER: Option<(&str, &str)> = Some((INSTANCE_OWNER, INSTANCE_ORG));

const INSTANCE_ROLES: [&str; 5] =
    ["IAM_OWNER", "IAM_ORG_MANAGER", "IAM_LOGIN_CLIENT", "IAM_USER_MANAGER", "IAM_OWNER_VIEWER"];
const ORG_ROLES: [&str; 7] = [
    "ORG_OWNER",
    "ORG_USER_MANAGER",
    "ORG_OWNER_VIEWER",
    "ORG_USER_PERMISSION_EDITOR",
    "ORG_PROJECT_PERMISSION_EDITOR",
    "ORG_PROJECT_CREATOR",
    "ORG_SETTINGS_MANAGER",
];

/// ZITADEL's default roles holding each permission (cmd/defaults.yaml).
const CREDENTIAL_WRITE: [&str; 4] = ["IAM_OWNER", "IAM_ORG_MANAGER", "IAM_LOGIN_CLIENT", "ORG_OWNER"];
const PASSKEY_WRITE: [&str; 5] =
    ["IAM_OWNER", "IAM_ORG_MANAGER", "IAM_LOGIN_CLIENT", "IAM_USER_MANAGER", "ORG_OWNER"];
const USER_WRITE: [&str; 6] =
    ["IAM_OWNER", "IAM_ORG_MANAGER", "IAM_LOGIN_CLIENT", "IAM_USER_MANAGER", "ORG_OWNER", "ORG_USER_MANAGER"];
const USER_READ: [&str; 9] = [
    "IAM_OWNER",
    "IAM_ORG_MANAGER",
    "IAM_LOGIN_CLIENT",
    "IAM_USER_MANAGER",
    "IAM_OWNER_VIEWER",
    "ORG_OWNER",
    "ORG_USER_MANAGER",
    "ORG_OWNER_VIEWER",
    "ORG_USER_PERMISSION_EDITOR",
];

#[derive(Debug, Clone, Copy)]
enum Who {
    /// No token: API Gateway's authorizer did not run.
    Anonymous,
    /// A signed-in user of the demo org without any role.
    NoRole,
    /// The target user themself.
    TheUser,
    Instance(&'static str),
    Org(&'static str),
}

/// What a route needs: a permission in the user's org (holders listed), and whether being the
/// user is enough.
#[derive(Clone, Copy)]
struct Needs {
    holders: &'static [&'static str],
    or_self: bool,
}

const fn needs(holders: &'static [&'static str], or_self: bool) -> Needs {
    Needs { holders, or_self }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Api {
    V1,
    Rest,
    Connect,
}

fn allowed(who: Who, target_org: &str, n: Needs) -> bool {
    match who {
        Who::Anonymous | Who::NoRole => false,
        Who::TheUser => n.or_self,
        Who::Instance(role) => n.holders.contains(&role),
        // An org role counts only in the organisation whose membership carries it.
        Who::Org(role) => target_org == DEMO_ORG && n.holders.contains(&role),
    }
}

/// The status and error a refused call gets: 401 without a token; v1 names the org (403);
/// v2 does not, so it answers as if the user did not exist (no oracle across orgs), except to
/// whoever may see the user anyway (the user itself, `user.read` in its org): the real reason.
fn refusal(who: Who, target_org: &str, api: Api) -> (u16, &'static str) {
    let sees_user = allowed(who, target_org, needs(&USER_READ, true));
    match (who, api) {
        (Who::Anonymous, Api::Connect) => (401, "unauthenticated"),
        (Who::Anonymous, _) => (401, "AUTH-7kZq2"),
        (_, Api::V1) => (403, "AUTH-5mWD2"),
        (_, Api::Rest) if sees_user => (403, "AUTH-5mWD2"),
        (_, Api::Connect) if sees_user => (403, "permission_denied"),
        (_, Api::Rest) => (404, "USER-3n8fS"),
        (_, Api::Connect) => (404, "not_found"),
    }
}

fn caller_of(who: Who, target_org: &str) -> Option<(&'static str, &'static str)> {
    match who {
        Who::Anonymous => None,
        Who::TheUser if target_org == DEMO_ORG => Some((ALICE, DEMO_ORG)),
        Who::TheUser => Some((BOB, OTHER_ORG)),
        _ => Some((CALLER, DEMO_ORG)),
    }
}

async fn grant(h: &Harness, who: Who) {
    let caller = UserId::parse(CALLER).unwrap();
    match who {
        Who::Instance(role) => h.table.put_instance_member(&caller, &[role.into()]).await.unwrap(),
        Who::Org(role) => {
            h.table.put_org_member(&OrgId::parse(DEMO_ORG).unwrap(), &caller, &[role.into()]).await.unwrap()
        }
        _ => return,
    };
}

/// An event for `method path` with the v1 org header naming `org`.
fn v1(method: &str, path: &str, caller: Option<(&str, &str)>, org: &str, body: Value) -> Value {
    let mut e = request(method, path, caller, Some(body));
    e["headers"]["x-zitadel-orgid"] = org.into();
    e
}

/// A passkey of the user's own (registered by the user), and a ceremony the user started
/// (its answer): what the caller's list, remove and verify calls act on.
async fn prepare(h: &Harness, user: &str, org: &str) -> (String, Value) {
    let own = Some((user, org));
    let mut authenticator = SoftAuthenticator::new();
    let (status, begun) = register(h, user, own, json!({"domain":"localhost"})).await;
    assert_eq!(status, 200, "{begun}");
    let passkey_id = begun["passkeyId"].as_str().unwrap().to_owned();
    let credential =
        authenticator.register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN).unwrap();
    let body = json!({"publicKeyCredential": credential, "passkeyName": "own key"});
    let (status, answer) =
        call(h, "POST", &format!("/v2/users/{user}/passkeys/{passkey_id}"), own, body).await;
    assert_eq!(status, 200, "{answer}");
    (passkey_id, started_by_the_user(h, user, org).await)
}

async fn started_by_the_user(h: &Harness, user: &str, org: &str) -> Value {
    let (status, started) = register(h, user, Some((user, org)), json!({"domain":"localhost"})).await;
    assert_eq!(status, 200, "{started}");
    started
}

/// The user's ceremony finished by the caller with a key of the caller's.
fn verify_body(started: &Value, name: &str) -> Value {
    let credential = SoftAuthenticator::new()
        .register(&started["publicKeyCredentialCreationOptions"], PAGE_ORIGIN)
        .unwrap();
    json!({"publicKeyCredential": credential, "passkeyName": name})
}

struct Outcome {
    route: String,
    api: Api,
    needs: Needs,
    got: (u16, Value),
}

/// Every credential route, called by `who` on `target` of `target_org`, on a table of its own.
async fn run_case(who: Who, target: &'static str, target_org: &'static str) {
    let mut h = Harness::new().await;
    // Each case makes up to six links for one user: more than the default allows in a window.
    h.api.links.policy.rate_limit.links = 20;
    grant(&h, who).await;
    let (own_key, started) = prepare(&h, target, target_org).await;
    let started_too = started_by_the_user(&h, target, target_org).await;
    let caller = caller_of(who, target_org);
    let cred = needs(&CREDENTIAL_WRITE, true);
    let mut outcomes = Vec::new();
    let mut record = |route: &str, api: Api, needs: Needs, got: (u16, Value)| {
        outcomes.push(Outcome { route: route.into(), api, needs, got });
    };

    // Reading.
    let got = call(&h, "POST", &format!("/v2/users/{target}/passkeys/_search"), caller, json!({})).await;
    record("ListPasskeys", Api::Rest, needs(&USER_READ, true), got);
    let got =
        call(&h, "POST", "/zitadel.user.v2.UserService/ListPasskeys", caller, json!({"userId": target}))
            .await;
    record("ListPasskeys", Api::Connect, needs(&USER_READ, true), got);
    let path = format!("/management/v1/users/{target}/passwordless/_search");
    let got = parse_invocation(&h.invoke(v1("POST", &path, caller, target_org, json!({}))).await);
    record("ListHumanPasswordless", Api::V1, needs(&USER_READ, false), got);
    let path = format!("/v2/users/{target}/passkeys/registration_links/_search");
    let got = call(&h, "POST", &path, caller, json!({})).await;
    record("ListPasskeyRegistrationLinks", Api::Rest, needs(&USER_WRITE, false), got);

    // Links: mailed to the user's own address, or put in the caller's hands.
    let path = format!("/management/v1/users/{target}/passwordless/_send_link");
    let got = parse_invocation(&h.invoke(v1("POST", &path, caller, target_org, json!({}))).await);
    record("SendPasswordlessRegistration", Api::V1, needs(&USER_WRITE, false), got);
    let path = format!("/management/v1/users/{target}/passwordless/_link");
    let got = parse_invocation(&h.invoke(v1("POST", &path, caller, target_org, json!({}))).await);
    record("AddPasswordlessRegistration", Api::V1, needs(&CREDENTIAL_WRITE, false), got);
    let path = format!("/v2/users/{target}/passkeys/registration_link");
    let got = call(&h, "POST", &path, caller, json!({"sendLink":{}})).await;
    record("CreatePasskeyRegistrationLink sendLink", Api::Rest, needs(&PASSKEY_WRITE, true), got);
    let got = call(&h, "POST", &path, caller, json!({"returnCode":{}})).await;
    record("CreatePasskeyRegistrationLink returnCode", Api::Rest, cred, got);
    let got = call(
        &h,
        "POST",
        "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink",
        caller,
        json!({"userId": target, "returnCode":{}}),
    )
    .await;
    record("CreatePasskeyRegistrationLink returnCode", Api::Connect, cred, got);

    // Registering: without a code, with one, and finishing a ceremony the user started.
    let got = register(&h, target, caller, json!({"domain":"localhost"})).await;
    record("RegisterPasskey", Api::Rest, cred, got);
    let got =
        call(&h, "POST", "/zitadel.user.v2.UserService/RegisterPasskey", caller, json!({"userId": target}))
            .await;
    record("RegisterPasskey", Api::Connect, cred, got);
    let (code_id, code) = code_for(&h, target, OWNER).await;
    let with_code = json!({"code":{"id":code_id,"code":code},"domain":"localhost"});
    let got = register(&h, target, caller, with_code.clone()).await;
    record("RegisterPasskey with code", Api::Rest, cred, got);
    let mut connect_code = with_code;
    connect_code["userId"] = target.into();
    let got = call(&h, "POST", "/zitadel.user.v2.UserService/RegisterPasskey", caller, connect_code).await;
    record("RegisterPasskey with code", Api::Connect, cred, got);
    let ceremony = started["passkeyId"].as_str().unwrap();
    let body = verify_body(&started, "caller's key");
    let got = call(&h, "POST", &format!("/v2/users/{target}/passkeys/{ceremony}"), caller, body).await;
    record("VerifyPasskeyRegistration of the user's ceremony", Api::Rest, cred, got);
    let mut body = verify_body(&started_too, "caller's other key");
    body["userId"] = target.into();
    body["passkeyId"] = started_too["passkeyId"].clone();
    let got = call(&h, "POST", "/zitadel.user.v2.UserService/VerifyPasskeyRegistration", caller, body).await;
    record("VerifyPasskeyRegistration of the user's ceremony", Api::Connect, cred, got);
    // Refused callers left no trace: no key of theirs, no ceremony, the code unspent.
    if !allowed(who, target_org, cred) {
        assert_eq!(h.items(target, "PASSKEY#").await.len(), 1, "{who:?}: only the user's own key");
        assert_eq!(h.items(target, "PASSKEYREG#").await.len(), 2, "{who:?}: only the user's ceremonies");
        let link = &h.items(target, &format!("PASSKEYLINK#{code_id}")).await[0];
        assert!(!link.contains_key("usedAt"), "{who:?}: the code is unspent");
    }

    // Removing and revoking.
    let path = format!("/v2/users/{target}/passkeys/registration_links");
    let got = call(&h, "DELETE", &path, caller, json!({})).await;
    record("RevokePasskeyRegistrationLinks", Api::Rest, needs(&USER_WRITE, false), got);
    let got = call(&h, "DELETE", &format!("/v2/users/{target}/passkeys/{own_key}"), caller, json!({})).await;
    record("RemovePasskey", Api::Rest, cred, got);
    let body = json!({"userId": target, "passkeyId": own_key});
    let got = call(&h, "POST", "/zitadel.user.v2.UserService/RemovePasskey", caller, body).await;
    // The REST call above removed it when allowed: Connect then finds nothing to remove.
    record("RemovePasskey (after REST)", Api::Connect, cred, got);
    let path = format!("/management/v1/users/{target}/passwordless/{own_key}");
    let got = parse_invocation(&h.invoke(v1("DELETE", &path, caller, target_org, json!({}))).await);
    record("RemoveHumanPasswordless (after REST)", Api::V1, needs(&CREDENTIAL_WRITE, false), got);

    let mut wrong = Vec::new();
    for o in &outcomes {
        let ok = allowed(who, target_org, o.needs);
        let (status, body) = &o.got;
        let id = match o.api {
            Api::Connect => body["code"].as_str().unwrap_or_default(),
            _ => error_id(body),
        };
        let fine = if !ok {
            (*status, id) == refusal(who, target_org, o.api)
        } else if o.route.ends_with("(after REST)") {
            // Allowed, and the passkey is already gone.
            *status == 404
        } else {
            *status == 200
        };
        if !fine {
            wrong.push(format!("{} ({:?}): allowed={ok}, got {status} {body}", o.route, o.api));
        }
    }
    assert!(wrong.is_empty(), "{who:?} on {target} of {target_org}:\n{}", wrong.join("\n"));
}

/// Each caller on a user of its own org (Alice) and of another (Bob); "the user" is Alice,
/// then Bob, each acting on themself.
async fn run_all(whos: &[Who]) {
    for &who in whos {
        run_case(who, ALICE, DEMO_ORG).await;
        run_case(who, BOB, OTHER_ORG).await;
    }
}

#[tokio::test]
async fn without_a_role() {
    run_all(&[Who::Anonymous, Who::NoRole, Who::TheUser]).await;
}

#[tokio::test]
async fn instance_roles_count_in_every_org() {
    run_all(&INSTANCE_ROLES.map(Who::Instance)).await;
}

#[tokio::test]
async fn org_roles_count_in_their_org_only() {
    run_all(&ORG_ROLES.map(Who::Org)).await;
}

/// A caller without the permission hears the same for a ceremony that is open, one that never
/// was and a malformed id: the permission is checked before the ceremony is looked up. (The
/// helpdesk reads users: it hears 403; another org's owner hears 404.)
#[tokio::test]
async fn a_refused_caller_learns_nothing_of_the_users_ceremonies() {
    let h = Harness::new().await;
    let started = started_by_the_user(&h, ALICE, DEMO_ORG).await;
    let open = started["passkeyId"].as_str().unwrap();
    let refused = [
        (Some((HELPDESK, DEMO_ORG)), 403, "AUTH-5mWD2", "permission_denied"),
        (Some((OTHER_OWNER, OTHER_ORG)), 404, "USER-3n8fS", "not_found"),
    ];
    for (caller, refusal, rest_id, connect_code) in refused {
        for id in [open, "00000000-0000-4000-8000-000000000000", "not%20an%20id"] {
            let body = verify_body(&started, "another's key");
            let (status, answer) =
                call(&h, "POST", &format!("/v2/users/{ALICE}/passkeys/{id}"), caller, body).await;
            assert_eq!((status, error_id(&answer)), (refusal, rest_id), "{id}: {answer}");
            let mut body = verify_body(&started, "another's key");
            body["userId"] = ALICE.into();
            body["passkeyId"] = id.into();
            let connect = "/zitadel.user.v2.UserService/VerifyPasskeyRegistration";
            let (status, answer) = call(&h, "POST", connect, caller, body).await;
            assert_eq!((status, answer["code"].as_str()), (refusal, Some(connect_code)), "{id}: {answer}");
        }
    }
    assert_eq!(h.items(ALICE, "PASSKEYREG#").await.len(), 1, "the open ceremony is still open");
}

/// A passkey id in the path that does not decode names no passkey (not a ceremony).
#[tokio::test]
async fn an_undecodable_passkey_id_is_no_such_passkey() {
    let h = Harness::new().await;
    let admin = Some((DEMO_ADMIN, DEMO_ORG));
    let (status, answer) =
        call(&h, "DELETE", &format!("/v2/users/{ALICE}/passkeys/%ZZ"), admin, json!({})).await;
    assert_eq!((status, error_id(&answer)), (404, "PASSKEY-Nf2Rm"), "{answer}");
}
