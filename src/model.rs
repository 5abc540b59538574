//! The types the request path talks about. No I/O and no SDK types here.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Longest user or org id accepted, as in ZITADEL's API (`max_len: 200`).
pub const MAX_ID_LEN: usize = 200;

fn valid_id(raw: &str) -> bool {
    // Ids become parts of DynamoDB keys (`USER#<id>`) and of the link URL, so only characters
    // that need no escaping in either are allowed; ZITADEL's own ids are decimal strings.
    // The first must be a letter or digit: "." and ".." are path steps, never ids.
    (1..=MAX_ID_LEN).contains(&raw.len())
        && raw.as_bytes()[0].is_ascii_alphanumeric()
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Accepts 1-200 characters of `A-Z a-z 0-9 - _ . @`, the first a letter or digit.
            pub fn parse(raw: &str) -> Option<Self> {
                valid_id(raw).then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A user's id, unique in the instance (as in ZITADEL).
    UserId
);
id_type!(
    /// An organisation's id; the organisation owning a user is its "resource owner".
    OrgId
);

/// Who is calling, as the API Gateway authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub org_id: OrgId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserState {
    Active,
    Initial,
    Inactive,
    Locked,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    Human,
    Machine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgState {
    Active,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub kind: UserKind,
    pub state: UserState,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub name: PersonName,
    pub user_name: Option<String>,
    pub preferred_language: Option<String>,
    /// Sequence of the last event in this user's history; 0 for a user with none.
    pub sequence: u64,
    /// The links sent to this user lately, for the rate limit; `None` when no window is
    /// stored yet (or only in an older form), so the next link writes it whole.
    pub recent_links: Option<Vec<RecentLink>>,
    /// Addresses of the user's whose mail bounced for good or was reported as spam: no link
    /// is mailed to one of them again (the user's address changes, or an operator clears them).
    pub undeliverable: Vec<Undeliverable>,
}

/// A person's name as ZITADEL's human profile keeps it (`givenName`, `familyName`,
/// `nickName`), for the texts' `{{.FirstName}}`, `{{.LastName}}` and `{{.NickName}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nick_name: Option<String>,
}

/// An address SES reported as not taking mail, and the event that said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Undeliverable {
    pub address: String,
    pub reason: UndeliverableReason,
    /// When SES's event happened (RFC 3339).
    pub at: String,
    /// The link whose mail it was.
    pub code_id: String,
}

impl Undeliverable {
    /// Whether the mark is about `email` (addresses compare without case: a mark must not
    /// be dodged by capitals, and SES reports the address as it was sent).
    pub fn applies_to(&self, email: &str) -> bool {
        self.address.eq_ignore_ascii_case(email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UndeliverableReason {
    /// A permanent bounce: the receiving server refused the address.
    Bounced,
    /// The recipient reported the mail as spam.
    Complained,
}

/// One link in a user's rate-limit window. Keyed by its code id so that a link whose mail
/// failed can be taken out of the window by itself, whatever else changed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentLink {
    pub code_id: String,
    /// When it was created, epoch milliseconds.
    pub at_ms: i64,
}

/// Longest e-mail address SMTP can carry (RFC 5321 path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// A deliberately plain check of a recipient address before it reaches SES: ASCII only (SES
/// takes 7-bit addresses; international domains arrive in punycode), one `@`, a local part
/// of 1-64 characters and a dotted domain, no spaces, no control characters (header
/// injection) and none of the characters that make a header hold several addresses.
pub fn valid_recipient(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    email.is_ascii()
        && email.len() <= MAX_EMAIL_LEN
        && (1..=64).contains(&local.len())
        && !local.chars().any(forbidden)
        && !domain.chars().any(forbidden)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty() && label.len() <= 63)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub state: OrgState,
}

/// ZITADEL's details of a manipulation: the event this call added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub sequence: u64,
    pub event_date: DateTime<Utc>,
    pub resource_owner: OrgId,
}

impl Details {
    /// v2's `Details`: `sequence`, `changeDate`, `resourceOwner`.
    pub fn v2_json(&self) -> serde_json::Value {
        self.json("changeDate")
    }

    /// v1's `ObjectDetails` of an addition (ZITADEL's `AddToDetailsPb`, a new link):
    /// `sequence`, `creationDate`, `resourceOwner`.
    pub fn v1_added_json(&self) -> serde_json::Value {
        self.json("creationDate")
    }

    /// v1's `ObjectDetails` of a change (ZITADEL's `DomainToChangeDetailsPb`, a removal):
    /// `sequence`, `changeDate`, `resourceOwner`.
    pub fn v1_changed_json(&self) -> serde_json::Value {
        self.json("changeDate")
    }

    /// uint64 travels as a decimal string in protobuf JSON, which omits it when 0.
    fn json(&self, date_field: &str) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        if self.sequence != 0 {
            details.insert("sequence".into(), self.sequence.to_string().into());
        }
        details
            .insert(date_field.into(), self.event_date.to_rfc3339_opts(SecondsFormat::Millis, true).into());
        details.insert("resourceOwner".into(), self.resource_owner.as_str().into());
        details.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_zitadel_shapes_and_reject_key_or_url_breakers() {
        assert!(UserId::parse("69629023906488334").is_some());
        assert!(UserId::parse("alice@example.com").is_some());
        assert!(UserId::parse(&"9".repeat(200)).is_some());
        for bad in ["", "a#b", "a/b", "../x", "a b", "a%2Fb", "é", "a\nb", &"9".repeat(201)] {
            assert!(UserId::parse(bad).is_none(), "{bad:?}");
            assert!(OrgId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn recipients() {
        for ok in ["alice@demo.example", "a.b+tag@sub.example.com", "x@a.io"] {
            assert!(valid_recipient(ok), "{ok}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a@b@example.com",
            "alice@example.com\r\nBcc: x@evil.example",
            "alice @example.com",
            "Alice <alice@example.com>",
            "a,b@example.com",
            "alice@example..com",
            "alice@example.com;bob@example.com",
            "alice@exam\u{202e}ple.com",
            "alice@exa\u{200b}mple.com",
            "jörg@example.com",
            &long_local,
            &long,
        ] {
            assert!(!valid_recipient(bad), "{bad:?}");
        }
    }

    #[test]
    fn details_take_zitadels_shapes_in_protobuf_json() {
        let details = Details {
            sequence: 2,
            event_date: DateTime::parse_from_rfc3339("2024-06-13T06:44:37.459Z").unwrap().into(),
            resource_owner: OrgId::parse("69629023906488334").unwrap(),
        };
        let date = "2024-06-13T06:44:37.459Z";
        let owner = "69629023906488334";
        assert_eq!(
            details.v2_json(),
            serde_json::json!({"sequence":"2","changeDate":date,"resourceOwner":owner})
        );
        assert_eq!(details.v1_changed_json(), details.v2_json());
        assert_eq!(
            details.v1_added_json(),
            serde_json::json!({"sequence":"2","creationDate":date,"resourceOwner":owner})
        );
        let first = Details { sequence: 0, ..details };
        assert_eq!(first.v2_json(), serde_json::json!({"changeDate":date,"resourceOwner":owner}));
    }
}
