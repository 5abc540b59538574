//! The software authenticator against webauthn-rs itself: what it creates is a credential
//! webauthn-rs registers, and what it should not (excluded, wrong origin, another challenge)
//! fails the way a browser or the relying party would. Needs no local stack.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::authenticator::SoftAuthenticator;
use serde_json::Value;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::*;

const ORIGIN: &str = "http://localhost:18080";

fn webauthn() -> Webauthn {
    WebauthnBuilder::new("localhost", &Url::parse(ORIGIN).unwrap()).unwrap().rp_name("Tests").build().unwrap()
}

fn options(webauthn: &Webauthn, exclude: Option<Vec<CredentialID>>) -> (Value, PasskeyRegistration) {
    let (ccr, state) =
        webauthn.start_passkey_registration(Uuid::new_v4(), "alice", "Alice", exclude).unwrap();
    (serde_json::to_value(&ccr).unwrap(), state)
}

fn b64(field: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(field.as_str().unwrap()).unwrap()
}

fn finish(webauthn: &Webauthn, response: Value, state: &PasskeyRegistration) -> WebauthnResult<Passkey> {
    let credential: RegisterPublicKeyCredential = serde_json::from_value(response).unwrap();
    webauthn.finish_passkey_registration(&credential, state)
}

#[test]
fn webauthn_rs_registers_the_credential() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (options, state) = options(&webauthn, None);

    let response = authenticator.register(&options, ORIGIN).unwrap();
    assert_eq!(response["id"], authenticator.credential_id());
    assert_eq!(response["rawId"], authenticator.credential_id());
    assert_eq!(response["type"], "public-key");
    assert_eq!(response["response"]["transports"], serde_json::json!(["internal"]));

    let passkey = finish(&webauthn, response, &state).expect("webauthn-rs accepts the registration");
    assert_eq!(URL_SAFE_NO_PAD.encode(passkey.cred_id()), authenticator.credential_id());
    let credential = Credential::from(passkey);
    assert!(credential.user_verified);
    assert!(!credential.backup_eligible && !credential.backup_state);
    assert_eq!(credential.counter, 0);
    assert_eq!(credential.attestation_format, AttestationFormat::None);
    assert_eq!(credential.cred.type_, COSEAlgorithm::ES256);
}

#[test]
fn client_data_and_attestation_object_have_the_browser_shape() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (options, _) = options(&webauthn, None);
    let response = authenticator.register(&options, ORIGIN).unwrap();

    let client_data: Value = serde_json::from_slice(&b64(&response["response"]["clientDataJSON"])).unwrap();
    assert_eq!(
        client_data,
        serde_json::json!({
            "type": "webauthn.create",
            "challenge": options["publicKey"]["challenge"],
            "origin": ORIGIN,
            "crossOrigin": false,
        })
    );

    // Canonical CBOR: {"fmt": "none", "attStmt": {}, "authData": <bytes>} in that order.
    let object = b64(&response["response"]["attestationObject"]);
    let mut prefix = vec![0xa3, 0x63];
    prefix.extend_from_slice(b"fmt");
    prefix.push(0x64);
    prefix.extend_from_slice(b"none");
    prefix.push(0x67);
    prefix.extend_from_slice(b"attStmt");
    prefix.push(0xa0);
    prefix.push(0x68);
    prefix.extend_from_slice(b"authData");
    assert_eq!(object[..prefix.len()], prefix[..]);

    let decoded: serde_cbor_2::Value = serde_cbor_2::from_slice(&object).unwrap();
    let serde_cbor_2::Value::Map(map) = decoded else { panic!("attestation object is a map") };
    let Some(serde_cbor_2::Value::Bytes(auth_data)) = map.get(&serde_cbor_2::Value::Text("authData".into()))
    else {
        panic!("authData is a byte string")
    };

    assert_eq!(auth_data[..32], Sha256::digest(b"localhost")[..]);
    assert_eq!(auth_data[32], 0x45, "UP | UV | AT, no BE/BS");
    assert_eq!(auth_data[33..37], [0, 0, 0, 0]);
    let aaguid: String = auth_data[37..53].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(aaguid, authenticator.aaguid().replace('-', ""));
    assert_ne!(aaguid, "0".repeat(32));
    assert_eq!(authenticator.aaguid().len(), 36);
    assert_eq!(auth_data[53..55], [0, 32]);
    assert_eq!(URL_SAFE_NO_PAD.encode(&auth_data[55..87]), authenticator.credential_id());

    // The COSE key, integer-keyed, is all that follows.
    let cose: serde_cbor_2::Value = serde_cbor_2::from_slice(&auth_data[87..]).unwrap();
    let serde_cbor_2::Value::Map(cose) = cose else { panic!("COSE key is a map") };
    let int = |k: i128| cose.get(&serde_cbor_2::Value::Integer(k)).unwrap().clone();
    assert_eq!(int(1), serde_cbor_2::Value::Integer(2));
    assert_eq!(int(3), serde_cbor_2::Value::Integer(-7));
    assert_eq!(int(-1), serde_cbor_2::Value::Integer(1));
    assert!(matches!(int(-2), serde_cbor_2::Value::Bytes(x) if x.len() == 32));
    assert!(matches!(int(-3), serde_cbor_2::Value::Bytes(y) if y.len() == 32));
    assert_eq!(cose.len(), 5);
}

