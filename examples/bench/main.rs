//! `make bench`'s and `make bench-peer`'s measuring half (scripts/bench.sh and
//! scripts/bench-peer.sh prepare the stack and the release binaries; scripts/bench-report.py
//! writes the documents from the JSON this writes).
//!
//! The function runs as AWS runs it: the release `send-passkey-link` under AWS's runtime
//! interface emulator (`aws-lambda-rie`, from the SAM CLI wheel), one emulator per instance.
//! The floor is the same AWS calls with the same payloads, made in this process with the Rust
//! SDK through the crate's own store and mailer adapters, against the same emulators,
//! interleaved call by call with the function so that drift hits both.
//!
//!   bench --rie PATH --bootstrap PATH --echo PATH --table NAME --calls N --out FILE.json
//!         --dynamodb-pid PID --ses-pid PID [--peer-env FILE]
//!
//! With --peer-env (written by scripts/peer.sh) it compares the function with Keycloak instead.

mod cpu_limit;
mod http;
mod instance;
mod load;
mod procs;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use send_passkey_link::mail::{LinkMail, MailRenderer};
use send_passkey_link::mailer::ses::SesMailer;
use send_passkey_link::mailer::Mailer;
use send_passkey_link::model::{OrgId, RecentLink, UserId};
use send_passkey_link::seed::Seed;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::store::{LinkCommit, LinkDelivery, NewLink, SnapshotRead, WindowChange};
use serde_json::{json, Value};

use cpu_limit::CpuLimit;
use http::Response;
use instance::Instance;
use procs::{CpuMeter, Group};

const ORG: &str = "900000000000000001";
const ADMIN: &str = "900000000000000010";
const NOBODY: &str = "900000000000000011";
/// RATE_LIMIT_LINKS as bench.sh sets it (the most the function allows): links per user in the
/// window, which the users per side must cover for ROUNDS x --calls links (a margin of 10).
const LINKS_PER_USER: usize = 90;
/// Users for the load runs: 400 x 100 links.
const LOAD_USERS: usize = 400;
const COLD_STARTS: usize = 5;
/// Warm rounds, each on a fresh instance: every figure gets a min, median and max.
const ROUNDS: usize = 3;
/// Lambda memory sizes whose CPU share the function gets in turn (1,769 MB is one vCPU).
const MEMORY_SIZES_MB: [u64; 5] = [128, 256, 512, 1024, 1769];
const CALLS_PER_MEMORY_SIZE: usize = 150;
/// What a call waits for DynamoDB and SES on AWS (assumed): the memory-size runs pause this long
/// between calls, so the function uses its CPU share as it would there rather than back to back
/// against emulators that answer in a few milliseconds.
const AWS_WAIT: Duration = Duration::from_millis(30);
/// Concurrent instances (each one emulator + function, one client each) in the scale runs.
const SCALE: [usize; 4] = [1, 2, 4, 8];
/// Concurrent clients in the comparison with the peer.
const PEER_SCALE: [usize; 3] = [1, 4, 16];
/// Keycloak's JVM is still getting faster after 400 calls: this many come first, untimed.
const PEER_WARMUP_CALLS: usize = 1000;
const LOAD_SECONDS: u64 = 3;

struct Args {
    rie: String,
    bootstrap: String,
    echo: String,
    table: String,
    calls: usize,
    out: String,
    dynamodb_pid: u32,
    ses_pid: u32,
    peer_env: Option<String>,
}

fn args() -> Args {
    let mut map = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        map.insert(k.trim_start_matches("--").to_owned(), v);
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_else(|| panic!("--{k} is required"));
    Args {
        rie: get("rie"),
        bootstrap: get("bootstrap"),
        echo: get("echo"),
        table: get("table"),
        calls: get("calls").parse().expect("--calls is a number"),
        out: get("out"),
        dynamodb_pid: get("dynamodb-pid").parse().expect("--dynamodb-pid is a number"),
        ses_pid: get("ses-pid").parse().expect("--ses-pid is a number"),
        peer_env: map.get("peer-env").cloned(),
    }
}

fn user(side: &str, n: usize) -> String {
    let kind = match side {
        "fn" => 1,
        "floor" => 2,
        _ => 3,
    };
    format!("9000000000000{kind}{n:04}")
}

