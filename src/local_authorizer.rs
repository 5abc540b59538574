//! The Lambda authorizer `sam local start-api` runs in place of the HTTP API's JWT authorizer,
//! which SAM CLI does not emulate: it accepts the tokens `scripts/local-gateway.py token` signs
//! (RS256, the local test key) under the local gateway's rules: signature, issuer, audience,
//! `exp` in the future, `nbf` (when present) in the past. Like the local gateway, and unlike the
//! deployed JWT authorizer, it requires no scope (the local tokens carry none). Its simple
//! response puts the token's claims into the request's authorizer context, where the function
//! reads the caller (`requestContext.authorizer.lambda`). Only the local template
//! (scripts/sam-local-template.py) deploys it.

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::config::ConfigError;

/// Longer `Authorization` values are refused unread (API Gateway's JWT authorizer takes 8 KiB
/// headers; the local tokens are well under 1 KiB).
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a request was refused: logged, never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token")]
    Missing,
    #[error("token too long")]
    TooLong,
    #[error("malformed token")]
    Malformed,
    #[error("algorithm is not RS256")]
    Algorithm,
    #[error("bad signature")]
    Signature,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

/// Checks bearer tokens against one RSA public key, issuer and audience.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    /// DER `RSAPublicKey` (PKCS #1).
    public_key: Vec<u8>,
    issuer: String,
    audience: String,
}

impl TokenVerifier {
    /// From `LOCAL_JWT_PUBLIC_KEY` (base64 of the DER PKCS #1 `RSAPublicKey`),
    /// `LOCAL_JWT_ISSUER` and `LOCAL_JWT_AUDIENCE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |variable: &'static str| {
            lookup(variable)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError { variable, reason: "is not set".into() })
        };
        let key = required("LOCAL_JWT_PUBLIC_KEY")?;
        let public_key = STANDARD.decode(key.trim()).map_err(|_| ConfigError {
            variable: "LOCAL_JWT_PUBLIC_KEY",
            reason: "is not base64 (of a DER PKCS #1 RSA public key)".into(),
        })?;
        Ok(Self {
            public_key,
            issuer: required("LOCAL_JWT_ISSUER")?,
            audience: required("LOCAL_JWT_AUDIENCE")?,
        })
    }

    /// The token's claims when `authorization` is `Bearer <valid token>` at `now` (Unix seconds).
    pub fn verify(&self, authorization: Option<&str>, now: i64) -> Result<Map<String, Value>, Refusal> {
        let value = authorization.ok_or(Refusal::Missing)?;
        if value.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong);
        }
        let (scheme, token) = value.trim().split_once(' ').ok_or(Refusal::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::Missing);
        }
        let (signed, signature) = token.trim().rsplit_once('.').ok_or(Refusal::Malformed)?;
        let (header, payload) = signed.split_once('.').ok_or(Refusal::Malformed)?;
        if payload.contains('.') {
            return Err(Refusal::Malformed);
        }
        let header: Value = decode_json(header)?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(Refusal::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Refusal::Malformed)?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Refusal::Signature)?;
        let Value::Object(claims) = decode_json(payload)? else {
            return Err(Refusal::Malformed);
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(Refusal::Issuer);
        }
        let audience_matches = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_matches {
            return Err(Refusal::Audience);
        }
        if !claims.get("exp").and_then(Value::as_f64).is_some_and(|exp| exp > now as f64) {
            return Err(Refusal::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            if !nbf.as_f64().is_some_and(|nbf| nbf <= now as f64) {
                return Err(Refusal::NotYetValid);
            }
        }
        Ok(claims)
    }
}

fn decode_json(part: &str) -> Result<Value, Refusal> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| Refusal::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)
}

/// The `Authorization` header of an HTTP API authorizer event (payload 2.0): its identity
/// source when it is that header, else the header itself (API Gateway lower-cases names).
pub fn authorization(event: &Value) -> Option<&str> {
    let from_source = event.get("identitySource").and_then(Value::as_array).and_then(|s| s.first());
    from_source.or_else(|| event.get("headers")?.get("authorization")).and_then(Value::as_str)
}

