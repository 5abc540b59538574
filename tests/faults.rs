//! What happens when SES or DynamoDB fail: real fault conditions (a stub answering with SES's
//! own error shapes, an emulator stopped and restarted), through the real handler.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

async fn failure_records(h: &Harness) -> Vec<String> {
    h.items(ALICE, "EVENT#")
        .await
        .iter()
        .filter(|e| e["sk"].as_s().unwrap().ends_with("#MAILFAILED"))
        .map(|e| e["reason"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn ses_throttling_is_retried_with_backoff_and_then_succeeds() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_THROTTLED, SES_THROTTLED, SES_OK]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stub.requests(), 3, "two throttled attempts, then the one that went through");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1);
    assert!(failure_records(&h).await.is_empty());
}

#[tokio::test]
async fn ses_throttling_that_persists_is_unavailable_and_the_link_is_removed() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_THROTTLED]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_id(&body), "MAIL-Un2Ks");
    assert_eq!(stub.requests(), 3, "the SDK's standard retry: three attempts");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    let reasons = failure_records(&h).await;
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("TooManyRequestsException"), "{reasons:?}");
}

#[tokio::test]
async fn ses_rejecting_the_message_is_a_failed_precondition_without_retry() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_REJECTED]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 9);
    assert_eq!(error_id(&body), "MAIL-Rj6Tp");
    assert_eq!(body["details"][0]["message"], "E-mail could not be delivered to the user's address");
    assert!(!body.to_string().contains(SES_REJECTED_ADDRESS), "no SES text in the answer: {body}");
    assert_eq!(stub.requests(), 1);
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    // SES's message names the refused address: the stored event keeps only its error code.
    let reasons = failure_records(&h).await;
    assert_eq!(reasons, ["rejected: SendEmail: MessageRejected"]);
}

#[tokio::test]
async fn ses_sending_paused_is_unavailable() {
    let (h, _stub) = Harness::with_ses_stub(vec![SES_PAUSED]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_id(&body), "MAIL-Un2Ks");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty());
    assert_eq!(failure_records(&h).await.len(), 1);
}

#[tokio::test]
async fn a_caller_may_retry_after_a_mail_failure() {
    let (h, _stub) = Harness::with_ses_stub(vec![SES_THROTTLED, SES_THROTTLED, SES_THROTTLED, SES_OK]).await;
    let (first, _) = h.admin_sends_to_alice().await;
    assert_eq!(first, 503);
    let (second, body) = h.admin_sends_to_alice().await;
    assert_eq!(second, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "2");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1, "only the delivered link exists");
}

/// A private dynoxide on its own port and database file, so stopping it disturbs no other test.
struct PrivateDynamo {
    child: Option<Child>,
    port: u16,
    db: std::path::PathBuf,
}

impl PrivateDynamo {
    fn start() -> Option<Self> {
        std::env::var("DYNOXIDE_BIN").ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let db = std::env::temp_dir().join(format!("dynoxide-{}.db", uuid::Uuid::new_v4()));
        let mut me = Self { child: None, port, db };
        me.restart();
        Some(me)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new(std::env::var("DYNOXIDE_BIN").unwrap())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string(), "--log", "quiet", "--db-path"])
            .arg(&self.db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dynoxide starts");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("dynoxide did not answer");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PrivateDynamo {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.db);
    }
}

#[tokio::test]
async fn dynamodb_stopped_mid_test_is_unavailable_and_the_table_stays_consistent() {
    let Some(mut dynamo) = PrivateDynamo::start() else {
        panic!("DYNOXIDE_BIN is not set: run with `make test`, which installs and names dynoxide");
    };
    let h = Harness::with_endpoints(Endpoints {
        dynamodb: Some(dynamo.url()),
        seed_via_override: true,
        ..Default::default()
    })
    .await;
    let (status, _) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200);

    dynamo.stop();
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_id(&body), "STORE-Un5Wb");

    dynamo.restart();
    assert_eq!(h.user_sequence(ALICE).await, 1, "nothing of the failed call was written");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1);
    assert_eq!(h.items(ALICE, "EVENT#").await.len(), 1);
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"]["sequence"], "2");
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 2);
}

