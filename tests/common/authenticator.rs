//! A software WebAuthn authenticator for the tests: one ES256 (P-256) credential, created the way
//! a CTAP2 platform authenticator with user verification and a browser in front of it would,
//! with `none` attestation. Needs nothing but the options the service answers.
//!
//! It plays the client's part too (clientDataJSON, excludeCredentials), but deliberately does not
//! check the origin against `rp.id`: tests hand it wrong origins to see the service refuse them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The AAGUID this authenticator claims: fixed, nonzero, made up for the tests.
const AAGUID: [u8; 16] =
    [0x7e, 0x57, 0xa0, 0x7b, 0x5e, 0x1f, 0x4c, 0x0d, 0x9a, 0x11, 0x5e, 0xc0, 0xde, 0x00, 0x00, 0x01];

/// authenticatorData flags: user present, user verified, attested credential data included.
/// Backup eligibility and state (BE, BS) stay clear: a device-bound credential.
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

/// COSE algorithm identifier of ES256.
const ES256: i64 = -7;

pub struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    aaguid: [u8; 16],
    sign_count: u32,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    pub fn new() -> Self {
        let key = loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).expect("system randomness");
            // Out of range (zero or >= the group order) is astronomically unlikely; draw again.
            if let Ok(key) = SigningKey::from_slice(&secret) {
                break key;
            }
        };
        let mut credential_id = vec![0u8; 32];
        getrandom::fill(&mut credential_id).expect("system randomness");
        SoftAuthenticator { key, credential_id, aaguid: AAGUID, sign_count: 0 }
    }

    /// The same authenticator with a credential id of `len` random bytes (adversarial tests).
    pub fn with_credential_id_len(mut self, len: usize) -> Self {
        self.credential_id = vec![0u8; len];
        getrandom::fill(&mut self.credential_id).expect("system randomness");
        self
    }

    /// base64url (no padding) of the credential id.
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// The AAGUID as a hyphenated lowercase UUID string.
    pub fn aaguid(&self) -> String {
        let hex: String = self.aaguid.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }

    /// `options`: the `publicKeyCredentialCreationOptions` JSON as the service answers it
    /// (webauthn-rs's `CreationChallengeResponse`, `{"publicKey": {...}}`; the bare inner object
    /// is accepted too). Returns the browser's `PublicKeyCredential` as JSON, the shape
    /// webauthn-rs's `RegisterPublicKeyCredential` deserialises.
    ///
    /// Err("excluded") if `excludeCredentials` names this credential (a browser's
    /// InvalidStateError); Err("unsupported algorithm") if `pubKeyCredParams` offers no ES256
    /// (NotSupportedError); Err("malformed options") if the challenge or the rp id is missing.
    pub fn register(&mut self, options: &Value, origin: &str) -> Result<Value, &'static str> {
        let public_key = options.get("publicKey").unwrap_or(options);

        let challenge = public_key["challenge"].as_str().ok_or("malformed options")?;
        // Without rp.id a browser takes the origin's effective domain.
        let rp_id = match public_key["rp"]["id"].as_str() {
            Some(id) => id.to_owned(),
            None => host_of(origin).ok_or("malformed options")?.to_owned(),
        };

        if let Some(params) = public_key["pubKeyCredParams"].as_array() {
            // An empty list means the defaults, which include ES256.
            let es256 = params.iter().any(|p| {
                p["alg"].as_i64() == Some(ES256) && p["type"].as_str().is_none_or(|t| t == "public-key")
            });
            if !params.is_empty() && !es256 {
                return Err("unsupported algorithm");
            }
        }

        if let Some(excluded) = public_key["excludeCredentials"].as_array() {
            let ours = excluded.iter().filter_map(|c| c["id"].as_str()).any(|id| {
                URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).is_ok_and(|raw| raw == self.credential_id)
            });
            if ours {
                return Err("excluded");
            }
        }

        let client_data_json = json!({
            "type": "webauthn.create",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();

        self.sign_count = 0;
        let auth_data = self.registration_auth_data(&rp_id);
        let attestation_object = Cbor::Map(vec![
            (Cbor::text("fmt"), Cbor::text("none")),
            (Cbor::text("attStmt"), Cbor::Map(vec![])),
            (Cbor::text("authData"), Cbor::Bytes(auth_data)),
        ])
        .encode();

        let id = self.credential_id();
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data_json.as_bytes()),
                "transports": ["internal"],
            },
            "extensions": {},
        }))
    }

    /// rpIdHash || flags || signCount || attestedCredentialData.
    fn registration_auth_data(&self, rp_id: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
        out.push(FLAG_UP | FLAG_UV | FLAG_AT);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        out.extend_from_slice(&self.aaguid);
        let id_len = u16::try_from(self.credential_id.len()).expect("credential id fits u16");
        out.extend_from_slice(&id_len.to_be_bytes());
        out.extend_from_slice(&self.credential_id);
        out.extend_from_slice(&self.cose_public_key());
        out
    }

    /// The credential public key as a COSE_Key: EC2, ES256, P-256, x, y.
    fn cose_public_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let x = point.x().expect("uncompressed point has x").to_vec();
        let y = point.y().expect("uncompressed point has y").to_vec();
        Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),     // kty: EC2
            (Cbor::Int(3), Cbor::Int(ES256)), // alg: ES256
            (Cbor::Int(-1), Cbor::Int(1)),    // crv: P-256
            (Cbor::Int(-2), Cbor::Bytes(x)),  // x
            (Cbor::Int(-3), Cbor::Bytes(y)),  // y
        ])
        .encode()
    }
}

/// The host of an origin such as `https://example.com:8443`.
fn host_of(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    (!host.is_empty()).then_some(host)
}

/// The little CBOR this authenticator speaks, encoded canonically as CTAP2 wants it: shortest
/// heads, definite lengths, map keys ordered by encoded length and then bytewise.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    fn text(s: &str) -> Self {
        Cbor::Text(s.to_owned())
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(n) if *n >= 0 => head(out, 0, n.unsigned_abs()),
            Cbor::Int(n) => head(out, 1, (-1 - *n).unsigned_abs()),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            Cbor::Text(s) => {
                head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Cbor::Map(entries) => {
                let mut encoded: Vec<(Vec<u8>, Vec<u8>)> =
                    entries.iter().map(|(k, v)| (k.encode(), v.encode())).collect();
                encoded.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
                head(out, 5, encoded.len() as u64);
                for (k, v) in encoded {
                    out.extend_from_slice(&k);
                    out.extend_from_slice(&v);
                }
            }
        }
    }
}

/// A major type with its argument in the shortest form.
fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let major = major << 5;
    match arg {
        0..=23 => out.push(major | arg as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}