/// A simple response (`EnableSimpleResponses`): allowed with the claims as context, string and
/// number claims as strings (as API Gateway's JWT authorizer passes them), others dropped.
pub fn response(verdict: &Result<Map<String, Value>, Refusal>) -> Value {
    match verdict {
        Ok(claims) => {
            let context: Map<String, Value> = claims
                .iter()
                .filter_map(|(name, value)| match value {
                    Value::String(s) => Some((name.clone(), Value::String(s.clone()))),
                    Value::Number(n) => Some((name.clone(), Value::String(n.to_string()))),
                    _ => None,
                })
                .collect();
            json!({"isAuthorized": true, "context": context})
        }
        Err(_) => json!({"isAuthorized": false}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The public half of a 2048-bit key made for these tests only, and a token it signed:
    // {"alg":"RS256","typ":"JWT"}.{"iss":"http://127.0.0.1/local-gateway","aud":"passkey-api",
    // "sub":"100000000000000010","exp":2000000000,"nbf":1700000000,
    // "urn:zitadel:iam:user:resourceowner:id":"100000000000000001","roles":["x"]}
    const PUBLIC_KEY: &str = include_str!("../tests/fixtures/local-authorizer/public-key.b64");
    const TOKEN: &str = include_str!("../tests/fixtures/local-authorizer/token.jwt");
    const NOW: i64 = 1_800_000_000;

    fn verifier() -> TokenVerifier {
        TokenVerifier::from_lookup(|name| match name {
            "LOCAL_JWT_PUBLIC_KEY" => Some(PUBLIC_KEY.into()),
            "LOCAL_JWT_ISSUER" => Some("http://127.0.0.1/local-gateway".into()),
            "LOCAL_JWT_AUDIENCE" => Some("passkey-api".into()),
            _ => None,
        })
        .unwrap()
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {}", token.trim())
    }

    /// The token with its payload replaced (the signature no longer matches).
    fn with_payload(payload: &Value) -> String {
        let mut parts: Vec<String> = TOKEN.trim().split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        parts.join(".")
    }

    #[test]
    fn a_valid_token_gives_its_claims_as_string_context() {
        let verdict = verifier().verify(Some(&bearer(TOKEN)), NOW);
        let claims = verdict.as_ref().unwrap();
        assert_eq!(claims["sub"], "100000000000000010");
        let answer = response(&verdict);
        assert_eq!(answer["isAuthorized"], true);
        assert_eq!(answer["context"]["sub"], "100000000000000010");
        assert_eq!(answer["context"]["urn:zitadel:iam:user:resourceowner:id"], "100000000000000001");
        assert_eq!(answer["context"]["exp"], "2000000000");
        assert!(answer["context"].get("roles").is_none(), "{answer}");
        // The scheme is case-insensitive, as API Gateway's is.
        assert!(verifier().verify(Some(&format!("bearer {}", TOKEN.trim())), NOW).is_ok());
    }

    #[test]
    fn time_bounds_are_enforced() {
        assert_eq!(verifier().verify(Some(&bearer(TOKEN)), 2_000_000_000), Err(Refusal::Expired));
        assert_eq!(verifier().verify(Some(&bearer(TOKEN)), 1_600_000_000), Err(Refusal::NotYetValid));
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let v = verifier();
        let header = TOKEN.split('.').next().unwrap();
        let none_alg =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), TOKEN.split('.').nth(1).unwrap());
        let hs256 =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#), TOKEN.split_once('.').unwrap().1);
        // A character inside the signature: the last one also carries padding bits.
        let mut flipped = TOKEN.trim().as_bytes().to_vec();
        let at = flipped.len() - 10;
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let cases: Vec<(Option<String>, Refusal)> = vec![
            (None, Refusal::Missing),
            (Some(String::new()), Refusal::Missing),
            (Some(TOKEN.trim().to_owned()), Refusal::Missing),
            (Some(format!("Basic {}", TOKEN.trim())), Refusal::Missing),
            (Some(format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES))), Refusal::TooLong),
            (Some("Bearer a.b".into()), Refusal::Malformed),
            (Some("Bearer a.b.c.d".into()), Refusal::Malformed),
            (
                Some(format!("Bearer {header}.%%%.{}", TOKEN.trim().rsplit('.').next().unwrap())),
                Refusal::Signature,
            ),
            (Some(bearer(&none_alg)), Refusal::Algorithm),
            (Some(bearer(&hs256)), Refusal::Algorithm),
            (Some(bearer(&flipped)), Refusal::Signature),
            (Some(bearer(&with_payload(&json!({"iss": "x"})))), Refusal::Signature),
        ];
        for (value, expected) in cases {
            assert_eq!(v.verify(value.as_deref(), NOW).unwrap_err(), expected, "{value:?}");
            assert_eq!(response(&Err(expected)), json!({"isAuthorized": false}));
        }
    }

    #[test]
    fn issuer_and_audience_must_match() {
        let other = |issuer: &str, audience: &str| TokenVerifier {
            public_key: verifier().public_key,
            issuer: issuer.into(),
            audience: audience.into(),
        };
        assert_eq!(
            other("https://other", "passkey-api").verify(Some(&bearer(TOKEN)), NOW),
            Err(Refusal::Issuer)
        );
        assert_eq!(
            other("http://127.0.0.1/local-gateway", "other").verify(Some(&bearer(TOKEN)), NOW),
            Err(Refusal::Audience)
        );
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        let err = TokenVerifier::from_lookup(|_| None).unwrap_err();
        assert_eq!(err.variable, "LOCAL_JWT_PUBLIC_KEY");
        let err = TokenVerifier::from_lookup(|name| (name == "LOCAL_JWT_PUBLIC_KEY").then(|| "***".into()))
            .unwrap_err();
        assert_eq!(err.variable, "LOCAL_JWT_PUBLIC_KEY");
        let err = TokenVerifier::from_lookup(|name| (name == "LOCAL_JWT_PUBLIC_KEY").then(|| "AAAA".into()))
            .unwrap_err();
        assert_eq!(err.variable, "LOCAL_JWT_ISSUER");
    }

    #[test]
    fn the_token_comes_from_the_identity_source_or_the_header() {
        assert_eq!(authorization(&json!({"identitySource": ["Bearer x"]})), Some("Bearer x"));
        assert_eq!(authorization(&json!({"headers": {"authorization": "Bearer y"}})), Some("Bearer y"));
        assert_eq!(authorization(&json!({"headers": {}})), None);
    }
}
