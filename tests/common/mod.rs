//! Test harness: the real handler, a fresh table per test on the configured DynamoDB
//! endpoint, the configured SES endpoint, and a reader for the mailbox the SES emulator keeps.
//!
//! Needs the local stack (`make test` starts it) or any endpoints given in
//! `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2` plus `MAILBOX_URL`.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod authenticator;
pub mod passkeys;
pub mod ses_events;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Response};
use send_passkey_link::config::{Config, DEFAULT_LINK_URL_TEMPLATE};
use send_passkey_link::domain::{LinkPolicy, PasskeyLinks};
use send_passkey_link::http::{Api, ClaimNames};
use send_passkey_link::link::UrlTemplate;
use send_passkey_link::mail::sender::Sender;
use send_passkey_link::mailer::ses::SesMailer;
use send_passkey_link::message_text::CustomTexts;
use send_passkey_link::permissions::RolePermissions;
use send_passkey_link::registration::RegistrationPolicy;
use send_passkey_link::seed::Seed;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::store::{TextChange, TextCommit, TextLevel, TextsRecord};
use serde_json::Value;

pub const DEMO_ORG: &str = "100000000000000001";
pub const OTHER_ORG: &str = "200000000000000001";
pub const INSTANCE_ORG: &str = "300000000000000001";
pub const DEMO_ADMIN: &str = "100000000000000010";
pub const ALICE: &str = "100000000000000011";
pub const HELPDESK: &str = "100000000000000012";
pub const MACHINE: &str = "100000000000000013";
pub const OTHER_OWNER: &str = "200000000000000010";
pub const BOB: &str = "200000000000000011";
pub const INSTANCE_OWNER: &str = "300000000000000010";

pub type TestApi = Api<Table, SesMailer>;

/// The `deployment` tag the harness's function puts on its mails (`MAIL_DEPLOYMENT_TAG`).
pub const DEPLOYMENT_TAG: &str = "passkeys-test";

pub struct Harness {
    pub api: TestApi,
    pub table: Table,
    /// Appended to every seeded e-mail address so parallel tests find only their own mail.
    pub tag: String,
    /// Every request the handler's clients put on the wire, as `Service.Operation`.
    pub calls: AwsCalls,
}

/// A log sink: what a subscriber writes to it, kept for the test to read.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// This thread's logs in the production JSON format at `filter`, until the guard drops.
    pub fn json(filter: tracing_subscriber::EnvFilter) -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let guard = tracing::subscriber::set_default(send_passkey_link::telemetry::json_subscriber(
            filter,
            move || writer.clone(),
        ));
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Records each attempt the SDK clients transmit: the round trips a request costs.
#[derive(Debug, Clone, Default)]
pub struct AwsCalls(Arc<Mutex<Vec<String>>>);

impl AwsCalls {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for AwsCalls {
    fn name(&self) -> &'static str {
        "AwsCalls"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map_or("unknown".into(), |m| format!("{}.{}", m.service(), m.name()));
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

/// Where the handler's clients connect; `None` keeps the stack's endpoint.
#[derive(Debug, Default)]
pub struct Endpoints {
    pub dynamodb: Option<String>,
    pub ses: Option<String>,
    /// Create and seed the table through `dynamodb` too (a private emulator), and read it
    /// back through there.
    pub seed_via_override: bool,
}

/// An address on 127.0.0.1 where nothing listens: connections are refused at once.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `make test`"))
}

/// The function's configuration with nothing but the required variables set.
pub fn config_defaults() -> Config {
    Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("unused".into()),
        "MAIL_FROM" => Some("no-reply@demo.example".into()),
        _ => None,
    })
    .unwrap()
}

/// The host the handler lets message texts name besides the link's (`TEXT_ALLOWED_HOSTS`).
pub const TEXT_ALLOWED_HOST: &str = "demo.example";

/// Where the default link opens: the WebAuthn origin the handler expects.
pub const PAGE_ORIGIN: &str = "http://localhost:8080";

impl Harness {
    /// A new table with the demo seed (seed/demo.json), e-mail addresses tagged per test.
    pub async fn new() -> Self {
        Self::with_endpoints(Endpoints::default()).await
    }

    /// Seeds through the stack's endpoints, then points the handler's clients at `endpoints`.
    pub async fn with_endpoints(endpoints: Endpoints) -> Self {
        Self::build(endpoints, Sender::parse("Passkeys <no-reply@demo.example>", None).unwrap()).await
    }

    /// A harness whose mails come from `sender` (the function's `MAIL_FROM`, `MAIL_FROM_NAME`).
    pub async fn with_sender(sender: Sender) -> Self {
        Self::build(Endpoints::default(), sender).await
    }

