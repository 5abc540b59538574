use super::*;
use crate::model::{UserKind, UserState};
use serde_json::json;

fn envelope(detail_type: &str, detail: Value) -> Value {
    json!({"version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.ses",
        "account": "123456789012", "time": "2026-12-02T10:00:05Z", "region": "eu-central-1",
        "resources": ["arn:aws:ses:eu-central-1:123456789012:configuration-set/links"], "detail": detail})
}

fn mail() -> Value {
    json!({"timestamp": "2026-12-02T10:00:00.000Z", "source": "no-reply@demo.example",
        "messageId": "0102018f-abc", "destination": ["alice@demo.example"],
        "tags": {"purpose": ["passkey-registration"], "org": ["1001"], "user": ["alice_40demo"],
            "code": ["c0a6d565-4b2e-4630-b479-e6b120612da2"], "ses:configuration-set": ["links"]}})
}

fn bounce(kind: &str) -> Value {
    envelope(
        "Email Bounced",
        json!({"eventType": "Bounce", "mail": mail(), "bounce": {
        "bounceType": kind, "bounceSubType": "General", "timestamp": "2026-12-02T10:00:03.500Z",
        "feedbackId": "fb-1", "bouncedRecipients": [{"emailAddress": "alice@demo.example",
        "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 unknown\r\nuser"}]}}),
    )
}

fn event_of(envelope: &Value) -> MailEvent {
    match read(envelope).unwrap() {
        Read::Event(e) => *e,
        other => panic!("{other:?}"),
    }
}

fn user(email: &str) -> User {
    User {
        id: UserId::parse("alice@demo").unwrap(),
        org_id: OrgId::parse("1001").unwrap(),
        kind: UserKind::Human,
        state: UserState::Active,
        email: Some(email.into()),
        display_name: None,
        name: Default::default(),
        user_name: None,
        preferred_language: None,
        sequence: 4,
        recent_links: None,
        undeliverable: Vec::new(),
    }
}

#[test]
fn reads_a_bounce_with_its_ids_type_and_cleaned_diagnostic() {
    let e = event_of(&bounce("Permanent"));
    assert_eq!(e.user_id.as_str(), "alice@demo");
    assert_eq!(e.org_id.as_str(), "1001");
    assert_eq!(e.code_id, "c0a6d565-4b2e-4630-b479-e6b120612da2");
    assert_eq!(e.status.state, MailState::Bounced);
    assert_eq!(e.status.at, "2026-12-02T10:00:03.500Z");
    assert_eq!(e.status.bounce_type.as_deref(), Some("Permanent"));
    assert_eq!(e.status.diagnostic.as_deref(), Some("smtp; 550 5.1.1 unknown  user"));
    let mut named = bounce("Permanent");
    named["detail"]["bounce"]["bouncedRecipients"][0]["diagnosticCode"] =
        json!("smtp; 550 5.1.1 <alice@demo.example>: no such user; forwarded to\tbob@other.example");
    assert_eq!(
        event_of(&named).status.diagnostic.as_deref(),
        Some("smtp; 550 5.1.1 <address> no such user; forwarded to <address>")
    );
    assert_eq!(e.undeliverable_reason(), Some(UndeliverableReason::Bounced));
    assert_eq!(event_of(&bounce("Transient")).undeliverable_reason(), None);
}

#[test]
fn other_mail_and_other_event_types_are_ignored_not_failed() {
    let mut other = bounce("Permanent");
    other["detail"]["mail"]["tags"]["purpose"] = json!(["newsletter"]);
    assert!(matches!(read(&other), Ok(Read::Ignored(Ignored::NotALinkMail))));
    other["detail"]["mail"]["tags"].as_object_mut().unwrap().remove("purpose");
    assert!(matches!(read(&other), Ok(Read::Ignored(Ignored::NotALinkMail))));
    let open = envelope("Email Opened", json!({"eventType": "Open", "mail": mail(), "open": {}}));
    assert!(matches!(read(&open), Ok(Read::Ignored(Ignored::NotRecorded(t))) if t == "Open"));
    let odd = envelope("x", json!({"eventType": "alice@demo.example", "mail": mail()}));
    assert!(matches!(read(&odd), Ok(Read::Ignored(Ignored::NotRecorded(t))) if t == "(unreadable)"));
}

