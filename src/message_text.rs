//! ZITADEL's message texts for the passwordless registration mail: the seven fields its text
//! API sets, the language tags they are kept under, the template variables they may use, and
//! the custom texts an organisation or the instance stores.
//!
//! Pure rules, no I/O: the text API refuses what [`MessageText::check`] refuses, the seed
//! refuses the same, and the mail fills variables with [`fill`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::invisible::is_invisible;
use crate::mail::{has_encoded_word, is_address_syntax};

/// ZITADEL's name for this message type (in events and templates).
pub const MESSAGE_TYPE: &str = "PasswordlessRegistration";

/// Languages one organisation (or the instance) may keep texts for: all of them live in one
/// item, which DynamoDB caps at 400 KB.
pub const MAX_LANGUAGES: usize = 20;

/// Longest language tag accepted (RFC 5646 recommends supporting at least 35 characters).
pub const MAX_TAG_LEN: usize = 35;

/// Line breaks a multi-line field may hold, and blank lines in a row.
pub const MAX_LINE_BREAKS: usize = 20;
pub const MAX_BLANK_LINES: usize = 2;

/// One language's texts, as ZITADEL's `SetCustom...MessageText` carries them. A field left out
/// (or empty) is not customised: the next level's text fills it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// `intro`, `button` and `ignore` are the names seed files used before the text API.
    #[serde(default, alias = "intro", skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, alias = "button", skip_serializing_if = "Option::is_none")]
    pub button_text: Option<String>,
    #[serde(default, alias = "ignore", skip_serializing_if = "Option::is_none")]
    pub footer_text: Option<String>,
}

/// A field of [`MessageText`]: its JSON name and its longest value in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub max_chars: usize,
    /// Whether the value may span lines (the others end up in a header or a heading).
    pub multiline: bool,
}

pub const FIELDS: [Field; 7] = [
    Field { name: "title", max_chars: 200, multiline: false },
    Field { name: "preHeader", max_chars: 200, multiline: false },
    Field { name: "subject", max_chars: 200, multiline: false },
    Field { name: "greeting", max_chars: 200, multiline: false },
    Field { name: "text", max_chars: 2000, multiline: true },
    Field { name: "buttonText", max_chars: 200, multiline: false },
    Field { name: "footerText", max_chars: 1000, multiline: true },
];

impl MessageText {
    /// The fields in [`FIELDS`] order, with their values.
    pub fn fields(&self) -> [(Field, Option<&str>); 7] {
        let values = [
            &self.title,
            &self.pre_header,
            &self.subject,
            &self.greeting,
            &self.text,
            &self.button_text,
            &self.footer_text,
        ];
        std::array::from_fn(|i| (FIELDS[i], values[i].as_deref()))
    }

    fn fields_mut(&mut self) -> [&mut Option<String>; 7] {
        [
            &mut self.title,
            &mut self.pre_header,
            &mut self.subject,
            &mut self.greeting,
            &mut self.text,
            &mut self.button_text,
            &mut self.footer_text,
        ]
    }

    /// As stored: empty values mean "not customised" (as in ZITADEL, where setting "" removes
    /// the text), and CRLF line breaks become LF.
    pub fn normalised(mut self) -> Self {
        for value in self.fields_mut() {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            } else if let Some(v) = value.as_mut().filter(|v| v.contains("\r\n")) {
                *v = v.replace("\r\n", "\n");
            }
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }

    /// Each field from `self`, else from `fallback`.
    pub fn or(&self, fallback: &MessageText) -> MessageText {
        let mut out = self.clone();
        for (value, (_, other)) in out.fields_mut().into_iter().zip(fallback.fields()) {
            if value.is_none() {
                *value = other.map(str::to_owned);
            }
        }
        out
    }

    /// Refuses what would break or spoof the mail, naming the field: too long, a line break
    /// in a one-line field, an encoded-word or an invisible or direction-changing character,
    /// anything between `{{ }}` but a known variable.
    pub fn check(&self) -> Result<(), String> {
        for (field, value) in self.fields() {
            let Some(value) = value else { continue };
            let name = field.name;
            let chars = value.chars().count();
            if chars > field.max_chars {
                return Err(format!("{name}: {chars} characters, at most {} are allowed", field.max_chars));
            }
            if let Some(c) = value.chars().find(|c| c.is_control() && (!field.multiline || *c != '\n')) {
                return Err(format!("{name}: control character U+{:04X} is not allowed", c as u32));
            }
            check_line_breaks(name, value)?;
            if has_encoded_word(value) {
                return Err(format!("{name}: an RFC 2047 encoded-word (=?...?=) is not allowed"));
            }
            if let Some(c) = value.chars().find(|c| is_invisible(*c)) {
                return Err(format!("{name}: invisible or direction-changing character U+{:04X}", c as u32));
            }
            parse(value).map_err(|problem| format!("{name}: {problem}"))?;
        }
        Ok(())
    }

