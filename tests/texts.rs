//! ZITADEL's text API for the passwordless registration message, through the real handler on
//! the local stack: set, get and reset at both levels, the mail reflecting each, the fallback
//! order, the permission matrix, hostile texts, events and sequences, and the seed writing
//! what the API writes.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use send_passkey_link::seed::Seed;
use serde_json::{json, Value};

const MGMT: &str = "/management/v1/text/message/passwordless_registration";
const MGMT_DEFAULT: &str = "/management/v1/text/default/message/passwordless_registration";
const ADMIN: &str = "/admin/v1/text/message/passwordless_registration";
const ADMIN_DEFAULT: &str = "/admin/v1/text/default/message/passwordless_registration";
const HELPDESK_PERMISSION_EDITOR: &str = HELPDESK;

type Caller = Option<(&'static str, &'static str)>;

/// method, route, caller, `x-zitadel-orgid`, expected status.
type Case = (&'static str, &'static str, Caller, Option<&'static str>, u16);

fn demo_admin() -> Option<(&'static str, &'static str)> {
    Some((DEMO_ADMIN, DEMO_ORG))
}

fn instance_owner() -> Option<(&'static str, &'static str)> {
    Some((INSTANCE_OWNER, INSTANCE_ORG))
}

/// An HTTP API v2 event: `method` on `base/language` from `caller`, with `body`.
fn text_call(
    method: &str,
    base: &str,
    language: &str,
    caller: Option<(&str, &str)>,
    org_header: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut e = event(caller, ALICE, org_header);
    let path = format!("{base}/{language}");
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["requestContext"]["http"]["method"] = method.into();
    let route = format!("{method} {base}/{{language}}");
    e["routeKey"] = route.clone().into();
    e["requestContext"]["routeKey"] = route.into();
    e["pathParameters"] = json!({ "language": language });
    match body {
        Some(b) => e["body"] = b.to_string().into(),
        None => {
            e.as_object_mut().unwrap().remove("body");
        }
    }
    e
}

impl Harness {
    async fn text(
        &self,
        method: &str,
        base: &str,
        language: &str,
        caller: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(&text_call(method, base, language, caller, None, body)).await
    }

    /// The subject and text part of the last mail Alice got after the admin sent her a link.
    async fn alice_mail(&self) -> (String, String, String) {
        let (status, body) = self.admin_sends_to_alice().await;
        assert_eq!(status, 200, "{body}");
        let mails = mails_to(&self.email_of("alice", "demo.example"));
        let mail = mails.last().unwrap();
        (
            mail["subject"].as_str().unwrap().to_owned(),
            mail["body"]["text"].as_str().unwrap().to_owned(),
            mail["body"]["html"].as_str().unwrap().to_owned(),
        )
    }
}

fn s<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default()
}