    async fn build(endpoints: Endpoints, sender: Sender) -> Self {
        // Before any AWS call: without the stack's endpoints the SDK would reach the
        // account of whatever credentials this machine holds.
        for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SESV2", "MAILBOX_URL"] {
            env(name);
        }
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let sdk = send_passkey_link::aws::load().await;
        let table_name = format!("test-{tag}");
        let mut admin = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let (true, Some(url)) = (endpoints.seed_via_override, &endpoints.dynamodb) {
            admin = admin.endpoint_url(url);
        }
        let table = Table::new(aws_sdk_dynamodb::Client::from_conf(admin.build()), &table_name);
        table.create().await.expect("create table");
        let seed_text = include_str!("../../seed/demo.json").replace("@", &format!("+{tag}@"));
        Seed::from_json(&seed_text).unwrap().apply(&table).await.expect("seed");

        let calls = AwsCalls::default();
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(calls.clone());
        if let Some(url) = endpoints.dynamodb {
            dynamodb = dynamodb.endpoint_url(url);
        }
        let mut ses = aws_sdk_sesv2::config::Builder::from(&sdk).interceptor(calls.clone());
        if let Some(url) = endpoints.ses {
            ses = ses.endpoint_url(url);
        }
        let api = Api::new(
            PasskeyLinks {
                store: Table::new(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()), &table_name),
                mailer: SesMailer::new(aws_sdk_sesv2::Client::from_conf(ses.build()), sender, None),
                policy: LinkPolicy {
                    url_template: UrlTemplate::parse(DEFAULT_LINK_URL_TEMPLATE).unwrap(),
                    lifetime: Duration::from_secs(3600),
                    permissions: RolePermissions::default(),
                    rate_limit: send_passkey_link::config::DEFAULT_RATE_LIMIT,
                    supersede: false,
                    deployment_tag: Some(DEPLOYMENT_TAG.into()),
                    text_allowed_hosts: vec![TEXT_ALLOWED_HOST.into()],
                },
                renderer: send_passkey_link::mail::MailRenderer::new().unwrap(),
                registration: RegistrationPolicy::from_config(&config_defaults()).unwrap(),
            },
            ClaimNames::default(),
        );
        Self { api, table, tag, calls }
    }

    pub fn email_of(&self, local: &str, domain: &str) -> String {
        format!("{local}+{}@{domain}", self.tag)
    }

    /// A harness whose SES endpoint is a stub answering `script`.
    pub async fn with_ses_stub(script: Vec<StubAnswer>) -> (Self, AwsStub) {
        let stub = AwsStub::start(script).await;
        let h = Self::with_endpoints(Endpoints { ses: Some(stub.url.clone()), ..Default::default() }).await;
        (h, stub)
    }

    /// A harness whose DynamoDB endpoint (for the handler) is a stub answering `script`.
    pub async fn with_dynamodb_stub(script: Vec<StubAnswer>) -> (Self, AwsStub) {
        let stub = AwsStub::start(script).await;
        let h =
            Self::with_endpoints(Endpoints { dynamodb: Some(stub.url.clone()), ..Default::default() }).await;
        (h, stub)
    }

    /// The delivery-feedback function's handler on this harness's table.
    pub fn feedback(&self) -> send_passkey_link::delivery::DeliveryFeedback<Table> {
        send_passkey_link::delivery::DeliveryFeedback { store: self.table.clone() }
    }

    /// The everyday call: the demo org's owner sends Alice a link.
    pub async fn admin_sends_to_alice(&self) -> (u16, Value) {
        self.call(&event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None)).await
    }

    /// The whole Lambda invocation: raw event JSON in, the response JSON the source reads out.
    pub async fn invoke(&self, event: Value) -> Value {
        self.api.handle_event(event, None).await
    }

    /// [`Self::invoke`] as Lambda runs it, with `left` until the invocation's deadline.
    pub async fn invoke_with_deadline(&self, event: Value, left: Duration) -> Value {
        self.api.handle_event(event, Some(context_ending_in(left))).await
    }

    pub async fn call(&self, event: &Value) -> (u16, Value) {
        let request = lambda_http::request::from_str(&event.to_string()).expect("event parses");
        let response = self.api.handle(request).await;
        parse_response(response)
    }

    /// All items in the user's partition whose sort key starts with `prefix`.
    pub async fn items(&self, user: &str, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.partition(&format!("USER#{user}"), prefix).await
    }

    /// The items of partition `pk` whose sort key starts with `prefix`.
    pub async fn partition(&self, pk: &str, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.table
            .client()
            .query()
            .table_name(self.table.name())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("query")
            .items
            .unwrap_or_default()
    }

    /// Stores `texts` for `level` as they are, around the checks the text API and the seed
    /// apply, as any other writer of the table could.
    pub async fn store_texts_unchecked(&self, level: TextLevel, texts: CustomTexts) {
        let record = self.table.texts_record(&level).await.unwrap();
        let previous_sequence = TextsRecord::expected_sequence(record.as_ref());
        let change = TextChange {
            level,
            texts,
            previous_sequence,
            events: Vec::new(),
            language: String::new(),
            editor: "test".into(),
            at: chrono::Utc::now(),
        };
        self.table.commit_texts(&change).await.unwrap();
    }

    pub async fn user_sequence(&self, user: &str) -> u64 {
        self.user_item(user).await.get("sequence").map_or(0, |v| v.as_n().unwrap().parse().unwrap())
    }

    /// Sets one attribute of the user's item, around every check, as another writer could.
    pub async fn set_user_attribute(&self, user: &str, name: &str, value: AttributeValue) {
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(format!("USER#{user}")))
            .key("sk", AttributeValue::S("#USER".into()))
            .update_expression("SET #name = :value")
            .expression_attribute_names("#name", name)
            .expression_attribute_values(":value", value)
            .send()
            .await
            .expect("update user");
    }

    /// The user's item as stored (empty when there is none).
    pub async fn user_item(&self, user: &str) -> HashMap<String, AttributeValue> {
        self.table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(format!("USER#{user}")))
            .key("sk", AttributeValue::S("#USER".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get user")
            .item
            .unwrap_or_default()
    }
}