#[test]
fn an_excluded_credential_is_refused_like_a_browser_does() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (first, state) = options(&webauthn, None);
    let passkey = finish(&webauthn, authenticator.register(&first, ORIGIN).unwrap(), &state).unwrap();

    let (second, _) = options(&webauthn, Some(vec![passkey.cred_id().clone()]));
    assert!(second["publicKey"]["excludeCredentials"].is_array());
    assert_eq!(authenticator.register(&second, ORIGIN), Err("excluded"));

    // Another authenticator is not the excluded one.
    let mut other = SoftAuthenticator::new();
    assert_ne!(other.credential_id(), authenticator.credential_id());
    let (third, state) = options(&webauthn, Some(vec![passkey.cred_id().clone()]));
    finish(&webauthn, other.register(&third, ORIGIN).unwrap(), &state).unwrap();
}

#[test]
fn a_wrong_origin_fails_finish() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (options, state) = options(&webauthn, None);
    let response = authenticator.register(&options, "http://evil.example:18080").unwrap();
    assert!(matches!(finish(&webauthn, response, &state), Err(WebauthnError::InvalidRPOrigin)));
}

#[test]
fn another_challenge_fails_finish() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (mut options, state) = options(&webauthn, None);
    let mut challenge = b64(&options["publicKey"]["challenge"]);
    challenge[0] ^= 0xff;
    options["publicKey"]["challenge"] = URL_SAFE_NO_PAD.encode(&challenge).into();
    let response = authenticator.register(&options, ORIGIN).unwrap();
    assert!(matches!(finish(&webauthn, response, &state), Err(WebauthnError::MismatchedChallenge)));
}

#[test]
fn a_challenge_for_another_ceremony_fails_finish() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (_, state) = options(&webauthn, None);
    let (other, _) = options(&webauthn, None);
    let response = authenticator.register(&other, ORIGIN).unwrap();
    assert!(finish(&webauthn, response, &state).is_err());
}

#[test]
fn a_tampered_attestation_fails_finish() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (options, state) = options(&webauthn, None);
    let mut response = authenticator.register(&options, ORIGIN).unwrap();
    // rp id hash of another site.
    let mut object = b64(&response["response"]["attestationObject"]);
    let start = object.windows(8).position(|w| w == b"authData").unwrap() + 8 + 2;
    object[start] ^= 0x01;
    response["response"]["attestationObject"] = URL_SAFE_NO_PAD.encode(&object).into();
    assert!(matches!(finish(&webauthn, response, &state), Err(WebauthnError::InvalidRPIDHash)));
}

#[test]
fn no_es256_is_not_supported() {
    let webauthn = webauthn();
    let mut authenticator = SoftAuthenticator::new();
    let (mut options, _) = options(&webauthn, None);
    options["publicKey"]["pubKeyCredParams"] = serde_json::json!([{"type": "public-key", "alg": -257}]);
    assert_eq!(authenticator.register(&options, ORIGIN), Err("unsupported algorithm"));
}
