//! Attacks on the passkey registration (issue 17's adversarial review): the anonymous page,
//! the v2 ceremony calls, list and remove. The first group failed before their fixes (a
//! locked link spent, concurrent guesses past the limit, 500s on blank names and long
//! credential ids, hidden characters in names, one rate-limit bucket behind a load
//! balancer); the rest document attacks that were refused from the start.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::authenticator::SoftAuthenticator;
use common::passkeys::*;
use common::*;
use serde_json::{json, Value};
use tracing_subscriber::EnvFilter;

const ADMIN: Option<(&str, &str)> = Some((DEMO_ADMIN, DEMO_ORG));
/// Alice herself: since a code is no permission, the one API caller besides the admins who
/// may redeem her codes.
const SELF: Option<(&str, &str)> = Some((ALICE, DEMO_ORG));

/// Raw status and body text (no JSON assumption).
async fn raw(h: &Harness, e: Value) -> (u16, String) {
    let r = h.invoke(e).await;
    (r["statusCode"].as_u64().unwrap() as u16, r["body"].as_str().unwrap_or_default().to_owned())
}

async fn open_page(h: &Harness, query: &str) -> (u16, String) {
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = query.into();
    raw(h, e).await
}

async fn page_begin(h: &Harness, user: &str, code_id: &str, code: &str) -> (u16, Value) {
    call(h, "POST", &format!("{PAGE}/_begin"), None, json!({"userId": user, "codeId": code_id, "code": code}))
        .await
}

async fn page_finish(
    h: &Harness,
    user: &str,
    code_id: &str,
    code: &str,
    passkey_id: &str,
    credential: &Value,
    name: &str,
) -> (u16, Value) {
    call(
        h,
        "POST",
        &format!("{PAGE}/_finish"),
        None,
        json!({"userId": user, "codeId": code_id, "code": code, "passkeyId": passkey_id,
               "publicKeyCredential": credential, "passkeyName": name}),
    )
    .await
}

/// Each page call from its own address, so the per-source limit (30/min) does not interfere.
fn from(mut e: Value, ip: &str) -> Value {
    e["requestContext"]["http"]["sourceIp"] = ip.into();
    e
}

fn cred(options: &Value) -> Value {
    SoftAuthenticator::new().register(options, PAGE_ORIGIN).unwrap()
}

