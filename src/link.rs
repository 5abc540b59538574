//! The registration link: its secret, the hash that is stored instead of it, and the URL.
//!
//! The secret leaves this process only inside the e-mail. It has no `Display`, its `Debug`
//! is redacted, and only [`LinkSecret::hash`] goes to the store.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::model::{OrgId, UserId};

/// 256 bits: twice the floor the contract sets, so a plain SHA-256 of it cannot be brute-forced
/// and no slow password hash is needed.
const SECRET_BYTES: usize = 32;

pub struct LinkSecret(String);

impl LinkSecret {
    /// A fresh secret from the operating system's CSPRNG, base64url without padding.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The value to store and to compare against when the link is used.
    pub fn hash(&self) -> String {
        hash_code(&self.0)
    }

    /// The raw secret, for the one place that needs it: the link in the e-mail.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret(<redacted>)")
    }
}

/// Lower-case hex SHA-256 of a code as it appears in a link.
pub fn hash_code(code: &str) -> String {
    Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The configurable link shape, with placeholders `{userID}`, `{orgID}`, `{codeID}`, `{code}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(String);

pub const CODE_PLACEHOLDER: &str = "{code}";
const PLACEHOLDERS: [&str; 4] = ["{userID}", "{orgID}", "{codeID}", CODE_PLACEHOLDER];
/// ZITADEL's limit on a request's `urlTemplate`.
pub const MAX_REQUEST_TEMPLATE_LEN: usize = 200;

impl UrlTemplate {
    /// Rejects templates that could not carry the code or would send it in clear text over
    /// the network: plain http is allowed only for a login UI on this machine (a loopback
    /// host: `localhost`, `127.0.0.0/8`, `[::1]`), as ZITADEL's own login runs in development.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if !raw.contains(CODE_PLACEHOLDER) {
            return Err(format!("must contain the placeholder {CODE_PLACEHOLDER}"));
        }
        let bare = PLACEHOLDERS.iter().fold(raw.to_owned(), |t, p| t.replace(p, ""));
        if bare.contains(['{', '}']) {
            return Err(format!(
                "has an unknown or unbalanced placeholder; known: {}",
                PLACEHOLDERS.join(" ")
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".into());
        }
        // Browsers read `\` as `/`: `https://evil.example\.good.example/` is evil.example.
        if raw.contains('\\') {
            return Err("must not contain a backslash".into());
        }
        let (secure, rest) = match (raw.strip_prefix("https://"), raw.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err("must start with https:// (or http:// for a loopback host)".into()),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') || authority.contains('{') {
            return Err("must name a fixed host (no user info, no placeholder)".into());
        }
        if !secure && !loopback(authority) {
            return Err("must use https (http only for localhost, 127.0.0.0/8 and [::1])".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// A template from a request in ZITADEL's Go-template form (v2 `sendLink.urlTemplate`):
    /// `{{.UserID}}`, `{{.OrgID}}`, `{{.CodeID}}`, `{{.Code}}` and nothing else, 1 to
    /// [`MAX_REQUEST_TEMPLATE_LEN`] characters as in ZITADEL, https (http for a loopback
    /// host, as [`UrlTemplate::parse`]), the code included: unlike ZITADEL, which leaves it
    /// optional, since a link without its code cannot be redeemed.
    pub fn from_request(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_REQUEST_TEMPLATE_LEN {
            return Err(format!("is longer than {MAX_REQUEST_TEMPLATE_LEN} characters"));
        }
        let mut converted = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find(['{', '}']) {
            let (text, tail) = rest.split_at(start);
            converted.push_str(text);
            let inner = tail.strip_prefix("{{").and_then(|t| t.split_once("}}"));
            let Some((action, after)) = inner else {
                return Err("has a brace outside a {{...}} placeholder".into());
            };
            let placeholder = match action.trim() {
                ".UserID" => "{userID}",
                ".OrgID" => "{orgID}",
                ".CodeID" => "{codeID}",
                ".Code" => CODE_PLACEHOLDER,
                _ => {
                    return Err(format!(
                        "has an unknown placeholder {{{{{action}}}}}; known: {{{{.UserID}}}} {{{{.OrgID}}}} {{{{.CodeID}}}} {{{{.Code}}}}"
                    ))
                }
            };
            converted.push_str(placeholder);
            rest = after;
        }
        converted.push_str(rest);
        Self::parse(&converted).map_err(|e| e.replace(CODE_PLACEHOLDER, "{{.Code}}"))
    }

    /// The template's origin (`scheme://host[:port]`) and host: where the link opens, so the
    /// default WebAuthn origin and RP id.
    pub fn origin(&self) -> (String, String) {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("https", &self.0));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        (format!("{scheme}://{authority}"), host.to_ascii_lowercase())
    }

    /// The ids are restricted to URL-safe characters ([`UserId::parse`]) and the code is
    /// base64url, so substitution needs no escaping.
    pub fn render(&self, user: &UserId, org: &OrgId, code_id: &str, secret: &LinkSecret) -> String {
        self.0
            .replace("{userID}", user.as_str())
            .replace("{orgID}", org.as_str())
            .replace("{codeID}", code_id)
            .replace(CODE_PLACEHOLDER, secret.expose())
    }
}

/// Whether an authority (`host[:port]`) names this machine: `localhost`, an address in
/// `127.0.0.0/8` or `[::1]`, each in the one form a browser reads the same way.
fn loopback(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, port)) => (addr.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback()), port),
            None => (false, ""),
        },
        None => {
            let (host, port) = authority.find(':').map_or((authority, ""), |at| authority.split_at(at));
            (
                host.eq_ignore_ascii_case("localhost")
                    || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback()),
                port,
            )
        }
    };
    // A port browsers can open: digits (no sign), 0-65535.
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    host && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_long_and_url_safe() {
        let a = LinkSecret::generate().unwrap();
        let b = LinkSecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.hash(), a.expose());
        assert_eq!(a.hash(), hash_code(a.expose()));
        assert_eq!(format!("{a:?}"), "LinkSecret(<redacted>)");
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash_code("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn template_renders_every_placeholder() {
        let t = UrlTemplate::parse("https://id.example.com/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}").unwrap();
        let secret = LinkSecret::generate().unwrap();
        let url = t.render(&UserId::parse("u1").unwrap(), &OrgId::parse("o1").unwrap(), "c1", &secret);
        assert_eq!(url, format!("https://id.example.com/ui/login/login/passwordless/init?userID=u1&orgID=o1&codeID=c1&code={}", secret.expose()));
    }

    #[test]
    fn request_templates_use_zitadels_placeholders() {
        let t = UrlTemplate::from_request(
            "https://app.example/register?user={{.UserID}}&org={{ .OrgID }}&id={{.CodeID}}&code={{.Code}}",
        )
        .unwrap();
        let secret = LinkSecret::generate().unwrap();
        let url = t.render(&UserId::parse("u1").unwrap(), &OrgId::parse("o1").unwrap(), "c1", &secret);
        assert_eq!(
            url,
            format!("https://app.example/register?user=u1&org=o1&id=c1&code={}", secret.expose())
        );
        for bad in [
            "https://app.example/x",
            "",
            "http://app.example/{{.Code}}",
            "http://localhost.evil.example/{{.Code}}",
            "https://app.example/{code}",
            "https://app.example/{{.Code}}{userID}",
            "https://app.example/{{.Code}}&x={{.Password}}",
            "https://app.example/{{.Code}",
            "https://app.example/{{.Code}}}",
            "https://app.example/{{template \"x\"}}{{.Code}}",
            "https://{{.UserID}}.example/{{.Code}}",
            "https://app.example/ {{.Code}}",
            "https://evil.example\\.good.example/{{.Code}}",
            // A port no browser opens: the mail would carry a dead link.
            "http://[::1]:99999999999/{{.Code}}",
            "http://localhost:65536/{{.Code}}",
            "http://127.0.0.1:+80/{{.Code}}",
        ] {
            assert!(UrlTemplate::from_request(bad).is_err(), "{bad}");
        }
        for ok in [
            "http://localhost:3000/p?c={{.Code}}",
            "http://127.0.0.1:3000/{{.Code}}",
            "http://[::1]:3000/{{.Code}}",
            "http://localhost:65535/{{.Code}}",
        ] {
            assert!(UrlTemplate::from_request(ok).is_ok(), "{ok}");
        }
        let at_limit = format!("https://app.example/{}?c={{{{.Code}}}}", "é".repeat(200 - 32));
        assert_eq!(at_limit.chars().count(), 200);
        assert!(UrlTemplate::from_request(&at_limit).is_ok(), "200 characters, more bytes");
        let long = format!("https://app.example/{}?c={{{{.Code}}}}", "a".repeat(200));
        assert!(UrlTemplate::from_request(&long).unwrap_err().contains("200"));
        assert!(UrlTemplate::from_request("https://a.example/x").unwrap_err().contains("{{.Code}}"));
    }

    #[test]
    fn origin_is_scheme_and_authority() {
        let t = UrlTemplate::parse("http://localhost:18080/ui/x?c={code}").unwrap();
        assert_eq!(t.origin(), ("http://localhost:18080".into(), "localhost".into()));
        let t = UrlTemplate::parse("https://ID.example.com/{code}").unwrap();
        assert_eq!(t.origin(), ("https://ID.example.com".into(), "id.example.com".into()));
    }

    #[test]
    fn template_validation() {
        for ok in [
            "http://localhost:8080/x?c={code}",
            "http://LOCALHOST/x?c={code}",
            "http://127.0.0.1/x?c={code}",
            "http://127.1.2.3:9/x?c={code}",
            "http://[::1]/x?c={code}",
            "http://[::1]:3000#c={code}",
            "https://a.example/{code}",
        ] {
            assert!(UrlTemplate::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://a.example/x",
            "http://evil.example/x?c={code}",
            "ftp://a/{code}",
            "https:///x?c={code}",
            "https://a.example/ x{code}",
            "http://localhost.evil.example/{code}",
            "http://localhost:1@evil.example/{code}",
            "http://localhost./{code}",
            "http://localhost:/{code}",
            "http://localhost:80x/{code}",
            "http://128.0.0.1/{code}",
            "http://127.0.0.01/{code}",
            "http://127.1/{code}",
            "http://[::2]/{code}",
            "http://[::ffff:127.0.0.1]/{code}",
            "http://[::1/{code}",
            "http://[::1]x/{code}",
            "http://0.0.0.0/{code}",
            "https://{code}.example/",
            // a shell default cut at the first '}' once produced this:
            "http://localhost:8080/init?userID={userID&orgID={orgID}&code={code}}",
            "https://a.example/?u={userId}&c={code}",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
