//! The page a registration link opens: one HTML template, its script and style sheet (all
//! embedded, no build step, no CDN) and its texts per language, built once at cold start.

use std::collections::HashMap;

use minijinja::{context, AutoEscape, Environment};
use serde_json::{Map, Value};

pub const SCRIPT: &str = include_str!("page.js");
pub const STYLE: &str = include_str!("page.css");

const LANGUAGES: [(&str, &str); 4] = [
    ("en", include_str!("texts/en.json")),
    ("de", include_str!("texts/de.json")),
    ("fr", include_str!("texts/fr.json")),
    ("es", include_str!("texts/es.json")),
];
const DEFAULT_LANGUAGE: &str = "en";

/// What the page says about a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    Ready,
    Used,
    Expired,
    Unknown,
    Locked,
    Limited,
}

impl PageState {
    pub fn name(self) -> &'static str {
        match self {
            PageState::Ready => "ready",
            PageState::Used => "used",
            PageState::Expired => "expired",
            PageState::Unknown => "unknown",
            PageState::Locked => "locked",
            PageState::Limited => "limited",
        }
    }

    /// A friendly page still tells clients and crawlers that the link is not usable.
    pub fn http_status(self) -> u16 {
        match self {
            PageState::Ready => 200,
            PageState::Used | PageState::Expired => 410,
            PageState::Unknown => 404,
            PageState::Locked => 403,
            PageState::Limited => 429,
        }
    }
}

pub struct PageRenderer {
    env: Environment<'static>,
    texts: HashMap<&'static str, Map<String, Value>>,
}

impl PageRenderer {
    pub fn new() -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.add_template("page.html", include_str!("page.html")).map_err(|e| e.to_string())?;
        let mut texts = HashMap::new();
        for (lang, json) in LANGUAGES {
            let parsed: Map<String, Value> =
                serde_json::from_str(json).map_err(|e| format!("page texts/{lang}.json: {e}"))?;
            texts.insert(lang, parsed);
        }
        Ok(Self { env, texts })
    }

    /// The user's own language if the page speaks it, else the browser's first that it
    /// speaks (`Accept-Language` in the order given, `q=0` skipped), else English.
    pub fn language(&self, preferred: Option<&str>, accept_language: Option<&str>) -> &'static str {
        let primary =
            |tag: &str| tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        let known = |tag: &str| LANGUAGES.iter().map(|(l, _)| *l).find(|l| *l == primary(tag));
        preferred
            .and_then(known)
            .or_else(|| {
                accept_language?
                    .split(',')
                    .filter(|part| {
                        !part
                            .split(';')
                            .skip(1)
                            .any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
                    })
                    .find_map(|part| known(part.split(';').next().unwrap_or_default()))
            })
            .unwrap_or(DEFAULT_LANGUAGE)
    }

    /// The page for `state`; names are shown only when ready.
    pub fn render(
        &self,
        lang: &str,
        state: PageState,
        display_name: &str,
        org_name: &str,
    ) -> Result<String, minijinja::Error> {
        let t = self.texts.get(lang).or_else(|| self.texts.get(DEFAULT_LANGUAGE));
        let text = |key: String| t.and_then(|t| t.get(&key)).and_then(Value::as_str).unwrap_or_default();
        let texts: std::collections::BTreeMap<String, String> = t
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default();
        let (heading, message) = match state {
            PageState::Ready => (text("title".into()), ""),
            other => (text(format!("{}Title", other.name())), text(format!("{}Text", other.name()))),
        };
        self.env.get_template("page.html")?.render(context! {
            lang,
            state => state.name(),
            t => minijinja::Value::from(texts),
            heading,
            message,
            display_name,
            org_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_text() {
        let renderer = PageRenderer::new().unwrap();
        let english: Vec<&String> = renderer.texts["en"].keys().collect();
        for (lang, texts) in &renderer.texts {
            assert_eq!(texts.keys().collect::<Vec<_>>(), english, "{lang}");
            assert!(texts.values().all(|v| v.as_str().is_some_and(|s| !s.is_empty())), "{lang}");
        }
    }

    #[test]
    fn language_is_the_users_then_the_browsers() {
        let r = PageRenderer::new().unwrap();
        assert_eq!(r.language(Some("de-CH"), Some("fr")), "de");
        assert_eq!(r.language(Some("ja"), Some("ja, fr-FR;q=0.8, en;q=0.5")), "fr");
        assert_eq!(r.language(None, Some("es;q=0, de")), "de");
        assert_eq!(r.language(None, None), "en");
    }

    #[test]
    fn names_are_escaped_and_states_render() {
        let r = PageRenderer::new().unwrap();
        let html = r.render("en", PageState::Ready, "<script>alert(1)</script>", "A & B").unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)") && !html.contains("<script>alert"));
        assert!(html.contains("A &amp; B"));
        assert!(html.contains(r#"data-state="ready""#));
        assert!(html.contains(r#"<button id="create" type="button">Create passkey</button>"#));
        for state in
            [PageState::Used, PageState::Expired, PageState::Unknown, PageState::Locked, PageState::Limited]
        {
            let html = r.render("de", state, "", "").unwrap();
            assert!(html.contains(&format!(r#"data-state="{}""#, state.name())));
            assert!(!html.contains("page.js"), "only the ready page runs a script");
        }
    }

    #[test]
    fn the_done_page_says_the_passkey_is_saved_and_promises_no_sign_in() {
        // Whether the passkey signs anyone in is up to the login sharing its RP id, not this
        // service.
        let r = PageRenderer::new().unwrap();
        for (lang, done) in [
            ("en", "Your passkey is saved. You can close this page."),
            ("de", "Ihr Passkey ist gespeichert. Sie können diese Seite schließen."),
            ("fr", "Votre clé d&#x27;accès est enregistrée. Vous pouvez fermer cette page."),
            ("es", "Su llave de acceso se ha guardado. Puede cerrar esta página."),
        ] {
            let html = r.render(lang, PageState::Ready, "", "").unwrap();
            assert!(html.contains(&format!("<p>{done}</p>")), "{lang}: {html}");
        }
    }
}
