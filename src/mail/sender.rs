//! The From header: the configured address with a display name, the configured one or an
//! organisation's own, written the one way [`mailbox`] writes any name: quoted (RFC 5322)
//! when it is plain ASCII, else as RFC 2047 encoded-words, so a comma, a quote or an umlaut
//! stays part of the name instead of splitting or breaking the header SES parses.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Characters of a configured display name (`MAIL_FROM_NAME`; infra/template.yaml's
/// `SenderName` takes as many).
pub const MAX_NAME_CHARS: usize = 64;

/// The configured sender: `MAIL_FROM`'s address and the display name from `MAIL_FROM_NAME`
/// or from `MAIL_FROM`'s older `Name <address>` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: Option<String>,
    pub address: String,
}

impl Sender {
    /// `mail_from` is a bare address or `Name <address>` (the name optionally quoted);
    /// `name` is `MAIL_FROM_NAME`. On error: the variable at fault and why.
    pub fn parse(mail_from: &str, name: Option<&str>) -> Result<Self, (&'static str, String)> {
        let (legacy_name, address) = split_name_addr(mail_from.trim())
            .ok_or(("MAIL_FROM", "must be one e-mail address, e.g. no-reply@example.com".to_owned()))?;
        let name = match (legacy_name, name) {
            (Some(_), Some(_)) => {
                return Err((
                    "MAIL_FROM_NAME",
                    "MAIL_FROM already has a display name: set its address alone".into(),
                ))
            }
            (Some(legacy), None) => Some(legacy),
            (None, name) => name.map(|n| n.trim().to_owned()),
        };
        if let Some(name) = &name {
            let variable = if legacy_name_given(mail_from) { "MAIL_FROM" } else { "MAIL_FROM_NAME" };
            check_name(name).map_err(|reason| (variable, reason))?;
        }
        Ok(Self { name: name.filter(|n| !n.is_empty()), address: address.to_owned() })
    }

    /// The From header with the configured display name.
    pub fn header(&self) -> String {
        mailbox(self.name.as_deref(), &self.address)
    }

    /// The From header with an organisation's sender name instead of the configured one:
    /// its texts are not the operator's, so nothing in the name may read as an address.
    pub fn header_with_org_name(&self, name: &str) -> String {
        mailbox(Some(&super::sender_text(name)), &self.address)
    }
}

fn legacy_name_given(mail_from: &str) -> bool {
    mail_from.contains('<')
}

/// `(name, address)` of `Name <address>`, `"Name" <address>` or `address`; `None` unless
/// the address is one plain addr-spec.
fn split_name_addr(raw: &str) -> Option<(Option<String>, &str)> {
    let (name, address) = match raw.split_once('<') {
        None => (None, raw),
        Some((name, rest)) => {
            let address = rest.strip_suffix('>')?;
            let name = name.trim();
            let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                Some(quoted) => unquote(quoted)?,
                None if name.contains(['"', '\\']) => return None,
                None => name.to_owned(),
            };
            (Some(name), address)
        }
    };
    valid_address(address).then_some((name, address))
}

/// The content of a quoted-string: `\x` stands for `x`; a bare `"` or a trailing `\` ends
/// nothing here, so it is refused.
fn unquote(quoted: &str) -> Option<String> {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// One addr-spec as SES takes it: ASCII, one `@`, no spaces, brackets or other specials.
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= 254
        && address.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
        && !domain.contains('@')
}

