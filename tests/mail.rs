//! The e-mail people receive: every language rendered and compared with reviewed golden files
//! (`UPDATE_GOLDEN=1 cargo test --test mail` rewrites them), the link exactly once, the HTML
//! well-formed, hostile names escaped; per-organisation texts, sender name and SES tags
//! through the real handler.

mod common;

use std::time::Duration;

use common::*;
use send_passkey_link::config::Config;
use send_passkey_link::mail::sender::Sender;
use send_passkey_link::mail::{LinkMail, MailRenderer};

const LINK: &str = "https://id.demo.example/ui/login/login/passwordless/init?userID=100000000000000011&orgID=100000000000000001&codeID=0b6f3c2e-8d1a-4f5e-9c7b-2a1d3e4f5a6b&code=Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1enF1dXo";

/// Every element opened is closed, in order (void elements aside).
fn assert_well_formed(html: &str) {
    const VOID: [&str; 6] = ["meta", "br", "img", "hr", "input", "link"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if tag.starts_with('/') {
            assert_eq!(open.pop().as_deref(), Some(name.as_str()), "closing </{name}> out of order");
        } else if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

#[test]
fn every_language_matches_its_golden_file() {
    let renderer = MailRenderer::new().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for lang in renderer.languages() {
        let mail = renderer
            .render(&LinkMail {
                to: "alice@demo.example",
                display_name: Some("Alice Example"),
                name: &Default::default(),
                user_name: Some("alice@demo.example"),
                preferred_language: Some(lang),
                org_name: "Demo Corp",
                org_texts: None,
                instance_texts: None,
                link: LINK,
                lifetime: Duration::from_secs(3600),
            })
            .unwrap();
        assert_eq!(mail.text.matches(LINK).count(), 1, "{lang}: link once in the text part");
        assert_eq!(
            mail.html.matches(&LINK.replace('&', "&amp;")).count(),
            1,
            "{lang}: link once in the HTML"
        );
        assert!(!mail.html.contains(LINK), "{lang}: the & in the href is escaped");
        assert_well_formed(&mail.html);
        let rendered = format!("Subject: {}\n\n{}", mail.subject, mail.text);
        for (file, content) in
            [(format!("link.{lang}.txt"), rendered), (format!("link.{lang}.html"), mail.html.clone())]
        {
            let path = dir.join(&file);
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, &content).unwrap();
            }
            let golden =
                std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{file}: run with UPDATE_GOLDEN=1"));
            assert_eq!(content, golden, "{file} differs from the reviewed golden file");
        }
    }
}

#[test]
fn hostile_names_are_escaped_in_every_language() {
    let renderer = MailRenderer::new().unwrap();
    for lang in renderer.languages() {
        let mail = renderer
            .render(&LinkMail {
                to: "eve@demo.example",
                display_name: Some("<a href=\"https://evil.example\">click</a>\r\nBcc: x@evil.example"),
                name: &Default::default(),
                user_name: None,
                preferred_language: Some(lang),
                org_name: "<b>Org</b>",
                org_texts: None,
                instance_texts: None,
                link: LINK,
                lifetime: Duration::from_secs(900),
            })
            .unwrap();
        assert!(!mail.html.contains("evil.example\">") && !mail.html.contains("<b>"), "{lang}");
        assert!(mail.html.contains("&lt;a href="), "{lang}");
        assert_well_formed(&mail.html);
        assert!(!mail.subject.contains(['\r', '\n']), "{lang}");
    }
}