/// Users per side for `calls` calls of each kind per round.
fn users(calls: usize) -> usize {
    (ROUNDS * calls).div_ceil(LINKS_PER_USER).max(20)
}

fn seed_json(users_per_side: usize) -> String {
    let mut users = vec![
        json!({"id": ADMIN, "userName": "admin@bench.example", "displayName": "Bench Admin", "email": "admin@bench.example"}),
        json!({"id": NOBODY, "userName": "nobody@bench.example", "displayName": "No Role", "email": "nobody@bench.example"}),
    ];
    for (side, count) in [("fn", users_per_side), ("floor", users_per_side), ("load", LOAD_USERS)] {
        for n in 0..count {
            let id = user(side, n);
            users.push(json!({"id": id, "userName": format!("{id}@bench.example"),
                "displayName": "Bench User", "email": format!("{id}@bench.example"), "preferredLanguage": "en"}));
        }
    }
    json!({"orgs": [{"id": ORG, "name": "Bench Org", "users": users,
        "members": [{"userId": ADMIN, "roles": ["ORG_OWNER"]}]}]})
    .to_string()
}

/// An HTTP API event for `_send_link`, as API Gateway sends it.
fn event(caller: &str, target: &str) -> Vec<u8> {
    let path = format!("/management/v1/users/{target}/passwordless/_send_link");
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.example"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.example",
            "authorizer": {"jwt": {"claims": {"sub": caller, "urn:zitadel:iam:user:resourceowner:id": ORG}, "scopes": null}},
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "bench"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": "$default", "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": "{}", "isBase64Encoded": false
    })
    .to_string()
    .into_bytes()
}

/// The floor: the function's AWS calls with the same payloads, straight through the SDK.
struct Floor {
    table: Table,
    mailer: SesMailer,
    renderer: MailRenderer,
}

impl Floor {
    /// The 200 path: the snapshot read, the link transaction, the send.
    async fn send(&self, target: &str) {
        let (caller, org, user) =
            (UserId::parse(ADMIN).unwrap(), OrgId::parse(ORG).unwrap(), UserId::parse(target).unwrap());
        let snap = self.table.read_snapshot(&caller, &org, &user).await.expect("read");
        let u = snap.user.expect("user");
        let now = chrono::Utc::now();
        let code_id = uuid::Uuid::new_v4().to_string();
        let link = NewLink {
            user_id: user.clone(),
            org_id: org.clone(),
            code_id: code_id.clone(),
            code_hash: send_passkey_link::link::hash_code(&code_id),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            previous_sequence: u.sequence,
            sequence: u.sequence + 1,
            requested_by: caller,
            window: match u.recent_links {
                None => WindowChange::Create(vec![RecentLink {
                    code_id: code_id.clone(),
                    at_ms: now.timestamp_millis(),
                }]),
                Some(_) => WindowChange::Edit {
                    add: RecentLink { code_id: code_id.clone(), at_ms: now.timestamp_millis() },
                    expired: vec![],
                },
            },
            superseded: vec![],
            delivery: LinkDelivery::Mail,
        };
        self.table.commit_link(&link).await.expect("write");
        let url = format!("https://bench.example/ui/login/login/passwordless/init?userID={target}&orgID={ORG}&codeID={code_id}&code={code_id}");
        let mut mail = self
            .renderer
            .render(&LinkMail {
                to: u.email.as_deref().unwrap(),
                display_name: u.display_name.as_deref(),
                name: &u.name,
                user_name: u.user_name.as_deref(),
                preferred_language: Some("en"),
                org_name: "Bench Org",
                org_texts: None,
                instance_texts: None,
                link: &url,
                lifetime: Duration::from_secs(3600),
            })
            .unwrap();
        mail.tags = vec![
            ("purpose".into(), "passkey-registration".into()),
            ("org".into(), ORG.into()),
            ("user".into(), target.into()),
            ("code".into(), code_id),
        ];
        self.mailer.send(&mail).await.expect("send");
    }

    /// The 403 path: the snapshot read only.
    async fn refuse(&self, target: &str) {
        let (caller, org, user) =
            (UserId::parse(NOBODY).unwrap(), OrgId::parse(ORG).unwrap(), UserId::parse(target).unwrap());
        self.table.read_snapshot(&caller, &org, &user).await.expect("read");
    }
}

