//! The link secret appears nowhere but in the e-mail: not in the logs of a successful call
//! (in the production JSON format, at debug level including the AWS SDK's own logs), not in
//! the response; nor do message texts, stored or refused. At `RUST_LOG=trace` this crate
//! says more, but the Lambda runtime's raw events and the SDK's response bodies stay out.

mod common;

use common::*;
use send_passkey_link::telemetry::LogSettings;
use tracing_subscriber::EnvFilter;

#[tokio::test]
async fn a_successful_call_logs_neither_the_secret_nor_the_link() {
    let (logs, _logging) = Captured::json(EnvFilter::new("debug"));

    let h = Harness::new().await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&h.email_of("alice", "demo.example"))[0];
    let (code_id, code, link) = link_in(mail);

    let logs = logs.text();
    assert!(logs.contains("passkey link sent"), "the call was logged: {logs}");
    assert!(logs.contains(&code_id), "the code id is there, to trace the link");
    assert!(logs.contains("\"request_id\""), "lines carry the request id");
    assert!(!logs.contains(&code), "the secret must not be logged");
    assert!(!logs.contains(&link), "the link must not be logged");
    assert!(!logs.contains("Register passkey"), "no mail body in the logs");
    assert!(!body.to_string().contains(&code));
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[tokio::test]
async fn trace_level_opens_this_crate_but_not_the_runtime_or_sdk_payloads() {
    let settings = LogSettings::from_lookup(|k| (k == "RUST_LOG").then(|| "trace".to_owned())).unwrap();
    let (logs, _logging) = Captured::json(settings.filter);

    let h = Harness::new().await;
    let alice = h.email_of("alice", "demo.example");
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    // What lambda_runtime logs for every event at trace (the bearer token is in it).
    tracing::trace!(
        target: "lambda_runtime::layers::api_response",
        body = "{\"headers\":{\"authorization\":\"Bearer eyJhbGciOi\"}}",
        "raw JSON event received from Lambda"
    );

    let logs = logs.text();
    assert!(logs.contains("\"level\":\"DEBUG\""), "this crate's debug lines are there: {logs}");
    assert!(!logs.contains("raw JSON event"), "the runtime's event line is not");
    assert!(!logs.contains("Bearer"), "no bearer token");
    assert!(!logs.contains(&alice), "the SDK's response bodies (the user item) are not logged");
    assert!(!logs.contains("\"level\":\"TRACE\""), "no library logs at trace: {logs}");
}

/// Texts are mail content: neither a stored one nor a refused one (its error names part of
/// it, for the caller) reaches the logs.
#[tokio::test]
async fn the_logs_carry_no_text_stored_or_refused() {
    let (logs, _logging) = Captured::json(EnvFilter::new("info"));
    let h = Harness::new().await;
    for (language, body, expected) in [
        ("en", r#"{"text":"{{leak-me-1}}"}"#, 400),
        ("hunter2-tag-x", "{}", 400),
        ("en", r#"{"text":"leak-me-2"}"#, 200),
    ] {
        let path = format!("/management/v1/text/message/passwordless_registration/{language}");
        let mut e = with_body(event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None), Some(body));
        e["rawPath"] = path.clone().into();
        e["requestContext"]["http"]["path"] = path.into();
        e["requestContext"]["http"]["method"] = "PUT".into();
        let (status, answer) = h.call(&e).await;
        assert_eq!(status, expected, "{language} {body}: {answer}");
    }
    let logs = logs.text();
    assert!(logs.contains("message text set") && logs.contains("TEXT-Vf4Qm"), "{logs}");
    for secret in ["leak-me-1", "hunter2", "leak-me-2"] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}

/// Delivery feedback: a recorded event is logged by code, user and message id, never with
/// the address or the remote server's answer; an event that cannot be recorded gets one
/// ERROR line that names EventBridge's event id and says where the event goes next.
#[tokio::test]
async fn delivery_feedback_logs_name_the_event_but_not_the_address() {
    use common::ses_events::*;
    let (logs, _logging) = Captured::json(EnvFilter::new("debug"));

    let h = Harness::new().await;
    let sent = send_alice_a_link(&h).await;
    let feedback = h.feedback();
    let event = bounce(&sent, "Permanent", "General", "2026-12-02T10:00:03.000Z", "fb-1");
    feedback.invoke(&event).await.unwrap();
    let mut broken = event.clone();
    broken["id"] = "envelope-of-a-broken-event".into();
    broken["detail"]["mail"]["tags"]["code"] = serde_json::json!([]);
    assert!(feedback.invoke(&broken).await.is_err());

    let logs = logs.text();
    assert!(logs.contains("delivery event recorded"), "{logs}");
    assert!(logs.contains(&sent.code_id) && logs.contains(&sent.message_id), "{logs}");
    assert!(!logs.contains(&sent.to), "no address in the logs: {logs}");
    assert!(!logs.contains("user unknown"), "no remote diagnostic in the logs: {logs}");
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains("\"ERROR\"")).collect();
    assert_eq!(errors.len(), 1, "{logs}");
    assert!(errors[0].contains("envelope-of-a-broken-event"), "{}", errors[0]);
    assert!(errors[0].contains("dead-letter queue"), "{}", errors[0]);
    assert!(errors[0].contains("tag code"), "{}", errors[0]);
}

