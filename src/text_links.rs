//! Where a custom message text may send its readers. Mail clients turn URLs, bare host names
//! (`evil.example/x`) and e-mail addresses into links, so a text naming a foreign host makes
//! the official mail a phishing mail: the text API accepts only the link's own host and the
//! hosts in `TEXT_ALLOWED_HOSTS`.

use linkify::{LinkFinder, LinkKind};

use crate::message_text::{parse, shorten, MessageText, Piece};

/// The variable each `{{.Name}}` stands for while a text is scanned: a value the user
/// controls may complete a host (`https://{{.UserName}}.evil.example`).
const VARIABLE_STAND_IN: &str = "x";

/// Characters that IDNA (UTS 46) reads as the dot between labels.
const DOT_LOOKALIKES: [char; 3] = ['\u{3002}', '\u{FF0E}', '\u{FF61}'];

/// `TEXT_ALLOWED_HOSTS`: comma-separated host names, compared exactly (no wildcards, no
/// subdomains), case-insensitively and without a trailing dot.
pub fn parse_allowed_hosts(raw: &str) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let host = normalise(entry);
        if !is_host_name(&host) {
            return Err(format!(
                "{:?} is not a host name (write example.com, not a URL, an address or a pattern)",
                shorten(entry)
            ));
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

fn is_host_name(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_lowercase()
}

/// Refuses, naming the field, a URL, a bare host name or an e-mail address in any field whose
/// host is neither `link_host` nor in `allowed`.
pub fn check_links(text: &MessageText, link_host: &str, allowed: &[String]) -> Result<(), String> {
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    for (field, value) in text.fields() {
        let Some(value) = value else { continue };
        let scanned = as_scanned(value);
        for link in finder.links(&scanned) {
            let host = match link.kind() {
                LinkKind::Email => link.as_str().rsplit_once('@').map_or("", |(_, host)| host),
                _ => url_host(link.as_str()),
            };
            let host = normalise(host);
            if host != link_host && !allowed.contains(&host) {
                return Err(format!(
                    "{}: links and addresses may only name {link_host} (the link's host) or a host \
                     in TEXT_ALLOWED_HOSTS, not {:?}",
                    field.name,
                    shorten(if host.is_empty() { link.as_str() } else { &host })
                ));
            }
        }
    }
    Ok(())
}

/// The text as a mail client would see it once the variables are filled, dots spelt as dots.
fn as_scanned(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    match parse(value) {
        Ok(pieces) => {
            for piece in pieces {
                match piece {
                    Piece::Literal(s) => out.push_str(s),
                    Piece::Var(_) => out.push_str(VARIABLE_STAND_IN),
                }
            }
        }
        Err(_) => out.push_str(value),
    }
    out.chars().map(|c| if DOT_LOOKALIKES.contains(&c) { '.' } else { c }).collect()
}

/// The host a browser opens for a URL (with or without a scheme): after any user info,
/// before the port; `\` ends the authority as `/` does (WHATWG URL).
fn url_host(url: &str) -> &str {
    let rest = match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            rest
        }
        _ => url,
    };
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(host, _)| host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer(value: &str) -> MessageText {
        MessageText { footer_text: Some(value.into()), ..Default::default() }
    }

    fn allowed() -> Vec<String> {
        parse_allowed_hosts(" Help.Demo.Example., demo.example ,").unwrap()
    }

    #[test]
    fn allowed_hosts_are_host_names() {
        assert_eq!(allowed(), ["help.demo.example", "demo.example"]);
        assert_eq!(parse_allowed_hosts("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_allowed_hosts("bücher.example").unwrap(), ["bücher.example"]);
        for bad in
            ["https://a.example", "a.example/x", "*.a.example", "a@b.example", "a..b", "-a.example", "a b"]
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
        ] {
            assert_eq!(check_links(&footer(ok), "id.example.com", &allowed()), Ok(()), "{ok}");
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
        ] {
            let err = check_links(&footer(bad), "id.example.com", &allowed()).unwrap_err();
            assert!(
                err.starts_with("footerText: links and addresses may only name id.example.com"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_host_is_what_a_browser_opens() {
        assert_eq!(url_host("https://a@b.example:8080/x"), "b.example");
        assert_eq!(url_host("https://good.example\\@evil.example"), "good.example");
        assert_eq!(url_host("evil.example/x?r=https://good.example"), "evil.example");
        assert_eq!(url_host("http://[::1]:80/"), "::1");
    }
}
