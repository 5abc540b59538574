//! Where a custom message text may send its readers. Mail clients turn URLs, bare host names
//! (`evil.example/x`) and e-mail addresses into links, and browsers open more than they show
//! (`https:/evil.example`, `http://3232235777/`, full-width letters), so a text naming a
//! foreign host makes the official mail a phishing mail: the text API accepts only the link's
//! own host and the hosts in `TEXT_ALLOWED_HOSTS`.

use percent_encoding::percent_decode_str;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use url::{Host, Url};

use crate::message_text::{parse, shorten, MessageText, Piece};

/// The variable each `{{.Name}}` stands for while a text is scanned: a value the user
/// controls may complete a host (`https://{{.UserName}}.evil.example`).
const VARIABLE_STAND_IN: &str = "x";

/// The ideographic full stop (NFKC's form of the halfwidth one), which IDNA (UTS 46) reads as
/// a dot. NFKC already turns the other dots IDNA maps (U+FF0E, U+FE52, U+2024, ...) into `.`.
const IDEOGRAPHIC_STOP: char = '\u{3002}';

/// Schemes WHATWG URL parsing gives a host even without slashes (`https:evil.example`).
const SPECIAL_SCHEMES: [&str; 6] = ["http", "https", "ws", "wss", "ftp", "file"];

/// `TEXT_ALLOWED_HOSTS`: comma-separated host names, compared exactly (no wildcards, no
/// subdomains), case-insensitively and without a trailing dot.
pub fn parse_allowed_hosts(raw: &str) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let host = entry.trim_end_matches('.').to_lowercase();
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

/// Refuses, naming the field, a URL, a bare host name, an IP address or an e-mail address in
/// any field whose host is neither `link_host` nor in `allowed`.
pub fn check_links(text: &MessageText, link_host: &str, allowed: &[String]) -> Result<(), String> {
    let mut ok: Vec<String> = allowed.iter().map(|h| comparable(h)).collect();
    ok.push(comparable(link_host));
    for (field, value) in text.fields() {
        let Some(value) = value else { continue };
        if let Some(host) = hosts_named(&as_scanned(value)).into_iter().find(|h| !ok.contains(&comparable(h)))
        {
            return Err(format!(
                "{}: links and addresses may only name {link_host} (the link's host) or a host \
                 in TEXT_ALLOWED_HOSTS, not {:?}",
                field.name,
                shorten(&host)
            ));
        }
    }
    Ok(())
}

/// The first host `value` names (a URL, a bare host name, an IP address, an e-mail address),
/// for text that may name none.
pub fn first_host(value: &str) -> Option<String> {
    hosts_named(&as_scanned(value)).into_iter().next()
}

/// A host as compared: IDNA's ASCII form of a name, the canonical form of an IP address.
fn comparable(host: &str) -> String {
    let host = host.trim_end_matches('.').to_lowercase();
    let bracketed = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    match Host::parse(&bracketed) {
        Ok(parsed) => parsed.to_string(),
        Err(_) => bracketed,
    }
}

/// The text as a mail client or browser reads it once the variables are filled: NFKC
/// (full-width and other compatibility forms as their plain letters and dots), IDNA's dots as
/// `.`, percent-escapes decoded (a host may spell its dots `%2E`), until nothing changes.
fn as_scanned(value: &str) -> String {
    let mut text = String::with_capacity(value.len());
    match parse(value) {
        Ok(pieces) => {
            for piece in pieces {
                match piece {
                    Piece::Literal(s) => text.push_str(s),
                    Piece::Var(_) => text.push_str(VARIABLE_STAND_IN),
                }
            }
        }
        Err(_) => text.push_str(value),
    }
    for _ in 0..3 {
        let next = percent_decode_str(&dots_as_dots(&text.nfkc().collect::<String>()))
            .decode_utf8_lossy()
            .into_owned();
        if next == text {
            break;
        }
        text = next;
    }
    text
}

/// The ideographic full stop reads as a dot between ASCII labels (`evil。example`). Between
/// other letters it stays: Chinese and Japanese end sentences with it, without a space.
fn dots_as_dots(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let ascii_label =
        |c: Option<&char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    (0..chars.len())
        .map(|i| {
            let c = chars[i];
            if c == IDEOGRAPHIC_STOP
                && i > 0
                && ascii_label(chars.get(i - 1))
                && ascii_label(chars.get(i + 1))
            {
                '.'
            } else {
                c
            }
        })
        .collect()
}

