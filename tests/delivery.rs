//! Delivery feedback through the real handler on the local stack: SES's events about mails
//! the send path really sent, in EventBridge's envelope, recorded on the link, in the user's
//! history and (permanent bounce, complaint) as the address's mark that later sends refuse.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::passkeys::call;
use common::ses_events::*;
use common::*;
use send_passkey_link::delivery::{FeedbackError, Ignored, MailState, Outcome};
use send_passkey_link::model::UserId;
use send_passkey_link::store::LinkList;
use serde_json::{json, Value};

const ADMIN: Option<(&str, &str)> = Some((DEMO_ADMIN, DEMO_ORG));

fn recorded(state: MailState, link_changed: bool, marked: bool) -> Outcome {
    Outcome::Recorded { state, link_changed, marked }
}

/// The link as v2's list shows it.
async fn listed(h: &Harness, code_id: &str) -> Value {
    let (status, body) =
        call(h, "POST", &format!("/v2/users/{ALICE}/passkeys/registration_links/_search"), ADMIN, json!({}))
            .await;
    assert_eq!(status, 200, "{body}");
    body["result"].as_array().unwrap().iter().find(|l| l["id"] == code_id).cloned().unwrap_or(Value::Null)
}

/// The event types of Alice's history after `sequence`.
async fn events_after(h: &Harness, sequence: u64) -> Vec<String> {
    h.items(ALICE, "EVENT#")
        .await
        .iter()
        .filter(|e| e["sequence"].as_n().unwrap().parse::<u64>().unwrap() > sequence)
        .map(|e| e["eventType"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn each_event_moves_the_link_and_is_an_audit_event() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    assert_eq!(
        listed(&h, &sent.code_id).await["mailDelivery"],
        json!({"state": "MAIL_DELIVERY_STATE_ACCEPTED"})
    );
    let before = h.user_sequence(ALICE).await;

    let steps = [
        (
            send(&sent),
            MailState::Sent,
            json!({"state": "MAIL_DELIVERY_STATE_SENT", "changeDate": "2026-12-02T10:00:00.000Z"}),
        ),
        (
            delay(&sent, "2026-12-02T10:00:02.000Z"),
            MailState::Delayed,
            json!({"state": "MAIL_DELIVERY_STATE_DELAYED", "changeDate": "2026-12-02T10:00:02.000Z",
                "diagnostic": "smtp; 421 4.4.0 Unable to lookup DNS for demo.example"}),
        ),
        (
            delivery(&sent, "2026-12-02T10:00:04.000Z"),
            MailState::Delivered,
            json!({"state": "MAIL_DELIVERY_STATE_DELIVERED", "changeDate": "2026-12-02T10:00:04.000Z"}),
        ),
        (
            complaint(&sent, "2026-12-02T11:00:00.000Z", "fb-c1"),
            MailState::Complained,
            json!({"state": "MAIL_DELIVERY_STATE_COMPLAINED", "changeDate": "2026-12-02T11:00:00.000Z",
                "diagnostic": "abuse"}),
        ),
    ];
    for (event, state, shown) in steps {
        let marked = state == MailState::Complained;
        assert_eq!(feedback.handle(&event).await.unwrap(), recorded(state, true, marked));
        let link = listed(&h, &sent.code_id).await;
        assert_eq!(link["mailDelivery"], shown, "{link}");
        assert_eq!(link["messageId"], sent.message_id.as_str());
    }
    assert_eq!(
        events_after(&h, before).await,
        [
            "user.human.passwordless.initialization.code.sent",
            "user.human.passwordless.initialization.code.delivery.delayed",
            "user.human.passwordless.initialization.code.delivered",
            "user.human.passwordless.initialization.code.complained",
        ]
    );
    assert_eq!(h.user_sequence(ALICE).await, before + 4);
    // passkey-admin links prints the same record.
    let links = h.table.list_links(&UserId::parse(ALICE).unwrap()).await.unwrap();
    let stored = serde_json::to_value(&links[0]).unwrap();
    assert_eq!(stored["mailDelivery"]["state"], "complained", "{stored}");
}

#[tokio::test]
async fn a_permanent_bounce_blocks_mail_to_that_address_until_it_changes_or_is_cleared() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let outcome =
        feedback.handle(&bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1")).await;
    assert_eq!(outcome.unwrap(), recorded(MailState::Bounced, true, true));
    let link = listed(&h, &sent.code_id).await;
    assert_eq!(
        link["mailDelivery"],
        json!({"state": "MAIL_DELIVERY_STATE_BOUNCED", "changeDate": "2026-12-02T10:00:03.000Z",
            "bounceType": "Permanent", "bounceSubType": "General", "diagnostic": "smtp; 550 5.1.1 user unknown"})
    );
    let marks = &h.user_item(ALICE).await["undeliverableEmails"];
    let mark = marks.as_l().unwrap()[0].as_m().unwrap();
    assert_eq!(mark["address"].as_s().unwrap(), &sent.to);
    assert_eq!(mark["reason"].as_s().unwrap(), "bounced");

    // Every mailing call now refuses, before anything is written; a returned link is fine.
    let sequence = h.user_sequence(ALICE).await;
    let mails = mails_to(&sent.to).len();
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!((status, error_id(&body), body["code"].as_i64()), (400, "USER-Em6Bq", Some(9)), "{body}");
    let v2 = format!("/v2/users/{ALICE}/passkeys/registration_link");
    let (status, body) = call(&h, "POST", &v2, ADMIN, json!({"sendLink": {}})).await;
    assert_eq!((status, error_id(&body)), (400, "USER-Em6Bq"), "{body}");
    let (status, body) =
        call(&h, "POST", "/auth/v1/users/me/passwordless/_send_link", Some((ALICE, DEMO_ORG)), json!({}))
            .await;
    assert_eq!((status, error_id(&body)), (400, "USER-Em6Bq"), "{body}");
    assert_eq!(mails_to(&sent.to).len(), mails);
    assert_eq!(h.user_sequence(ALICE).await, sequence);
    let (status, body) = call(&h, "POST", &v2, ADMIN, json!({"returnCode": {}})).await;
    assert_eq!(status, 200, "{body}");

    // The same address in capitals is the same address.
    set_email(&h, &sent.to.to_uppercase()).await;
    assert_eq!(h.admin_sends_to_alice().await.0, 400);
    // A new address mails again.
    let new_address = h.email_of("alice.new", "demo.example");
    set_email(&h, &new_address).await;
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
    assert_eq!(mails_to(&new_address).len(), 1);
    // Back to the old address: still marked, until an operator clears the mark.
    set_email(&h, &sent.to).await;
    assert_eq!(h.admin_sends_to_alice().await.0, 400);
    let before = h.user_sequence(ALICE).await;
    assert_eq!(
        h.table.clear_undeliverable(&UserId::parse(ALICE).unwrap(), "passkey-admin").await.unwrap(),
        1
    );
    assert_eq!(
        h.table.clear_undeliverable(&UserId::parse(ALICE).unwrap(), "passkey-admin").await.unwrap(),
        0
    );
    assert_eq!(events_after(&h, before).await, ["user.human.email.undeliverable.cleared"]);
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
}

/// A bounce for one address and a complaint for the next: both stay marked, whichever the
/// user has.
#[tokio::test]
async fn each_marked_address_stays_marked() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let first = send_alice_a_link(&h).await;
    let bounced = bounce(&first, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    assert_eq!(feedback.handle(&bounced).await.unwrap(), recorded(MailState::Bounced, true, true));
    let second_address = h.email_of("alice.two", "demo.example");
    set_email(&h, &second_address).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let mail = mails_to(&second_address).pop().unwrap();
    let second = SentMail {
        code_id: link_in(&mail).0,
        message_id: mail["messageId"].as_str().unwrap().to_owned(),
        to: second_address.clone(),
        ..first.clone()
    };
    let complained = complaint(&second, "2026-12-02T11:00:00.000Z", "fb-2");
    assert_eq!(feedback.handle(&complained).await.unwrap(), recorded(MailState::Complained, true, true));
    for address in [&first.to, &second_address] {
        set_email(&h, address).await;
        let (status, body) = h.admin_sends_to_alice().await;
        assert_eq!((status, error_id(&body)), (400, "USER-Em6Bq"), "{address}: {body}");
    }
    assert_eq!(
        h.table.clear_undeliverable(&UserId::parse(ALICE).unwrap(), "passkey-admin").await.unwrap(),
        2
    );
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
}

/// A mark is appended: entries another version wrote, which this one cannot read, stay.
#[tokio::test]
async fn marks_are_appended_to_what_is_stored() {
    let h = Harness::new().await;
    let odd = AttributeValue::M([("reason".to_owned(), AttributeValue::S("suppressed".into()))].into());
    h.set_user_attribute(ALICE, "undeliverableEmails", AttributeValue::L(vec![odd.clone()])).await;
    let sent = send_alice_a_link(&h).await;
    let bounced = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    assert_eq!(h.feedback().handle(&bounced).await.unwrap(), recorded(MailState::Bounced, true, true));
    let marks = h.user_item(ALICE).await["undeliverableEmails"].as_l().unwrap().clone();
    assert_eq!(marks.len(), 2);
    assert_eq!(marks[0], odd);
    assert_eq!(marks[1].as_m().unwrap()["address"].as_s().unwrap(), &sent.to);
}

/// An event naming the link but another mail (a forged or mixed-up tag) is history only:
/// the link keeps its own mail's state.
#[tokio::test]
async fn a_link_follows_only_its_own_mail() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    assert_eq!(
        feedback.handle(&delivery(&sent, "2026-12-02T10:00:04.000Z")).await.unwrap(),
        recorded(MailState::Delivered, true, false)
    );
    let other = SentMail { message_id: "0102019384-another-mail-000000".into(), ..sent.clone() };
    let late = bounce(&other, "Transient", "MailboxFull", "2026-12-02T10:00:05.000Z", "fb-o");
    assert_eq!(feedback.handle(&late).await.unwrap(), recorded(MailState::Bounced, false, false));
    let link = listed(&h, &sent.code_id).await;
    assert_eq!(link["mailDelivery"]["state"], "MAIL_DELIVERY_STATE_DELIVERED", "{link}");
    assert_eq!(link["messageId"], sent.message_id.as_str());
}

async fn set_email(h: &Harness, email: &str) {
    h.set_user_attribute(ALICE, "email", AttributeValue::S(email.into())).await;
}

#[tokio::test]
async fn soft_bounces_and_delays_do_not_mark_the_address() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let transient = bounce(&sent, "Transient", "MailboxFull", "2026-12-02T10:00:03.000Z", "fb-t");
    assert_eq!(feedback.handle(&transient).await.unwrap(), recorded(MailState::Bounced, true, false));
    let undetermined = bounce(&sent, "Undetermined", "Undetermined", "2026-12-02T10:00:04.000Z", "fb-u");
    assert_eq!(feedback.handle(&undetermined).await.unwrap(), recorded(MailState::Bounced, true, false));
    assert!(!h.user_item(ALICE).await.contains_key("undeliverableEmails"));
    assert_eq!(h.admin_sends_to_alice().await.0, 200);
}