#[tokio::test]
async fn an_org_text_is_set_read_reset_and_the_mail_follows_each_step() {
    let h = Harness::new().await;
    let (subject, text, _) = h.alice_mail().await;
    assert_eq!(subject, "Add a passkey to your account");
    assert!(text.starts_with("Hello Alice Example,"), "{text}");

    let (status, body) = h.text("GET", MGMT, "en", demo_admin(), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customText"]["isDefault"], true, "nothing set yet: {body}");
    assert_eq!(body["customText"]["subject"], "Add a passkey to your account");
    assert_eq!(body["customText"]["greeting"], "Hello {{.DisplayName}},");
    assert!(body["customText"].get("details").is_none(), "{body}");

    let set = json!({
        "title": "Passkey for {{.OrgName}}",
        "subject": "{{.DisplayName}}, add a passkey at {{.OrgName}}",
        "greeting": "Hi {{.UserName}},",
        "text": "Line one\nline two <b>not bold</b>",
        "footerText": "Questions? it@demo.example"
    });
    let (status, body) = h.text("PUT", MGMT, "en", demo_admin(), Some(set.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "5", "one event per field set: {body}");
    assert_eq!(body["details"]["resourceOwner"], DEMO_ORG);
    assert!(body["details"]["changeDate"].as_str().unwrap().ends_with('Z'));

    let (status, body) = h.text("GET", MGMT, "en", demo_admin(), None).await;
    assert_eq!(status, 200, "{body}");
    let custom = &body["customText"];
    assert!(custom.get("isDefault").is_none(), "its own text: {body}");
    assert_eq!(custom["subject"], set["subject"]);
    assert!(custom.get("buttonText").is_none(), "only the org's own fields, as ZITADEL answers");
    assert_eq!(custom["details"]["sequence"], "5");
    assert_eq!(custom["details"]["resourceOwner"], DEMO_ORG);
    assert_eq!(custom["details"]["creationDate"], custom["details"]["changeDate"]);

    let (subject, text, html) = h.alice_mail().await;
    assert_eq!(subject, "Alice Example, add a passkey at Demo Corp");
    let alice = h.email_of("alice", "demo.example");
    assert!(text.starts_with(&format!("Hi {alice},")), "{text}");
    assert!(text.contains("Line one\nline two <b>not bold</b>"), "{text}");
    assert!(text.contains("Register passkey"), "the built-in button text fills in");
    assert!(text.contains("Questions? it@demo.example"));
    assert!(html.contains("Line one<br>\nline two &lt;b&gt;not bold&lt;/b&gt;"), "{html}");
    assert!(html.contains("<title>Passkey for Demo Corp</title>"), "{html}");

    // The same PUT again changes nothing and writes nothing.
    let (status, body) = h.text("PUT", MGMT, "en", demo_admin(), Some(set)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "5");

    let (status, body) = h.text("DELETE", MGMT, "en", demo_admin(), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "6");
    let (_, body) = h.text("GET", MGMT, "en", demo_admin(), None).await;
    assert_eq!(body["customText"]["isDefault"], true, "{body}");
    let (subject, _, _) = h.alice_mail().await;
    assert_eq!(subject, "Add a passkey to your account");

    let (status, body) = h.text("DELETE", MGMT, "en", demo_admin(), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_id(&body), "Org-3b8Jf");

    let events = h.partition(&format!("TEXTS#ORG#{DEMO_ORG}"), "EVENT#").await;
    let kinds: Vec<(&str, &str)> = events.iter().map(|e| (s(e, "eventType"), s(e, "key"))).collect();
    assert_eq!(
        kinds,
        [
            ("org.customtext.set", "Title"),
            ("org.customtext.set", "Subject"),
            ("org.customtext.set", "Greeting"),
            ("org.customtext.set", "Text"),
            ("org.customtext.set", "Footer"),
            ("org.customtext.template.removed", ""),
        ]
    );
    assert!(events.iter().all(|e| s(e, "editorUserId") == DEMO_ADMIN && s(e, "language") == "en"));
    assert!(events.iter().all(|e| s(e, "template") == "PasswordlessRegistration"));
}

#[tokio::test]
async fn texts_fall_back_org_then_instance_then_built_in_field_by_field() {
    let h = Harness::new().await;
    let instance =
        json!({"subject": "Instance subject", "footerText": "Instance footer", "buttonText": "Go"});
    let (status, body) = h.text("PUT", ADMIN, "en", instance_owner(), Some(instance)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "3");
    assert!(body["details"].get("resourceOwner").is_none(), "the instance has no organisation");

    // Management's default is the instance's text over the built-in one.
    let (status, body) = h.text("GET", MGMT_DEFAULT, "en", demo_admin(), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customText"]["isDefault"], true);
    assert_eq!(body["customText"]["subject"], "Instance subject");
    assert_eq!(body["customText"]["title"], "Add a passkey to your account");
    // Admin's default is the built-in one.
    let (_, body) = h.text("GET", ADMIN_DEFAULT, "en", instance_owner(), None).await;
    assert_eq!(body["customText"]["subject"], "Add a passkey to your account");
    let (_, body) = h.text("GET", ADMIN, "en", instance_owner(), None).await;
    assert_eq!(body["customText"]["subject"], "Instance subject");
    assert!(body["customText"].get("isDefault").is_none());

    let (subject, text, _) = h.alice_mail().await;
    assert_eq!(subject, "Instance subject");
    assert!(text.contains("Go: http"), "{text}");
    assert!(text.contains("Instance footer"));

    let org = json!({"subject": "Org subject"});
    let (status, _) = h.text("PUT", MGMT, "en", demo_admin(), Some(org)).await;
    assert_eq!(status, 200);
    h.calls.take();
    let (subject, text, _) = h.alice_mail().await;
    assert_eq!(
        h.calls.take(),
        ["DynamoDB.BatchGetItem", "DynamoDB.TransactWriteItems", "SESv2.SendEmail"],
        "both levels' texts come in the batch the send reads anyway"
    );
    assert_eq!(subject, "Org subject");
    assert!(text.contains("Go: http") && text.contains("Instance footer"), "{text}");
    assert!(text.starts_with("Hello Alice Example,"), "built-in greeting: {text}");

    // A regional reader gets the texts of its language; another language, built-in ones.
    let (status, _) = h.text("PUT", MGMT, "de", demo_admin(), Some(json!({"subject": "Org Betreff"}))).await;
    assert_eq!(status, 200);
    let (status, body) = h.text("DELETE", ADMIN, "en", instance_owner(), None).await;
    assert_eq!(status, 200, "{body}");
    let (subject, text, _) = h.alice_mail().await;
    assert_eq!(subject, "Org subject");
    assert!(text.contains("Register passkey: http"), "instance text reset: {text}");
}

#[tokio::test]
async fn a_language_without_built_in_texts_can_be_written_and_is_mailed() {
    let h = Harness::new().await;
    let (status, body) =
        h.text("PUT", MGMT, "ja-jp", demo_admin(), Some(json!({"subject": "パスキーを追加"}))).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = h.text("GET", MGMT, "ja-JP", demo_admin(), None).await;
    assert_eq!(body["customText"]["subject"], "パスキーを追加", "stored under the canonical tag");
    let (_, body) = h.text("GET", MGMT, "ja", demo_admin(), None).await;
    assert_eq!(body["customText"]["isDefault"], true, "GET answers the exact tag");
    assert_eq!(body["customText"]["subject"], "Add a passkey to your account", "English built-in");
}

#[tokio::test]
async fn who_may_read_and_change_which_texts() {
    let h = Harness::new().await;
    let body = || Some(json!({"subject": "x"}));
    let other_owner = Some((OTHER_OWNER, OTHER_ORG));
    let helpdesk = Some((HELPDESK_PERMISSION_EDITOR, DEMO_ORG));
    let cases: Vec<Case> = vec![
        // Management: policy.read / policy.write / policy.delete in the organisation.
        ("GET", MGMT, demo_admin(), None, 200),
        ("GET", MGMT_DEFAULT, demo_admin(), None, 200),
        ("GET", MGMT, helpdesk, None, 200),
        ("PUT", MGMT, helpdesk, None, 403),
        ("DELETE", MGMT, helpdesk, None, 403),
        ("GET", MGMT, other_owner, Some(DEMO_ORG), 403),
        ("PUT", MGMT, other_owner, Some(DEMO_ORG), 403),
        ("PUT", MGMT, instance_owner(), Some(DEMO_ORG), 200),
        ("PUT", MGMT, instance_owner(), Some("999999999999999999"), 404),
        ("PUT", MGMT, demo_admin(), None, 200),
        ("GET", MGMT, None, None, 401),
        // Admin: instance roles only; an organisation's owner holds no iam.policy.*.
        ("GET", ADMIN, instance_owner(), None, 200),
        ("GET", ADMIN_DEFAULT, instance_owner(), None, 200),
        ("PUT", ADMIN, instance_owner(), None, 200),
        ("GET", ADMIN, demo_admin(), None, 403),
        ("GET", ADMIN_DEFAULT, demo_admin(), None, 403),
        ("PUT", ADMIN, demo_admin(), None, 403),
        ("DELETE", ADMIN, demo_admin(), None, 403),
        ("PUT", ADMIN, demo_admin(), Some(DEMO_ORG), 403),
        ("DELETE", ADMIN, None, None, 401),
    ];
    for (method, base, caller, org, expected) in cases {
        let payload = if method == "PUT" { body() } else { None };
        let (status, answer) = h.call(&text_call(method, base, "de", caller, org, payload)).await;
        assert_eq!(status, expected, "{method} {base} as {caller:?} in {org:?}: {answer}");
        if expected == 403 {
            assert_eq!(error_id(&answer), "AUTH-5mWD2");
        }
    }
    // Other orgs' texts are untouched by all of it.
    let (_, answer) = h.text("GET", MGMT, "de", other_owner, None).await;
    assert_eq!(answer["customText"]["subject"], "Neuer Passkey für Ihr Other-Org-Konto", "{answer}");
}

#[tokio::test]
async fn hostile_texts_and_languages_are_refused_naming_what() {
    let h = Harness::new().await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "en",
            json!({"subject": "Hi\r\nBcc: x@evil.example"}),
            "TEXT-Vf4Qm",
            "subject: control character U+000A",
        ),
        ("en", json!({"text": "Hi\rBcc: x@evil.example"}), "TEXT-Vf4Qm", "text: control character U+000D"),
        (
            "en",
            json!({"greeting": "{{.Password}}"}),
            "TEXT-Vf4Qm",
            "greeting: unknown variable {{.Password}}",
        ),
        (
            "en",
            json!({"text": "{{.VerifiedPhone}}"}),
            "TEXT-Vf4Qm",
            "text: {{.VerifiedPhone}} is not available here",
        ),
        ("en", json!({"text": "{{template \"x\"}}"}), "TEXT-Vf4Qm", "is not a variable"),
        ("en", json!({"text": "{{.DisplayName | html}}"}), "TEXT-Vf4Qm", "is not a variable"),
        ("en", json!({"text": "open {{.UserName"}), "TEXT-Vf4Qm", "is not closed"),
        ("en", json!({"title": "x".repeat(201)}), "TEXT-Vf4Qm", "title: 201 characters"),
        ("en", json!({"buttonText": "Go\u{202E}"}), "TEXT-Vf4Qm", "buttonText: invisible"),
        ("en", json!({"subject": "=?UTF-8?B?QQ==?="}), "TEXT-Vf4Qm", "encoded-word"),
        ("en", json!({"subject": 7}), "TEXT-Vf4Qm", "subject must be a string"),
        ("und", json!({"subject": "x"}), "LANG-3M9f2", "undetermined"),
        ("english", json!({"subject": "x"}), "LANG-3M9f2", "not a BCP 47 language tag"),
        ("en-u-ca-gregory", json!({"subject": "x"}), "LANG-3M9f2", "extensions"),
        ("%E2%80%AEen", json!({"subject": "x"}), "LANG-3M9f2", "not a BCP 47"),
        ("%ZZ", json!({"subject": "x"}), "LANG-3M9f2", "percent-encoding"),
    ];
    for (language, body, id, says) in cases {
        let (status, answer) = h.text("PUT", MGMT, language, demo_admin(), Some(body.clone())).await;
        assert_eq!(status, 400, "{language} {body}: {answer}");
        assert_eq!(error_id(&answer), id, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(says), "{says}: {answer}");
    }
    let (status, answer) = h.call(&text_call("PUT", MGMT, "en", demo_admin(), None, None)).await.clone();
    assert_eq!(status, 200, "an empty body sets nothing: {answer}");
    let mut e = text_call("PUT", MGMT, "en", demo_admin(), None, None);
    e["body"] = "[1,2]".into();
    let (status, answer) = h.call(&e).await;
    assert_eq!((status, error_id(&answer)), (400, "HTTP-Bd7Jn"), "{answer}");
    assert!(h
        .partition(&format!("TEXTS#ORG#{DEMO_ORG}"), "")
        .await
        .iter()
        .all(|i| s(i, "sk") != "#MAILTEXTS"));

    // Text that is stored is only ever text in the mail: escaped in HTML, one line in headers.
    let html = json!({"text": "<a href=\"https://demo.example\">click</a>", "title": "<script>x</script>"});
    let (status, _) = h.text("PUT", MGMT, "en", demo_admin(), Some(html)).await;
    assert_eq!(status, 200);
    let (_, _, mail_html) = h.alice_mail().await;
    assert!(!mail_html.contains("<a href=\"https://demo.example\">") && !mail_html.contains("<script>"));
    assert!(mail_html.contains("&lt;a href=&quot;https://demo.example&quot;&gt;click&lt;/a&gt;"));
}

#[tokio::test]
async fn the_seed_writes_what_the_api_writes_and_reseeding_changes_nothing() {
    let h = Harness::new().await;
    // The demo seed gave Other Org German texts through the
    // same change the API makes: events, sequence, details.
    let other = Some((OTHER_OWNER, OTHER_ORG));
    let (status, body) = h.text("GET", MGMT, "de", other, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customText"]["subject"], "Neuer Passkey für Ihr Other-Org-Konto");
    assert!(body["customText"]["footerText"].as_str().unwrap().starts_with("Fragen?"));
    assert_eq!(body["customText"]["details"]["sequence"], "2");
    let events = h.partition(&format!("TEXTS#ORG#{OTHER_ORG}"), "EVENT#").await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| s(e, "editorUserId") == "passkey-admin"));

    let seed_text = include_str!("../seed/demo.json").replace("@", &format!("+{}@", h.tag));
    let applied = Seed::from_json(&seed_text).unwrap().apply(&h.table).await.unwrap();
    assert!(applied.changed.is_empty() && applied.created.is_empty(), "{applied:?}");
    assert_eq!(h.partition(&format!("TEXTS#ORG#{OTHER_ORG}"), "EVENT#").await.len(), 2);

    // The API's change survives a re-seed of other languages.
    let (status, _) = h.text("PUT", MGMT, "en", other, Some(json!({"subject": "Via API"}))).await;
    assert_eq!(status, 200);
    Seed::from_json(&seed_text).unwrap().apply(&h.table).await.unwrap();
    let (_, body) = h.text("GET", MGMT, "en", other, None).await;
    assert_eq!(body["customText"]["subject"], "Via API");
}

