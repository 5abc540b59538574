use super::*;
use crate::model::OrgId;

fn link(code: &str) -> LinkRecord {
    LinkRecord {
        org_id: OrgId::parse("o1").unwrap(),
        code_hash: hash_code(code),
        expires_at: 1_000,
        used: false,
        failed_attempts: 0,
    }
}

fn proof(code: &str) -> CodeProof {
    CodeProof { id: "c1".into(), code: code.into() }
}

#[test]
fn codes_are_checked_in_an_order_that_reveals_least() {
    assert!(check_code(Some(&link("right")), &proof("right"), 5, 999).is_ok());
    assert!(matches!(check_code(None, &proof("right"), 5, 0), Err(Error::CodeNotFound)));
    assert!(matches!(check_code(Some(&link("right")), &proof("wrong"), 5, 0), Err(Error::CodeInvalid)));
    // A wrong code learns nothing about use or expiry.
    let used = LinkRecord { used: true, ..link("right") };
    assert!(matches!(check_code(Some(&used), &proof("wrong"), 5, 0), Err(Error::CodeInvalid)));
    assert!(matches!(check_code(Some(&used), &proof("right"), 5, 0), Err(Error::CodeUsed)));
    assert!(matches!(check_code(Some(&link("right")), &proof("right"), 5, 1_000), Err(Error::CodeExpired)));
    // Locked is locked, even for the right code.
    let locked = LinkRecord { failed_attempts: 5, ..link("right") };
    assert!(matches!(check_code(Some(&locked), &proof("right"), 5, 0), Err(Error::CodeLocked)));
    assert!(
        check_code(Some(&LinkRecord { failed_attempts: 4, ..link("right") }), &proof("right"), 5, 0).is_ok()
    );
}

#[test]
fn names_cannot_hide_or_reorder_text() {
    for bad in [
        "a\u{202E}b",
        "a\u{200B}b",
        "a\u{2028}b",
        "\u{FEFF}a",
        "a\nb",
        "a\u{2066}b",
        "\u{3164}",
        "a\u{2800}",
        "\u{115F}\u{1160}",
    ] {
        assert!(bad.chars().any(hidden_or_control), "{bad:?}");
    }
    assert!(!"Alice's iPhone 15 — Face ID, 日本".chars().any(hidden_or_control));
}

#[test]
fn comparison_needs_every_byte() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
