//! The registration e-mail's content: subject, plain text and HTML, with every interpolated
//! value escaped for HTML and kept out of headers.

use std::time::Duration;

use crate::mailer::Mail;

pub struct LinkMail<'a> {
    pub to: &'a str,
    pub display_name: Option<&'a str>,
    pub link: &'a str,
    pub lifetime: Duration,
}

pub fn render(m: &LinkMail<'_>) -> Mail {
    let name = m
        .display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("there");
    let expiry = human_duration(m.lifetime);
    let text = format!(
        "Hello {name},\n\n\
         someone asked to add a new passkey (for example Face ID or a security key on another \
         device) to your account. Open this link on the device you want to use:\n\n{link}\n\n\
         The link works for {expiry}.\n\n\
         If you did not ask for this, ignore this e-mail; nothing changes on your account.\n",
        link = m.link,
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>Hello {name},</p>\n\
         <p>someone asked to add a new passkey (for example Face ID or a security key on another \
         device) to your account. Open this link on the device you want to use:</p>\n\
         <p><a href=\"{link}\">Register passkey</a></p>\n\
         <p>The link works for {expiry}.</p>\n\
         <p>If you did not ask for this, ignore this e-mail; nothing changes on your account.</p>\n\
         </body></html>\n",
        name = escape_html(name),
        link = escape_html(m.link),
    );
    Mail {
        to: m.to.to_owned(),
        subject: "Add a passkey to your account".into(),
        text,
        html,
    }
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else {
        (secs.div_ceil(60), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_display_name_is_escaped_and_link_appears_once_per_part() {
        let mail = render(&LinkMail {
            to: "a@example.com",
            display_name: Some("<script>alert(1)</script>\r\nBcc: x@evil"),
            link: "https://id.example.com/init?userID=1&code=abc",
            lifetime: Duration::from_secs(3600),
        });
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert_eq!(
            mail.html
                .matches("https://id.example.com/init?userID=1&amp;code=abc")
                .count(),
            1
        );
        assert_eq!(
            mail.text
                .matches("https://id.example.com/init?userID=1&code=abc")
                .count(),
            1
        );
        assert!(!mail.subject.contains('\n'));
        assert!(mail.text.contains("1 hour."));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 hours");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "1 day");
        assert_eq!(human_duration(Duration::from_secs(90)), "2 minutes");
    }
}