pub fn parse_response(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers().get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "every answer is JSON"
    );
    let body = match response.body() {
        Body::Text(t) => t.clone(),
        other => panic!("unexpected body {other:?}"),
    };
    (status, serde_json::from_str(&body).expect("body is JSON"))
}

/// A Lambda context whose deadline is `left` from now, as the runtime hands one over.
pub fn context_ending_in(left: Duration) -> lambda_http::Context {
    let deadline = std::time::SystemTime::now() + left;
    let mut context = lambda_http::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.deadline = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    context
}

/// Status and body of a whole invocation's response, whatever the event's source.
pub fn parse_invocation(response: &Value) -> (u16, Value) {
    let content_type = response["headers"]["content-type"]
        .as_str()
        .or_else(|| response["multiValueHeaders"]["content-type"][0].as_str());
    assert_eq!(content_type, Some("application/json"), "every answer is JSON: {response}");
    let status = response["statusCode"].as_u64().expect("a status") as u16;
    (status, serde_json::from_str(response["body"].as_str().expect("a body")).expect("body is JSON"))
}

/// The HTTP API v2 event from events/send-link.json with caller, user and org header replaced.
pub fn event(caller: Option<(&str, &str)>, user: &str, org_header: Option<&str>) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("../../events/send-link.json")).unwrap();
    let path = format!("/management/v1/users/{user}/passwordless/_send_link");
    e["rawPath"] = path.clone().into();
    e["requestContext"]["http"]["path"] = path.into();
    e["pathParameters"]["userId"] = user.into();
    e["requestContext"]["requestId"] = uuid::Uuid::new_v4().to_string().into();
    match caller {
        Some((sub, org)) => {
            let claims = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
            claims["sub"] = sub.into();
            claims["urn:zitadel:iam:user:resourceowner:id"] = org.into();
        }
        None => {
            e["requestContext"].as_object_mut().unwrap().remove("authorizer");
        }
    }
    if let Some(org) = org_header {
        e["headers"]["x-zitadel-orgid"] = org.into();
    }
    e
}

pub fn with_body(mut e: Value, body: Option<&str>) -> Value {
    match body {
        Some(b) => e["body"] = b.into(),
        None => {
            e.as_object_mut().unwrap().remove("body");
        }
    }
    e
}

/// Mail the SES emulator received for `recipient`.
pub fn mails_to(recipient: &str) -> Vec<Value> {
    let store = http_get(&format!("{}/store", env("MAILBOX_URL")));
    let store: Value = serde_json::from_str(&store).expect("mailbox store is JSON");
    store["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destination"]["to"].as_array().unwrap().iter().any(|to| to == recipient))
        .cloned()
        .collect()
}

/// A plain HTTP/1.0 GET: enough for the emulator's mailbox, no client crate needed.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("MAILBOX_URL is http://");
    let (authority, path) =
        rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).expect("mailbox reachable");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{head}");
    body.to_owned()
}