#[tokio::test]
async fn the_connect_paths_take_the_language_from_the_body_and_answer_connect_errors() {
    let h = Harness::new().await;
    let connect = |path: &str, caller: Option<(&str, &str)>, body: Value| {
        let mut e = text_call("POST", path, "x", caller, None, Some(body));
        e["rawPath"] = path.into();
        e["requestContext"]["http"]["path"] = path.into();
        e.as_object_mut().unwrap().remove("pathParameters");
        e
    };
    let set = "/zitadel.management.v1.ManagementService/SetCustomPasswordlessRegistrationMessageCustomText";
    let (status, body) =
        h.call(&connect(set, demo_admin(), json!({"language": "de", "subject": "Über Connect"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "1");
    let get = "/zitadel.management.v1.ManagementService/GetCustomPasswordlessRegistrationMessageText";
    let (_, body) = h.call(&connect(get, demo_admin(), json!({"language": "de"}))).await;
    assert_eq!(body["customText"]["subject"], "Über Connect");
    let (status, body) = h.call(&connect(get, demo_admin(), json!({}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    let mut wrong_version = connect(get, demo_admin(), json!({"language": "de"}));
    wrong_version["headers"]["connect-protocol-version"] = "2".into();
    let (status, body) = h.call(&wrong_version).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("connect-protocol-version must be 1"), "{body}");
    let admin_get = "/zitadel.admin.v1.AdminService/GetCustomPasswordlessRegistrationMessageText";
    let (status, body) = h.call(&connect(admin_get, demo_admin(), json!({"language": "de"}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("permission_denied")), "{body}");
    let (status, body) = h.call(&connect(admin_get, instance_owner(), json!({"language": "de"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customText"]["isDefault"], true);
}

#[tokio::test]
async fn texts_an_older_seed_stored_are_still_read_and_can_be_changed_through_the_api() {
    let h = Harness::new().await;
    let legacy =
        r#"{"senderName":"Demo IT","languages":{"en":{"greeting":"Hey {name}!","ignore":"Old footer"}}}"#;
    h.table
        .client()
        .put_item()
        .table_name(h.table.name())
        .item("pk", AttributeValue::S(format!("ORG#{DEMO_ORG}")))
        .item("sk", AttributeValue::S("#MAILTEXTS".into()))
        .item("orgId", AttributeValue::S(DEMO_ORG.into()))
        .item("texts", AttributeValue::S(legacy.into()))
        .send()
        .await
        .unwrap();
    let (_, text, _) = h.alice_mail().await;
    assert!(text.starts_with("Hey Alice Example!"), "{text}");
    assert!(text.contains("Old footer"));
    let (status, body) =
        h.text("PUT", MGMT, "en", demo_admin(), Some(json!({"footerText": "New footer"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "2", "greeting removed, footer changed: {body}");
    let (_, text, _) = h.alice_mail().await;
    assert!(text.starts_with("Hello Alice Example,") && text.contains("New footer"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_to_one_text_stay_gapless_and_never_blame_a_user() {
    let h = std::sync::Arc::new(Harness::new().await);
    let mut puts = tokio::task::JoinSet::new();
    for i in 0..16 {
        let h = h.clone();
        puts.spawn(async move {
            h.text("PUT", MGMT, "en", demo_admin(), Some(json!({"subject": format!("S{i}")}))).await
        });
    }
    let answers = puts.join_all().await;
    let mut ok = 0;
    for (status, body) in &answers {
        match status {
            200 => ok += 1,
            409 => assert_eq!(error_id(body), "TEXT-Cf8Rt", "{body}"),
            _ => panic!("{status} {body}"),
        }
    }
    assert!(ok > 0);
    let events = h.partition(&format!("TEXTS#ORG#{DEMO_ORG}"), "EVENT#").await;
    let sequences: Vec<u64> = events.iter().map(|e| e["sequence"].as_n().unwrap().parse().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn reseeding_while_the_api_writes_retries_instead_of_failing() {
    let h = Harness::new().await;
    let other = Some((OTHER_OWNER, OTHER_ORG));
    for round in 0..6 {
        let seed_text = include_str!("../seed/demo.json")
            .replace("@", &format!("+{}@", h.tag))
            .replace("Other Org IT-Service", &format!("Other Org IT {round}"));
        let seed = Seed::from_json(&seed_text).unwrap();
        let put = h.text("PUT", MGMT, "en", other, Some(json!({"subject": format!("Round {round}")})));
        let (applied, (status, body)) = tokio::join!(seed.apply(&h.table), put);
        applied.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn a_regional_reader_s_get_answers_what_they_are_mailed() {
    let h = Harness::new().await;
    let (status, _) = h.text("PUT", MGMT, "de", demo_admin(), Some(json!({"subject": "Org DE"}))).await;
    assert_eq!(status, 200);
    let (_, body) = h.text("GET", MGMT, "de-CH", demo_admin(), None).await;
    assert_eq!(body["customText"]["isDefault"], true, "no de-CH text of its own: {body}");
    assert_eq!(body["customText"]["subject"], "Org DE", "{body}");
    assert_eq!(body["customText"]["details"]["resourceOwner"], DEMO_ORG);
    let (_, body) = h.text("GET", MGMT_DEFAULT, "de-CH", demo_admin(), None).await;
    assert_eq!(
        body["customText"]["subject"], "Passkey zu Ihrem Konto hinzufügen",
        "the default is not the org's"
    );
}

#[tokio::test]
async fn the_caller_s_right_is_checked_before_the_input() {
    let h = Harness::new().await;
    let bad = || Some(json!({"text": "{{.X}}"}));
    let (status, body) =
        h.call(&text_call("PUT", MGMT, "en", Some((OTHER_OWNER, OTHER_ORG)), Some(DEMO_ORG), bad())).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) =
        h.call(&text_call("PUT", MGMT, "not a tag", Some((HELPDESK, DEMO_ORG)), None, bad())).await;
    assert_eq!((status, error_id(&body)), (403, "AUTH-5mWD2"), "{body}");
    let (status, body) = h.text("PUT", MGMT, "%", demo_admin(), bad()).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("a language tag is required"), "{body}");
}

#[tokio::test]
async fn a_display_name_cannot_reorder_or_hide_what_the_mail_shows() {
    let h = Harness::new().await;
    let mut user = h.user_item(ALICE).await;
    user.insert("displayName".into(), AttributeValue::S("Al\u{202E}ice\u{200B} <b>x</b>".into()));
    h.table.client().put_item().table_name(h.table.name()).set_item(Some(user)).send().await.unwrap();
    let texts = json!({"title": "For {{.DisplayName}}", "buttonText": "Go {{.DisplayName}}"});
    let (status, _) = h.text("PUT", MGMT, "en", demo_admin(), Some(texts)).await;
    assert_eq!(status, 200);
    let (subject, text, html) = h.alice_mail().await;
    for part in [&subject, &text, &html] {
        assert!(!part.contains('\u{202E}') && !part.contains('\u{200B}'), "{part}");
    }
    assert!(text.starts_with("Hello Alice <b>x</b>,"), "{text}");
    assert!(
        html.contains("For Alice &lt;b&gt;x&lt;&#x2f;b&gt;")
            || html.contains("For Alice &lt;b&gt;x&lt;/b&gt;"),
        "{html}"
    );
}

/// The PUT answer's status and message, and the org's English text as stored afterwards.
async fn put_and_read(h: &Harness, body: Value) -> (u16, String, Value) {
    let (status, answer) = h.text("PUT", MGMT, "en", demo_admin(), Some(body)).await;
    let message = answer["message"].as_str().unwrap_or_default().to_owned();
    let (_, stored) = h.text("GET", MGMT, "en", demo_admin(), None).await;
    (status, message, stored["customText"].clone())
}

#[tokio::test]
async fn texts_may_only_link_to_the_link_s_host_and_allowed_hosts() {
    let h = Harness::new().await;
    for (body, field) in [
        (json!({"text": "Confirm at https://evil.example first."}), "text"),
        (json!({"footerText": "Help: evil.example/x"}), "footerText"),
        (json!({"greeting": "Hi, write to help@evil.example"}), "greeting"),
    ] {
        let (status, message, stored) = put_and_read(&h, body.clone()).await;
        assert_eq!(status, 400, "{body}: {message}");
        assert!(
            message.contains(&format!("{field}: links and addresses may only name localhost")),
            "{message}"
        );
        assert!(message.contains("evil.example"), "{message}");
        assert_eq!(stored["isDefault"], true, "nothing written: {stored}");
    }
    // The link's own host (LINK_URL_TEMPLATE's) and an allow-listed one (TEXT_ALLOWED_HOSTS).
    let fine = json!({
        "text": "Or open http://localhost:8080/ui/login yourself.",
        "footerText": "Questions? it@demo.example or https://demo.example/help"
    });
    let (status, message, stored) = put_and_read(&h, fine.clone()).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(stored["footerText"], fine["footerText"]);
}

#[tokio::test]
async fn links_spelt_as_browsers_read_them_are_refused() {
    let h = Harness::new().await;
    for (footer, host) in [
        ("Help: https://ｅｖｉｌ．ｅｘａｍｐｌｅ/login", "evil.example"),
        ("Help: https:/evil.example/login", "evil.example"),
        ("Help: http://3232235777/login", "192.168.1.1"),
    ] {
        let (status, message, stored) = put_and_read(&h, json!({ "footerText": footer })).await;
        assert_eq!(status, 400, "{footer}: {message}");
        assert!(message.contains("footerText: links and addresses may only name localhost"), "{message}");
        assert!(message.contains(&format!("not \"{host}\"")), "{message}");
        assert_eq!(stored["isDefault"], true, "nothing written: {stored}");
    }
}

#[tokio::test]
async fn line_breaks_cannot_push_the_ignore_line_out_of_view() {
    let h = Harness::new().await;
    for (body, expected) in [
        (
            json!({ "text": format!("{}x", "\n".repeat(1999)) }),
            "text: 1999 line breaks, at most 20 are allowed",
        ),
        (json!({ "footerText": "Bye\n\n\n\nIT" }), "footerText: more than 2 blank lines in a row"),
    ] {
        let (status, message, stored) = put_and_read(&h, body).await;
        assert_eq!((status, message.contains(expected)), (400, true), "{message}");
        assert_eq!(stored["isDefault"], true, "nothing written: {stored}");
    }
    let fine = json!({ "text": "Hello,\n\nplease add a passkey.\n\n\nThanks" });
    let (status, message, stored) = put_and_read(&h, fine.clone()).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(stored["text"], fine["text"]);
}

#[tokio::test]
async fn invisible_and_blank_characters_are_refused_naming_the_field() {
    let h = Harness::new().await;
    for c in ['\u{3164}', '\u{115F}', '\u{1160}', '\u{FE0F}', '\u{034F}', '\u{2800}'] {
        let (status, message, stored) = put_and_read(&h, json!({ "greeting": format!("Hi{c},") })).await;
        assert_eq!(status, 400, "U+{:04X}: {message}", c as u32);
        assert!(
            message
                .contains(&format!("greeting: invisible or direction-changing character U+{:04X}", c as u32)),
            "{message}"
        );
        assert_eq!(stored["isDefault"], true);
    }
}

#[tokio::test]
async fn the_ignore_line_stays_in_the_mail_whatever_the_footer_says() {
    let h = Harness::new().await;
    let ignore = "If you did not ask for this, ignore this e-mail: nothing changes on your account.";
    let (_, text, html) = h.alice_mail().await;
    assert_eq!(text.matches(ignore).count(), 1, "once without a footer: {text}");
    assert_eq!(html.matches(ignore).count(), 1, "{html}");
    let (status, _) =
        h.text("PUT", MGMT, "en", demo_admin(), Some(json!({"footerText": "Sent by Demo IT."}))).await;
    assert_eq!(status, 200);
    let (_, text, html) = h.alice_mail().await;
    for part in [&text, &html] {
        assert!(part.contains(ignore) && part.contains("Sent by Demo IT."), "{part}");
    }
    let (_, body) = h.text("GET", MGMT_DEFAULT, "en", demo_admin(), None).await;
    assert!(body["customText"].get("footerText").is_none(), "no built-in footer, as in ZITADEL: {body}");
}

#[tokio::test]
async fn too_long_fields_are_refused_naming_the_field() {
    let h = Harness::new().await;
    for (field, max) in [
        ("title", 200),
        ("preHeader", 200),
        ("subject", 200),
        ("greeting", 200),
        ("text", 2000),
        ("buttonText", 200),
        ("footerText", 1000),
    ] {
        let (status, message, _) = put_and_read(&h, json!({ field: "日".repeat(max + 1) })).await;
        assert_eq!(status, 400, "{field}: {message}");
        assert!(message.contains(&format!("{field}: {} characters, at most {max}", max + 1)), "{message}");
        let (status, message, stored) = put_and_read(&h, json!({ field: "日".repeat(max) })).await;
        assert_eq!(status, 200, "{field} at the limit ({} bytes): {message}", 3 * max);
        assert_eq!(stored[field].as_str().unwrap().chars().count(), max);
    }
}

#[tokio::test]
async fn an_unknown_field_is_refused_and_writes_nothing() {
    let h = Harness::new().await;
    let (status, _) = h.text("PUT", MGMT, "en", demo_admin(), Some(json!({"subject": "Mine"}))).await;
    assert_eq!(status, 200);
    let (status, message, stored) = put_and_read(&h, json!({"subjet": "x"})).await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("\"subjet\" is not a field of this message text"), "{message}");
    assert_eq!(stored["subject"], "Mine", "{stored}");

    let set = "/zitadel.management.v1.ManagementService/SetCustomPasswordlessRegistrationMessageCustomText";
    let mut e =
        text_call("POST", set, "x", demo_admin(), None, Some(json!({"language": "en", "subjet": "x"})));
    e["rawPath"] = set.into();
    e["requestContext"]["http"]["path"] = set.into();
    e.as_object_mut().unwrap().remove("pathParameters");
    let (status, body) = h.call(&e).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_argument")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("\"subjet\""), "{body}");
    let (_, stored) = h.text("GET", MGMT, "en", demo_admin(), None).await;
    assert_eq!(stored["customText"]["subject"], "Mine", "{stored}");
}

#[tokio::test]
async fn names_fill_first_last_and_nick_name_and_are_empty_when_not_kept() {
    let h = Harness::new().await;
    let user = h.user_item(ALICE).await;
    assert_eq!(
        (s(&user, "givenName"), s(&user, "familyName"), s(&user, "nickName")),
        ("Alice", "Example", "Ali")
    );
    let names = json!({"text": "[{{.FirstName}}|{{.LastName}}|{{.NickName}}]"});
    let (status, body) = h.text("PUT", MGMT, "en", demo_admin(), Some(names)).await;
    assert_eq!(status, 200, "{body}");
    let (_, text, html) = h.alice_mail().await;
    assert!(text.contains("[Alice|Example|Ali]") && html.contains("[Alice|Example|Ali]"), "{text}");

    let nameless = "100000000000000099";
    let email = h.email_of("nameless", "demo.example");
    h.table
        .upsert_user(&send_passkey_link::store::dynamodb::admin::UserProfile {
            id: &send_passkey_link::model::UserId::parse(nameless).unwrap(),
            org_id: &send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap(),
            kind: send_passkey_link::model::UserKind::Human,
            state: send_passkey_link::model::UserState::Active,
            email: Some(&email),
            display_name: None,
            name: &Default::default(),
            preferred_language: Some("en"),
            user_name: None,
        })
        .await
        .unwrap();
    let (status, body) = h.call(&event(demo_admin(), nameless, None)).await;
    assert_eq!(status, 200, "{body}");
    let mail = mails_to(&email).pop().unwrap();
    let text = mail["body"]["text"].as_str().unwrap();
    assert!(text.contains("[||]"), "{text}");
}