#[tokio::test]
async fn a_repeated_event_is_recorded_once() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let before = h.user_sequence(ALICE).await;
    let first = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    // SES delivers at least once: the repeat comes in another EventBridge envelope.
    let mut repeat = first.clone();
    repeat["id"] = json!("another-envelope");
    repeat["time"] = json!("2026-12-02T10:05:00Z");
    assert_eq!(feedback.handle(&first).await.unwrap(), recorded(MailState::Bounced, true, true));
    for event in [&first, &repeat, &first] {
        assert_eq!(feedback.handle(event).await.unwrap(), Outcome::Duplicate);
    }
    assert_eq!(h.user_sequence(ALICE).await, before + 1);
    assert_eq!(events_after(&h, before).await.len(), 1);
    // Repeats arriving together: still one record.
    let sent = send_alice_a_link_again(&h).await;
    let before = h.user_sequence(ALICE).await;
    let event = delivery(&sent, "2026-12-02T10:00:04.000Z");
    let outcomes = futures_join(&feedback, vec![event.clone(); 6]).await;
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Outcome::Recorded { .. })).count(), 1, "{outcomes:?}");
    assert_eq!(events_after(&h, before).await.len(), 1);
}

/// A second mailed link after Alice's address was marked: cleared first.
async fn send_alice_a_link_again(h: &Harness) -> SentMail {
    h.table.clear_undeliverable(&UserId::parse(ALICE).unwrap(), "test").await.unwrap();
    send_alice_a_link(h).await
}