#[tokio::test]
async fn organisation_texts_and_sender_name_reach_the_inbox() {
    let h = Harness::new().await;
    let (status, body) = h.call(&event(Some((OTHER_OWNER, OTHER_ORG)), BOB, None)).await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&h.email_of("bob", "other.example"))[0];
    assert_eq!(mail["subject"], "Neuer Passkey für Ihr Other-Org-Konto");
    let text = mail["body"]["text"].as_str().unwrap();
    assert!(text.starts_with("Hallo Bob Other,"), "German defaults for the rest: {text}");
    assert!(text.contains("Fragen? Ihr IT-Service hilft gern weiter."), "the org's own closing line");
    assert!(text.contains("Wenn Sie das nicht angefragt haben"), "the ignore line stays beside it: {text}");
    assert!(text.contains("Der Link ist 1 Stunde gültig."));
    assert!(mail["from"].as_str().unwrap().contains("Other Org IT-Service"), "{}", mail["from"]);
    assert!(mail["from"].as_str().unwrap().contains("no-reply@demo.example"));
    // Demo Corp set no texts: Alice gets the English defaults from the default sender.
    let (status, _) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200);
    let mail = &mails_to(&h.email_of("alice", "demo.example"))[0];
    assert_eq!(mail["subject"], "Add a passkey to your account");
    assert!(mail["body"]["text"].as_str().unwrap().starts_with("Hello Alice Example,"));
}

/// The mailboxes a mail client reads in a From header: (display name, address) each.
fn from_mailboxes(header: &str) -> Vec<(Option<String>, Option<String>)> {
    let raw = format!("From: {header}\r\nSubject: x\r\n\r\nbody\r\n");
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a message");
    message
        .from()
        .map(|from| {
            from.iter().map(|a| (a.name().map(str::to_owned), a.address().map(str::to_owned))).collect()
        })
        .unwrap_or_default()
}