/// Every host `text` (already [`as_scanned`]) names, in the order found.
fn hosts_named(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut hosts = Vec::new();
    // Characters inside a URL whose host is taken: the rest of it is the path and query.
    let mut covered = vec![false; chars.len()];
    for colon in 0..chars.len() {
        if chars[colon] != ':' || covered[colon] {
            continue;
        }
        if let Some((start, end, host)) = url_at(&chars, colon) {
            hosts.push(host);
            covered[start..end].iter_mut().for_each(|c| *c = true);
        }
    }
    for i in 1..chars.len() {
        let slash = |j: usize| matches!(chars[j], '/' | '\\');
        if slash(i) && slash(i - 1) && !covered[i] && (i < 2 || !slash(i - 2)) {
            // `//host` and `\\host`: relative to the mail's own scheme, still a host.
            let rest: String = chars[i + 1..span_end(&chars, i + 1)].iter().collect();
            if let Some(host) = Url::parse(&format!("http://{rest}")).ok().and_then(|u| host_of(&u)) {
                if host.contains('.') || host.starts_with('[') {
                    hosts.push(host);
                }
            }
        }
    }
    for (open, _) in chars.iter().enumerate().filter(|(i, c)| **c == '[' && !covered[*i]) {
        if let Some(close) = chars[open..].iter().take(50).position(|c| *c == ']') {
            let literal: String = chars[open..=open + close].iter().collect();
            if let Ok(Host::Ipv6(address)) = Host::parse(&literal) {
                hosts.push(format!("[{address}]"));
            }
        }
    }
    let mut i = 0;
    while i < chars.len() {
        let part = |j: usize| !covered[j] && (chars[j] == '.' || is_label_char(chars[j]));
        if !part(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && part(i) {
            i += 1;
        }
        let before = start.checked_sub(1).map(|j| chars[j]);
        hosts.extend(dotted_hosts(&chars[start..i], before, chars.get(i).copied()));
    }
    hosts
}

/// A URL whose scheme ends at `colon`: `scheme:` then `/` or `\` (`https:/x`, `https:\\x`), or
/// a scheme that needs no slashes (`https:x`), read as a browser reads it (WHATWG).
fn url_at(chars: &[char], colon: usize) -> Option<(usize, usize, String)> {
    let mut start = colon;
    while start > 0
        && (chars[start - 1].is_ascii_alphanumeric() || matches!(chars[start - 1], '+' | '-' | '.'))
    {
        start -= 1;
    }
    while start < colon && !chars[start].is_ascii_alphabetic() {
        start += 1;
    }
    let scheme: String = chars[start..colon].iter().collect::<String>().to_ascii_lowercase();
    let next = *chars.get(colon + 1)?;
    let special = SPECIAL_SCHEMES.contains(&scheme.as_str());
    if scheme.is_empty() || !(matches!(next, '/' | '\\') || (special && !next.is_whitespace())) {
        return None;
    }
    let end = span_end(chars, colon + 1);
    let url = Url::parse(&chars[start..end].iter().collect::<String>()).ok()?;
    Some((start, end, host_of(&url)?))
}

/// Where a link a mail client shows ends: at a space, a quote, an angle bracket or a closing
/// bracket it did not open (`(https://a.example)b.example` links `b.example` on its own).
fn span_end(chars: &[char], from: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in chars.iter().enumerate().skip(from) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return i,
            ')' | ']' | '}' => depth -= 1,
            c if c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`') => return i,
            _ => {}
        }
    }
    chars.len()
}

fn host_of(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain("") => None,
        host => Some(host.to_string()),
    }
}

/// What may make up a label: letters, digits, combining marks, `_`, `%` and `-` (browsers
/// open more than DNS's letters, digits and hyphen allow).
fn is_label_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, '_' | '%' | '-')
}

/// The host names in a run of label characters and dots: labels joined by single dots whose
/// last label starts with a letter and has two characters at least (`evil.example`,
/// `evil.xn--p1ai`, not `e.g`, `3.5`, `U.S.A`), and dotted-quad IPv4 addresses followed by a
/// path or port or after an `@` (`192.168.1.1/x`, not `version 1.2.3.4`).
fn dotted_hosts(run: &[char], before: Option<char>, after: Option<char>) -> Vec<String> {
    let run: String = run.iter().collect();
    let mut hosts = Vec::new();
    let parts: Vec<&str> = run.trim_end_matches('.').split("..").collect();
    let last_part = parts.len() - 1;
    for (n, part) in parts.into_iter().enumerate() {
        let labels: Vec<&str> = part.split('.').filter(|l| !l.is_empty()).collect();
        let Some(last) = labels.last().filter(|_| labels.len() >= 2) else { continue };
        let name = labels.join(".");
        if last.chars().next().is_some_and(char::is_alphabetic) && last.chars().count() >= 2 {
            hosts.push(name.to_lowercase());
        } else if labels.len() == 4
            && labels.iter().all(|l| l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
            && ((n == 0 && before == Some('@'))
                || (n == last_part && !run.ends_with('.') && matches!(after, Some('/' | '\\' | ':'))))
        {
            if let Ok(Host::Ipv4(address)) = Host::parse(&name) {
                hosts.push(address.to_string());
            }
        }
    }
    hosts
}

#[cfg(test)]
mod tests;