#[tokio::test]
async fn an_ses_that_never_answers_times_out_well_inside_the_lambda_timeout() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_SILENT]).await;
    let started = std::time::Instant::now();
    let (status, body) = h.admin_sends_to_alice().await;
    let took = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], 4, "DeadlineExceeded");
    assert_eq!(error_id(&body), "MAIL-Tm4Uk");
    // aws.rs bounds an attempt at 1.5 s; the function's timeout is 10 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(stub.requests(), 1, "a request that may have arrived is never sent again");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1, "the link stays: the mail may be out");
}

/// The review's case: SES took the message but answered after the attempt timeout. Before,
/// the SDK sent it again (two mails, same code) and the link they carry was deleted.
#[tokio::test]
async fn a_slow_ses_gets_one_request_and_the_link_it_may_have_delivered_stays() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_SLOW_OK]).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(error_id(&body), "MAIL-Tm4Uk");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(stub.requests(), 1, "exactly one SendEmail, so at most one mail");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1);
    assert!(failure_records(&h).await.is_empty(), "nothing says the mail failed: it may not have");
    assert_eq!(h.user_sequence(ALICE).await, 1);
}

/// A 5xx from SES (or from a proxy before it) was taken as "not sent": the link was
/// revoked and the caller's retry mailed a second copy.
#[tokio::test]
async fn ses_server_errors_are_an_unknown_outcome_and_keep_the_link() {
    for answer in [SES_INTERNAL_FAILURE, SES_GATEWAY_TIMEOUT] {
        let (h, stub) = Harness::with_ses_stub(vec![answer.clone(), SES_OK]).await;
        let (status, body) = h.admin_sends_to_alice().await;
        assert_eq!(status, 504, "{} {body}", answer.status);
        assert_eq!(error_id(&body), "MAIL-Tm4Uk");
        assert_eq!(stub.requests(), 1, "never sent twice");
        assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1, "the mail may carry this link");
        assert!(failure_records(&h).await.is_empty());
        let user = h.user_item(ALICE).await;
        assert_eq!(user["recentLinks"].as_m().map(|m| m.len()), Ok(1), "the slot stays taken");
    }
}

/// Five failed sends used to take all five slots of the rate limit for 15 minutes.
#[tokio::test]
async fn failed_sends_give_their_rate_limit_slot_back() {
    let (h, _stub) = Harness::with_ses_stub(vec![SES_PAUSED; 6]).await;
    for _ in 0..6 {
        let (status, body) = h.admin_sends_to_alice().await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(error_id(&body), "MAIL-Un2Ks", "never 429: {body}");
    }
    assert_eq!(failure_records(&h).await.len(), 6);
    let user = h.user_item(ALICE).await;
    assert_eq!(user["recentLinks"].as_m().map(|m| m.len()), Ok(0), "{user:?}");
}

#[tokio::test]
async fn dynamodb_throttling_is_retried_and_then_unavailable() {
    let stub = AwsStub::start(vec![DYNAMODB_THROTTLED]).await;
    let h =
        Harness::with_endpoints(Endpoints { dynamodb: Some(stub.url.clone()), ..Default::default() }).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_id(&body), "STORE-Un5Wb");
    assert_eq!(stub.requests(), 3, "the SDK's standard retry: three attempts");
    assert!(mails_to(&h.email_of("alice", "demo.example")).is_empty());
    assert_eq!(h.user_sequence(ALICE).await, 0);
}

/// One stored window entry far in the future used to answer 429 forever, with a Retry-After
/// of 292 million years.
#[tokio::test]
async fn a_corrupt_future_window_entry_neither_locks_the_user_out_nor_stays() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let h = Harness::new().await;
    let corrupt = AttributeValue::M([("corrupt".to_owned(), AttributeValue::N(i64::MAX.to_string()))].into());
    h.set_user_attribute(ALICE, "recentLinks", corrupt).await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let window = h.user_item(ALICE).await["recentLinks"].as_m().unwrap().clone();
    assert_eq!(window.len(), 1);
    assert!(!window.contains_key("corrupt"));
}

