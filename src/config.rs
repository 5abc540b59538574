//! Runtime configuration, read once at cold start from environment variables.
//!
//! Every value is validated here so that a bad deployment fails at start-up with an error
//! naming the variable, never later inside a request.

use std::time::Duration;

use crate::ceremony::RpSettings;
use crate::link::UrlTemplate;
use crate::mail::sender::Sender;
use crate::permissions::RolePermissions;

pub const DEFAULT_ORG_CLAIM: &str = "urn:zitadel:iam:user:resourceowner:id";
pub const DEFAULT_USER_CLAIM: &str = "sub";
pub const DEFAULT_LINK_URL_TEMPLATE: &str = "http://localhost:8080/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}";
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::from_secs(3600);
/// Shorter links expire before a person can switch devices; longer ones outlive the
/// "lost phone" window that makes a registration link dangerous.
pub const LINK_LIFETIME_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(7 * 24 * 3600));

/// Every environment variable the function reads (the SDK's own `AWS_*` aside);
/// tests/template/ checks infra/template.yaml sets no other.
pub const VARIABLES: &[&str] = &[
    "TABLE_NAME",
    "MAIL_FROM",
    "MAIL_FROM_NAME",
    "SES_CONFIGURATION_SET",
    "SES_TEMPLATE_NAME",
    "MAIL_DEPLOYMENT_TAG",
    "LINK_URL_TEMPLATE",
    "LINK_LIFETIME_SECONDS",
    "ORG_CLAIM",
    "USER_CLAIM",
    "ROLE_PERMISSIONS",
    "RATE_LIMIT_LINKS",
    "RATE_LIMIT_WINDOW_SECONDS",
    "SUPERSEDE_LINKS",
    "WEBAUTHN_RP_ID",
    "WEBAUTHN_RP_NAME",
    "WEBAUTHN_ORIGINS",
    "PASSKEY_CODE_MAX_ATTEMPTS",
    "PAGE_RATE_LIMIT_PER_SOURCE",
    "PAGE_RATE_LIMIT_PER_CODE",
    "PAGE_EDGE_SECRET_SHA256",
    "TEXT_ALLOWED_HOSTS",
    "RUST_LOG",
    "LOG_FORMAT",
];

/// The header infra/page-edge.yaml's CloudFront distribution adds to each page request, holding
/// the secret whose SHA-256 is `PAGE_EDGE_SECRET_SHA256` (CloudFront overwrites a viewer's own
/// header of that name).
pub const PAGE_EDGE_HEADER: &str = "x-passkeys-edge";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table holding orgs, users, memberships, links, events.
    pub table_name: String,
    /// `MAIL_FROM`: the verified SES sender address, e.g. `no-reply@example.com`, and
    /// `MAIL_FROM_NAME`: its display name, e.g. `Acme, Inc.` (any characters but control
    /// ones). `MAIL_FROM` may also be `Name <address>`, its form before `MAIL_FROM_NAME`.
    pub mail_from: Sender,
    /// `SES_CONFIGURATION_SET`: optional SES configuration set for every send.
    pub ses_configuration_set: Option<String>,
    /// `MAIL_DEPLOYMENT_TAG`: the `deployment` tag on every mail (the template sets the stack
    /// name), so that each deployment's delivery-feedback rule takes only its own mails' events.
    pub mail_deployment_tag: Option<String>,
    /// `SES_TEMPLATE_NAME`: send through this SES stored template instead of the rendered
    /// content (`passkey-admin create-template` makes it).
    pub ses_template_name: Option<String>,
    /// `LINK_URL_TEMPLATE`: where the link in the mail points.
    pub link_url_template: UrlTemplate,
    /// `LINK_LIFETIME_SECONDS`: how long a link can be used.
    pub link_lifetime: Duration,
    /// `ORG_CLAIM`: the JWT claim holding the caller's organisation.
    pub org_claim: String,
    /// `USER_CLAIM`: the claim holding the caller's user id.
    pub user_claim: String,
    /// `ROLE_PERMISSIONS`: JSON role -> permissions mapping replacing ZITADEL's defaults.
    pub permissions: RolePermissions,
    /// `RATE_LIMIT_LINKS` per `RATE_LIMIT_WINDOW_SECONDS`: links one user can be sent.
    pub rate_limit: RateLimit,
    /// `SUPERSEDE_LINKS`: `true` revokes a user's outstanding links when a new one is
    /// created (default `false`, as in ZITADEL, where every code stays valid until it expires).
    pub supersede_links: bool,
    /// `WEBAUTHN_RP_ID` (allowed RP ids, the default first; default: the link's host),
    /// `WEBAUTHN_RP_NAME` (default `ZITADEL`), `WEBAUTHN_ORIGINS` (default: the link's origin).
    pub relying_parties: RpSettings,
    /// `PASSKEY_CODE_MAX_ATTEMPTS`: wrong codes a link takes before it locks.
    pub code_max_attempts: u32,
    /// `PAGE_RATE_LIMIT_PER_SOURCE` / `PAGE_RATE_LIMIT_PER_CODE`: requests per minute the
    /// anonymous registration page takes from one address / for one link;
    /// `PAGE_EDGE_SECRET_SHA256`: the edge whose viewer address counts as the source.
    pub page_limits: PageLimits,
    /// `TEXT_ALLOWED_HOSTS`: hosts custom message texts may name besides the link's own.
    pub text_allowed_hosts: Vec<String>,
}

