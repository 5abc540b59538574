//! The registration e-mail: texts per language (with per-organisation overrides), rendered
//! from the templates in `templates/` with HTML auto-escaping, into a multipart message.
//!
//! Texts and templates are compiled into the binary, so a Lambda cold start reads no files.
//! Every interpolated value is escaped in the HTML part, and control characters never reach
//! the subject or the sender's display name (headers); nor do characters that change how a
//! header is displayed (RFC 2047 encoded-words, line and paragraph separators, bidi controls,
//! invisible format characters), which org texts are refused for at seed time too.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use minijinja::{context, AutoEscape, Environment};
use serde::Deserialize;

use crate::mailer::Mail;

pub const DEFAULT_LANGUAGE: &str = "en";

const LANGUAGES: [(&str, &str); 4] = [
    ("en", include_str!("texts/en.json")),
    ("de", include_str!("texts/de.json")),
    ("fr", include_str!("texts/fr.json")),
    ("es", include_str!("texts/es.json")),
];

/// The words of one language's mail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Texts {
    pub subject: String,
    /// With `{name}` for the user's display name.
    pub greeting: String,
    pub fallback_name: String,
    pub intro: String,
    pub button: String,
    /// With `{duration}`, e.g. "2 hours".
    pub expiry: String,
    pub ignore: String,
    pub minute: [String; 2],
    pub hour: [String; 2],
    pub day: [String; 2],
}

/// An organisation's replacements for some texts, per language, and its sender name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgTexts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub languages: HashMap<String, TextOverrides>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
}

impl OrgTexts {
    /// Refuses texts that would spoof what a mail client shows, naming the field (e.g.
    /// `languages.de.subject`): an encoded-word a client decodes into a fake sender, or
    /// characters that reorder, break or hide the visible text.
    pub fn check(&self) -> Result<(), String> {
        let mut fields: Vec<(String, &str)> = Vec::new();
        if let Some(name) = &self.sender_name {
            fields.push(("senderName".to_owned(), name));
        }
        for (lang, o) in &self.languages {
            for (field, value) in [
                ("subject", &o.subject),
                ("greeting", &o.greeting),
                ("intro", &o.intro),
                ("button", &o.button),
                ("ignore", &o.ignore),
            ] {
                if let Some(value) = value {
                    fields.push((format!("languages.{lang}.{field}"), value));
                }
            }
        }
        if let Some(c) =
            self.sender_name.as_deref().and_then(|n| n.chars().find(|c| ADDRESS_SYNTAX.contains(c)))
        {
            return Err(format!(
                "senderName: {c:?} is not allowed (a display name must not read as an address)"
            ));
        }
        fields.sort();
        for (field, value) in fields {
            if has_encoded_word(value) {
                return Err(format!("{field}: an RFC 2047 encoded-word (=?...?=) is not allowed"));
            }
            if let Some(c) = value.chars().find(|c| is_spoofing(*c)) {
                return Err(format!("{field}: invisible or direction-changing character U+{:04X}", c as u32));
            }
        }
        Ok(())
    }
}

/// Characters that let a display name look like (or hide) an address once a client shows or
/// decodes it: `"Bank <ceo@bank.example>" <no-reply@...>`.
const ADDRESS_SYNTAX: [char; 8] = ['<', '>', '@', ',', ';', ':', '"', '\\'];

fn has_encoded_word(s: &str) -> bool {
    s.find("=?").is_some_and(|start| s[start + 2..].contains("?="))
}

/// Line/paragraph separators and Unicode's format characters (category Cf: bidi controls,
/// zero-width characters, soft hyphen, tags, ...), as of Unicode 15.1.
fn is_spoofing(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// What one mail says and where it goes.
pub struct LinkMail<'a> {
    pub to: &'a str,
    pub display_name: Option<&'a str>,
    pub preferred_language: Option<&'a str>,
    pub org_name: &'a str,
    pub org_texts: Option<&'a OrgTexts>,
    pub link: &'a str,
    pub lifetime: Duration,
}

/// Templates and texts, built once at cold start.
pub struct MailRenderer {
    env: Environment<'static>,
    texts: HashMap<&'static str, Texts>,
}

#[derive(Debug, thiserror::Error)]
#[error("mail template: {0}")]
pub struct RenderError(String);

