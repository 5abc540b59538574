//! The registration e-mail: built-in texts per language (with organisation and instance texts
//! over them, field by field), rendered
//! from the templates in `templates/` with HTML auto-escaping, into a multipart message.
//!
//! Texts and templates are compiled into the binary, so a Lambda cold start reads no files.
//! Every interpolated value is escaped in the HTML part, and control characters never reach
//! the subject or the sender's display name (headers); nor do characters that change how a
//! header is displayed (RFC 2047 encoded-words, line and paragraph separators, bidi controls,
//! invisible format characters), which custom texts are refused for when they are written.

mod address_syntax;
pub mod sender;

pub use address_syntax::is_address_syntax;

use std::collections::HashMap;
use std::time::Duration;

use minijinja::{context, AutoEscape, Environment};
use serde::Deserialize;

use crate::invisible::is_invisible;
use crate::mailer::Mail;
use crate::message_text::{self, fill, CustomTexts, MessageText, Values};
use crate::model::PersonName;

pub const DEFAULT_LANGUAGE: &str = "en";

const LANGUAGES: [(&str, &str); 4] = [
    ("en", include_str!("texts/en.json")),
    ("de", include_str!("texts/de.json")),
    ("fr", include_str!("texts/fr.json")),
    ("es", include_str!("texts/es.json")),
];

/// The words of one language's mail: ZITADEL's message text fields (no footer: ZITADEL ships
/// none), and the lines the text API does not reach (the link's lifetime, what to do if the
/// reader did not ask).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Texts {
    #[serde(flatten)]
    pub message: MessageText,
    /// What `{{.DisplayName}}` reads when the user has no name ("" drops it).
    pub fallback_name: String,
    /// With `{duration}`, e.g. "2 hours".
    pub expiry: String,
    /// "If you did not ask for this, ignore this e-mail": in every mail whatever the texts
    /// say, so no custom footer can take away the reader's way out.
    pub unrequested: String,
    pub minute: [String; 2],
    pub hour: [String; 2],
    pub day: [String; 2],
}

pub(crate) fn has_encoded_word(s: &str) -> bool {
    s.find("=?").is_some_and(|start| s[start + 2..].contains("?="))
}

/// What one mail says and where it goes.
pub struct LinkMail<'a> {
    pub to: &'a str,
    pub display_name: Option<&'a str>,
    pub name: &'a PersonName,
    pub user_name: Option<&'a str>,
    pub preferred_language: Option<&'a str>,
    pub org_name: &'a str,
    /// The user's organisation's custom texts, then the instance's.
    pub org_texts: Option<&'a CustomTexts>,
    pub instance_texts: Option<&'a CustomTexts>,
    pub link: &'a str,
    pub lifetime: Duration,
}