/// Requests per minute the anonymous page routes take, and whose address is the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    pub per_source: u32,
    pub per_code: u32,
    /// The SHA-256 of the secret the page's CloudFront distribution (infra/page-edge.yaml)
    /// adds to each request: only a request carrying it has its `CloudFront-Viewer-Address`
    /// believed. `None`: the source is always the address API Gateway saw.
    pub edge_secret_sha256: Option<[u8; 32]>,
}

pub const DEFAULT_PAGE_LIMITS: PageLimits =
    PageLimits { per_source: 30, per_code: 10, edge_secret_sha256: None };
pub const DEFAULT_CODE_MAX_ATTEMPTS: u32 = 5;

/// `PASSKEY_CODE_MAX_ATTEMPTS` (unset or blank: the default), as the function and the admin
/// tool, which shows which links are locked, both read it.
pub fn code_max_attempts(raw: Option<&str>) -> Result<u32, ConfigError> {
    match raw.filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_CODE_MAX_ATTEMPTS),
        Some(raw) => parse_bounded(raw, 1, 100)
            .map(|v| v as u32)
            .map_err(|reason| ConfigError { variable: "PASSKEY_CODE_MAX_ATTEMPTS", reason }),
    }
}
pub const DEFAULT_RP_NAME: &str = "ZITADEL";

/// At most `links` links to one user in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub links: usize,
    pub window: Duration,
}