#[test]
fn malformed_events_say_what_is_missing() {
    let mut cases = vec![json!(null), json!([]), json!({"source": "aws.ses"})];
    let mut e = bounce("Permanent");
    e["source"] = json!("aws.sns");
    cases.push(e);
    for (pointer, value) in [
        ("/detail/mail/tags/code", json!(["a", "b"])),
        ("/detail/mail/tags/user", json!(["a b"])),
        ("/detail/mail/tags/org", json!([])),
        ("/detail/mail/tags/code", json!(["../x"])),
        ("/detail/mail/messageId", json!(5)),
        ("/detail/bounce", json!("x")),
        ("/detail/bounce/bounceType", json!(null)),
        ("/detail/bounce/timestamp", json!("yesterday")),
        ("/detail/bounce/timestamp", json!(1764669603000u64)),
        ("/detail/bounce/timestamp", json!("9999-12-31T23:59:59-01:00")),
        ("/detail/bounce/timestamp", json!("1999-12-31T23:59:59Z")),
        ("/detail/bounce/feedbackId", json!(null)),
        ("/detail/mail/tags/code", json!(["C0A6D565-4B2E-4630-B479-E6B120612DA2"])),
        ("/detail/mail/tags/code", json!(["c0a6d565"])),
        ("/detail/mail/tags/user", json!(["alice_40demo", 5])),
        ("/detail/mail/tags/purpose", json!(["passkey-registration", 7])),
    ] {
        let mut e = bounce("Permanent");
        *e.pointer_mut(pointer).unwrap() = value;
        cases.push(e);
    }
    for case in cases {
        assert!(matches!(read(&case), Err(FeedbackError::Malformed(_))), "{case}");
    }
}

#[test]
fn the_state_is_the_highest_rank_then_the_latest_whatever_the_order() {
    let status = |state, at: &str| DeliveryStatus {
        state,
        at: at.into(),
        bounce_type: None,
        bounce_sub_type: None,
        diagnostic: None,
    };
    let events = [
        status(MailState::Sent, "2026-01-01T00:00:00.000Z"),
        status(MailState::Delayed, "2026-01-01T00:00:01.000Z"),
        status(MailState::Delayed, "2026-01-01T00:00:02.000Z"),
        status(MailState::Delivered, "2026-01-01T00:00:03.000Z"),
        status(MailState::Complained, "2026-01-01T00:00:04.000Z"),
    ];
    // Every order of five events ends in the same state.
    let mut order: Vec<usize> = (0..events.len()).collect();
    let mut seen = 0;
    permute(&mut order, 0, &mut |order| {
        let mut current: Option<DeliveryStatus> = None;
        for &i in order {
            if current.as_ref().is_none_or(|c| events[i].supersedes(c)) {
                current = Some(events[i].clone());
            }
        }
        assert_eq!(current.as_ref(), Some(&events[4]), "{order:?}");
        seen += 1;
    });
    assert_eq!(seen, 120);
    assert!(!events[2].supersedes(&events[2]));
}

fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
    if k == v.len() {
        return f(v);
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, f);
        v.swap(k, i);
    }
}