/// The display name used to go into `MAIL_FROM` as `Name <address>` unquoted: a comma made
/// two addresses of it and a non-ASCII name was no valid header at all.
#[tokio::test]
async fn a_sender_name_with_a_comma_quotes_or_umlauts_reaches_the_inbox_as_written() {
    for name in ["Acme, Inc.", "Anmeldung für Passkeys", r#"Say "hi" \o/"#] {
        // As infra/template.yaml sets them, and in MAIL_FROM's older `Name <address>` form.
        let variables = [
            ("no-reply@demo.example".to_owned(), Some(name)),
            (format!("{name} <no-reply@demo.example>"), None),
        ];
        for (mail_from, mail_from_name) in variables {
            if mail_from_name.is_none() && name.contains('"') {
                // Unquoted in MAIL_FROM a quote is ambiguous, so it is refused there.
                continue;
            }
            let config = Config::from_lookup(|variable| match variable {
                "TABLE_NAME" => Some("unused".into()),
                "MAIL_FROM" => Some(mail_from.clone()),
                "MAIL_FROM_NAME" => mail_from_name.map(str::to_owned),
                _ => None,
            })
            .unwrap();
            let h = Harness::with_sender(config.mail_from).await;
            let (status, body) = h.admin_sends_to_alice().await;
            assert_eq!(status, 200, "{name}: {body}");
            let mail = &mails_to(&h.email_of("alice", "demo.example"))[0];
            let from = mail["from"].as_str().unwrap();
            assert!(from.is_ascii(), "{from}");
            assert_eq!(
                from_mailboxes(from),
                [(Some(name.to_owned()), Some("no-reply@demo.example".to_owned()))],
                "{mail_from:?} {mail_from_name:?} sent as {from:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_send_carries_tags_that_lead_back_to_the_link() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_OK]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let request: serde_json::Value = serde_json::from_str(&stub.bodies()[0]).unwrap();
    let tags = request["EmailTags"].as_array().unwrap();
    assert!(
        tags.contains(&serde_json::json!({"Name": "purpose", "Value": "passkey-registration"})),
        "{tags:?}"
    );
    assert!(tags.contains(&serde_json::json!({"Name": "org", "Value": DEMO_ORG})), "{tags:?}");
    assert!(tags.contains(&serde_json::json!({"Name": "user", "Value": ALICE})), "{tags:?}");
    let code_id = h.items(ALICE, "PASSKEYLINK#").await[0]["codeId"].as_s().unwrap().clone();
    assert!(tags.contains(&serde_json::json!({"Name": "code", "Value": code_id})), "{tags:?}");
    assert!(request["Content"]["Simple"]["Body"]["Html"]["Data"].as_str().is_some(), "multipart: HTML");
    assert!(request["Content"]["Simple"]["Body"]["Text"]["Data"].as_str().is_some(), "multipart: text");
}

#[tokio::test]
async fn stored_template_mode_renders_the_same_mail_in_ses() {
    use send_passkey_link::mailer::ses::{put_template, SesMailer};
    let mut h = Harness::new().await;
    let sdk = send_passkey_link::aws::load().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let name = format!("passkey-link-{}", h.tag);
    let template = MailRenderer::new().unwrap().ses_template().unwrap();
    assert!(put_template(&ses, &name, &template).await.unwrap(), "created");
    assert!(!put_template(&ses, &name, &template).await.unwrap(), "then updated in place");
    h.api.links.mailer =
        SesMailer::new(ses, Sender::parse("Passkeys <no-reply@demo.example>", None).unwrap(), None)
            .with_template(Some(name));

    // A German user with a hostile display name: SES renders raw, so escaping is ours.
    let email = h.email_of("tmpl", "other.example");
    let user = send_passkey_link::model::UserId::parse("200000000000000077").unwrap();
    h.table
        .upsert_user(&send_passkey_link::store::dynamodb::admin::UserProfile {
            id: &user,
            org_id: &send_passkey_link::model::OrgId::parse(OTHER_ORG).unwrap(),
            kind: send_passkey_link::model::UserKind::Human,
            state: send_passkey_link::model::UserState::Active,
            email: Some(&email),
            display_name: Some("<script>x</script> & Co"),
            name: &Default::default(),
            preferred_language: Some("de"),
            user_name: None,
        })
        .await
        .unwrap();
    let (status, body) = h.call(&event(Some((OTHER_OWNER, OTHER_ORG)), user.as_str(), None)).await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&email)[0];
    assert_eq!(mail["subject"], "Neuer Passkey für Ihr Other-Org-Konto", "org override, via the template");
    let html = mail["body"]["html"].as_str().unwrap();
    let text = mail["body"]["text"].as_str().unwrap();
    assert!(html.contains("Hallo &lt;script&gt;x&lt;/script&gt; &amp; Co,"), "{html}");
    assert!(!html.contains("<script>"));
    assert!(text.starts_with("Hallo <script>x</script> & Co,"), "the text part is plain: {text}");
    let (_, code, link) = link_in(mail);
    assert_eq!(html.matches(&link.replace('&', "&amp;")).count(), 1, "{html}");
    assert_eq!(text.matches(&link).count(), 1);
    assert!(!code.is_empty());
    assert_well_formed(html);
}

#[tokio::test]
async fn a_stored_spoofing_sender_name_and_subject_are_neutralised() {
    use send_passkey_link::message_text::{CustomTexts, MessageText, StoredText};
    let h = Harness::new().await;
    let texts = CustomTexts {
        sender_name: Some("=?UTF-8?B?c2VjdXJpdHlAYmFuay5leGFtcGxl?=\u{202E}".into()),
        languages: std::collections::BTreeMap::from([(
            "en".to_owned(),
            StoredText {
                text: MessageText {
                    subject: Some("Add\u{2028}a passkey\u{2066}\u{200B} =?UTF-8?Q?now?=".into()),
                    ..MessageText::default()
                },
                ..StoredText::default()
            },
        )]),
    };
    let demo = send_passkey_link::model::OrgId::parse(DEMO_ORG).unwrap();
    h.store_texts_unchecked(send_passkey_link::store::TextLevel::Org(demo), texts).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&h.email_of("alice", "demo.example"))[0];
    let subject = mail["subject"].as_str().unwrap();
    assert_eq!(subject, "Adda passkey UTF-8?Q?now?=");
    let from = mail["from"].as_str().unwrap();
    assert!(!from.contains("=?"), "no encoded-word in the sender: {from:?}");
    assert!(!from.contains('\u{202E}'), "{from:?}");
    assert!(from.contains("no-reply@demo.example"), "{from:?}");
}