/// The one-minute load average (/proc/loadavg).
fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The load clients for the function: each sends the 200 call for the next load user to the
/// emulator on its port.
struct SendLink(u16);

impl load::Client for SendLink {
    fn request(&mut self, n: usize) -> Vec<u8> {
        instance::invocation(self.0, &event(ADMIN, &user("load", n % LOAD_USERS)))
    }
    fn ok(&self, response: &Response) -> bool {
        instance::status_code(&response.body) == 200
    }
}

/// The stack's processes, each with its descendants.
fn stack_groups(args: &Args) -> Vec<Group> {
    vec![
        Group { name: "dynoxide (DynamoDB)".into(), pids: vec![args.dynamodb_pid], descendants: true },
        Group { name: "aws-ses-v2-local (SES)".into(), pids: vec![args.ses_pid], descendants: true },
        Group {
            name: "load generator (this process)".into(),
            pids: vec![std::process::id()],
            descendants: false,
        },
    ]
}

/// `n` fresh instances, each invoked a few times (its start is not part of a load run).
async fn warm_instances(args: &Args, bootstrap: &str, base_port: u16, n: usize) -> Vec<Instance> {
    let mut instances = Vec::new();
    for i in 0..n {
        let mut instance = Instance::start(&args.rie, bootstrap, base_port + 2 * i as u16).await;
        for k in 0..3 {
            assert_eq!(instance.invoke(&event(NOBODY, &user("fn", k))).await, 403);
        }
        instances.push(instance);
    }
    instances
}

/// The function at `n` concurrent instances: throughput, latency and every process's CPU.
async fn function_load(args: &Args, n: usize) -> Value {
    let instances = warm_instances(args, &args.bootstrap, 19500, n).await;
    let mut groups = vec![
        Group {
            name: "function".into(),
            pids: instances.iter().map(Instance::function_pid).collect(),
            descendants: true,
        },
        Group {
            name: "runtime emulator".into(),
            pids: instances.iter().map(Instance::rie_pid).collect(),
            descendants: false,
        },
    ];
    groups.extend(stack_groups(args));
    let peak_rss_kb: Vec<u64> = instances.iter().map(|i| procs::peak_rss_kb(i.function_pid())).collect();
    let meter = CpuMeter::start(groups);
    let clients = instances.iter().map(|i| (i.port, SendLink(i.port))).collect();
    let outcome = load::run(clients, Duration::from_secs(LOAD_SECONDS)).await;
    let cpu = meter.stop();
    let rss_after: Vec<u64> = instances.iter().map(|i| procs::peak_rss_kb(i.function_pid())).collect();
    drop(instances);
    load_summary(
        n,
        &outcome,
        &cpu,
        json!({"function_peak_rss_kb_before": peak_rss_kb, "function_peak_rss_kb": rss_after}),
    )
}

fn load_summary(clients: usize, outcome: &load::Outcome, cpu: &[(String, f64)], extra: Value) -> Value {
    let wall = outcome.wall.as_secs_f64();
    let mut summary = json!({
        "clients": clients,
        "calls": outcome.calls,
        "failures": outcome.failures,
        "wall_s": wall,
        "per_second": outcome.calls as f64 / wall,
        "p50_ms": percentile(&outcome.latencies_ms, 0.5),
        "p99_ms": percentile(&outcome.latencies_ms, 0.99),
        "cpu_ms": cpu.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "cores_busy": cpu.iter().map(|(_, v)| v).sum::<f64>() / 1000.0 / wall,
    });
    if let (Some(summary), Some(extra)) = (summary.as_object_mut(), extra.as_object()) {
        summary.extend(extra.clone());
    }
    summary
}