/// What SES takes as a message tag's value.
pub fn valid_tag_value(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Five links in 15 minutes covers a person retrying on several devices; more is a mailbomb.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit { links: 5, window: Duration::from_secs(900) };

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| {
            get(name).ok_or(ConfigError { variable: name, reason: "must be set".into() })
        };

        let table_name = required("TABLE_NAME")?;
        if !valid_table_name(&table_name) {
            return Err(ConfigError {
                variable: "TABLE_NAME",
                reason: "must be 3-255 characters of a-z, A-Z, 0-9, '_', '-', '.'".into(),
            });
        }
        let mail_from = Sender::parse(&required("MAIL_FROM")?, get("MAIL_FROM_NAME").as_deref())
            .map_err(|(variable, reason)| ConfigError { variable, reason })?;
        let link_url_template =
            UrlTemplate::parse(&get("LINK_URL_TEMPLATE").unwrap_or_else(|| DEFAULT_LINK_URL_TEMPLATE.into()))
                .map_err(|reason| ConfigError { variable: "LINK_URL_TEMPLATE", reason })?;
        let link_lifetime = match get("LINK_LIFETIME_SECONDS") {
            None => DEFAULT_LINK_LIFETIME,
            Some(raw) => parse_lifetime(&raw)
                .map_err(|reason| ConfigError { variable: "LINK_LIFETIME_SECONDS", reason })?,
        };
        let rate_limit = RateLimit {
            links: match get("RATE_LIMIT_LINKS") {
                None => DEFAULT_RATE_LIMIT.links,
                Some(raw) => parse_bounded(&raw, 1, 100)
                    .map_err(|reason| ConfigError { variable: "RATE_LIMIT_LINKS", reason })?
                    as usize,
            },
            window: match get("RATE_LIMIT_WINDOW_SECONDS") {
                None => DEFAULT_RATE_LIMIT.window,
                Some(raw) => Duration::from_secs(
                    parse_bounded(&raw, 60, 86_400)
                        .map_err(|reason| ConfigError { variable: "RATE_LIMIT_WINDOW_SECONDS", reason })?,
                ),
            },
        };
        let supersede_links = match get("SUPERSEDE_LINKS").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError {
                    variable: "SUPERSEDE_LINKS",
                    reason: "must be true or false".into(),
                })
            }
        };
        let (default_origin, default_rp_id) = link_url_template.origin();
        let relying_parties = RpSettings::new(
            &get("WEBAUTHN_RP_ID").unwrap_or(default_rp_id),
            &get("WEBAUTHN_RP_NAME").unwrap_or_else(|| DEFAULT_RP_NAME.into()),
            &get("WEBAUTHN_ORIGINS").unwrap_or(default_origin),
        )
        .map_err(|(variable, reason)| ConfigError { variable, reason })?;
        let bounded = |name: &'static str, default: u32, max: u64| match get(name) {
            None => Ok(default),
            Some(raw) => parse_bounded(&raw, 1, max)
                .map(|v| v as u32)
                .map_err(|reason| ConfigError { variable: name, reason }),
        };
        let code_max_attempts = code_max_attempts(get("PASSKEY_CODE_MAX_ATTEMPTS").as_deref())?;
        let page_limits = PageLimits {
            per_source: bounded("PAGE_RATE_LIMIT_PER_SOURCE", DEFAULT_PAGE_LIMITS.per_source, 100_000)?,
            per_code: bounded("PAGE_RATE_LIMIT_PER_CODE", DEFAULT_PAGE_LIMITS.per_code, 10_000)?,
            edge_secret_sha256: match get("PAGE_EDGE_SECRET_SHA256") {
                None => None,
                Some(raw) => Some(
                    parse_sha256_hex(raw.trim())
                        .map_err(|reason| ConfigError { variable: "PAGE_EDGE_SECRET_SHA256", reason })?,
                ),
            },
        };
        let text_allowed_hosts =
            crate::text_links::parse_allowed_hosts(&get("TEXT_ALLOWED_HOSTS").unwrap_or_default())
                .map_err(|reason| ConfigError { variable: "TEXT_ALLOWED_HOSTS", reason })?;
        Ok(Self {
            relying_parties,
            text_allowed_hosts,
            code_max_attempts,
            page_limits,
            rate_limit,
            supersede_links,
            table_name,
            mail_from,
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            mail_deployment_tag: match get("MAIL_DEPLOYMENT_TAG") {
                None => None,
                Some(tag) if valid_tag_value(&tag) => Some(tag),
                Some(_) => {
                    return Err(ConfigError {
                        variable: "MAIL_DEPLOYMENT_TAG",
                        reason: "must be 1-256 characters of A-Z a-z 0-9 _ - (an SES tag value)".into(),
                    })
                }
            },
            ses_template_name: match get("SES_TEMPLATE_NAME") {
                None => None,
                Some(name) if valid_template_name(&name) => Some(name),
                Some(_) => {
                    return Err(ConfigError {
                        variable: "SES_TEMPLATE_NAME",
                        reason: "must be 1-64 characters of A-Z a-z 0-9 _ -".into(),
                    })
                }
            },
            link_url_template,
            link_lifetime,
            org_claim: get("ORG_CLAIM").unwrap_or_else(|| DEFAULT_ORG_CLAIM.into()),
            user_claim: get("USER_CLAIM").unwrap_or_else(|| DEFAULT_USER_CLAIM.into()),
            permissions: match get("ROLE_PERMISSIONS") {
                None => RolePermissions::default(),
                Some(raw) => RolePermissions::from_json(&raw)
                    .map_err(|reason| ConfigError { variable: "ROLE_PERMISSIONS", reason })?,
            },
        })
    }
}

