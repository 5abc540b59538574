//! WebAuthn registration ceremonies: the relying parties this service registers passkeys for,
//! and webauthn-rs behind them. No I/O: the domain stores the ceremony state between the two
//! calls (webauthn-rs's `danger-allow-state-serialisation`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Url,
    Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// WebAuthn's limit on a credential id's length.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The relying parties' settings: `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME`, `WEBAUTHN_ORIGINS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpSettings {
    /// Allowed RP ids, the default first.
    pub ids: Vec<String>,
    pub name: String,
    pub origins: Vec<Url>,
}

impl RpSettings {
    /// Checks what webauthn-rs would refuse later, so that a bad setting stops the cold start
    /// with the variable's name: RP ids are bare host names, origins are `https://` (or
    /// `http://localhost`) with no path, and every id has an origin inside it.
    pub fn new(ids: &str, name: &str, origins: &str) -> Result<Self, (&'static str, String)> {
        let ids: Vec<String> =
            ids.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect();
        if ids.is_empty() {
            return Err(("WEBAUTHN_RP_ID", "must name at least one host".into()));
        }
        for id in &ids {
            let valid = id.len() <= 253
                && id.split('.').all(|l| {
                    (1..=63).contains(&l.len())
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
            if !valid {
                return Err((
                    "WEBAUTHN_RP_ID",
                    format!("{id:?} is not a host name (no scheme, port or path)"),
                ));
            }
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(("WEBAUTHN_RP_NAME", "must be 1-64 printable characters".into()));
        }
        let mut parsed = Vec::new();
        for raw in origins.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let url = Url::parse(raw).map_err(|e| ("WEBAUTHN_ORIGINS", format!("{raw:?}: {e}")))?;
            let host = url.host_str().unwrap_or_default().to_owned();
            let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
            if !secure
                || !matches!(url.path(), "" | "/")
                || url.query().is_some()
                || !url.username().is_empty()
            {
                return Err((
                    "WEBAUTHN_ORIGINS",
                    format!(
                        "{raw:?} must be an origin: https://host[:port] (http only for localhost), no path"
                    ),
                ));
            }
            if !ids.iter().any(|id| within(&host, id)) {
                return Err(("WEBAUTHN_ORIGINS", format!("{raw:?} is not within any WEBAUTHN_RP_ID")));
            }
            parsed.push(url);
        }
        for id in &ids {
            if !parsed.iter().any(|o| within(o.host_str().unwrap_or_default(), id)) {
                return Err(("WEBAUTHN_ORIGINS", format!("no origin is within the RP id {id:?}")));
            }
        }
        Ok(Self { ids, name: name.to_owned(), origins: parsed })
    }
}

/// `host` is the RP id or one of its subdomains (WebAuthn's registrable-suffix rule).
fn within(host: &str, rp_id: &str) -> bool {
    host == rp_id || host.ends_with(&format!(".{rp_id}"))
}

/// One webauthn-rs instance per allowed RP id, built at cold start.
pub struct RelyingParties {
    parties: Vec<(String, Webauthn)>,
    name: String,
}

impl std::fmt::Debug for RelyingParties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParties").field("ids", &self.ids()).field("name", &self.name).finish()
    }
}

/// How a ceremony asks for the authenticator (ZITADEL's `PasskeyAuthenticator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    Any,
    Platform,
    CrossPlatform,
}

/// A started ceremony: the options for the browser and the state for the finish.
pub struct Started {
    pub options: Value,
    pub state: String,
}

/// A verified credential, with what the store records about it.
pub struct Registered {
    /// webauthn-rs's own form, for later authentications.
    pub passkey: String,
    pub credential_id: String,
    /// The COSE public key as JSON.
    pub public_key: String,
    pub sign_count: u32,
    pub aaguid: String,
}

/// Why a ceremony did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error("publicKeyCredential is not a WebAuthn registration response: {0}")]
    Malformed(String),
    #[error("attestation refused: {0}")]
    Refused(String),
    #[error("ceremony state unreadable: {0}")]
    State(String),
}