    /// Seed files written before the text API greeted with `{name}`.
    pub fn upgrade_legacy(&mut self) {
        if let Some(greeting) = &mut self.greeting {
            if greeting.contains("{name}") && !greeting.contains("{{") {
                *greeting = greeting.replace("{name}", "{{.DisplayName}}");
            }
        }
    }
}

/// Line breaks enough to push the mail's "ignore this mail" line out of view are refused.
fn check_line_breaks(name: &str, value: &str) -> Result<(), String> {
    let breaks = value.matches('\n').count();
    if breaks > MAX_LINE_BREAKS {
        return Err(format!("{name}: {breaks} line breaks, at most {MAX_LINE_BREAKS} are allowed"));
    }
    let mut blank_run = 0;
    for line in value.split('\n') {
        blank_run = if line.trim().is_empty() { blank_run + 1 } else { 0 };
        if blank_run > MAX_BLANK_LINES {
            return Err(format!("{name}: more than {MAX_BLANK_LINES} blank lines in a row"));
        }
    }
    Ok(())
}

/// One level's stored text for a language, with what its `details` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredText {
    #[serde(flatten)]
    pub text: MessageText,
    /// The sequence of the event that last set it (0: written before the text API).
    #[serde(default)]
    pub sequence: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creation_date: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub change_date: String,
}

/// An organisation's (or the instance's) custom texts: per language tag, and the sender name
/// its mails carry (set by the seed only; ZITADEL keeps it in the SMTP settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomTexts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub languages: BTreeMap<String, StoredText>,
}

impl CustomTexts {
    /// The stored text a reader of `language` (canonical) gets: the exact tag, else its
    /// primary language (`de-CH` reads `de`).
    pub fn for_language(&self, language: &str) -> Option<&StoredText> {
        self.languages.get(language).or_else(|| self.languages.get(primary(language)))
    }
}

/// Refuses a sender name that could read as an address or spoof the From line.
pub fn check_sender_name(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| is_address_syntax(*c)) {
        return Err(format!("senderName: {c:?} is not allowed (a display name must not read as an address)"));
    }
    if has_encoded_word(name) {
        return Err("senderName: an RFC 2047 encoded-word (=?...?=) is not allowed".into());
    }
    if let Some(c) = name.chars().find(|c| is_invisible(*c) || c.is_control()) {
        return Err(format!("senderName: invisible or control character U+{:04X}", c as u32));
    }
    Ok(())
}

/// The variables a text may use, ZITADEL's names for what this service knows of the user and
/// the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    DisplayName,
    FirstName,
    LastName,
    NickName,
    UserName,
    PreferredLoginName,
    LastEmail,
    OrgName,
}

const VARIABLES: [(&str, Variable); 8] = [
    ("DisplayName", Variable::DisplayName),
    ("FirstName", Variable::FirstName),
    ("LastName", Variable::LastName),
    ("NickName", Variable::NickName),
    ("UserName", Variable::UserName),
    ("PreferredLoginName", Variable::PreferredLoginName),
    ("LastEmail", Variable::LastEmail),
    ("OrgName", Variable::OrgName),
];

/// ZITADEL's other user variables: this service stores no such data, so a text using one
/// would show a blank; refused with its own message rather than "unknown".
const NOT_KEPT: [&str; 6] =
    ["VerifiedEmail", "LastPhone", "VerifiedPhone", "LoginNames", "ChangeDate", "CreationDate"];

/// The variables' list for messages: `{{.DisplayName}}, {{.UserName}}, ...`.
pub fn variable_list() -> String {
    VARIABLES.iter().map(|(name, _)| format!("{{{{.{name}}}}}")).collect::<Vec<_>>().join(", ")
}

/// A text cut into literal parts and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Var(Variable),
}

/// Reads `{{.Name}}` (spaces inside the braces allowed) and nothing else of Go's template
/// language: no functions, pipes, conditions or HTML.
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Literal(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "\"{{\" is not closed by \"}}\"".to_owned())?;
        let inner = after[..end].trim();
        let name = inner
            .strip_prefix('.')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| {
                format!(
                    "{{{{{}}}}} is not a variable; only variables are allowed: {}",
                    shorten(inner),
                    variable_list()
                )
            })?;
        let variable =
            VARIABLES.iter().find(|(known, _)| *known == name).map(|(_, v)| *v).ok_or_else(|| {
                if NOT_KEPT.contains(&name) {
                    format!(
                        "{{{{.{name}}}}} is not available here (no such user data is kept); use {}",
                        variable_list()
                    )
                } else {
                    format!("unknown variable {{{{.{}}}}}; known: {}", shorten(name), variable_list())
                }
            })?;
        pieces.push(Piece::Var(variable));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

