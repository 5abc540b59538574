//! The link secret appears nowhere but in the e-mail: not in the logs of a successful call
//! (in the production JSON format, at debug level including the AWS SDK's own logs), not in
//! the response. At `RUST_LOG=trace` this crate says more, but the Lambda runtime's raw events
//! and the SDK's response bodies stay out.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use send_passkey_link::telemetry::LogSettings;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_successful_call_logs_neither_the_secret_nor_the_link() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _logging = tracing::subscriber::set_default(send_passkey_link::telemetry::json_subscriber(
        EnvFilter::new("debug"),
        move || writer.clone(),
    ));

    let h = Harness::new().await;
    let (status, body) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200, "{body}");
    let mail = &mails_to(&h.email_of("alice", "demo.example"))[0];
    let (code_id, code, link) = link_in(mail);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
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
    let logs = Captured::default();
    let writer = logs.clone();
    let settings = LogSettings::from_lookup(|k| (k == "RUST_LOG").then(|| "trace".to_owned())).unwrap();
    let _logging = tracing::subscriber::set_default(send_passkey_link::telemetry::json_subscriber(
        settings.filter,
        move || writer.clone(),
    ));

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

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("\"level\":\"DEBUG\""), "this crate's debug lines are there: {logs}");
    assert!(!logs.contains("raw JSON event"), "the runtime's event line is not");
    assert!(!logs.contains("Bearer"), "no bearer token");
    assert!(!logs.contains(&alice), "the SDK's response bodies (the user item) are not logged");
    assert!(!logs.contains("\"level\":\"TRACE\""), "no library logs at trace: {logs}");
}