async fn futures_join(
    feedback: &send_passkey_link::delivery::DeliveryFeedback<send_passkey_link::store::dynamodb::Table>,
    events: Vec<Value>,
) -> Vec<Outcome> {
    let mut tasks = tokio::task::JoinSet::new();
    for event in events {
        let feedback = send_passkey_link::delivery::DeliveryFeedback { store: feedback.store.clone() };
        tasks.spawn(async move { feedback.handle(&event).await.unwrap() });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn events_in_any_order_end_in_the_same_state_with_every_event_recorded() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let before = h.user_sequence(ALICE).await;
    // Reversed: the complaint first, the send last.
    let complaint = complaint(&sent, "2026-12-02T11:00:00.000Z", "fb-c");
    assert_eq!(feedback.handle(&complaint).await.unwrap(), recorded(MailState::Complained, true, true));
    for (event, state) in [
        (delivery(&sent, "2026-12-02T10:00:04.000Z"), MailState::Delivered),
        (delay(&sent, "2026-12-02T10:00:02.000Z"), MailState::Delayed),
        (send(&sent), MailState::Sent),
    ] {
        assert_eq!(feedback.handle(&event).await.unwrap(), recorded(state, false, false));
    }
    assert_eq!(listed(&h, &sent.code_id).await["mailDelivery"]["state"], "MAIL_DELIVERY_STATE_COMPLAINED");
    assert_eq!(events_after(&h, before).await.len(), 4);

    // Concurrently, eight distinct events on one link: all recorded, gapless, same end.
    let sent = send_alice_a_link_again(&h).await;
    let before = h.user_sequence(ALICE).await;
    let events: Vec<Value> = (0..6)
        .map(|i| delay(&sent, &format!("2026-12-02T10:00:0{i}.000Z")))
        .chain([delivery(&sent, "2026-12-02T10:00:09.000Z"), send(&sent)])
        .collect();
    let outcomes = futures_join(&feedback, events).await;
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Recorded { .. })), "{outcomes:?}");
    assert_eq!(h.user_sequence(ALICE).await, before + 8);
    let mut sequences: Vec<u64> = h
        .items(ALICE, "EVENT#")
        .await
        .iter()
        .map(|e| e["sequence"].as_n().unwrap().parse().unwrap())
        .collect();
    sequences.retain(|s| *s > before);
    assert_eq!(sequences, (before + 1..=before + 8).collect::<Vec<_>>());
    let link = listed(&h, &sent.code_id).await;
    assert_eq!(link["mailDelivery"]["state"], "MAIL_DELIVERY_STATE_DELIVERED", "{link}");
}