/// A refused snippet in an error message: at most 40 characters of it.
pub(crate) fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// What the variables stand for in one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values<'a> {
    /// Already replaced by the language's word for "there" when the user has none.
    pub display_name: &'a str,
    /// The user's given name, family name and nickname; empty when not kept, as ZITADEL
    /// renders a profile field it has no value for.
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub nick_name: &'a str,
    pub user_name: &'a str,
    pub email: &'a str,
    pub org_name: &'a str,
}

/// The text with its variables filled in, values on one line each. An empty value also takes
/// the space before it ("Bonjour {{.DisplayName}}," without a name reads "Bonjour,"). A text
/// that does not parse (stored by something that skipped the checks) is used as written.
pub fn fill(text: &str, values: &Values<'_>) -> String {
    let Ok(pieces) = parse(text) else { return text.to_owned() };
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Var(v) => {
                let value = match v {
                    Variable::DisplayName => values.display_name,
                    Variable::FirstName => values.first_name,
                    Variable::LastName => values.last_name,
                    Variable::NickName => values.nick_name,
                    Variable::UserName | Variable::PreferredLoginName => values.user_name,
                    Variable::LastEmail => values.email,
                    Variable::OrgName => values.org_name,
                };
                // The user's own data: it may not break a line or reorder what the text shows.
                let value: String = value
                    .chars()
                    .filter(|c| !is_invisible(*c))
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let value = value.trim();
                if value.is_empty() && out.ends_with(' ') {
                    out.pop();
                }
                out.push_str(value);
            }
        }
    }
    out
}

/// A BCP 47 language tag in its canonical case (`de`, `de-CH`, `zh-Hant-TW`, `sr-Latn`):
/// language (2-3 letters), then optionally a script (4 letters), a region (2 letters or 3
/// digits) and variants; `_` is read as `-`. Extensions, private use and `und` are refused.
pub fn canonical_language(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("a language tag is required, e.g. \"de\" or \"de-CH\"".into());
    }
    if raw.len() > MAX_TAG_LEN {
        return Err(format!("a language tag has at most {MAX_TAG_LEN} characters"));
    }
    let not_a_tag = || format!("{:?} is not a BCP 47 language tag such as \"de\" or \"de-CH\"", shorten(raw));
    let mut subtags = raw.split(['-', '_']);
    let language = subtags.next().unwrap_or_default();
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(not_a_tag());
    }
    let language = language.to_ascii_lowercase();
    if language == "und" {
        return Err("\"und\" (undetermined) is not a language to write texts for".into());
    }
    let mut out = language;
    // 0: script next, 1: region next, 2: variants only.
    let mut stage = 0;
    for subtag in subtags {
        let alpha = subtag.bytes().all(|b| b.is_ascii_alphabetic());
        let digits = subtag.bytes().all(|b| b.is_ascii_digit());
        let alnum = subtag.bytes().all(|b| b.is_ascii_alphanumeric());
        out.push('-');
        if stage == 0 && subtag.len() == 4 && alpha {
            let lower = subtag.to_ascii_lowercase();
            out.push_str(&lower[..1].to_ascii_uppercase());
            out.push_str(&lower[1..]);
            stage = 1;
        } else if stage <= 1 && ((subtag.len() == 2 && alpha) || (subtag.len() == 3 && digits)) {
            out.push_str(&subtag.to_ascii_uppercase());
            stage = 2;
        } else if alnum
            && ((5..=8).contains(&subtag.len())
                || (subtag.len() == 4 && subtag.as_bytes()[0].is_ascii_digit()))
        {
            let variant = subtag.to_ascii_lowercase();
            if out.split('-').any(|earlier| earlier == variant) {
                return Err(format!("{:?}: the variant {variant} appears twice", shorten(raw)));
            }
            out.push_str(&variant);
            stage = 2;
        } else if subtag.len() == 1 && alnum {
            return Err(format!("{:?}: extensions and private-use subtags are not supported", shorten(raw)));
        } else {
            return Err(not_a_tag());
        }
    }
    Ok(out)
}

/// The language subtag of a canonical tag.
pub fn primary(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

#[cfg(test)]
mod tests;
