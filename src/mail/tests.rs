use std::collections::BTreeMap;

use super::*;
use crate::message_text::StoredText;

static NO_NAME: PersonName = PersonName { given_name: None, family_name: None, nick_name: None };

fn mail<'a>(lang: Option<&'a str>, name: Option<&'a str>, org: Option<&'a CustomTexts>) -> LinkMail<'a> {
    LinkMail {
        to: "a@example.com",
        display_name: name,
        name: &NO_NAME,
        user_name: Some("alice"),
        preferred_language: lang,
        org_name: "Demo Corp",
        org_texts: org,
        instance_texts: None,
        link: "https://id.example.com/init?userID=1&code=abc",
        lifetime: Duration::from_secs(3600),
    }
}

fn texts(sender: Option<&str>, lang: &str, text: MessageText) -> CustomTexts {
    CustomTexts {
        sender_name: sender.map(str::to_owned),
        languages: BTreeMap::from([(lang.to_owned(), StoredText { text, ..Default::default() })]),
    }
}

#[test]
fn language_falls_back_to_english() {
    for (preferred, lang) in [
        (Some("de-CH"), "de"),
        (Some("FR"), "fr"),
        (Some("es_MX"), "es"),
        (Some("ja"), "en"),
        (Some(""), "en"),
        (Some("<x>"), "en"),
        (None, "en"),
    ] {
        assert_eq!(MailRenderer::built_in_language(&reader_language(preferred)), lang, "{preferred:?}");
    }
}

#[test]
fn built_in_texts_pass_the_checks_the_api_applies() {
    let r = MailRenderer::new().unwrap();
    for (lang, t) in &r.texts {
        assert_eq!(t.message.check(), Ok(()), "{lang}");
    }
}

#[test]
fn hostile_display_name_is_escaped_and_kept_out_of_headers() {
    let r = MailRenderer::new().unwrap();
    let out = r.render(&mail(None, Some("<script>alert(1)</script>\r\nBcc: x@evil"), None)).unwrap();
    assert!(!out.html.contains("<script>"));
    assert!(out.html.contains("&lt;script&gt;"));
    assert!(!out.subject.contains('\n'));
    assert_eq!(out.html.matches("https://id.example.com/init?userID=1&amp;code=abc").count(), 1);
    assert_eq!(out.text.matches("https://id.example.com/init?userID=1&code=abc").count(), 1);
}

#[test]
fn org_texts_replace_only_what_they_set_then_the_instance_then_built_in() {
    let r = MailRenderer::new().unwrap();
    let org = texts(
        Some("Demo IT\r\nBcc: x"),
        "de",
        MessageText { subject: Some("Neuer Passkey für {{.OrgName}}".into()), ..Default::default() },
    );
    let instance = texts(
        None,
        "de",
        MessageText {
            subject: Some("Instanz".into()),
            footer_text: Some("Fragen?\n<b>Hilfe</b>".into()),
            ..Default::default()
        },
    );
    let mut m = mail(Some("de-AT"), Some("Alice"), Some(&org));
    m.instance_texts = Some(&instance);
    let de = r.render(&m).unwrap();
    assert_eq!(de.subject, "Neuer Passkey für Demo Corp");
    assert!(de.text.contains("Passkey registrieren"), "the rest stays German default");
    assert!(de.text.contains("Fragen?\n<b>Hilfe</b>"), "the instance's footer");
    assert!(de.html.contains("Fragen?<br>\n&lt;b&gt;Hilfe&lt;/b&gt;"), "{}", de.html);
    assert!(de.html.contains("<html lang=\"de-AT\">"));
    assert_eq!(de.sender_name.as_deref(), Some("Demo IT  Bcc x"));
    let en = r.render(&mail(Some("en"), Some("Alice"), Some(&org))).unwrap();
    assert_eq!(en.subject, "Add a passkey to your account");
}

#[test]
fn texts_for_a_language_without_built_in_texts_are_used() {
    let r = MailRenderer::new().unwrap();
    let org = texts(None, "ja", MessageText { subject: Some("パスキー".into()), ..Default::default() });
    let out = r.render(&mail(Some("ja-JP"), Some("Alice"), Some(&org))).unwrap();
    assert_eq!(out.subject, "パスキー");
    assert!(out.text.contains("Register passkey"), "English for the rest");
    assert!(out.html.contains("<html lang=\"ja-JP\">"));
}

#[test]
fn spoofing_sender_names_and_subjects_are_neutralised_at_send() {
    let r = MailRenderer::new().unwrap();
    let mut org = texts(
        None,
        "en",
        MessageText { subject: Some("Reset\u{2028}now\u{2066}\u{FEFF} =?x?=".into()), ..Default::default() },
    );
    org.sender_name = Some("=?UTF-8?B?YmFua0BleGFtcGxl?= \u{202E}TI omeD".into());
    let out = r.render(&mail(Some("en"), Some("Alice"), Some(&org))).unwrap();
    assert_eq!(out.subject, "Resetnow x?=");
    assert_eq!(out.sender_name.as_deref(), Some("UTF-8?B?YmFua0BleGFtcGxl?= TI omeD"));
}

#[test]
fn look_alikes_cannot_make_a_sender_name_read_as_an_address() {
    // Seeded, this name reached SES as the From line
    // `security＠bank.example ＜security＠bank.example＞ <no-reply@demo.example>`.
    let name = "security\u{FF20}bank.example \u{FF1C}security\u{FF20}bank.example\u{FF1E}";
    assert!(crate::message_text::check_sender_name(name).is_err(), "accepted {name}");
    assert_eq!(sender_text(name), "securitybank.example securitybank.example");
}

/// A non-ASCII name is sent as an encoded-word, which clients decode: the address syntax
/// inside it came out as a second, fake address (sender.rs strips it at send).
#[test]
fn sender_names_cannot_carry_an_address() {
    for name in ["Bänk Security <security@bank.example>", "CEO, Bank <ceo@bank.example>", "a@b", "x\"y"] {
        let err = crate::message_text::check_sender_name(name).unwrap_err();
        assert!(err.starts_with("senderName:"), "{name}: {err}");
    }
}

#[test]
fn greetings_without_a_name() {
    let r = MailRenderer::new().unwrap();
    assert!(r.render(&mail(Some("en"), None, None)).unwrap().text.starts_with("Hello there,"));
    assert!(r.render(&mail(Some("fr"), Some("  "), None)).unwrap().text.starts_with("Bonjour,"));
}

#[test]
fn durations_read_naturally_in_each_language() {
    let r = MailRenderer::new().unwrap();
    assert_eq!(human_duration(Duration::from_secs(3600), &r.texts["en"]), "1 hour");
    assert_eq!(human_duration(Duration::from_secs(7200), &r.texts["de"]), "2 Stunden");
    assert_eq!(human_duration(Duration::from_secs(86_400), &r.texts["fr"]), "1 jour");
    assert_eq!(human_duration(Duration::from_secs(90), &r.texts["es"]), "2 minutos");
}
