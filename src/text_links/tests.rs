use super::*;

fn footer(value: &str) -> MessageText {
    MessageText { footer_text: Some(value.into()), ..Default::default() }
}

fn allowed() -> Vec<String> {
    parse_allowed_hosts(" Help.Demo.Example., demo.example ,").unwrap()
}

fn check(value: &str) -> Result<(), String> {
    check_links(&footer(value), "id.example.com", &allowed())
}

fn assert_refused(bad: &str) {
    let err = check(bad).unwrap_err();
    assert!(err.starts_with("footerText: links and addresses may only name id.example.com"), "{bad}: {err}");
}

#[test]
fn allowed_hosts_are_host_names() {
    assert_eq!(allowed(), ["help.demo.example", "demo.example"]);
    assert_eq!(parse_allowed_hosts("").unwrap(), Vec::<String>::new());
    assert_eq!(parse_allowed_hosts("bücher.example").unwrap(), ["bücher.example"]);
    for bad in ["https://a.example", "a.example/x", "*.a.example", "a@b.example", "a..b", "-a.example", "a b"]
    {
        assert!(parse_allowed_hosts(bad).is_err(), "{bad}");
    }
}

#[test]
fn only_the_links_host_and_allowed_hosts_pass() {
    for ok in [
        "Questions? it@demo.example",
        "See https://id.example.com/help or ID.example.com.",
        "https://help.demo.example:8443/faq?x=https://evil.example",
        "Version 1.2.3, e.g. a file, z.B. hier",
        "{{.UserName}}, welcome to {{.OrgName}}.",
        "https://ｉｄ．ｅｘａｍｐｌｅ．ｃｏｍ/help",
        "(see https://demo.example/a_(b)) and [docs](https://demo.example/help)",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
    for bad in [
        "https://evil.example",
        "evil.example/x",
        "www.evil.example",
        "mail us: help@evil.example",
        "http://demo.example@evil.example/",
        "https://demo.example.evil.example",
        "https://{{.UserName}}.evil.example",
        "evil\u{3002}example/login",
        "ftp://evil.example",
        "Node.js",
        "(https://demo.example)evil.example",
        "<https://demo.example>evil.example",
    ] {
        assert_refused(bad);
    }
}

#[test]
fn full_width_and_dot_look_alikes_are_read_as_browsers_read_them() {
    for bad in [
        "https://ｅｖｉｌ．ｅｘａｍｐｌｅ/login",
        "ｅｖｉｌ．ｅｘａｍｐｌｅ",
        "evil\u{FE52}example/x",
        "evil\u{2024}example/x",
        "evil\u{FF0E}example/x",
        "evil\u{FF61}example/x",
        "ｈｔｔｐｓ：／／evil.example",
    ] {
        assert_refused(bad);
    }
}

#[test]
fn every_character_idna_reads_as_a_dot_is_one() {
    let mut found = 0;
    for c in (0..=0x10FFFF).filter_map(char::from_u32).filter(|c| !c.is_ascii()) {
        let candidate = format!("evil{c}example");
        let Ok(Host::Domain(domain)) = Host::parse(&candidate) else { continue };
        if domain.ends_with(".example") && domain.starts_with("evil") {
            found += 1;
            assert!(check(&candidate).is_err(), "U+{:04X}", c as u32);
        }
    }
    assert!(found >= 3, "{found}");
}

#[test]
fn scheme_forms_browsers_accept_are_urls() {
    for bad in [
        "https:/evil.example/login",
        "https:///evil.example/login",
        "https:\\\\evil.example",
        "https:\\evil.example/login",
        "https:evil.example",
        "//evil.example/login",
        "see //evil.example",
        "\\\\evil.example",
        "foo://evil",
        "http://localhost/",
    ] {
        assert_refused(bad);
    }
}

#[test]
fn ip_hosts_are_refused_in_any_form() {
    for (bad, shown) in [
        ("http://3232235777/login", "192.168.1.1"),
        ("http://127.1/login", "127.0.0.1"),
        ("http://0x7f.0.0.1/", "127.0.0.1"),
        ("http://[::ffff:c633:640a]/login", "[::ffff:c633:640a]"),
        ("http://[::1]/", "[::1]"),
        ("//3232235777/x", "192.168.1.1"),
        ("192.168.1.1/login", "192.168.1.1"),
        ("10.0.0.1:8080", "10.0.0.1"),
        ("root@10.0.0.1", "10.0.0.1"),
        ("open [::1] now", "[::1]"),
    ] {
        let err = check(bad).unwrap_err();
        assert!(err.ends_with(&format!("not {shown:?}")), "{bad}: {err}");
    }
    let ip_allowed = parse_allowed_hosts("192.168.1.1").unwrap();
    assert_eq!(check_links(&footer("http://3232235777/login"), "id.example.com", &ip_allowed), Ok(()));
    assert_eq!(check_links(&footer("http://[::1]:8080/x"), "::1", &[]), Ok(()));
}

#[test]
fn odd_bare_forms_are_host_names() {
    for bad in [
        "/evil.example",
        "a/evil.example",
        "-evil.example",
        "@evil.example",
        "\"a b\"@evil.example",
        "evil%2Eexample/x",
        "evil%252Eexample/x",
        "evil.exa_mple/x",
        "evil.xn--p1ai",
        "Bücher.example",
        "account.Open",
    ] {
        assert_refused(bad);
    }
}

#[test]
fn ordinary_prose_passes() {
    for ok in [
        "e.g. this, i.e. that, etc.",
        "version 2.5, 3.5 mm, 1.5x zoom, rated 4.5/5, 2.5GB",
        "Version 1.2.3.4 is out.",
        "Dr. Who and Mr. Smith from the U.S.A. wait...",
        "100% sure; 50%off",
        "Ph.D. a.m. p.m. z.B. u.a.",
        "See: the list / and // comments",
        "日本語です。次の文です。Passkey を作成してください。",
        "请点击按钮。谢谢！",
        "Note:/path and note: here",
        "http: the protocol",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
}

#[test]
fn first_host_finds_any_host() {
    assert_eq!(first_host("Ada"), None);
    assert_eq!(first_host("Dr. Who"), None);
    assert_eq!(first_host("Ada evil.example"), Some("evil.example".into()));
    assert_eq!(first_host("https:/x"), Some("x".into()));
}