impl MailRenderer {
    pub fn new() -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, source) in [
            ("link.html", include_str!("templates/link.html")),
            ("link.txt", include_str!("templates/link.txt")),
        ] {
            env.add_template(name, source).map_err(|e| RenderError(e.to_string()))?;
        }
        let mut texts = HashMap::new();
        for (lang, json) in LANGUAGES {
            let parsed: Texts =
                serde_json::from_str(json).map_err(|e| RenderError(format!("texts/{lang}.json: {e}")))?;
            texts.insert(lang, parsed);
        }
        Ok(Self { env, texts })
    }

    /// The languages with texts of their own; others fall back to English.
    pub fn languages(&self) -> Vec<&'static str> {
        LANGUAGES.iter().map(|(lang, _)| *lang).collect()
    }

    pub fn render(&self, m: &LinkMail<'_>) -> Result<Mail, RenderError> {
        let lang = self.language_for(m.preferred_language);
        let defaults = &self.texts[lang];
        let overrides = m.org_texts.and_then(|o| o.languages.get(lang));
        let pick = |own: &String, field: fn(&TextOverrides) -> &Option<String>| -> String {
            overrides.and_then(|o| field(o).clone()).unwrap_or_else(|| own.clone())
        };
        let name = m.display_name.map(one_line).filter(|n| !n.is_empty());
        let greeting_template = pick(&defaults.greeting, |o| &o.greeting);
        let greeting = match (&name, defaults.fallback_name.as_str()) {
            (Some(name), _) => greeting_template.replace("{name}", name),
            (None, "") => greeting_template.replace(" {name}", "").replace("{name}", ""),
            (None, fallback) => greeting_template.replace("{name}", fallback),
        };
        let subject = header_text(&pick(&defaults.subject, |o| &o.subject));
        let expiry = defaults.expiry.replace("{duration}", &human_duration(m.lifetime, defaults));
        let variables = MailVariables {
            lang: lang.to_owned(),
            subject,
            greeting,
            intro: pick(&defaults.intro, |o| &o.intro),
            button: pick(&defaults.button, |o| &o.button),
            expiry,
            ignore: pick(&defaults.ignore, |o| &o.ignore),
            link: m.link.to_owned(),
            org_name: one_line(m.org_name),
        };
        // Escaped here rather than by the template: minijinja also escapes `/`, which mail
        // clients show in the link target.
        let link_html = minijinja::Value::from_safe_string(escape_html(m.link));
        let ctx = template_context(&variables, link_html);
        Ok(Mail {
            to: m.to.to_owned(),
            subject: variables.subject.clone(),
            text: self.render_template("link.txt", &ctx)?,
            html: self.render_template("link.html", &ctx)?,
            sender_name: m
                .org_texts
                .and_then(|o| o.sender_name.as_deref())
                .map(sender_text)
                .filter(|n| !n.is_empty()),
            tags: Vec::new(),
            variables,
        })
    }

    fn render_template(&self, name: &str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        self.env.get_template(name).and_then(|t| t.render(ctx)).map_err(|e| RenderError(e.to_string()))
    }

    /// The same mail as an SES stored template (Handlebars `{{{name}}}` variables), made by
    /// rendering our own templates with the variable references as values, so both modes
    /// share one layout.
    pub fn ses_template(&self) -> Result<SesTemplate, RenderError> {
        let html = MailVariables::references("_html");
        let html_ctx = template_context(&html, html.link.clone().into());
        let text = MailVariables::references("");
        let text_ctx = template_context(&text, text.link.clone().into());
        Ok(SesTemplate {
            subject: text.subject,
            html: self.render_template("link.html", &html_ctx)?,
            text: self.render_template("link.txt", &text_ctx)?,
        })
    }

    /// `de-CH` and `DE` mean German; anything without texts means English.
    fn language_for(&self, preferred: Option<&str>) -> &'static str {
        let primary = preferred
            .and_then(|p| p.split(['-', '_']).next())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        LANGUAGES.iter().map(|(lang, _)| *lang).find(|lang| *lang == primary).unwrap_or(DEFAULT_LANGUAGE)
    }
}

/// An SES stored template's three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesTemplate {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What the templates fill in, once the language, overrides and name are settled. No `Debug`:
/// `link` carries the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MailVariables {
    pub lang: String,
    pub subject: String,
    pub greeting: String,
    pub intro: String,
    pub button: String,
    pub expiry: String,
    pub ignore: String,
    pub link: String,
    pub org_name: String,
}