#[tokio::test]
async fn unknown_tags_other_mail_and_other_event_types_change_nothing_harmful() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    // Tags beyond ours (SES's own and a sender's) are ignored.
    let mut extra = delivery(&sent, "2026-12-02T10:00:04.000Z");
    extra["detail"]["mail"]["tags"]["campaign"] = json!(["winter", "x"]);
    extra["detail"]["mail"]["tags"]["ses:new-tag-from-the-future"] = json!(["1"]);
    assert_eq!(feedback.handle(&extra).await.unwrap(), recorded(MailState::Delivered, true, false));

    let before = h.user_sequence(ALICE).await;
    let mut newsletter = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:05.000Z", "fb-n");
    newsletter["detail"]["mail"]["tags"]["purpose"] = json!(["newsletter"]);
    assert_eq!(feedback.handle(&newsletter).await.unwrap(), Outcome::Ignored(Ignored::NotALinkMail));
    let open = ses_event(
        &sent,
        "Open",
        json!({"timestamp": "2026-12-02T10:01:00.000Z", "userAgent": "x", "ipAddress": "192.0.2.1"}),
    );
    assert_eq!(feedback.handle(&open).await.unwrap(), Outcome::Ignored(Ignored::NotRecorded("Open".into())));
    // Ids that name nobody, or a user in another org than the mail's.
    let mut ghost = sent.clone();
    ghost.user = "999999999999999999".into();
    let ghost_bounce = bounce(&ghost, "Permanent", "General", "2026-12-02T10:00:05.000Z", "fb-g");
    assert_eq!(feedback.handle(&ghost_bounce).await.unwrap(), Outcome::Ignored(Ignored::UserGone));
    let mut moved = sent.clone();
    moved.org = OTHER_ORG.into();
    let moved_bounce = bounce(&moved, "Permanent", "General", "2026-12-02T10:00:05.000Z", "fb-m");
    assert_eq!(feedback.handle(&moved_bounce).await.unwrap(), Outcome::Ignored(Ignored::OtherOrg));
    // An unknown code of a real user: recorded in the history (and marking), no link made up.
    let mut unknown = sent.clone();
    unknown.code_id = "00000000-0000-0000-0000-000000000000".into();
    let unknown_bounce = bounce(&unknown, "Permanent", "General", "2026-12-02T10:00:05.000Z", "fb-u");
    assert_eq!(feedback.handle(&unknown_bounce).await.unwrap(), recorded(MailState::Bounced, false, true));
    assert!(h.items(ALICE, &format!("PASSKEYLINK#{}", unknown.code_id)).await.is_empty());
    assert_eq!(h.user_sequence(ALICE).await, before + 1);
}