impl RelyingParties {
    pub fn new(settings: &RpSettings) -> Result<Self, String> {
        let mut parties = Vec::new();
        for id in &settings.ids {
            let mut origins =
                settings.origins.iter().filter(|o| within(o.host_str().unwrap_or_default(), id));
            let first = origins.next().ok_or_else(|| format!("no origin for {id}"))?;
            let mut builder =
                WebauthnBuilder::new(id, first).map_err(|e| format!("{id}: {e}"))?.rp_name(&settings.name);
            for origin in origins {
                builder = builder.append_allowed_origin(origin);
            }
            parties.push((id.clone(), builder.build().map_err(|e| format!("{id}: {e}"))?));
        }
        Ok(Self { parties, name: settings.name.clone() })
    }

    pub fn ids(&self) -> Vec<&str> {
        self.parties.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The RP named by `domain` (ZITADEL's `domain` field), the default for none; `None` for
    /// one that is not allowed.
    pub fn party(&self, domain: Option<&str>) -> Option<(&str, &Webauthn)> {
        match domain.map(str::trim).filter(|d| !d.is_empty()) {
            None => self.parties.first(),
            Some(d) => self.parties.iter().find(|(id, _)| id.eq_ignore_ascii_case(d)),
        }
        .map(|(id, w)| (id.as_str(), w))
    }

    /// Starts a registration that asks for a discoverable credential with user verification,
    /// excluding the user's existing credentials.
    pub fn start(
        &self,
        rp_id: &str,
        user_id: &str,
        user_name: &str,
        display_name: &str,
        exclude: &[String],
        attachment: Attachment,
    ) -> Result<Started, String> {
        let (_, webauthn) = self.party(Some(rp_id)).ok_or_else(|| format!("unknown RP id {rp_id}"))?;
        let exclude: Vec<CredentialID> =
            exclude.iter().filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok()).collect();
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = webauthn
            .start_passkey_registration(user_handle(user_id), user_name, display_name, Some(exclude))
            .map_err(|e| e.to_string())?;
        let mut options = serde_json::to_value(&options).map_err(|e| e.to_string())?;
        // webauthn-rs leaves the resident key to the authenticator; a link opened on a phone
        // must leave a passkey that signs in without a user name, so it is required.
        let mut selection = serde_json::json!({
            "residentKey": "required",
            "requireResidentKey": true,
            "userVerification": "required",
        });
        match attachment {
            Attachment::Any => {}
            Attachment::Platform => selection["authenticatorAttachment"] = "platform".into(),
            Attachment::CrossPlatform => selection["authenticatorAttachment"] = "cross-platform".into(),
        }
        options["publicKey"]["authenticatorSelection"] = selection;
        Ok(Started { options, state: serde_json::to_string(&state).map_err(|e| e.to_string())? })
    }

    /// Verifies the browser's answer against the stored state.
    pub fn finish(&self, rp_id: &str, state: &str, credential: &Value) -> Result<Registered, CeremonyError> {
        let (_, webauthn) =
            self.party(Some(rp_id)).ok_or_else(|| CeremonyError::State(format!("unknown RP id {rp_id}")))?;
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|e| CeremonyError::State(e.to_string()))?;
        let response: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|e| CeremonyError::Malformed(e.to_string()))?;
        // WebAuthn caps credential ids at 1023 bytes (webauthn-rs accepts 4096); the id
        // becomes a key, which DynamoDB caps at 2048 bytes.
        if response.raw_id.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(CeremonyError::Refused(format!(
                "credential id longer than {MAX_CREDENTIAL_ID_LEN} bytes"
            )));
        }
        let passkey: Passkey = webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        if passkey.cred_id().len() > MAX_CREDENTIAL_ID_LEN {
            return Err(CeremonyError::Refused(format!(
                "credential id longer than {MAX_CREDENTIAL_ID_LEN} bytes"
            )));
        }
        let (aaguid, sign_count) = authenticator_data(&response.response.attestation_object)
            .ok_or_else(|| CeremonyError::Malformed("attestationObject has no attested credential".into()))?;
        Ok(Registered {
            passkey: serde_json::to_string(&passkey).map_err(|e| CeremonyError::State(e.to_string()))?,
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            public_key: serde_json::to_string(passkey.get_public_key())
                .map_err(|e| CeremonyError::State(e.to_string()))?,
            sign_count,
            aaguid: aaguid.hyphenated().to_string(),
        })
    }
}