/// One language's texts after the fallback: every field set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveText<'r> {
    /// The tag the texts are for (the reader's, when any level has texts for it).
    pub language: String,
    pub message: MessageText,
    pub built_in: &'r Texts,
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
        env.add_filter("lines", html_lines);
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
            let missing =
                parsed.message.fields().into_iter().find(|(f, v)| v.is_none() && f.name != "footerText");
            if let Some((field, _)) = missing {
                return Err(RenderError(format!("texts/{lang}.json: {} is missing", field.name)));
            }
            texts.insert(lang, parsed);
        }
        Ok(Self { env, texts })
    }

    /// The languages with texts of their own; others fall back to English.
    pub fn languages(&self) -> Vec<&'static str> {
        LANGUAGES.iter().map(|(lang, _)| *lang).collect()
    }

    /// The built-in language a reader of `language` (a canonical tag) gets: its primary
    /// language, else English.
    fn built_in_language(language: &str) -> &'static str {
        let primary = message_text::primary(language);
        LANGUAGES.iter().map(|(l, _)| *l).find(|l| *l == primary).unwrap_or(DEFAULT_LANGUAGE)
    }

    pub fn built_in(&self, language: &str) -> &Texts {
        &self.texts[Self::built_in_language(language)]
    }

    /// Field by field: the organisation's text for `language`, the instance's, the built-in.
    pub fn effective<'r>(
        &'r self,
        language: &str,
        org: Option<&CustomTexts>,
        instance: Option<&CustomTexts>,
    ) -> EffectiveText<'r> {
        let built_in = self.built_in(language);
        let org = org.and_then(|t| t.for_language(language)).map(|s| &s.text);
        let instance = instance.and_then(|t| t.for_language(language)).map(|s| &s.text);
        let custom = match (org, instance) {
            (Some(o), Some(i)) => Some(o.or(i)),
            (Some(t), None) | (None, Some(t)) => Some(t.clone()),
            (None, None) => None,
        };
        // The HTML says which language it is in: the reader's when texts were written for it.
        let (language, message) = match custom {
            Some(custom) => (language.to_owned(), custom.or(&built_in.message)),
            None => (Self::built_in_language(language).to_owned(), built_in.message.clone()),
        };
        EffectiveText { language, message, built_in }
    }

    pub fn render(&self, m: &LinkMail<'_>) -> Result<Mail, RenderError> {
        let language = reader_language(m.preferred_language);
        let EffectiveText { language, message, built_in } =
            self.effective(&language, m.org_texts, m.instance_texts);
        let display_name = m.display_name.map(one_line).filter(|n| !n.is_empty());
        let org_name = one_line(m.org_name);
        let values = Values {
            display_name: display_name.as_deref().unwrap_or(&built_in.fallback_name),
            first_name: m.name.given_name.as_deref().unwrap_or_default(),
            last_name: m.name.family_name.as_deref().unwrap_or_default(),
            nick_name: m.name.nick_name.as_deref().unwrap_or_default(),
            user_name: m.user_name.unwrap_or(m.to),
            email: m.to,
            org_name: &org_name,
        };
        let field = |value: &Option<String>| fill(value.as_deref().unwrap_or_default(), &values);
        let subject = header_text(&field(&message.subject));
        let variables = MailVariables {
            lang: language,
            title: one_line(&field(&message.title)),
            pre_header: one_line(&field(&message.pre_header)),
            subject,
            greeting: field(&message.greeting),
            text: field(&message.text),
            button: one_line(&field(&message.button_text)),
            expiry: built_in.expiry.replace("{duration}", &human_duration(m.lifetime, built_in)),
            unrequested: built_in.unrequested.clone(),
            footer: field(&message.footer_text),
            link: m.link.to_owned(),
            org_name,
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
}

/// The reader's language as a canonical tag: `de-ch` is `de-CH`; none or a malformed one
/// means English.
pub fn reader_language(preferred: Option<&str>) -> String {
    preferred
        .and_then(|p| message_text::canonical_language(p).ok())
        .unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned())
}

/// A multi-line text for HTML: escaped, its line breaks kept as `<br>`.
fn html_lines(value: String) -> minijinja::Value {
    minijinja::Value::from_safe_string(escape_html(&value).replace('\n', "<br>\n"))
}

/// An SES stored template's three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesTemplate {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What the templates fill in, once the language, the texts and their variables are
/// settled. No `Debug`: `link` carries the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MailVariables {
    pub lang: String,
    pub title: String,
    pub pre_header: String,
    pub subject: String,
    pub greeting: String,
    pub text: String,
    pub button: String,
    pub expiry: String,
    pub unrequested: String,
    pub footer: String,
    pub link: String,
    pub org_name: String,
}

impl MailVariables {
    fn fields(&self) -> [(&'static str, &str); 12] {
        [
            ("lang", &self.lang),
            ("title", &self.title),
            ("pre_header", &self.pre_header),
            ("subject", &self.subject),
            ("greeting", &self.greeting),
            ("text", &self.text),
            ("button", &self.button),
            ("expiry", &self.expiry),
            ("unrequested", &self.unrequested),
            ("footer", &self.footer),
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
            title: r("title"),
            pre_header: r("pre_header"),
            subject: r("subject"),
            greeting: r("greeting"),
            text: r("text"),
            button: r("button"),
            expiry: r("expiry"),
            unrequested: r("unrequested"),
            footer: r("footer"),
            link: r("link"),
            org_name: r("org_name"),
        }
    }

    /// The `TemplateData` for an SES stored template: each value raw (subject, text part) and
    /// for HTML as `<name>_html` (escaped, line breaks as `<br>`), because SES renders
    /// variables unescaped. Built only when a stored template is used.
    pub fn template_data(&self) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        for (name, value) in self.fields() {
            data.insert(format!("{name}_html"), html_lines(value.to_owned()).to_string().into());
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
/// [`is_invisible`] names, and without `=?`, so no part of it reads as an encoded-word. Texts
/// stored by anything but the seed (which refuses them) are neutralised here.
fn header_text(s: &str) -> String {
    let mut text: String = one_line(s).chars().filter(|c| !is_invisible(*c)).collect();
    // Repeated: removing one `=?` can join an `=` and a `?` into another.
    while text.contains("=?") {
        text = text.replace("=?", "");
    }
    text.trim().to_owned()
}

/// A display name as [`header_text`], also without what [`is_address_syntax`].
fn sender_text(s: &str) -> String {
    header_text(s).chars().filter(|c| !is_address_syntax(*c)).collect::<String>().trim().to_owned()
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
mod tests;