async fn main_run(args: &Args, floor: &Floor, client: &aws_sdk_dynamodb::Client) -> Value {
    // Cold starts: a fresh emulator, then its first invocation (init included) and a second.
    eprintln!("bench: {COLD_STARTS} cold starts");
    let mut cold = Vec::new();
    for i in 0..COLD_STARTS {
        let log = std::path::Path::new(&args.out).with_extension(format!("cold-{i}.log"));
        let spawned = Instant::now();
        let mut instance =
            Instance::start_logged(&args.rie, &args.bootstrap, 19410 + 2 * i as u16, Some(&log)).await;
        let listening = spawned.elapsed();
        let t = Instant::now();
        let status = instance.invoke(&event(NOBODY, &user("fn", 0))).await;
        let first = t.elapsed();
        let t = Instant::now();
        instance.invoke(&event(NOBODY, &user("fn", 0))).await;
        let second = t.elapsed();
        assert_eq!(status, 403);
        drop(instance);
        // The emulator times init as Lambda does: from starting the bootstrap until it asks for
        // its first event ("INIT REPORT(durationMs: 12.3)").
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let init_ms = output
            .split("INIT REPORT(durationMs: ")
            .nth(1)
            .and_then(|rest| rest.split(')').next()?.parse::<f64>().ok());
        let _ = std::fs::remove_file(&log);
        cold.push(json!({"emulator_listening_ms": millis(listening), "first_invocation_ms": millis(first),
            "second_invocation_ms": millis(second), "init_ms": init_ms}));
    }

    // What the function's init builds (SDK configuration and clients) and what a first call on
    // fresh clients costs over a second: the most that warming the connection pool at init
    // could move out of the first request.
    let mut fresh = Vec::new();
    for _ in 0..COLD_STARTS {
        let t = Instant::now();
        let sdk = send_passkey_link::aws::load().await;
        let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), &args.table);
        let build = t.elapsed();
        let (caller, org, target) = (
            UserId::parse(NOBODY).unwrap(),
            OrgId::parse(ORG).unwrap(),
            UserId::parse(&user("floor", 0)).unwrap(),
        );
        let t = Instant::now();
        table.read_snapshot(&caller, &org, &target).await.expect("read");
        let first = t.elapsed();
        let t = Instant::now();
        table.read_snapshot(&caller, &org, &target).await.expect("read");
        let second = t.elapsed();
        fresh.push(json!({"config_and_client_ms": millis(build), "first_call_ms": millis(first), "second_call_ms": millis(second)}));
    }

    // Warm: ROUNDS fresh instances, each with calls interleaved with the floor and with an
    // echo function (the emulator's own cost: it answers without any work).
    let mut samples: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        eprintln!("bench: warm round {} of {ROUNDS} ({} calls of each kind)", round + 1, args.calls);
        let mut instance = Instance::start(&args.rie, &args.bootstrap, 19400).await;
        let mut echo = Instance::start(&args.rie, &args.echo, 19402).await;
        for n in 0..5 {
            instance.invoke(&event(NOBODY, &user("fn", n))).await;
            echo.invoke(&event(NOBODY, &user("fn", n))).await;
            floor.refuse(&user("floor", n)).await;
        }
        let (pid, echo_pid) = (instance.function_pid(), echo.function_pid());
        let (cpu_before, echo_cpu_before) = (procs::cpu_ms(pid), procs::cpu_ms(echo_pid));
        let mut mine: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let started = Instant::now();
        for i in 0..args.calls {
            let n = (i + round) % users(args.calls);
            let t = Instant::now();
            assert_eq!(instance.invoke(&event(ADMIN, &user("fn", n))).await, 200, "call {i}");
            mine.entry("function_200").or_default().push(millis(t.elapsed()));
            let t = Instant::now();
            floor.send(&user("floor", n)).await;
            mine.entry("floor_200").or_default().push(millis(t.elapsed()));
            let t = Instant::now();
            assert_eq!(instance.invoke(&event(NOBODY, &user("fn", n))).await, 403);
            mine.entry("function_403").or_default().push(millis(t.elapsed()));
            let t = Instant::now();
            floor.refuse(&user("floor", n)).await;
            mine.entry("floor_403").or_default().push(millis(t.elapsed()));
            let t = Instant::now();
            assert_eq!(echo.invoke(&event(NOBODY, &user("fn", n))).await, 200);
            mine.entry("echo").or_default().push(millis(t.elapsed()));
        }
        let wall = started.elapsed();
        let (cpu_after, echo_cpu_after) = (procs::cpu_ms(pid), procs::cpu_ms(echo_pid));
        let peak_rss_kb = procs::peak_rss_kb(pid);
        if round == 0 {
            // The same 403 call from a client that sends head and body in two writes.
            for i in 0..args.calls.min(100) {
                let t = Instant::now();
                assert_eq!(instance.invoke_in_two_writes(&event(NOBODY, &user("fn", i % 20))).await, 403);
                samples.entry("function_403_two_writes").or_default().push(millis(t.elapsed()));
            }
        }
        drop(instance);
        drop(echo);
        rounds.push(json!({
            "p50_ms": mine.iter().map(|(k, v)| (k.to_string(), percentile(v, 0.5))).collect::<BTreeMap<_, _>>(),
            "function_cpu_ms_per_call": (cpu_after - cpu_before) / (2 * args.calls) as f64,
            "echo_cpu_ms_per_call": (echo_cpu_after - echo_cpu_before) / args.calls as f64,
            "function_peak_rss_kb": peak_rss_kb,
            "warm_loop_wall_s": wall.as_secs_f64(),
        }));
        for (k, v) in mine {
            samples.entry(k).or_default().extend(v);
        }
    }

    // Memory sizes: the 200 call with the CPU share Lambda gives each size.
    eprintln!("bench: memory sizes {MEMORY_SIZES_MB:?} MB");
    let mut sizes = Vec::new();
    let mut instance = Instance::start(&args.rie, &args.bootstrap, 19404).await;
    instance.invoke(&event(NOBODY, &user("fn", 0))).await;
    for memory_mb in MEMORY_SIZES_MB {
        let Some(_limit) = CpuLimit::apply(instance.function_pid(), memory_mb) else {
            sizes.push(json!({"memory_mb": memory_mb, "skipped": "no writable cgroup cpu controller"}));
            continue;
        };
        let pid = instance.function_pid();
        let cpu_before = procs::cpu_ms(pid);
        let mut latencies = Vec::new();
        for i in 0..CALLS_PER_MEMORY_SIZE {
            let t = Instant::now();
            assert_eq!(
                instance.invoke(&event(ADMIN, &user("load", (i + memory_mb as usize) % LOAD_USERS))).await,
                200
            );
            latencies.push(millis(t.elapsed()));
            tokio::time::sleep(AWS_WAIT).await;
        }
        let cpu = procs::cpu_ms(pid) - cpu_before;
        sizes.push(json!({
            "memory_mb": memory_mb, "calls": CALLS_PER_MEMORY_SIZE, "pause_ms": millis(AWS_WAIT),
            "mean_ms": latencies.iter().sum::<f64>() / latencies.len() as f64,
            "p50_ms": percentile(&latencies, 0.5), "p90_ms": percentile(&latencies, 0.9),
            "p99_ms": percentile(&latencies, 0.99), "cpu_ms_per_call": cpu / CALLS_PER_MEMORY_SIZE as f64,
        }));
    }
    drop(instance);

    // Throughput: 1, 2, 4, 8 instances, each with one client, until something saturates.
    let mut scale = Vec::new();
    for n in SCALE {
        eprintln!("bench: throughput at {n} instance(s), {LOAD_SECONDS} s");
        scale.push(function_load(args, n).await);
    }

    json!({
        "calls": args.calls,
        "rounds": rounds,
        "samples_ms": samples,
        "cold_starts": cold,
        "fresh_client": fresh,
        "memory_sizes": sizes,
        "scale": scale,
        "item_bytes": item_sizes(client, &args.table).await,
    })
}