impl MailVariables {
    fn fields(&self) -> [(&'static str, &str); 9] {
        [
            ("lang", &self.lang),
            ("subject", &self.subject),
            ("greeting", &self.greeting),
            ("intro", &self.intro),
            ("button", &self.button),
            ("expiry", &self.expiry),
            ("ignore", &self.ignore),
            ("link", &self.link),
            ("org_name", &self.org_name),
        ]
    }

    /// Handlebars references `{{{<name><suffix>}}}` in place of every value (braces pass
    /// through HTML escaping unchanged).
    fn references(suffix: &str) -> Self {
        let r = |name: &str| format!("{{{{{{{name}{suffix}}}}}}}");
        Self {
            lang: r("lang"),
            subject: r("subject"),
            greeting: r("greeting"),
            intro: r("intro"),
            button: r("button"),
            expiry: r("expiry"),
            ignore: r("ignore"),
            link: r("link"),
            org_name: r("org_name"),
        }
    }

    /// The `TemplateData` for an SES stored template: each value raw (subject, text part) and
    /// HTML-escaped as `<name>_html`, because SES renders variables unescaped. Built only when
    /// a stored template is used.
    pub fn template_data(&self) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        for (name, value) in self.fields() {
            data.insert(format!("{name}_html"), escape_html(value).into());
            data.insert(name.to_owned(), value.into());
        }
        data.into()
    }
}

fn template_context(variables: &MailVariables, link_html: minijinja::Value) -> minijinja::Value {
    context! { link_html, ..minijinja::Value::from_pairs(variables.fields()) }
}

/// The five characters that matter in HTML text and quoted attributes.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Control characters (CR/LF above all) become spaces: the value may end up in a header.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

/// A subject or sender name as a header may carry it: on one line, without the characters
/// [`is_spoofing`] names, and without `=?`, so no part of it reads as an encoded-word. Texts
/// stored by anything but the seed (which refuses them) are neutralised here.
fn header_text(s: &str) -> String {
    let mut text: String = one_line(s).chars().filter(|c| !is_spoofing(*c)).collect();
    // Repeated: removing one `=?` can join an `=` and a `?` into another.
    while text.contains("=?") {
        text = text.replace("=?", "");
    }
    text.trim().to_owned()
}

/// A display name as [`header_text`], also without [`ADDRESS_SYNTAX`].
fn sender_text(s: &str) -> String {
    header_text(s).chars().filter(|c| !ADDRESS_SYNTAX.contains(c)).collect::<String>().trim().to_owned()
}

/// `Name <address>` for the From header: the address from `mail_from`, the display name
/// replaced, quoted, and RFC 2047-encoded when it is not plain ASCII.
pub fn from_with_name(mail_from: &str, name: &str) -> String {
    let address = match (mail_from.rfind('<'), mail_from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &mail_from[start + 1..end],
        _ => mail_from.trim(),
    };
    let name = sender_text(name);
    if name.is_ascii() {
        format!("\"{name}\" <{address}>")
    } else {
        format!("=?UTF-8?B?{}?= <{address}>", STANDARD.encode(name.as_bytes()))
    }
}