/// The `code` and `codeID` query parameters of the link in a mail's text part.
pub fn link_in(mail: &Value) -> (String, String, String) {
    let text = mail["body"]["text"].as_str().unwrap();
    let link =
        text.split_whitespace().find(|w| w.starts_with("http")).expect("a link in the mail").to_owned();
    let param = |name: &str| {
        link.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {link}"))
            .to_owned()
    };
    (param("codeID"), param("code"), link.clone())
}

pub fn error_id(body: &Value) -> &str {
    body["details"][0]["id"].as_str().unwrap_or_default()
}

/// One scripted HTTP answer of [`AwsStub`].
#[derive(Debug, Clone)]
pub struct StubAnswer {
    pub status: u16,
    /// `x-amzn-ErrorType`, as SES v2 (REST-JSON) sends it on errors.
    pub error_type: Option<&'static str>,
    pub body: &'static str,
    /// How long the answer takes.
    pub after: Duration,
}

pub const SES_OK: StubAnswer = StubAnswer {
    status: 200,
    error_type: None,
    body: r#"{"MessageId":"stub-message-1"}"#,
    after: Duration::ZERO,
};
pub const SES_THROTTLED: StubAnswer = StubAnswer {
    status: 429,
    error_type: Some("TooManyRequestsException"),
    body: r#"{"message":"Maximum sending rate exceeded."}"#,
    after: Duration::ZERO,
};
/// The SES sandbox refusing an unverified recipient, naming it ([`SES_REJECTED_ADDRESS`]).
pub const SES_REJECTED: StubAnswer = StubAnswer {
    status: 400,
    error_type: Some("MessageRejected"),
    body: r#"{"message":"Email address is not verified. The following identities failed the check in region EU-CENTRAL-1: refused.recipient@sandbox.example"}"#,
    after: Duration::ZERO,
};
/// The address [`SES_REJECTED`]'s message names.
pub const SES_REJECTED_ADDRESS: &str = "refused.recipient@sandbox.example";
/// DynamoDB (JSON 1.0 protocol) refusing for capacity, as on a throttled table.
pub const DYNAMODB_THROTTLED: StubAnswer = StubAnswer {
    status: 400,
    error_type: None,
    body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity of your table or index."}"#,
    after: Duration::ZERO,
};

/// Accepts the connection and never answers.
pub const SES_SILENT: StubAnswer =
    StubAnswer { status: 0, error_type: None, body: "", after: Duration::ZERO };
/// Accepts the message, but answers only after the SDK's attempt timeout (1.5 s).
pub const SES_SLOW_OK: StubAnswer = StubAnswer { after: Duration::from_secs(2), ..SES_OK };
/// SES failing inside: the message may or may not have been taken.
pub const SES_INTERNAL_FAILURE: StubAnswer = StubAnswer {
    status: 500,
    error_type: Some("InternalFailure"),
    body: r#"{"message":"The request processing has failed because of an unknown error."}"#,
    after: Duration::ZERO,
};
/// A proxy in front of SES that gave up waiting for it.
pub const SES_GATEWAY_TIMEOUT: StubAnswer = StubAnswer {
    status: 504,
    error_type: None,
    body: "<html>504 Gateway Time-out</html>",
    after: Duration::ZERO,
};
pub const SES_PAUSED: StubAnswer = StubAnswer {
    status: 400,
    error_type: Some("SendingPausedException"),
    body: r#"{"message":"Sending is paused for this account."}"#,
    after: Duration::ZERO,
};

/// A local HTTP server that answers SES v2 or DynamoDB requests with their real error
/// shapes, for the faults the emulators cannot produce. Answers in order; the last repeats.
pub struct AwsStub {
    pub url: String,
    requests: Arc<Mutex<usize>>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl AwsStub {
    pub async fn start(script: Vec<StubAnswer>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(0usize));
        let counter = requests.clone();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = {
                    let mut n = counter.lock().unwrap();
                    *n += 1;
                    script[(*n - 1).min(script.len() - 1)].clone()
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    // Read the head and the declared body, then answer and close.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(read) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..read]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                seen.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&buf[end + 4..]).to_string());
                                break;
                            }
                        }
                    }
                    tokio::time::sleep(answer.after).await;
                    if answer.status == 0 {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let error_header =
                        answer.error_type.map(|t| format!("x-amzn-ErrorType: {t}\r\n")).unwrap_or_default();
                    let reason = if answer.status == 200 { "OK" } else { "Error" };
                    let response = format!(
                        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\n{error_header}content-length: {}\r\nconnection: close\r\n\r\n{}",
                        answer.status,
                        answer.body.len(),
                        answer.body
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, requests, bodies }
    }

    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    /// The request bodies received so far.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}