/// The peer, as scripts/peer.sh describes it in its env file.
struct Peer {
    port: u16,
    realm: String,
    token: String,
    users: Vec<String>,
    pid: u32,
    smtp_pid: u32,
    start_ms: f64,
    version: String,
    java: String,
}

impl Peer {
    fn read(path: &str) -> Self {
        let text = std::fs::read_to_string(path).expect("the peer's env file");
        let vars: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()))
            .collect();
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("{path} has no {k}"));
        let url = get("PEER_URL");
        Self {
            port: url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .expect("PEER_URL's port"),
            realm: get("PEER_REALM"),
            token: get("PEER_TOKEN"),
            users: get("PEER_USERS").split(',').map(str::to_owned).collect(),
            pid: get("PEER_PID").parse().expect("PEER_PID"),
            smtp_pid: get("PEER_SMTP_PID").parse().expect("PEER_SMTP_PID"),
            start_ms: get("PEER_START_MS").parse().expect("PEER_START_MS"),
            version: get("PEER_VERSION"),
            java: get("PEER_JAVA"),
        }
    }
}

/// Keycloak's "send the user a mail with the passwordless-registration action" call.
#[derive(Clone)]
struct ExecuteActionsEmail {
    port: u16,
    realm: String,
    auth: String,
    users: Vec<String>,
}

