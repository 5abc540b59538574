use super::*;

#[test]
fn language_tags_are_canonical_or_refused() {
    for (raw, canonical) in [
        ("de", "de"),
        ("DE", "de"),
        ("de-ch", "de-CH"),
        ("de_CH", "de-CH"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("sr-Latn", "sr-Latn"),
        ("es-419", "es-419"),
        ("sl-rozaj-biske", "sl-rozaj-biske"),
        ("de-CH-1901", "de-CH-1901"),
        ("gsw", "gsw"),
    ] {
        assert_eq!(canonical_language(raw).as_deref(), Ok(canonical), "{raw}");
    }
    for raw in [
        "",
        "d",
        "deutsch",
        "de-",
        "de--CH",
        "12",
        "de-CH-CH",
        "de-CH-1901-1901",
        "en-US-x-twain",
        "en-a-bbb",
        "und",
        "de/../x",
        "de CH",
        "de-ÄÖ",
        &"de-".repeat(20),
    ] {
        assert!(canonical_language(raw).is_err(), "{raw:?}");
    }
    assert!(canonical_language("en-u-ca-gregory").unwrap_err().contains("extensions"));
}

#[test]
fn only_known_variables_parse() {
    assert_eq!(
        parse("Hi {{.DisplayName}} from {{ .OrgName }}").unwrap(),
        vec![
            Piece::Literal("Hi "),
            Piece::Var(Variable::DisplayName),
            Piece::Literal(" from "),
            Piece::Var(Variable::OrgName)
        ]
    );
    assert!(parse("{{.Secret}}")
        .unwrap_err()
        .starts_with("unknown variable {{.Secret}}; known: {{.DisplayName}}"));
    assert_eq!(parse("{{.NickName}}").unwrap(), vec![Piece::Var(Variable::NickName)]);
    assert!(parse("{{.VerifiedPhone}}").unwrap_err().contains("not available here"));
    for bad in
        ["{{define \"x\"}}", "{{.DisplayName | html}}", "{{template \"a\"}}", "{{}}", "{{ . }}", "a {{.X"]
    {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(parse("a }} b { c").unwrap(), vec![Piece::Literal("a }} b { c")]);
}

#[test]
fn filling_keeps_values_on_one_line_and_drops_the_space_before_an_empty_one() {
    let values = Values {
        display_name: "Ada\r\nBcc: x\u{202E}",
        first_name: "Ada",
        last_name: "",
        nick_name: "",
        user_name: "ada",
        email: "a@x",
        org_name: "De\u{200B}mo",
    };
    assert_eq!(fill("Hello {{.DisplayName}}, {{.OrgName}}", &values), "Hello Ada  Bcc: x, Demo");
    let nameless = Values { display_name: "", ..values };
    assert_eq!(fill("Bonjour {{.DisplayName}},", &nameless), "Bonjour,");
    assert_eq!(fill("{{.Unknown}} stays", &nameless), "{{.Unknown}} stays");
}

#[test]
fn checks_name_the_field() {
    let text = |f: fn(&mut MessageText)| {
        let mut t = MessageText::default();
        f(&mut t);
        t.check()
    };
    assert_eq!(text(|t| t.text = Some("line 1\nline 2 {{.UserName}}".into())), Ok(()));
    assert!(text(|t| t.subject = Some("a\nBcc: x".into()))
        .unwrap_err()
        .starts_with("subject: control character U+000A"));
    assert!(text(|t| t.title = Some("x".repeat(201))).unwrap_err().starts_with("title: 201 characters"));
    assert!(text(|t| t.button_text = Some("ok\u{202E}".into()))
        .unwrap_err()
        .starts_with("buttonText: invisible"));
    assert!(text(|t| t.greeting = Some("=?UTF-8?B?QQ==?=".into()))
        .unwrap_err()
        .starts_with("greeting: an RFC 2047"));
    assert!(text(|t| t.footer_text = Some("{{.Nope}}".into()))
        .unwrap_err()
        .starts_with("footerText: unknown variable"));
}

#[test]
fn fallback_is_field_by_field_and_empty_means_unset() {
    let crlf = MessageText { text: Some("a\r\nb".into()), ..Default::default() }.normalised();
    assert_eq!(crlf.text.as_deref(), Some("a\nb"));
    assert_eq!(crlf.check(), Ok(()));
    let org = MessageText { subject: Some("Org".into()), text: Some(" ".into()), ..Default::default() }
        .normalised();
    let instance =
        MessageText { subject: Some("Inst".into()), text: Some("Inst text".into()), ..Default::default() };
    let merged = org.or(&instance);
    assert_eq!(merged.subject.as_deref(), Some("Org"));
    assert_eq!(merged.text.as_deref(), Some("Inst text"));
    assert_eq!(merged.title, None);
}

#[test]
fn a_legacy_greeting_uses_the_display_name_variable() {
    let mut t = MessageText { greeting: Some("Hallo {name},".into()), ..Default::default() };
    t.upgrade_legacy();
    assert_eq!(t.greeting.as_deref(), Some("Hallo {{.DisplayName}},"));
    let legacy: MessageText = serde_json::from_str(r#"{"intro":"i","button":"b","ignore":"f"}"#).unwrap();
    assert_eq!(
        (legacy.text.as_deref(), legacy.button_text.as_deref(), legacy.footer_text.as_deref()),
        (Some("i"), Some("b"), Some("f"))
    );
}

#[test]
fn line_breaks_cannot_push_the_ignore_line_out_of_view() {
    let text = |value: String| MessageText { text: Some(value), ..Default::default() }.check();
    let footer = |value: String| MessageText { footer_text: Some(value), ..Default::default() }.check();
    assert_eq!(text(format!("{}x", "a\n".repeat(20))), Ok(()));
    assert_eq!(text("Hello,\n\n\nbye".into()), Ok(()));
    assert_eq!(
        text(format!("{}x", "\n".repeat(1999))),
        Err("text: 1999 line breaks, at most 20 are allowed".into())
    );
    assert_eq!(
        footer(format!("{}x", "a\n".repeat(21))),
        Err("footerText: 21 line breaks, at most 20 are allowed".into())
    );
    assert_eq!(
        footer("Hello,\n\n \n\nbye".into()),
        Err("footerText: more than 2 blank lines in a row".into())
    );
}