/// The WebAuthn user handle: stable per user, and not the user id itself (the spec asks for
/// no personal data in it).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::digest(format!("passkey-user-handle:{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// The AAGUID and sign count from an attestation object's authenticator data (webauthn-rs
/// exposes neither for passkeys without attestation).
fn authenticator_data(attestation_object: &[u8]) -> Option<(Uuid, u32)> {
    use serde_cbor_2::Value as Cbor;
    let Cbor::Map(map) = serde_cbor_2::from_slice::<Cbor>(attestation_object).ok()? else {
        return None;
    };
    let Cbor::Bytes(auth_data) = map.get(&Cbor::Text("authData".into()))? else {
        return None;
    };
    // rpIdHash (32) | flags (1) | signCount (4) | AAGUID (16) | ... when AT (0x40) is set.
    if auth_data.len() < 53 || auth_data[32] & 0x40 == 0 {
        return None;
    }
    let sign_count = u32::from_be_bytes(auth_data[33..37].try_into().ok()?);
    let aaguid = Uuid::from_slice(&auth_data[37..53]).ok()?;
    Some((aaguid, sign_count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_name() {
        let ok = RpSettings::new("localhost", "ZITADEL", "http://localhost:8080").unwrap();
        assert_eq!(ok.ids, ["localhost"]);
        let multi = RpSettings::new(
            "example.com, login.example.org",
            "Acme",
            "https://id.example.com,https://login.example.org",
        )
        .unwrap();
        assert_eq!(multi.ids.len(), 2);
        for (ids, name, origins, variable) in [
            ("", "n", "https://a.example", "WEBAUTHN_RP_ID"),
            ("https://a.example", "n", "https://a.example", "WEBAUTHN_RP_ID"),
            ("a.example:443", "n", "https://a.example", "WEBAUTHN_RP_ID"),
            ("a.example", "", "https://a.example", "WEBAUTHN_RP_NAME"),
            ("a.example", "n", "http://a.example", "WEBAUTHN_ORIGINS"),
            ("a.example", "n", "https://b.example", "WEBAUTHN_ORIGINS"),
            ("a.example", "n", "https://a.example/login", "WEBAUTHN_ORIGINS"),
            ("a.example", "n", "not a url", "WEBAUTHN_ORIGINS"),
            ("a.example,b.example", "n", "https://a.example", "WEBAUTHN_ORIGINS"),
            ("a.example", "n", "https://evila.example", "WEBAUTHN_ORIGINS"),
        ] {
            assert_eq!(RpSettings::new(ids, name, origins).unwrap_err().0, variable, "{ids} {origins}");
        }
    }

    #[test]
    fn options_require_a_discoverable_verified_credential_and_exclude_known_ones() {
        let parties =
            RelyingParties::new(&RpSettings::new("localhost", "ZITADEL", "http://localhost:8080").unwrap())
                .unwrap();
        let known = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let started = parties
            .start("localhost", "u1", "alice", "Alice", std::slice::from_ref(&known), Attachment::Platform)
            .unwrap();
        let options = &started.options["publicKey"];
        assert_eq!(options["rp"]["id"], "localhost");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(options["authenticatorSelection"]["requireResidentKey"], true);
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(options["authenticatorSelection"]["authenticatorAttachment"], "platform");
        assert_eq!(options["excludeCredentials"][0]["id"], known.as_str());
        assert_eq!(options["user"]["id"], URL_SAFE_NO_PAD.encode(user_handle("u1").as_bytes()).as_str());
        assert!(parties.party(Some("evil.example")).is_none());
        assert_eq!(parties.party(None).unwrap().0, "localhost");
    }
}