async fn set_attr(h: &Harness, user: &str, sk: &str, name: &str, value: AttributeValue) {
    h.table
        .client()
        .update_item()
        .table_name(h.table.name())
        .key("pk", AttributeValue::S(format!("USER#{user}")))
        .key("sk", AttributeValue::S(sk.into()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", name)
        .expression_attribute_values(":v", value)
        .send()
        .await
        .unwrap();
}

/// Polls all futures concurrently on this task (no extra crate).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

// ---------------------------------------------------------------------------------------------
// Fixed after the review
// ---------------------------------------------------------------------------------------------

/// A link locked by wrong codes must not be spendable. A caller that started a ceremony with
/// the code before the lock finishes it afterwards: VerifyPasskeyRegistration re-checks only
/// "used" and "expired", and the transaction only `codeHash`, `usedAt` and the TTL.
#[tokio::test]
async fn a_link_locked_after_the_ceremony_started_is_not_spent() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    let (status, begun) = register(&h, ALICE, SELF, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!(status, 200, "{begun}");
    for _ in 0..5 {
        let (_, body) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":"guess"}})).await;
        assert_eq!(error_id(&body), "CODE-Iv3Kp");
    }
    let (_, body) = register(&h, ALICE, SELF, json!({"code":{"id":code_id,"code":code}})).await;
    assert_eq!(error_id(&body), "CODE-Lk6Tr", "the link is locked now");
    let credential = cred(&begun["publicKeyCredentialCreationOptions"]);
    let (status, body) = verify(&h, ALICE, begun["passkeyId"].as_str().unwrap(), SELF, &credential).await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Lk6Tr"), "a locked link registered a passkey: {body}");
}

/// The lock is read, compared and counted in separate steps: concurrent wrong guesses all see
/// `failedAttempts < 5` and are all evaluated. Through the v2 API (any authenticated caller,
/// no page limit) a burst gets far more than `code_max_attempts` guesses.
#[tokio::test]
async fn concurrent_guesses_get_no_more_checks_than_the_attempt_limit() {
    let h = Harness::new().await;
    let (code_id, _code) = code_for(&h, ALICE, ADMIN).await;
    let guesses =
        (0..30).map(|n| {
            let h = &h;
            let code_id = code_id.clone();
            async move {
                register(h, ALICE, SELF, json!({"code":{"id":code_id,"code":format!("guess-{n}")}})).await
            }
        });
    let outcomes = join_all(guesses.collect()).await;
    let evaluated = outcomes.iter().filter(|(_, b)| error_id(b) == "CODE-Iv3Kp").count();
    assert!(evaluated <= 5, "{evaluated} guesses were compared against the code (limit 5)");
}

/// A user whose display name (or e-mail) is an empty string: webauthn-rs refuses empty names
/// (InvalidUsername) and the service answers 500, for the API and the anonymous page alike.
#[tokio::test]
async fn an_empty_display_name_falls_back_to_the_address() {
    let h = Harness::new().await;
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    set_attr(&h, ALICE, "#USER", "displayName", AttributeValue::S(String::new())).await;
    let (status, body) = page_begin(&h, ALICE, &code_id, &code).await;
    assert!(status < 500, "{status} {body}");
    let (status, body) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    assert!(status < 500, "{status} {body}");
}

/// Passkey names refuse bidi overrides, line separators and invisible characters by Unicode
/// property (zero-width, Hangul fillers, blank Braille, variation selectors), which spoof the
/// name where an admin UI lists it ("evil\u{202E}gpj.exe").
#[tokio::test]
async fn passkey_names_refuse_bidi_overrides_and_invisible_characters() {
    let h = Harness::new().await;
    // A refused name spends neither the code nor the rate limit's links: one code serves all.
    let (code_id, code) = code_for(&h, ALICE, ADMIN).await;
    for name in [
        "Phone\u{202E}enohP",
        "Pho\u{200B}ne",
        "Phone\u{2028}Admin",
        "\u{FEFF}",
        "\u{3164}",
        "Phone\u{2800}",
        "Pho\u{034F}ne",
        "Phone \u{2764}\u{FE0F}",
    ] {
        let (_, begun) = register(&h, ALICE, ADMIN, json!({"code":{"id":code_id,"code":code}})).await;
        let credential = cred(&begun["publicKeyCredentialCreationOptions"]);
        let (status, body) = call(
            &h,
            "POST",
            &format!("/v2/users/{ALICE}/passkeys/{}", begun["passkeyId"].as_str().unwrap()),
            ADMIN,
            json!({"publicKeyCredential": credential, "passkeyName": name}),
        )
        .await;
        assert_eq!(status, 400, "{name:?} was accepted: {body}");
    }
}

/// The anonymous calls answered a wrong code for a real link (400 CODE-Iv3Kp) unlike an
/// unknown link (404 CODE-Nf2Qe): an oracle for which link ids exist, which the page itself
/// never was. Both answer as the unknown link now; the wrong codes still count and lock it.
#[tokio::test]
async fn page_calls_answer_a_wrong_code_as_they_answer_an_unknown_link() {
    let h = Harness::new().await;
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let unknown = "00000000-0000-0000-0000-000000000000";
    let (status, no_link) = page_begin(&h, ALICE, unknown, "guess").await;
    assert_eq!((status, error_id(&no_link)), (404, "CODE-Nf2Qe"), "{no_link}");
    assert_eq!(page_begin(&h, ALICE, &id, "guess").await, (404, no_link.clone()), "_begin, wrong code");

    let (status, begun) = page_begin(&h, ALICE, &id, &code).await;
    assert_eq!(status, 200, "{begun}");
    let pid = begun["passkeyId"].as_str().unwrap();
    let credential = cred(&begun["publicKeyCredentialCreationOptions"]);
    let (_, no_ceremony) = page_finish(&h, ALICE, unknown, "guess", pid, &credential, "x").await;
    assert_eq!(error_id(&no_ceremony), "PASSKEY-Cn7Wm", "an unknown link has no ceremony: {no_ceremony}");
    assert_eq!(
        page_finish(&h, ALICE, &id, "guess", pid, &credential, "x").await,
        (404, no_link.clone()),
        "_finish, wrong code"
    );

    // Two wrong codes counted; three more lock the link, for the right code too.
    for _ in 0..3 {
        assert_eq!(page_begin(&h, ALICE, &id, "guess").await, (404, no_link.clone()));
    }
    let (status, body) = page_begin(&h, ALICE, &id, &code).await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Lk6Tr"), "{body}");
    let (status, body) = page_finish(&h, ALICE, &id, &code, pid, &credential, "x").await;
    assert_eq!((status, error_id(&body)), (400, "CODE-Lk6Tr"), "{body}");
    assert!(h.items(ALICE, "PASSKEY#").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Refused from the start
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn links_do_not_mix_across_users_or_ceremonies() {
    let h = Harness::new().await;
    let (a_id, a_code) = code_for(&h, ALICE, ADMIN).await;
    let (a2_id, a2_code) = code_for(&h, ALICE, ADMIN).await;
    let (b_id, b_code) = code_for(&h, BOB, Some((OTHER_OWNER, OTHER_ORG))).await;
    // Alice's id with Bob's code and the reverse.
    assert_eq!(error_id(&page_begin(&h, ALICE, &b_id, &b_code).await.1), "CODE-Nf2Qe");
    assert_eq!(error_id(&page_begin(&h, BOB, &a_id, &a_code).await.1), "CODE-Nf2Qe");
    let (_, html) = open_page(&h, &format!("userID={BOB}&codeID={a_id}&code={a_code}")).await;
    assert_eq!(state_of(&html), "unknown");
    // A ceremony started with Alice's first link.
    let (status, begun) = page_begin(&h, ALICE, &a_id, &a_code).await;
    assert_eq!(status, 200, "{begun}");
    let pid = begun["passkeyId"].as_str().unwrap();
    let credential = cred(&begun["publicKeyCredentialCreationOptions"]);
    // ... finished with Alice's second link, with Bob's link, with Bob's id.
    for (user, id, code) in
        [(ALICE, &a2_id, &a2_code), (ALICE, &b_id, &b_code), (BOB, &b_id, &b_code), (BOB, &a_id, &a_code)]
    {
        let (status, body) = page_finish(&h, user, id, code, pid, &credential, "x").await;
        assert_eq!((status, error_id(&body)), (404, "PASSKEY-Cn7Wm"), "{user} {id}: {body}");
    }
    // A wrong code for the right link counts (and the ceremony is not finished); it answers
    // as an unknown link does.
    let (status, body) = page_finish(&h, ALICE, &a_id, "wrong", pid, &credential, "x").await;
    assert_eq!((status, error_id(&body)), (404, "CODE-Nf2Qe"), "{body}");
    // A ceremony Alice started herself (no code) cannot be finished anonymously with a link.
    let (_, own) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    let own_cred = cred(&own["publicKeyCredentialCreationOptions"]);
    let (_, body) =
        page_finish(&h, ALICE, &a_id, &a_code, own["passkeyId"].as_str().unwrap(), &own_cred, "x").await;
    assert_eq!(error_id(&body), "PASSKEY-Cn7Wm");
    // Bob's owner (other org, no permission) cannot finish Alice's anonymous ceremony.
    let (status, _) = verify(&h, ALICE, pid, Some((OTHER_OWNER, OTHER_ORG)), &credential).await;
    assert_eq!(status, 404);
    // The right link still works, once.
    let (status, body) = page_finish(&h, ALICE, &a_id, &a_code, pid, &credential, "x").await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = page_finish(&h, ALICE, &a_id, &a_code, pid, &credential, "x").await;
    assert_eq!(error_id(&body), "PASSKEY-Cn7Wm");
    assert_eq!(h.items(ALICE, "PASSKEY#").await.len(), 1);
}

#[tokio::test]
async fn a_code_is_spent_once_across_two_ceremonies() {
    let h = Harness::new().await;
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, one) = page_begin(&h, ALICE, &id, &code).await;
    let (_, two) = page_begin(&h, ALICE, &id, &code).await;
    let c1 = cred(&one["publicKeyCredentialCreationOptions"]);
    let c2 = cred(&two["publicKeyCredentialCreationOptions"]);
    let (a, b) = tokio::join!(
        page_finish(&h, ALICE, &id, &code, one["passkeyId"].as_str().unwrap(), &c1, "one"),
        page_finish(&h, ALICE, &id, &code, two["passkeyId"].as_str().unwrap(), &c2, "two"),
    );
    let wins = [&a, &b].iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    assert_eq!(h.items(ALICE, "PASSKEY#").await.len(), 1);
    // Credential from ceremony one replayed into ceremony two: challenge mismatch.
    let (_, three) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    let (status, body) =
        verify(&h, ALICE, three["passkeyId"].as_str().unwrap(), Some((ALICE, DEMO_ORG)), &c2).await;
    assert_eq!((status, error_id(&body)), (400, "PASSKEY-At8Rf"), "{body}");
}

#[tokio::test]
async fn expired_revoked_and_locked_links_refuse_the_page_finish() {
    let h = Harness::new().await;
    // Revoked after the ceremony started.
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    let (status, body) =
        call(&h, "DELETE", &format!("/v2/users/{ALICE}/passkeys/registration_links/{id}"), ADMIN, json!({}))
            .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = page_finish(&h, ALICE, &id, &code, begun["passkeyId"].as_str().unwrap(), &c, "x").await;
    assert_eq!(error_id(&body), "CODE-Nf2Qe", "{body}");
    // Expired after the ceremony started.
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    set_attr(&h, ALICE, &format!("PASSKEYLINK#{id}"), "expiresAt", AttributeValue::N("1000".into())).await;
    let (_, body) = page_finish(&h, ALICE, &id, &code, begun["passkeyId"].as_str().unwrap(), &c, "x").await;
    assert_eq!(error_id(&body), "CODE-Ex5Pr", "{body}");
    // Locked after the ceremony started (anonymous finish presents the code again).
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    for _ in 0..5 {
        page_begin(&h, ALICE, &id, "guess").await;
    }
    let (_, body) = page_finish(&h, ALICE, &id, &code, begun["passkeyId"].as_str().unwrap(), &c, "x").await;
    assert_eq!(error_id(&body), "CODE-Lk6Tr", "{body}");
    // Ceremony expired.
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let pid = begun["passkeyId"].as_str().unwrap();
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    set_attr(&h, ALICE, &format!("PASSKEYREG#{pid}"), "expiresAt", AttributeValue::N("1000".into())).await;
    let (_, body) = page_finish(&h, ALICE, &id, &code, pid, &c, "x").await;
    assert_eq!(error_id(&body), "PASSKEY-Cn7Wm", "{body}");
    assert!(h.items(ALICE, "PASSKEY#").await.is_empty());
}

#[tokio::test]
async fn hostile_bodies_get_4xx_never_5xx() {
    let h = Harness::new().await;
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let pid = begun["passkeyId"].as_str().unwrap().to_owned();
    let good = cred(&begun["publicKeyCredentialCreationOptions"]);
    let mut deep = json!("x");
    for _ in 0..120 {
        deep = json!({ "a": deep });
    }
    let huge = "A".repeat(4_000_000);
    let mut bogus_cbor = good.clone();
    // CBOR map(1){ "authData": bytes(len 2^63) } with no bytes following.
    bogus_cbor["response"]["attestationObject"] = "oWhhdXRoRGF0YVsAgAAAAAAAAA".into();
    let mut huge_att = good.clone();
    huge_att["response"]["attestationObject"] = huge.clone().into();
    let mut bad_cdj = good.clone();
    bad_cdj["response"]["clientDataJSON"] =
        "eyJ0eXBlIjpbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb".into();
    let credentials = [
        deep.clone(),
        json!({}),
        json!({"id": pid, "rawId": 5, "type": "public-key", "response": {}}),
        bogus_cbor,
        huge_att,
        bad_cdj,
    ];
    // Through the API (no page limits): Alice's own ceremony.
    let (_, own) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    let own_pid = own["passkeyId"].as_str().unwrap().to_owned();
    for c in &credentials {
        for name in ["x", &"n".repeat(10_000), "<script>alert(1)</script>", "a\u{0000}b", " "] {
            let e = request(
                "POST",
                &format!("/v2/users/{ALICE}/passkeys/{own_pid}"),
                Some((ALICE, DEMO_ORG)),
                Some(json!({"publicKeyCredential": c, "passkeyName": name})),
            );
            let (status, body) = raw(&h, e).await;
            assert!((400..429).contains(&status), "{status} {}", &body[..body.len().min(300)]);
        }
    }
    // Through the page: each hostile credential once (ten calls a minute per link).
    for c in credentials.iter().take(6) {
        let e = from(
            request(
                "POST",
                &format!("{PAGE}/_finish"),
                None,
                Some(json!({"userId": ALICE, "codeId": id, "code": code, "passkeyId": pid,
                            "publicKeyCredential": c, "passkeyName": "x"})),
            ),
            "198.51.100.7",
        );
        let (status, body) = raw(&h, e).await;
        assert!((400..429).contains(&status), "{status} {}", &body[..body.len().min(300)]);
        assert!(!body.contains(&code));
    }
    let mut statuses = Vec::new();
    for body in [
        "[]".to_owned(),
        "\"x\"".to_owned(),
        "null".to_owned(),
        "{".repeat(10_000),
        format!("{{\"userId\":\"{ALICE}\",\"codeId\":\"{id}\",\"code\":\"{huge}\"}}"),
        format!("{{\"userId\":\"{}\",\"codeId\":\"{id}\",\"code\":\"{code}\"}}", "a".repeat(300)),
        format!("{{\"userId\":\"{ALICE}\",\"codeId\":\"{}\",\"code\":\"{code}\"}}", "a#b/c"),
        format!("{{\"userId\":\"{ALICE}\",\"codeId\":\"{id}\",\"code\":\"{code}\",\"passkeyId\":\"a#b/c\",\"publicKeyCredential\":{{}},\"passkeyName\":\"x\"}}"),
    ] {
        for path in ["_begin", "_finish"] {
            if path == "_begin" && body.contains("passkeyId") {
                continue; // a valid begin with an extra field
            }
            let mut e = from(request("POST", &format!("{PAGE}/{path}"), None, None), "198.51.100.8");
            e["body"] = body.clone().into();
            let (status, text) = raw(&h, e).await;
            assert!((400..500).contains(&status), "{path} {status} {}", &text[..text.len().min(300)]);
            statuses.push((path, status, text.chars().take(120).collect::<String>()));
        }
    }
    eprintln!("odd page bodies: {statuses:#?}");
    // The ceremony still finishes, through the API, after all that.
    let (status, body) = verify(&h, ALICE, &pid, ADMIN, &good).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn odd_query_strings_and_page_injection() {
    let h = Harness::new().await;
    for query in [
        "userID=%&codeID=%zz&code=%",
        "userID=%E0%A4%A&code=%C0%80",
        "userID[]=1&userID=2&&&==&code",
        &format!("userID={ALICE}&codeID={}&code=x", "%2F".repeat(5000)),
        &format!("userID={ALICE}&codeID=a%23b&code=%3Cscript%3E"),
        "userID=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&codeID=x&code=y",
    ] {
        let mut e = from(request("GET", PAGE, None, None), "198.51.100.9");
        e["rawQueryString"] = query.into();
        let (status, html) = raw(&h, e).await;
        assert!(status < 500, "{query}: {status}");
        assert!(!html.contains("<img") && !html.contains("<script>"), "{query}");
    }
    // Names with markup in them are escaped on the ready page.
    set_attr(&h, ALICE, "#USER", "displayName", AttributeValue::S("\"><script>alert(1)</script>".into()))
        .await;
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let (status, html) = open_page(&h, &format!("userID={ALICE}&codeID={id}&code={code}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains(&code), "code echoed");
}

#[tokio::test]
async fn list_and_remove_across_orgs_and_odd_ids() {
    let h = Harness::new().await;
    let (_, begun) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    let pid = begun["passkeyId"].as_str().unwrap();
    assert_eq!(verify(&h, ALICE, pid, Some((ALICE, DEMO_ORG)), &c).await.0, 200);
    let other = Some((OTHER_OWNER, OTHER_ORG));
    // v2 from another org's owner.
    let (s, _) = call(&h, "POST", &format!("/v2/users/{ALICE}/passkeys/_search"), other, json!({})).await;
    assert_eq!(s, 404, "v2 tells no one without the permission that the user exists");
    let (s, _) = call(&h, "DELETE", &format!("/v2/users/{ALICE}/passkeys/{pid}"), other, json!({})).await;
    assert_eq!(s, 404, "v2 tells no one without the permission that the user exists");
    let (s, _) = call(
        &h,
        "POST",
        "/zitadel.user.v2.UserService/RemovePasskey",
        other,
        json!({"userId": ALICE, "passkeyId": pid}),
    )
    .await;
    assert_eq!(s, 404, "v2 tells no one without the permission that the user exists");
    // v1 with the header naming Alice's org: no role there.
    let mut e = request(
        "POST",
        &format!("/management/v1/users/{ALICE}/passwordless/_search"),
        other,
        Some(json!({})),
    );
    e["headers"]["x-zitadel-orgid"] = DEMO_ORG.into();
    let (s, _) = raw(&h, e).await;
    assert_eq!(s, 403);
    let mut e = request(
        "DELETE",
        &format!("/management/v1/users/{ALICE}/passwordless/{pid}"),
        other,
        Some(json!({})),
    );
    e["headers"]["x-zitadel-orgid"] = DEMO_ORG.into();
    assert_eq!(raw(&h, e).await.0, 403);
    // Bob's org owner naming Bob's org but Alice's passkey id on Bob.
    let (s, _) = call(&h, "DELETE", &format!("/v2/users/{BOB}/passkeys/{pid}"), other, json!({})).await;
    assert_eq!(s, 404);
    // Odd ids.
    for id in ["a%23b", "a%2Fb", "..%2F..%2Fx", "%00", "PASSKEY%23x", &"x".repeat(3000), "%ZZ"] {
        let (s, _) =
            raw(&h, request("DELETE", &format!("/v2/users/{ALICE}/passkeys/{id}"), ADMIN, Some(json!({}))))
                .await;
        assert!(s == 404 || s == 400, "{id}: {s}");
        let (s, _) = raw(
            &h,
            request(
                "DELETE",
                &format!("/management/v1/users/{ALICE}/passwordless/{id}"),
                ADMIN,
                Some(json!({})),
            ),
        )
        .await;
        assert!(s == 404 || s == 400, "{id}: {s}");
        let (s, _) = raw(
            &h,
            request(
                "POST",
                &format!("/v2/users/{ALICE}/passkeys/{id}"),
                ADMIN,
                Some(json!({"publicKeyCredential": {}, "passkeyName": "x"})),
            ),
        )
        .await;
        assert!((400..500).contains(&s), "{id}: {s}");
    }
    assert_eq!(h.items(ALICE, "PASSKEY#").await.len(), 1);
}

#[tokio::test]
async fn the_page_flow_logs_no_code_hash_or_state() {
    let (logs, _logging) = Captured::json(EnvFilter::new("debug"));
    let h = Harness::new().await;
    let (id, code) = code_for(&h, ALICE, ADMIN).await;
    let hash = send_passkey_link::link::hash_code(&code);
    let (_, html) = open_page(&h, &format!("userID={ALICE}&codeID={id}&code={code}")).await;
    assert_eq!(state_of(&html), "ready");
    let (_, begun) = page_begin(&h, ALICE, &id, &code).await;
    let challenge =
        begun["publicKeyCredentialCreationOptions"]["publicKey"]["challenge"].as_str().unwrap().to_owned();
    let pid = begun["passkeyId"].as_str().unwrap().to_owned();
    let ceremony = &h.items(ALICE, &format!("PASSKEYREG#{pid}")).await[0];
    let state = ceremony["state"].as_s().unwrap().clone();
    let c = cred(&begun["publicKeyCredentialCreationOptions"]);
    let mut foreign = c.clone();
    foreign["response"]["clientDataJSON"] = "e30".into();
    let (_, refused) = page_finish(&h, ALICE, &id, &code, &pid, &foreign, "x").await;
    let (s, body) = page_finish(&h, ALICE, &id, &code, &pid, &c, "x").await;
    assert_eq!(s, 200, "{body}");
    let text = logs.text();
    for (what, secret) in
        [("code", code.as_str()), ("hash", hash.as_str()), ("challenge", challenge.as_str())]
    {
        assert!(!text.contains(secret), "{what} logged");
        assert!(!refused.to_string().contains(secret), "{what} in a response");
        assert!(!begun.to_string().contains(secret) || what == "challenge", "{what} in begin");
    }
    assert!(!text.contains(&state[..40.min(state.len())]), "state logged");
}

/// The local gateway forwards `/ui/../...` without a token; the function must not serve an
/// authenticated route for it.
#[tokio::test]
async fn dot_segments_under_the_page_prefix_reach_nothing_authenticated() {
    let h = Harness::new().await;
    for path in [
        format!("/ui/../v2/users/{ALICE}/passkeys/_search"),
        format!("/ui/login/login/passwordless/init/../../../../../v2/users/{ALICE}/passkeys/_search"),
        format!("/ui/%2e%2e/management/v1/users/{ALICE}/passwordless/_search"),
        format!("/ui/login/login/passwordless/init/_begin/../../../../../../v2/users/{ALICE}/passkeys"),
    ] {
        let (status, body) = raw(&h, request("POST", &path, None, Some(json!({})))).await;
        assert!(status == 401 || status == 404, "{path}: {status} {body}");
        assert!(!body.contains("AUTH_FACTOR_STATE_READY"));
    }
}

/// Behind an Application Load Balancer (an event shape the function accepts) there is no
/// source address in the request context: every anonymous client shares the bucket
/// "source#unknown", so one client's 30 requests a minute lock everyone out of the page.
#[tokio::test]
async fn load_balancer_clients_are_limited_by_their_own_address() {
    let h = Harness::new().await;
    let alb = |ip: &str, n: usize| {
        json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/passkeys/6d0ecf831eec9f09"}},
            "httpMethod": "GET", "path": PAGE,
            "queryStringParameters": {"userID": ALICE, "codeID": format!("00000000-0000-4000-8000-{n:012}"), "code": "x"},
            "headers": {"host": "passkeys.example", "x-forwarded-for": ip},
            "isBase64Encoded": false
        })
    };
    for n in 0..70 {
        h.invoke(alb("203.0.113.66", n)).await;
    }
    // Another client, another address: still limited.
    let response = h.invoke(alb("198.51.100.1", 999)).await;
    assert_ne!(response["statusCode"], 429, "a client from another address is limited by someone else");
}

/// webauthn-rs 0.6 accepts credential ids up to 4096 bytes (WebAuthn says 1023). The id,
/// base64url'd, becomes the partition key `CREDENTIAL#{id}` of the credential index, and
/// DynamoDB refuses partition keys over 2048 bytes: a 1600-byte id (within the 16 KB body)
/// turns VerifyPasskeyRegistration (and the page's finish) into a 500.
#[tokio::test]
async fn credential_ids_over_webauthns_limit_are_refused() {
    let h = Harness::new().await;
    for len in [1023usize, 1600, 2500] {
        let (_, begun) = register(&h, ALICE, Some((ALICE, DEMO_ORG)), json!({})).await;
        let c = SoftAuthenticator::new()
            .with_credential_id_len(len)
            .register(&begun["publicKeyCredentialCreationOptions"], PAGE_ORIGIN)
            .unwrap();
        let (status, body) =
            verify(&h, ALICE, begun["passkeyId"].as_str().unwrap(), Some((ALICE, DEMO_ORG)), &c).await;
        assert!(status < 500, "credential id of {len} bytes: {status} {body}");
    }
}

#[tokio::test]
async fn weird_accept_language() {
    let h = Harness::new().await;
    // Weird Accept-Language headers on the page.
    for lang in ["", ",,,;;;q=", "*", &"x-".repeat(2000), "de;q=abc, \u{7f}"] {
        let mut e = request("GET", PAGE, None, None);
        e["rawQueryString"] = "userID=1&codeID=2&code=3".into();
        e["headers"]["accept-language"] = lang.into();
        let (status, _) = raw(&h, e).await;
        assert!(status < 500, "{lang:?}: {status}");
    }
}