fn human_duration(d: Duration, t: &Texts) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs.is_multiple_of(86_400) {
        (secs / 86_400, &t.day)
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, &t.hour)
    } else {
        (secs.div_ceil(60), &t.minute)
    };
    format!("{n} {}", if n == 1 { &unit[0] } else { &unit[1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail<'a>(lang: Option<&'a str>, name: Option<&'a str>, org: Option<&'a OrgTexts>) -> LinkMail<'a> {
        LinkMail {
            to: "a@example.com",
            display_name: name,
            preferred_language: lang,
            org_name: "Demo Corp",
            org_texts: org,
            link: "https://id.example.com/init?userID=1&code=abc",
            lifetime: Duration::from_secs(3600),
        }
    }

    #[test]
    fn language_falls_back_to_english() {
        let r = MailRenderer::new().unwrap();
        assert_eq!(r.language_for(Some("de-CH")), "de");
        assert_eq!(r.language_for(Some("FR")), "fr");
        assert_eq!(r.language_for(Some("es_MX")), "es");
        assert_eq!(r.language_for(Some("ja")), "en");
        assert_eq!(r.language_for(Some("")), "en");
        assert_eq!(r.language_for(None), "en");
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
    fn org_overrides_replace_only_what_they_set() {
        let r = MailRenderer::new().unwrap();
        let org = OrgTexts {
            sender_name: Some("Demo IT\r\nBcc: x".into()),
            languages: HashMap::from([(
                "de".to_owned(),
                TextOverrides { subject: Some("Neuer Passkey für Demo".into()), ..Default::default() },
            )]),
        };
        let de = r.render(&mail(Some("de"), Some("Alice"), Some(&org))).unwrap();
        assert_eq!(de.subject, "Neuer Passkey für Demo");
        assert!(de.text.contains("Passkey registrieren"), "the rest stays German default");
        assert_eq!(de.sender_name.as_deref(), Some("Demo IT  Bcc x"));
        let en = r.render(&mail(Some("en"), Some("Alice"), Some(&org))).unwrap();
        assert_eq!(en.subject, "Add a passkey to your account");
    }

    #[test]
    fn spoofing_texts_are_refused_naming_the_field() {
        let with = |sender: &str, subject: &str| OrgTexts {
            sender_name: Some(sender.into()),
            languages: HashMap::from([(
                "de".to_owned(),
                TextOverrides { subject: Some(subject.into()), ..Default::default() },
            )]),
        };
        assert_eq!(with("Demo IT", "Neuer Passkey für Demo").check(), Ok(()));
        let err = with("=?UTF-8?B?c2VjdXJpdHlAYmFuay5leGFtcGxl?=", "x").check().unwrap_err();
        assert!(err.starts_with("senderName: an RFC 2047 encoded-word"), "{err}");
        for (c, code) in [
            ('\u{2028}', "2028"),
            ('\u{202E}', "202E"),
            ('\u{2067}', "2067"),
            ('\u{200B}', "200B"),
            ('\u{061C}', "061C"),
        ] {
            let err = with("Demo", &format!("Neu{c}er")).check().unwrap_err();
            assert_eq!(
                err,
                format!("languages.de.subject: invisible or direction-changing character U+{code}")
            );
        }
        let intro = OrgTexts {
            languages: HashMap::from([(
                "en".to_owned(),
                TextOverrides { intro: Some("a\u{200F}b".into()), ..Default::default() },
            )]),
            ..Default::default()
        };
        assert!(intro.check().unwrap_err().starts_with("languages.en.intro:"));
    }

    #[test]
    fn spoofing_sender_names_and_subjects_are_neutralised_at_send() {
        let r = MailRenderer::new().unwrap();
        let org = OrgTexts {
            sender_name: Some("=?UTF-8?B?YmFua0BleGFtcGxl?= \u{202E}TI omeD".into()),
            languages: HashMap::from([(
                "en".to_owned(),
                TextOverrides {
                    subject: Some("Reset\u{2028}now\u{2066}\u{FEFF} =?x?=".into()),
                    ..Default::default()
                },
            )]),
        };
        let out = r.render(&mail(Some("en"), Some("Alice"), Some(&org))).unwrap();
        assert_eq!(out.subject, "Resetnow x?=");
        assert_eq!(out.sender_name.as_deref(), Some("UTF-8?B?YmFua0BleGFtcGxl?= TI omeD"));
        assert_eq!(
            from_with_name("no-reply@x.example", "==??=\u{200B}?Bank"),
            "\"Bank\" <no-reply@x.example>"
        );
    }

    /// A non-ASCII name is sent as an encoded-word, which clients decode: the address syntax
    /// inside it came out as a second, fake address.
    #[test]
    fn sender_names_cannot_carry_an_address() {
        for name in ["Bänk Security <security@bank.example>", "CEO, Bank <ceo@bank.example>", "a@b", "x\"y"]
        {
            let texts = OrgTexts { sender_name: Some(name.into()), languages: HashMap::new() };
            let err = texts.check().unwrap_err();
            assert!(err.starts_with("senderName:"), "{name}: {err}");
        }
        assert_eq!(
            from_with_name("no-reply@x.example", "Bänk Security <security@bank.example>"),
            format!(
                "=?UTF-8?B?{}?= <no-reply@x.example>",
                STANDARD.encode("Bänk Security securitybank.example")
            )
        );
        assert_eq!(from_with_name("no-reply@x.example", "CEO, Bank"), "\"CEO Bank\" <no-reply@x.example>");
    }

    #[test]
    fn greetings_without_a_name() {
        let r = MailRenderer::new().unwrap();
        assert!(r.render(&mail(Some("en"), None, None)).unwrap().text.starts_with("Hello there,"));
        assert!(r.render(&mail(Some("fr"), Some("  "), None)).unwrap().text.starts_with("Bonjour,"));
    }

    #[test]
    fn sender_names_are_quoted_or_encoded() {
        assert_eq!(
            from_with_name("Passkeys <no-reply@x.example>", "Demo \"IT\""),
            "\"Demo IT\" <no-reply@x.example>"
        );
        assert_eq!(from_with_name("no-reply@x.example", "Demo"), "\"Demo\" <no-reply@x.example>");
        assert_eq!(
            from_with_name("no-reply@x.example", "Müller"),
            "=?UTF-8?B?TcO8bGxlcg==?= <no-reply@x.example>"
        );
    }

    #[test]
    fn durations_read_naturally_in_each_language() {
        let r = MailRenderer::new().unwrap();
        assert_eq!(human_duration(Duration::from_secs(3600), &r.texts["en"]), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(7200), &r.texts["de"]), "2 Stunden");
        assert_eq!(human_duration(Duration::from_secs(86_400), &r.texts["fr"]), "1 jour");
        assert_eq!(human_duration(Duration::from_secs(90), &r.texts["es"]), "2 minutos");
    }
}