/// Lambda's deadline for the invocations below: the SDK's own limits (1.5 s an attempt, 3 s a
/// DynamoDB call with its retries) would outrun it.
const SHORT_DEADLINE: Duration = Duration::from_millis(1500);

/// A stalled DynamoDB used to hold the call for the SDK's 3 s, past this deadline: Lambda
/// would have killed the invocation without an answer.
#[tokio::test]
async fn a_stalled_dynamodb_is_answered_503_before_the_invocations_deadline() {
    // The stub is silent whatever the protocol.
    let (h, stub) = Harness::with_dynamodb_stub(vec![SES_SILENT]).await;
    let started = std::time::Instant::now();
    let response =
        h.invoke_with_deadline(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), SHORT_DEADLINE).await;
    let took = started.elapsed();
    let (status, body) = parse_invocation(&response);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 14, "Unavailable");
    assert_eq!(error_id(&body), "CALL-Tm6Dl");
    assert!(took < SHORT_DEADLINE - Duration::from_millis(200), "took {took:?}");
    assert!(stub.requests() >= 1);
    assert_eq!(h.user_sequence(ALICE).await, 0);
}

/// The send is cut at the deadline like at the SDK's timeout: it may have gone out, so the
/// answer says so and the link stays.
#[tokio::test]
async fn a_stalled_ses_is_an_unknown_outcome_before_the_invocations_deadline() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_SILENT]).await;
    // Room for the reads and the link's write before the send (domain.rs's SEND_RESERVE).
    let deadline = Duration::from_millis(2500);
    let started = std::time::Instant::now();
    let response = h.invoke_with_deadline(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), deadline).await;
    let took = started.elapsed();
    let (status, body) = parse_invocation(&response);
    assert_eq!(status, 504, "{body}");
    assert_eq!(error_id(&body), "MAIL-Tm4Uk");
    assert!(took < deadline - Duration::from_millis(300), "took {took:?}");
    assert_eq!(stub.requests(), 1);
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 1, "the link stays: the mail may be out");
}

/// Too little time left to store a link and send its mail: nothing is written (a link stored
/// then would be revoked at once, two writes and two events for nothing) and the caller may
/// try again.
#[tokio::test]
async fn a_send_without_time_for_it_writes_nothing_and_answers_503() {
    let (h, stub) = Harness::with_ses_stub(vec![SES_SILENT]).await;
    // 400 ms of work after the margin: the reads fit, the send's reserve does not.
    let response = h
        .invoke_with_deadline(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), Duration::from_millis(900))
        .await;
    let (status, body) = parse_invocation(&response);
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_id(&body), "CALL-Tm6Dl");
    assert_eq!(stub.requests(), 0, "nothing sent");
    assert!(h.items(ALICE, "PASSKEYLINK#").await.is_empty(), "no link stored");
    assert_eq!(h.user_sequence(ALICE).await, 0);
}

/// The delivery-feedback function fails the invocation (Lambda retries it) instead of being
/// killed at its timeout.
#[tokio::test]
async fn a_stalled_dynamodb_fails_a_feedback_invocation_before_its_deadline() {
    use common::ses_events::{delivery, SentMail};
    let stub = AwsStub::start(vec![SES_SILENT]).await;
    let sdk = send_passkey_link::aws::load().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&stub.url).build(),
    );
    let feedback = send_passkey_link::delivery::DeliveryFeedback {
        store: send_passkey_link::store::dynamodb::Table::new(client, "stalled"),
    };
    let sent = SentMail {
        user: ALICE.into(),
        org: DEMO_ORG.into(),
        code_id: "0b6f3c2e-8d1a-4f5e-9c7b-2a1d3e4f5a6b".into(),
        message_id: "stub-message-1".into(),
        to: "alice@demo.example".into(),
    };
    let started = std::time::Instant::now();
    let context = context_ending_in(SHORT_DEADLINE);
    let outcome = feedback.invoke_within(&delivery(&sent, "2026-12-02T10:00:01.000Z"), Some(&context)).await;
    let took = started.elapsed();
    let err = outcome.unwrap_err().to_string();
    assert!(err.contains("out of time"), "{err}");
    assert!(took < SHORT_DEADLINE - Duration::from_millis(200), "took {took:?}");
    assert!(stub.requests() >= 1);
}