#[tokio::test]
async fn a_revoked_link_is_not_brought_back_by_a_late_event() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let (status, body) = call(
        &h,
        "DELETE",
        &format!("/v2/users/{ALICE}/passkeys/registration_links/{}", sent.code_id),
        ADMIN,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let late = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    assert_eq!(feedback.handle(&late).await.unwrap(), recorded(MailState::Bounced, false, true));
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
}

#[tokio::test]
async fn malformed_events_fail_clearly_and_write_nothing() {
    let h = Harness::new().await;
    let feedback = h.feedback();
    let sent = send_alice_a_link(&h).await;
    let before = h.user_sequence(ALICE).await;
    let good = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    let mut cases: Vec<Value> = vec![
        json!(null),
        json!("Email Bounced"),
        json!({}),
        // An SNS notification sent to the wrong function: SES's JSON as a string.
        json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": good["detail"].to_string()}}]}),
        good["detail"].clone(),
    ];
    for (pointer, value) in [
        ("/source", json!("aws.events")),
        ("/detail", json!(null)),
        ("/detail/eventType", json!(7)),
        ("/detail/mail", json!([])),
        ("/detail/mail/tags/code", json!("not-a-list")),
        ("/detail/mail/tags/user", json!(["a%2Fb"])),
        ("/detail/mail/tags/org", json!(["100000000000000001", "200000000000000001"])),
        ("/detail/mail/messageId", json!("")),
        ("/detail/bounce/bounceType", json!(["Permanent"])),
        ("/detail/bounce/timestamp", json!("2026-13-45T99:00:00Z")),
    ] {
        let mut e = good.clone();
        *e.pointer_mut(pointer).unwrap() = value;
        cases.push(e);
    }
    for case in &cases {
        match feedback.invoke(case).await {
            Err(FeedbackError::Malformed(reason)) => assert!(!reason.contains(&sent.to), "{reason}"),
            other => panic!("{case}: {other:?}"),
        }
    }
    assert_eq!(h.user_sequence(ALICE).await, before);
    assert!(h.items(ALICE, "DELIVERY#").await.is_empty());
    assert!(!h.user_item(ALICE).await.contains_key("undeliverableEmails"));
}

#[tokio::test]
async fn an_unreachable_table_fails_the_event_for_a_retry() {
    let h = Harness::new().await;
    let sent = send_alice_a_link(&h).await;
    let sdk = send_passkey_link::aws::load().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(closed_port()).build();
    let down = send_passkey_link::delivery::DeliveryFeedback {
        store: send_passkey_link::store::dynamodb::Table::new(
            aws_sdk_dynamodb::Client::from_conf(conf),
            h.table.name(),
        ),
    };
    let event = delivery(&sent, "2026-12-02T10:00:04.000Z");
    assert!(matches!(down.invoke(&event).await, Err(FeedbackError::Store(_))));
    // The retry, once the table answers, records it.
    assert_eq!(h.feedback().handle(&event).await.unwrap(), recorded(MailState::Delivered, true, false));
}

/// No drift between the send and the feedback: the tags the send path really put on its
/// SendEmail request, as SES would copy them into its event, lead to the link.
#[tokio::test]
async fn the_tags_a_send_puts_on_its_mail_lead_the_event_back_to_the_link() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_OK]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let request: Value = serde_json::from_str(&stub.bodies()[0]).unwrap();
    let tags = request["EmailTags"].as_array().unwrap();
    assert!(tags.contains(&json!({"Name": "deployment", "Value": DEPLOYMENT_TAG})), "{tags:?}");
    let code_id = h.items(ALICE, "PASSKEYLINK#").await[0]["codeId"].as_s().unwrap().clone();
    let sent = SentMail {
        user: ALICE.into(),
        org: DEMO_ORG.into(),
        // The ids come from the request's tags below.
        code_id: String::new(),
        message_id: "0102019384abcdef-stub-000000".into(),
        to: request["Destination"]["ToAddresses"][0].as_str().unwrap().to_owned(),
    };
    let mut event = delivery(&sent, "2026-12-02T10:00:04.000Z");
    let tags = &mut event["detail"]["mail"]["tags"];
    for name in ["purpose", "org", "user", "code"] {
        tags.as_object_mut().unwrap().remove(name);
    }
    for tag in request["EmailTags"].as_array().unwrap() {
        tags[tag["Name"].as_str().unwrap()] = json!([tag["Value"]]);
    }
    assert_eq!(h.feedback().handle(&event).await.unwrap(), recorded(MailState::Delivered, true, false));
    let link = listed(&h, &code_id).await;
    assert_eq!(link["mailDelivery"]["state"], "MAIL_DELIVERY_STATE_DELIVERED", "{link}");
}
