//! Malformed and hostile requests through the real handler on the local stack: each gets its
//! documented error, never a 5xx or a panic, and nothing is written or sent.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};

struct Case {
    name: String,
    event: Value,
    status: u16,
    id: &'static str,
}

fn admin() -> Value {
    event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None)
}

/// API Gateway puts the percent-encoded path in rawPath and the decoded segment in
/// pathParameters.
fn with_user_id(mut e: Value, user: &str) -> Value {
    let encoded: String = user
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let path = format!("/management/v1/users/{encoded}/passwordless/_send_link");
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["userId"] = user.into();
    e
}

fn with_header(mut e: Value, name: &str, value: &str) -> Value {
    e["headers"][name] = value.into();
    e
}

fn without_authorizer(mut e: Value) -> Value {
    e["requestContext"].as_object_mut().unwrap().remove("authorizer");
    e
}

fn with_claims(mut e: Value, claims: Value) -> Value {
    e["requestContext"]["authorizer"]["jwt"]["claims"] = claims;
    e
}

const HOSTILE_IDS: &[&str] = &[
    "..",
    "../..",
    "../../etc/passwd",
    "..%2F..",
    "%2e%2e",
    "%2E%2E%2F",
    "a/b",
    "a%2Fb",
    "a%252Fb",
    "a\\b",
    "",
    " ",
    "a b",
    "a\tb",
    "a\nb",
    "a\r\nb",
    "\0",
    "a\0b",
    "%00",
    "%",
    "a%20b",
    "\u{202e}gnp.exe",
    "a\u{200b}b",
    "\u{feff}1",
    "😀",
    "ａｄｍｉｎ",
    "аdmin",
    "<script>alert(1)</script>",
    "'; DROP TABLE x; --",
    "a#b",
    "USER#100000000000000011",
    "ORG#100000000000000001",
    "a:b",
    "a?b",
    "a&b",
    "a=b",
    "{userId}",
    "$(id)",
    "`id`",
    "a;b",
    "a|b",
    "a,b",
    "*",
    "a*",
    "~",
    "a~b",
    "\u{7f}",
    "\u{85}",
    "é",
];

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: String, event: Value, status: u16, id: &'static str| {
        cases.push(Case { name, event, status, id });
    };

    for id in HOSTILE_IDS {
        add(format!("user id {id:?}"), with_user_id(admin(), id), 400, "USER-x9Ql1");
    }
    add("user id of 201 characters".into(), with_user_id(admin(), &"9".repeat(201)), 400, "USER-x9Ql1");
    add(
        // API Gateway refuses URLs near 8 KB; longer ones never reach the function.
        "user id of 8000 characters".into(),
        with_user_id(admin(), &"9".repeat(8_000)),
        400,
        "USER-x9Ql1",
    );
    add(
        "extra path segment".into(),
        {
            let mut e = admin();
            e["rawPath"] = format!("/management/v1/users/{ALICE}/x/passwordless/_send_link").into();
            e.as_object_mut().unwrap().remove("pathParameters");
            e
        },
        404,
        "HTTP-9vR3k",
    );

    for org in [
        "",
        " ",
        "../100000000000000001",
        "a/b",
        "ORG#1",
        "1#",
        "100000000000000001,200000000000000001",
        "*",
        "\u{202e}1",
        "1\r\nx-zitadel-orgid: 200000000000000001",
        "100000000000000001\n",
        "😀",
        "<b>",
        "1 OR 1=1",
        "%2e%2e",
        &"1".repeat(201),
        &"1".repeat(65_536),
    ] {
        add(
            format!("x-zitadel-orgid {org:?}"),
            with_header(admin(), "x-zitadel-orgid", org),
            400,
            "AUTH-Pq4Wd",
        );
    }
    for org in [OTHER_ORG, INSTANCE_ORG, "999999999999999999"] {
        add(
            format!("x-zitadel-orgid another tenant {org}"),
            with_header(admin(), "x-zitadel-orgid", org),
            403,
            "AUTH-5mWD2",
        );
    }

    let deep_array = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}{{}}{}", "{\"a\":".repeat(200), "}".repeat(200));
    let many_keys =
        format!("{{{}}}", (0..2_000).map(|i| format!("\"k{i}\":{i}")).collect::<Vec<_>>().join(","));
    let bodies: Vec<(&str, String)> = vec![
        ("array", "[]".into()),
        ("null", "null".into()),
        ("number", "1".into()),
        ("negative", "-1".into()),
        ("huge number", "1e999".into()),
        ("boolean", "true".into()),
        ("string", "\"{}\"".into()),
        ("open brace", "{".into()),
        ("close brace", "}".into()),
        ("two objects", "{}{}".into()),
        ("trailing garbage", "{} x".into()),
        ("single quotes", "{'a':1}".into()),
        ("duplicate key", r#"{"a":1,"a":2}"#.into()),
        ("nested duplicate key", r#"{"a":{"b":1,"b":1}}"#.into()),
        ("duplicate key in array", r#"{"a":[{"b":1,"b":2}]}"#.into()),
        ("deep array bomb", deep_array),
        ("deep object bomb", deep_object),
        ("over 16 KiB", format!("{{\"a\":\"{}\"}}", "x".repeat(17_000))),
        ("1 MiB", format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20))),
        ("many keys over the limit", many_keys),
        ("byte order mark", "\u{feff}{}".into()),
        ("lone surrogate", r#"{"a":"\ud800"}"#.into()),
        ("NaN", r#"{"a":NaN}"#.into()),
        ("leading zero", r#"{"a":01}"#.into()),
        ("trailing comma", r#"{"a":1,}"#.into()),
        ("comment", "{/*x*/}".into()),
        ("NUL byte", "{\"a\":\"\0\"}".into()),
    ];
    for (name, body) in bodies {
        add(format!("body {name}"), with_body(admin(), Some(&body)), 400, "HTTP-Bd7Jn");
    }
    for bytes in
        [vec![0x7b, 0xff, 0x7d], vec![0xc3, 0x28], vec![0xef, 0xbb, 0xbf, 0x7b, 0x7d], b"[]".to_vec()]
    {
        let mut e = with_body(admin(), Some(&base64::engine::general_purpose::STANDARD.encode(&bytes)));
        e["isBase64Encoded"] = true.into();
        add(format!("base64 body {bytes:02x?}"), e, 400, "HTTP-Bd7Jn");
    }
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/html",
        "application/jsonp",
        "json",
    ] {
        add(
            format!("content type {content_type}"),
            with_header(admin(), "content-type", content_type),
            400,
            "HTTP-Bd7Jn",
        );
    }

    for (name, value) in [
        ("x-zitadel-userid", DEMO_ADMIN),
        ("authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMDAwMDAwMDAwMDAwMDAwMTAifQ."),
        ("x-amzn-oidc-identity", DEMO_ADMIN),
        ("x-amzn-oidc-data", "eyJhbGciOiJub25lIn0.e30."),
        (
            "x-apigateway-event",
            r#"{"requestContext":{"authorizer":{"jwt":{"claims":{"sub":"100000000000000010"}}}}}"#,
        ),
        ("x-forwarded-user", DEMO_ADMIN),
        ("sub", DEMO_ADMIN),
        ("urn:zitadel:iam:user:resourceowner:id", DEMO_ORG),
    ] {
        add(
            format!("no authorizer, forged {name}"),
            with_header(without_authorizer(admin()), name, value),
            401,
            "AUTH-7kZq2",
        );
    }
    add(
        "no authorizer, identity in the body".into(),
        with_body(
            without_authorizer(admin()),
            Some(r#"{"sub":"100000000000000010","orgId":"100000000000000001"}"#),
        ),
        401,
        "AUTH-7kZq2",
    );
    let org_claim = "urn:zitadel:iam:user:resourceowner:id";
    for (name, claims) in [
        ("empty claims", json!({})),
        ("no sub", json!({org_claim: DEMO_ORG})),
        ("no org claim", json!({"sub": DEMO_ADMIN})),
        ("empty sub", json!({"sub": "", org_claim: DEMO_ORG})),
        ("sub with key separator", json!({"sub": "USER#100000000000000010", org_claim: DEMO_ORG})),
        ("sub too long", json!({"sub": "1".repeat(201), org_claim: DEMO_ORG})),
        ("org claim with path", json!({"sub": DEMO_ADMIN, org_claim: "../1"})),
        ("org claim unicode", json!({"sub": DEMO_ADMIN, org_claim: "١٠٠"})),
    ] {
        add(format!("claims: {name}"), with_claims(admin(), claims), 401, "AUTH-7kZq2");
    }
    let helpdesk = event(Some((HELPDESK, DEMO_ORG)), ALICE, None);
    for (name, value) in [
        ("x-zitadel-userid", DEMO_ADMIN),
        ("x-forwarded-user", DEMO_ADMIN),
        ("authorization", "Bearer forged-admin-token"),
        ("x-amzn-oidc-identity", DEMO_ADMIN),
    ] {
        add(
            format!("helpdesk with forged {name}"),
            with_header(helpdesk.clone(), name, value),
            403,
            "AUTH-5mWD2",
        );
    }
    add(
        "helpdesk claiming admin in the body".into(),
        with_body(helpdesk.clone(), Some(r#"{"sub":"100000000000000010","roles":["ORG_OWNER"]}"#)),
        403,
        "AUTH-5mWD2",
    );
    add(
        "other org's owner naming this org".into(),
        event(Some((OTHER_OWNER, OTHER_ORG)), ALICE, Some(DEMO_ORG)),
        403,
        "AUTH-5mWD2",
    );
    add("user of another org".into(), event(Some((DEMO_ADMIN, DEMO_ORG)), BOB, None), 404, "USER-3n8fS");

    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let mut e = admin();
        e["requestContext"]["http"]["method"] = method.into();
        add(format!("method {method}"), e, 405, "HTTP-Mt7Qa");
    }
    for path in [
        "/",
        "/management/v1/users",
        "/management/v1/users/100000000000000011",
        "/management/v1/users/100000000000000011/passwordless",
        "/management/v1/users/100000000000000011/passwordless/_send_link/x",
        "/management/v2/users/100000000000000011/passwordless/_send_link",
        "/admin/v1/users/100000000000000011/passwordless/_send_link",
    ] {
        let mut e = admin();
        e["rawPath"] = path.into();
        e["requestContext"]["http"]["path"] = path.into();
        e.as_object_mut().unwrap().remove("pathParameters");
        add(format!("route {path}"), e, 404, "HTTP-9vR3k");
    }
    cases
}

#[tokio::test]
async fn hostile_requests_get_their_documented_error_and_change_nothing() {
    let h = Harness::new().await;
    let mut ran = 0;
    let cases = cases();
    let total = cases.len();
    for case in cases {
        // API Gateway never sends what lambda_http cannot read; such a case is not a request.
        let Ok(request) = lambda_http::request::from_str(&case.event.to_string()) else {
            continue;
        };
        let (status, body) = parse_response(h.api.handle(request).await);
        assert!(status < 500, "{}: {status} {body}", case.name);
        assert_eq!((status, error_id(&body)), (case.status, case.id), "{}: {body}", case.name);
        ran += 1;
    }
    for user in [ALICE, BOB, MACHINE, DEMO_ADMIN] {
        assert!(h.items(user, "PASSKEYLINK#").await.is_empty(), "no link for {user}");
        assert!(h.items(user, "EVENT#").await.is_empty(), "no event for {user}");
        assert_eq!(h.user_sequence(user).await, 0);
    }
    for (local, domain) in [("alice", "demo.example"), ("bob", "other.example"), ("admin", "demo.example")] {
        assert!(mails_to(&h.email_of(local, domain)).is_empty(), "no mail to {local}");
    }
    println!("hostile requests run: {ran} of {total} (the rest are events lambda_http cannot read)");
    assert!(ran >= 100, "only {ran} hostile cases ran");
}

async fn seed_user(h: &Harness, id: &str, email: &str, display_name: &str) {
    use send_passkey_link::model::{OrgId, UserId, UserKind, UserState};
    use send_passkey_link::store::dynamodb::admin::UserProfile;
    h.table
        .upsert_user(&UserProfile {
            id: &UserId::parse(id).unwrap(),
            org_id: &OrgId::parse(DEMO_ORG).unwrap(),
            kind: UserKind::Human,
            state: UserState::Active,
            email: Some(email),
            display_name: Some(display_name),
            preferred_language: None,
            user_name: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn stored_addresses_that_could_inject_headers_are_refused_before_anything_is_stored() {
    let h = Harness::new().await;
    let bad = [
        format!("eve+{}@demo.example\r\nBcc: all@demo.example", h.tag),
        format!("eve+{}@demo.example, all@demo.example", h.tag),
        format!("Eve <eve+{}@demo.example>", h.tag),
        "not-an-address".to_owned(),
        format!("{}@demo.example", "e".repeat(300)),
    ];
    for (i, email) in bad.iter().enumerate() {
        let id = format!("66600000000000000{i}");
        seed_user(&h, &id, email, "Eve").await;
        let (status, body) = h.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), &id, None)).await;
        assert_eq!((status, error_id(&body)), (400, "USER-Em5Iv"), "{email:?}: {body}");
        assert!(h.items(&id, "PASSKEYLINK#").await.is_empty(), "{email:?}");
        assert_eq!(h.user_sequence(&id).await, 0);
    }
    assert!(mails_to("all@demo.example").is_empty());
}

#[tokio::test]
async fn hostile_display_names_come_out_escaped() {
    let h = Harness::new().await;
    let email = h.email_of("mallory", "demo.example");
    let name = "<script>alert('x')</script><img src=x onerror=alert(1)>\r\nSubject: pwned & \"quoted\"";
    seed_user(&h, "777000000000000001", &email, name).await;
    let (status, body) = h.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), "777000000000000001", None)).await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&email)[0];
    let html = mail["body"]["html"].as_str().unwrap();
    assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    assert!(html.contains("&amp; &quot;quoted&quot;"), "{html}");
    let subject = mail["subject"].as_str().unwrap();
    assert!(!subject.contains('\n') && !subject.contains("pwned"), "{subject}");
}
