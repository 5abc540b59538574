use super::*;

#[test]
fn example_seed_parses() {
    let seed = Seed::from_json(include_str!("../../seed/demo.json")).unwrap();
    assert!(!seed.orgs.is_empty());
}

#[test]
fn bad_ids_and_unknown_fields_are_refused() {
    assert!(Seed::from_json(r#"{"orgs":[{"id":"a/b","name":"x"}]}"#).is_err());
    assert!(
        Seed::from_json(r#"{"orgs":[{"id":"o","name":"x","users":[{"id":"u","email":"no-at"}]}]}"#).is_err()
    );
    assert!(Seed::from_json(r#"{"orgz":[]}"#).is_err());
    assert!(
        Seed::from_json(r#"{"orgs":[{"id":"o","name":"x","users":[{"id":"u","type":"robot"}]}]}"#).is_err()
    );
}

#[test]
fn names_take_zitadel_s_v2_or_v1_spelling_but_not_both() {
    let user = |fields: &str| {
        Seed::from_json(&format!(r#"{{"orgs":[{{"id":"o","name":"x","users":[{{"id":"u",{fields}}}]}}]}}"#))
    };
    let v2 = user(r#""givenName":"Ada","familyName":"Lovelace","nickName":"Countess""#).unwrap();
    let v1 = user(r#""firstName":"Ada","lastName":"Lovelace","nickName":"Countess""#).unwrap();
    for seed in [&v2, &v1] {
        let u = &seed.orgs[0].users[0];
        assert_eq!(
            (u.given_name.as_deref(), u.family_name.as_deref(), u.nick_name.as_deref()),
            (Some("Ada"), Some("Lovelace"), Some("Countess"))
        );
    }
    assert!(user(r#""givenName":"Ada","firstName":"Ada""#).is_err());
}

fn refusal(json: &str) -> String {
    Seed::from_json(json).unwrap_err().to_string()
}

#[test]
fn a_file_that_would_overwrite_itself_is_refused() {
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a"},{"id":"1","name":"b"}]}"#);
    assert!(err.contains("org 1 appears twice"), "{err}");
    let err = refusal(
        r#"{"orgs":[{"id":"1","name":"a","users":[{"id":"7"}]},{"id":"2","name":"b","users":[{"id":"7"}]}]}"#,
    );
    assert!(err.contains("user 7 appears twice"), "{err}");
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a","users":[{"id":"7"},{"id":"7"}]}]}"#);
    assert!(err.contains("user 7 appears twice"), "{err}");
    let err = refusal(
        r#"{"orgs":[{"id":"1","name":"a","members":[{"userId":"7","roles":[]},{"userId":"7","roles":["ORG_OWNER"]}]}]}"#,
    );
    assert!(err.contains("member of org 1 7 appears twice"), "{err}");
    let err = refusal(r#"{"instanceMembers":[{"userId":"7","roles":[]},{"userId":"7","roles":[]}]}"#);
    assert!(err.contains("instance member 7 appears twice"), "{err}");
}

#[test]
fn spoofing_mail_texts_are_refused_naming_org_and_field() {
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a","mailTexts":{"senderName":"=?UTF-8?B?YQ==?="}}]}"#);
    assert!(err.contains("mailTexts of org 1: senderName: an RFC 2047 encoded-word"), "{err}");
    let err =
        refusal(r#"{"orgs":[{"id":"1","name":"a","mailTexts":{"languages":{"fr":{"button":"ok\u202e"}}}}]}"#);
    assert!(err.contains("mailTexts of org 1: languages.fr.buttonText: invisible"), "{err}");
}

#[test]
fn seeded_texts_are_checked_as_the_text_api_checks_them() {
    let err = refusal(
        r#"{"orgs":[{"id":"1","name":"a","mailTexts":{"languages":{"de":{"text":"{{.Password}}"}}}}]}"#,
    );
    assert!(err.contains("mailTexts of org 1: languages.de.text: unknown variable {{.Password}}"), "{err}");
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a","mailTexts":{"languages":{"d e":{}}}}]}"#);
    assert!(err.contains("languages.d e: "), "{err}");
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a","mailTexts":{"languages":{"de":{},"DE":{}}}}]}"#);
    assert!(err.contains("de is listed twice"), "{err}");
    let many: Vec<String> = (0..21).map(|i| format!(r#""l{}":{{}}"#, (b'a' + i) as char)).collect();
    let err = refusal(&format!(r#"{{"instanceMailTexts":{{"languages":{{{}}}}}}}"#, many.join(",")));
    assert!(err.contains("instanceMailTexts: texts for 21 languages, at most 20"), "{err}");
    let err = refusal(r#"{"instanceMailTexts":{"senderName":"x"}}"#);
    assert!(err.contains("instanceMailTexts: senderName is per organisation"), "{err}");
}

#[test]
fn unknown_roles_are_refused_per_level() {
    let err = refusal(r#"{"orgs":[{"id":"1","name":"a","members":[{"userId":"7","roles":["ORG_ONWER"]}]}]}"#);
    assert!(err.contains("unknown role \"ORG_ONWER\" for user 7 in the members of org 1"), "{err}");
    let err = refusal(r#"{"instanceMembers":[{"userId":"7","roles":["ORG_OWNER"]}]}"#);
    assert!(err.contains("unknown role \"ORG_OWNER\" for user 7 in instanceMembers"), "{err}");
    let custom = RolePermissions::from_json(r#"{"instance":{},"org":{"HELPDESK":["user.write"]}}"#).unwrap();
    let text = r#"{"orgs":[{"id":"1","name":"a","members":[{"userId":"7","roles":["HELPDESK"]}]}]}"#;
    assert!(Seed::from_json_with(text, &custom).is_ok());
    assert!(Seed::from_json(text).is_err());
}

#[test]
fn user_names_are_bounded_visible_and_link_free() {
    let user = |fields: &str| {
        Seed::from_json(&format!(r#"{{"orgs":[{{"id":"o","name":"x","users":[{{"id":"u",{fields}}}]}}]}}"#))
    };
    let fine = user(r#""givenName":"Jean-Luc","familyName":"O'Brien Jr.","nickName":"Dr. Who""#);
    assert!(fine.is_ok(), "{:?}", fine.err().map(|e| e.to_string()));
    assert!(user(&format!(r#""givenName":"{}""#, "é".repeat(200))).is_ok());
    for (fields, expected) in [
        (
            format!(r#""givenName":"{}""#, "é".repeat(201)),
            r#"givenName of user "u": 201 characters, at most 200"#,
        ),
        (
            r#""familyName":"Ada\u200b""#.into(),
            r#"familyName of user "u": invisible or control character U+200B"#,
        ),
        (r#""nickName":"Ada\nBcc""#.into(), r#"nickName of user "u": invisible or control character U+000A"#),
        (
            r#""nickName":"see evil.example/x""#.into(),
            r#"nickName of user "u": names the host "evil.example""#,
        ),
        (r#""givenName":"https:/evil""#.into(), r#"givenName of user "u": names the host "evil""#),
        (r#""lastName":"ｅｖｉｌ．ｅｘａｍｐｌｅ""#.into(), r#"familyName of user "u": names the host"#),
    ] {
        let err = user(&fields).unwrap_err().to_string();
        assert!(err.contains(expected), "{fields}: {err}");
    }
}