impl ExecuteActionsEmail {
    fn new(peer: &Peer) -> Self {
        Self {
            port: peer.port,
            realm: peer.realm.clone(),
            auth: format!("Authorization: Bearer {}\r\n", peer.token),
            users: peer.users.clone(),
        }
    }
}

impl load::Client for ExecuteActionsEmail {
    fn request(&mut self, n: usize) -> Vec<u8> {
        let path = format!(
            "/admin/realms/{}/users/{}/execute-actions-email",
            self.realm,
            self.users[n % self.users.len()]
        );
        http::request(self.port, "PUT", &path, &self.auth, br#"["webauthn-register-passwordless"]"#)
    }
    fn ok(&self, response: &Response) -> bool {
        response.status == 204
    }
}

async fn peer_run(args: &Args, peer_env: &str) -> Value {
    let peer = Peer::read(peer_env);
    let mut keycloak = ExecuteActionsEmail::new(&peer);
    let mut conn = http::Conn::open(peer.port).await;
    let mut cold = Vec::new();
    for i in 0..COLD_STARTS {
        let spawned = Instant::now();
        let mut instance = Instance::start(&args.rie, &args.bootstrap, 19410 + 2 * i as u16).await;
        assert_eq!(instance.invoke(&event(ADMIN, &user("fn", i))).await, 200);
        cold.push(millis(spawned.elapsed()));
        drop(instance);
    }

    eprintln!("bench: {PEER_WARMUP_CALLS} untimed calls to warm Keycloak's JIT");
    for n in 0..PEER_WARMUP_CALLS {
        let response = conn.call(&load::Client::request(&mut keycloak, n)).await;
        assert!(load::Client::ok(&keycloak, &response), "Keycloak answered {}", response.status);
    }

    // Latency, one client, calls interleaved so that drift hits both.
    eprintln!("bench: {} interleaved calls, function and Keycloak", args.calls);
    let mut instance = Instance::start(&args.rie, &args.bootstrap, 19400).await;
    for n in 0..5 {
        instance.invoke(&event(NOBODY, &user("fn", n))).await;
        let response = conn.call(&load::Client::request(&mut keycloak, n)).await;
        assert!(load::Client::ok(&keycloak, &response), "Keycloak answered {}", response.status);
    }
    let pid = instance.function_pid();
    let (fn_cpu, kc_cpu) = (procs::cpu_ms(pid), procs::tree_cpu_ms(peer.pid));
    let mut samples: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for i in 0..args.calls {
        let t = Instant::now();
        assert_eq!(instance.invoke(&event(ADMIN, &user("fn", i % users(args.calls)))).await, 200, "call {i}");
        samples.entry("function").or_default().push(millis(t.elapsed()));
        let t = Instant::now();
        let response = conn.call(&load::Client::request(&mut keycloak, i)).await;
        samples.entry("keycloak").or_default().push(millis(t.elapsed()));
        assert!(load::Client::ok(&keycloak, &response), "Keycloak answered {}", response.status);
    }
    let cpu_per_call = json!({
        "function": (procs::cpu_ms(pid) - fn_cpu) / args.calls as f64,
        "keycloak": (procs::tree_cpu_ms(peer.pid) - kc_cpu) / args.calls as f64,
    });
    let function_rss_kb = procs::peak_rss_kb(pid);
    drop(instance);
    drop(conn);

    let mut scale = Vec::new();
    for clients in PEER_SCALE {
        eprintln!("bench: throughput at {clients} client(s), {LOAD_SECONDS} s each side");
        let ours = function_load(args, clients).await;
        let mut groups = vec![
            Group { name: "keycloak".into(), pids: vec![peer.pid], descendants: true },
            Group { name: "smtp sink".into(), pids: vec![peer.smtp_pid], descendants: true },
        ];
        groups.extend(stack_groups(args).into_iter().filter(|g| g.name.starts_with("load")));
        let meter = CpuMeter::start(groups);
        let workers = (0..clients).map(|_| (peer.port, keycloak.clone())).collect();
        let outcome = load::run(workers, Duration::from_secs(LOAD_SECONDS)).await;
        let theirs = load_summary(clients, &outcome, &meter.stop(), json!({}));
        scale.push(json!({"clients": clients, "function": ours, "keycloak": theirs}));
    }

    json!({
        "calls": args.calls,
        "peer_warmup_calls": PEER_WARMUP_CALLS,
        "peer": {"version": peer.version, "java": peer.java, "start_ms": peer.start_ms,
                 "peak_rss_kb": procs::tree_peak_rss_kb(peer.pid)},
        "function": {"cold_start_to_first_answer_ms": cold, "peak_rss_kb": function_rss_kb},
        "samples_ms": samples,
        "cpu_ms_per_call": cpu_per_call,
        "scale": scale,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = args();
    let sdk = send_passkey_link::aws::load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = Table::new(client.clone(), &args.table);
    table.create().await.expect("create the bench table");
    Seed::from_json(&seed_json(users(args.calls))).unwrap().apply(&table).await.expect("seed");
    let floor = Floor {
        table,
        mailer: SesMailer::new(
            aws_sdk_sesv2::Client::new(&sdk),
            send_passkey_link::mail::sender::Sender::parse("Bench <no-reply@bench.example>", None).unwrap(),
            None,
        ),
        renderer: MailRenderer::new().unwrap(),
    };
    let load_before = load_average();
    let mut result = match &args.peer_env {
        Some(peer_env) => peer_run(&args, peer_env).await,
        None => main_run(&args, &floor, &client).await,
    };
    // Other work on the machine moves every figure: the report says how busy it was.
    result["load_average"] = json!({"start": load_before, "end": load_average()});
    std::fs::write(&args.out, serde_json::to_string_pretty(&result).unwrap()).expect("write results");
    println!("bench: results in {}", args.out);
}

/// An item's size as DynamoDB bills it: attribute names plus values (numbers approximated
/// by their digits, as DynamoDB stores about one byte per two digits plus one).
fn item_size(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    match value {
        V::S(s) => s.len(),
        V::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        V::B(b) => b.as_ref().len(),
        V::Bool(_) | V::Null(_) => 1,
        V::Ss(v) => v.iter().map(String::len).sum(),
        V::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        V::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        V::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        V::M(m) => 3 + m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum::<usize>(),
        _ => 0,
    }
}

/// Every item's size in the bench table, by kind (the sort key's prefix).
async fn item_sizes(client: &aws_sdk_dynamodb::Client, table: &str) -> Value {
    let mut by_kind: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    // A user item's size grows with its rate window (one entry per recent link).
    let mut users: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        for item in page.items() {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let kind = sk.trim_start_matches('#').split('#').next().unwrap_or_default().to_owned();
            if kind == "USER" {
                let entries = item.get("recentLinks").and_then(|v| v.as_m().ok()).map_or(0, |m| m.len());
                users.push((entries, item_size(item)));
            }
            by_kind.entry(kind).or_default().push(item_size(item));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let base = users.iter().filter(|(n, _)| *n == 0).map(|(_, size)| *size).max().unwrap_or(0);
    let mut per_entry: Vec<f64> = users
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, size)| (*size as f64 - base as f64) / *n as f64)
        .collect();
    per_entry.sort_by(f64::total_cmp);
    let mut sizes: serde_json::Map<String, Value> = by_kind
        .into_iter()
        .map(|(kind, mut sizes)| {
            sizes.sort_unstable();
            (kind, json!({"items": sizes.len(), "min": sizes[0], "median": sizes[sizes.len() / 2], "max": sizes[sizes.len() - 1]}))
        })
        .collect();
    sizes.insert(
        "user_window".into(),
        json!({"base_bytes": base, "bytes_per_entry": per_entry.get(per_entry.len() / 2).copied().unwrap_or(0.0)}),
    );
    sizes.into()
}