pub fn valid_template_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn parse_bounded(raw: &str, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = raw.trim().parse().map_err(|_| format!("{raw:?} is not a whole number"))?;
    if !(min..=max).contains(&value) {
        return Err(format!("must be between {min} and {max}"));
    }
    Ok(value)
}

/// SHA-256 of nothing: a header that is present but empty would match it.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A SHA-256 as `sha256sum` prints it: 64 lowercase hex digits.
fn parse_sha256_hex(raw: &str) -> Result<[u8; 32], String> {
    let well_formed = raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err("must be a SHA-256 as 64 lowercase hex digits (sha256sum's output)".into());
    }
    if raw == EMPTY_SHA256 {
        return Err("is the SHA-256 of an empty secret".into());
    }
    let nibble = |digit: u8| if digit.is_ascii_digit() { digit - b'0' } else { digit - b'a' + 10 };
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(raw.as_bytes().chunks_exact(2)) {
        *byte = nibble(pair[0]) << 4 | nibble(pair[1]);
    }
    Ok(digest)
}

fn parse_lifetime(raw: &str) -> Result<Duration, String> {
    let (min, max) = LINK_LIFETIME_BOUNDS;
    let secs: u64 = raw.trim().parse().map_err(|_| format!("{raw:?} is not a whole number of seconds"))?;
    let lifetime = Duration::from_secs(secs);
    if lifetime < min || lifetime > max {
        return Err(format!("must be between {} and {} seconds", min.as_secs(), max.as_secs()));
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 2] = [("TABLE_NAME", "passkeys"), ("MAIL_FROM", "no-reply@example.com")];

    #[test]
    fn supersede_links_is_a_strict_boolean() {
        let with = |v: &str| Config::from_lookup(lookup(&[BASE[0], BASE[1], ("SUPERSEDE_LINKS", v)]));
        assert!(with("true").unwrap().supersede_links);
        assert!(!with("false").unwrap().supersede_links);
        for bad in ["yes", "1", "TRUE"] {
            assert_eq!(with(bad).unwrap_err().variable, "SUPERSEDE_LINKS", "{bad:?}");
        }
    }

    #[test]
    fn defaults_apply_when_only_required_values_are_set() {
        let config = Config::from_lookup(lookup(&BASE)).unwrap();
        assert!(!config.supersede_links);
        assert_eq!(config.link_lifetime, Duration::from_secs(3600));
        assert_eq!(config.org_claim, DEFAULT_ORG_CLAIM);
        assert_eq!(config.ses_configuration_set, None);
    }

    #[test]
    fn the_deployment_tag_must_be_an_ses_tag_value() {
        let with = |tag: &str| {
            Config::from_lookup(|name| match name {
                "TABLE_NAME" => Some("passkeys".into()),
                "MAIL_FROM" => Some("no-reply@demo.example".into()),
                "MAIL_DEPLOYMENT_TAG" => Some(tag.into()),
                _ => None,
            })
        };
        assert_eq!(
            with("send-passkey-link-prod").unwrap().mail_deployment_tag.as_deref(),
            Some("send-passkey-link-prod")
        );
        for bad in ["a b", "a.b", "ä", &"x".repeat(257)] {
            assert_eq!(with(bad).unwrap_err().variable, "MAIL_DEPLOYMENT_TAG", "{bad:?}");
        }
    }

    #[test]
    fn variables_lists_exactly_what_config_reads() {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let base = lookup(&BASE);
        Config::from_lookup(|k| {
            asked.lock().unwrap().insert(k.to_owned());
            base(k)
        })
        .unwrap();
        let mut asked: Vec<String> = asked.into_inner().unwrap().into_iter().collect();
        // Logging is configured by telemetry.rs, before Config exists.
        asked.extend(["RUST_LOG".to_owned(), "LOG_FORMAT".to_owned()]);
        asked.sort();
        let mut listed: Vec<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        listed.sort();
        assert_eq!(asked, listed);
    }

    #[test]
    fn missing_required_variable_is_named() {
        let err = Config::from_lookup(lookup(&[("MAIL_FROM", "a@b.c")])).unwrap_err();
        assert_eq!(err.variable, "TABLE_NAME");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "passkeys"), ("MAIL_FROM", " ")])).unwrap_err();
        assert_eq!(err.variable, "MAIL_FROM");
    }

    #[test]
    fn lifetime_out_of_bounds_or_garbage_is_rejected() {
        for bad in ["59", "604801", "1h", "-5"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("LINK_LIFETIME_SECONDS", bad));
            let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
            assert_eq!(err.variable, "LINK_LIFETIME_SECONDS", "{bad}");
        }
    }

    #[test]
    fn rate_limit_defaults_and_bounds() {
        assert_eq!(Config::from_lookup(lookup(&BASE)).unwrap().rate_limit, DEFAULT_RATE_LIMIT);
        for (var, bad) in [
            ("RATE_LIMIT_LINKS", "0"),
            ("RATE_LIMIT_LINKS", "101"),
            ("RATE_LIMIT_WINDOW_SECONDS", "59"),
            ("RATE_LIMIT_WINDOW_SECONDS", "x"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((var, bad));
            assert_eq!(Config::from_lookup(lookup(&pairs)).unwrap_err().variable, var, "{bad}");
        }
    }

    #[test]
    fn the_edge_secret_hash_is_64_lowercase_hex_digits() {
        let with = |v: &str| Config::from_lookup(lookup(&[BASE[0], BASE[1], ("PAGE_EDGE_SECRET_SHA256", v)]));
        assert_eq!(Config::from_lookup(lookup(&BASE)).unwrap().page_limits.edge_secret_sha256, None);
        let hash = crate::link::hash_code("edge secret");
        let parsed = with(&hash).unwrap().page_limits.edge_secret_sha256.unwrap();
        let hex: String = parsed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, hash);
        assert_eq!(with(&format!(" {hash}\n")).unwrap().page_limits.edge_secret_sha256, Some(parsed));
        for bad in [
            hash.to_uppercase(),
            hash[..63].to_owned(),
            format!("{hash}0"),
            format!("{}g", &hash[..63]),
            "edge secret".to_owned(),
            EMPTY_SHA256.to_owned(),
        ] {
            let err = with(&bad).unwrap_err();
            assert_eq!(err.variable, "PAGE_EDGE_SECRET_SHA256", "{bad:?}");
            assert!(!err.to_string().contains("edge secret"), "{err}");
        }
        assert_eq!(crate::link::hash_code(""), EMPTY_SHA256);
    }

    #[test]
    fn text_allowed_hosts_are_host_names() {
        let with = |v: &str| Config::from_lookup(lookup(&[BASE[0], BASE[1], ("TEXT_ALLOWED_HOSTS", v)]));
        assert_eq!(
            with("help.example, Demo.Example").unwrap().text_allowed_hosts,
            ["help.example", "demo.example"]
        );
        assert!(Config::from_lookup(lookup(&BASE)).unwrap().text_allowed_hosts.is_empty());
        let err = with("https://help.example/").unwrap_err();
        assert_eq!(err.variable, "TEXT_ALLOWED_HOSTS");
        assert!(err.to_string().contains("not a host name"), "{err}");
    }

    #[test]
    fn bad_template_and_table_name_are_named() {
        let mut pairs = BASE.to_vec();
        pairs.push(("LINK_URL_TEMPLATE", "https://login.example.com/init?user={userID}"));
        assert_eq!(Config::from_lookup(lookup(&pairs)).unwrap_err().variable, "LINK_URL_TEMPLATE");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "a b"), ("MAIL_FROM", "a@b.c")])).unwrap_err();
        assert_eq!(err.variable, "TABLE_NAME");
    }
}