/// SES's refusals are logged and stored by error code alone: their message can name the
/// recipient (the sandbox's "identities failed the check ...: <address>").
#[tokio::test]
async fn ses_refusals_are_logged_and_stored_by_code_without_their_message() {
    for (answer, code) in [
        (SES_REJECTED, "MessageRejected"),
        (SES_PAUSED, "SendingPausedException"),
        (SES_THROTTLED, "TooManyRequestsException"),
    ] {
        let settings = LogSettings::from_lookup(|k| (k == "RUST_LOG").then(|| "trace".to_owned())).unwrap();
        let (logs, _logging) = Captured::json(settings.filter);
        let message = serde_json::from_str::<serde_json::Value>(answer.body).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();

        let (h, _stub) = Harness::with_ses_stub(vec![answer]).await;
        let (status, body) = h.admin_sends_to_alice().await;
        assert!(status >= 400, "{code}: {body}");
        assert!(!body.to_string().contains(&message), "{code}: SES's text in the answer: {body}");

        let logs = logs.text();
        assert!(logs.contains(code), "{code} is logged: {logs}");
        assert!(!logs.contains(&message), "SES's message in the logs: {logs}");
        assert!(!logs.contains(SES_REJECTED_ADDRESS), "an address in the logs: {logs}");
        let failed: Vec<String> = h
            .items(ALICE, "EVENT#")
            .await
            .iter()
            .filter(|e| e["eventType"].as_s().is_ok_and(|t| t.ends_with("code.send.failed")))
            .map(|e| format!("{e:?}"))
            .collect();
        assert_eq!(failed.len(), 1, "{code}: {failed:?}");
        assert!(failed[0].contains(code), "{code} is stored: {failed:?}");
        assert!(!failed[0].contains(&message), "SES's message stored: {failed:?}");
        assert!(!failed[0].contains(SES_REJECTED_ADDRESS), "an address stored: {failed:?}");
    }
}

/// The Lambda Runtime API's part in [`start_is_clean`]: the first `/next` gets one event, later
/// ones wait; the path of the function's answer (`/response` or `/error`) is sent on `answered`.
fn runtime_api_stub(answered: std::sync::mpsc::Sender<String>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let event_sent = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answered, event_sent) = (answered.clone(), event_sent.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    reader.read_exact(&mut vec![0; length]).unwrap();
                    let answer = if path.ends_with("/invocation/next") {
                        if event_sent.swap(true, Ordering::SeqCst) {
                            std::thread::sleep(std::time::Duration::from_secs(120));
                            return;
                        }
                        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             lambda-runtime-aws-request-id: request-1\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
                             lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
                             content-length: 2\r\n\r\n{{}}"
                        )
                    } else {
                        let _ = answered.send(path);
                        "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                            .to_owned()
                    };
                    stream.write_all(answer.as_bytes()).unwrap();
                }
            });
        }
    });
    address
}

/// The real binary's output from its start through one event, with `AWS_LAMBDA_MAX_CONCURRENCY`
/// set to `concurrency`.
fn start_is_clean(binary: &str, concurrency: &str) -> String {
    let (answered, answer) = std::sync::mpsc::channel();
    let child = std::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api_stub(answered))
        .env("AWS_LAMBDA_FUNCTION_NAME", "f")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency)
        .env("TABLE_NAME", "start-check")
        .env("MAIL_FROM", "Passkeys <no-reply@demo.example>")
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let path = answer.recv_timeout(std::time::Duration::from_secs(30));
    let mut child = child;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let path = path.unwrap_or_else(|_| panic!("{binary} answered no event within 30 s:\n{output}"));
    assert!(path.starts_with("/2018-06-01/runtime/invocation/request-1/"), "{path}");
    output
}

/// The start says nothing at WARN where Lambda sets `AWS_LAMBDA_MAX_CONCURRENCY` (cargo-lambda
/// sets 1 for each instance, Lambda Managed Instances more): the runtime honours it rather than
/// warning at every start that it is ignored. Each Lambda binary, with a stub Runtime API.
#[test]
fn the_functions_start_without_warnings_where_lambda_sets_their_concurrency() {
    for binary in [env!("CARGO_BIN_EXE_send-passkey-link"), env!("CARGO_BIN_EXE_delivery-feedback")] {
        for concurrency in ["1", "2"] {
            let output = start_is_clean(binary, concurrency);
            assert!(!output.contains("AWS_LAMBDA_MAX_CONCURRENCY"), "{binary} {concurrency}: {output}");
            assert!(!output.contains("\"WARN\""), "{binary} {concurrency}: {output}");
        }
    }
}