fn check_name(name: &str) -> Result<(), String> {
    if name.chars().any(char::is_control) {
        return Err("the display name must not hold line breaks or other control characters".into());
    }
    if let Some(c) = name.chars().find(|c| crate::invisible::is_invisible(*c)) {
        return Err(format!(
            "the display name must not hold invisible or direction-changing characters (U+{:04X})",
            c as u32
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("the display name must be at most {MAX_NAME_CHARS} characters"));
    }
    Ok(())
}

/// Base64 of 45 bytes is 60 characters: with `=?UTF-8?B?` and `?=` a word stays within the
/// 75 characters RFC 2047 allows.
const ENCODED_WORD_BYTES: usize = 45;

/// `name <address>` as a From header holds it, or the bare address for no (or an empty) name.
/// Control characters become spaces, so nothing can start another header line.
pub fn mailbox(name: Option<&str>, address: &str) -> String {
    let name: String =
        name.unwrap_or_default().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let name = name.trim();
    if name.is_empty() {
        return address.to_owned();
    }
    // `=?` in a quoted name would still be decoded as an encoded-word by some clients; as
    // encoded-words it reads back exactly as written.
    if name.bytes().all(|b| (b' '..=b'~').contains(&b)) && !name.contains("=?") {
        let mut quoted = String::with_capacity(name.len() + 2);
        quoted.push('"');
        for c in name.chars() {
            if matches!(c, '"' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        return format!("{quoted} <{address}>");
    }
    let mut words = Vec::new();
    let mut start = 0;
    while start < name.len() {
        let mut end = (start + ENCODED_WORD_BYTES).min(name.len());
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&name.as_bytes()[start..end])));
        start = end;
    }
    format!("{} <{address}>", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(mail_from: &str, name: Option<&str>) -> Sender {
        Sender::parse(mail_from, name).unwrap()
    }

    #[test]
    fn plain_ascii_names_are_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(mailbox(Some("Acme, Inc."), "a@x.example"), r#""Acme, Inc." <a@x.example>"#);
        assert_eq!(mailbox(Some(r#"Say "hi" \o/"#), "a@x.example"), r#""Say \"hi\" \\o/" <a@x.example>"#);
        assert_eq!(mailbox(Some("  "), "a@x.example"), "a@x.example");
        assert_eq!(mailbox(None, "a@x.example"), "a@x.example");
        assert_eq!(mailbox(Some("A\r\nBcc: b@x"), "a@x.example"), r#""A  Bcc: b@x" <a@x.example>"#);
    }

    #[test]
    fn other_names_are_encoded_words_of_at_most_75_characters() {
        assert_eq!(mailbox(Some("Müller"), "a@x.example"), "=?UTF-8?B?TcO8bGxlcg==?= <a@x.example>");
        assert_eq!(
            mailbox(Some("=?UTF-8?B?QQ==?="), "a@x.example"),
            format!("=?UTF-8?B?{}?= <a@x.example>", STANDARD.encode("=?UTF-8?B?QQ==?="))
        );
        let long = "Anmeldung für Passkeys – Ünïcödé GmbH & Co. KG, Zweigstelle Süd";
        let header = mailbox(Some(long), "a@x.example");
        let (words, address) = header.rsplit_once(' ').unwrap();
        assert_eq!(address, "<a@x.example>");
        let mut decoded = Vec::new();
        for word in words.split(' ') {
            assert!(word.len() <= 75, "{word}");
            let b64 = word.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
            let bytes = STANDARD.decode(b64).unwrap();
            assert!(std::str::from_utf8(&bytes).is_ok(), "each word holds whole characters");
            decoded.extend(bytes);
        }
        assert!(words.contains(' '), "{header}");
        assert_eq!(String::from_utf8(decoded).unwrap(), long);
    }

    #[test]
    fn mail_from_is_an_address_and_mail_from_name_its_name() {
        assert_eq!(
            sender("no-reply@x.example", None),
            Sender { name: None, address: "no-reply@x.example".into() }
        );
        let named = sender("no-reply@x.example", Some(" Acme, Inc. "));
        assert_eq!(named.name.as_deref(), Some("Acme, Inc."));
        assert_eq!(named.header(), r#""Acme, Inc." <no-reply@x.example>"#);
        assert_eq!(sender("no-reply@x.example", Some("")).name, None);
    }

    #[test]
    fn the_older_name_and_address_form_still_reads() {
        assert_eq!(
            sender("Passkeys <no-reply@x.example>", None),
            Sender { name: Some("Passkeys".into()), address: "no-reply@x.example".into() }
        );
        assert_eq!(sender(r#""Acme, \"Inc\"" <a@x.example>"#, None).name.as_deref(), Some(r#"Acme, "Inc""#));
        assert_eq!(
            sender("Anmeldung für Passkeys <a@x.example>", None).name.as_deref(),
            Some("Anmeldung für Passkeys")
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_variable_at_fault() {
        for bad in [
            "",
            "no-reply",
            "a@b@c",
            "a@b, c@d",
            "Name <a@b",
            "Name <a@b> x",
            "a b@c",
            "Na\"me <a@b>",
            "\"Name <a@b>",
            "<>",
            "Name <>",
        ] {
            assert_eq!(Sender::parse(bad, None).unwrap_err().0, "MAIL_FROM", "{bad:?}");
        }
        assert_eq!(Sender::parse("Line\nbreak <a@b>", None).unwrap_err().0, "MAIL_FROM");
        // A right-to-left override shows the name's end first; a zero-width space hides.
        for bad in
            ["Line\r\nBcc: x@y", &"x".repeat(MAX_NAME_CHARS + 1), "Bank\u{202E}moc.knab", "Ba\u{200B}nk"]
        {
            assert_eq!(Sender::parse("a@b", Some(bad)).unwrap_err().0, "MAIL_FROM_NAME", "{bad:?}");
        }
        assert_eq!(
            sender("a@b", Some(&"ü".repeat(MAX_NAME_CHARS))).name.unwrap().chars().count(),
            MAX_NAME_CHARS
        );
        assert_eq!(Sender::parse("Passkeys <a@b>", Some("Other")).unwrap_err().0, "MAIL_FROM_NAME");
    }

    #[test]
    fn an_organisations_name_loses_what_reads_as_an_address() {
        let s = sender("Passkeys <no-reply@x.example>", None);
        assert_eq!(s.header_with_org_name("Demo \"IT\""), r#""Demo IT" <no-reply@x.example>"#);
        assert_eq!(s.header_with_org_name("CEO, Bank"), r#""CEO Bank" <no-reply@x.example>"#);
        assert_eq!(s.header_with_org_name("==??=\u{200B}?Bank"), r#""Bank" <no-reply@x.example>"#);
        assert_eq!(
            s.header_with_org_name("Bänk Security <security@bank.example>"),
            format!(
                "=?UTF-8?B?{}?= <no-reply@x.example>",
                STANDARD.encode("Bänk Security securitybank.example")
            )
        );
    }
}