#[test]
fn only_the_address_the_user_still_has_is_marked() {
    let e = event_of(&bounce("Permanent"));
    let now = Utc::now();
    let fresh = LinkMail::default();
    let marked = plan(&e, &user("Alice@Demo.example"), Some(&fresh), e.marker(), now);
    let mark = marked.undeliverable.clone().unwrap();
    assert_eq!(mark.reason, UndeliverableReason::Bounced);
    assert_eq!(marked.sequence, 5);
    let moved = plan(&e, &user("alice@new.example"), Some(&fresh), e.marker(), now);
    assert!(moved.undeliverable.is_none());
    let mut again = user("alice@demo.example");
    again.undeliverable = vec![mark.clone()];
    assert!(plan(&e, &again, None, e.marker(), now).undeliverable.is_none());
    // A second address gets a mark of its own.
    let mut other = user("alice@new.example");
    other.undeliverable = vec![mark];
    let mut to_new = bounce("Permanent");
    to_new["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!("alice@new.example");
    let to_new = event_of(&to_new);
    let added = plan(&to_new, &other, None, to_new.marker(), now).undeliverable.unwrap();
    assert_eq!(added.address, "alice@new.example");
}

#[test]
fn a_link_follows_only_its_own_mail_and_keeps_a_permanent_bounce() {
    let e = event_of(&bounce("Permanent"));
    let now = Utc::now();
    let other_mail = LinkMail { status: None, message_id: Some("another-message".into()) };
    assert!(plan(&e, &user("alice@demo.example"), Some(&other_mail), e.marker(), now).link_status.is_none());
    let permanent = LinkMail { status: Some(e.status.clone()), message_id: Some(e.message_id.clone()) };
    let mut later = bounce("Transient");
    later["detail"]["bounce"]["timestamp"] = json!("2026-12-02T10:00:09.000Z");
    later["detail"]["bounce"]["feedbackId"] = json!("fb-2");
    let later = event_of(&later);
    assert!(plan(&later, &user("alice@demo.example"), Some(&permanent), later.marker(), now)
        .link_status
        .is_none());
    assert!(e.status.supersedes(&later.status));
}

#[test]
fn a_not_spam_report_marks_nothing() {
    let complaint = |kind: &str| {
        envelope(
            "Email Complaint Received",
            json!({"eventType": "Complaint", "mail": mail(), "complaint": {
            "feedbackId": "fb-c", "complainedRecipients": [{"emailAddress": "alice@demo.example"}],
            "timestamp": "2026-12-02T11:00:00.000Z", "complaintFeedbackType": kind}}),
        )
    };
    assert_eq!(event_of(&complaint("abuse")).undeliverable_reason(), Some(UndeliverableReason::Complained));
    assert_eq!(event_of(&complaint("not-spam")).undeliverable_reason(), None);
    assert_eq!(event_of(&complaint("Not-Spam")).undeliverable_reason(), None);
    // Proof of delivery, no more: it does not hide a permanent bounce.
    let bounced = event_of(&bounce("Permanent")).status;
    assert!(!event_of(&complaint("not-spam")).status.supersedes(&bounced));
    assert!(event_of(&complaint("abuse")).status.supersedes(&bounced));
}

#[test]
fn outside_text_loses_bidi_and_invisible_characters() {
    assert_eq!(printable("550\u{202E}evil\u{200B} x\r\ny", 100), "550evil x  y");
    assert_eq!(printable("abcdef", 3), "abc");
    let mut e = bounce("Permanent");
    e["detail"]["mail"]["messageId"] = json!("\u{202E}mid");
    assert!(matches!(read(&e), Err(FeedbackError::Malformed(_))));
}

#[test]
fn markers_name_the_event_not_its_delivery() {
    let a = event_of(&bounce("Permanent"));
    let mut again = bounce("Permanent");
    again["id"] = json!("another-eventbridge-id");
    again["time"] = json!("2026-12-02T11:00:00Z");
    assert_eq!(a.marker(), event_of(&again).marker());
    let mut other = bounce("Permanent");
    other["detail"]["bounce"]["feedbackId"] = json!("fb-2");
    assert_ne!(a.marker(), event_of(&other).marker());
    // Below the millisecond, or another mail: another event.
    let mut finer = bounce("Permanent");
    finer["detail"]["bounce"]["timestamp"] = json!("2026-12-02T10:00:03.5001Z");
    assert_ne!(a.marker(), event_of(&finer).marker());
    let mut other_mail = bounce("Permanent");
    other_mail["detail"]["mail"]["messageId"] = json!("0102018f-def");
    assert_ne!(a.marker(), event_of(&other_mail).marker());
    assert_eq!(a.marker().len(), 32);
}
