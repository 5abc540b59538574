//! `make bench`'s measuring half (scripts/bench.sh prepares the stack and the release binary,
//! scripts/bench-report.py writes docs/benchmarks.md and the plot from what this prints).
//!
//! The function runs as AWS runs it: the release `send-passkey-link` under AWS's runtime
//! interface emulator (`aws-lambda-rie`, from the SAM CLI wheel), one emulator per instance.
//! The floor is the same AWS calls with the same payloads, made in this process with the Rust
//! SDK through the crate's own store and mailer adapters, against the same emulators,
//! interleaved call by call with the function so that drift hits both.
//!
//!   bench --rie PATH --bootstrap PATH --table NAME --calls N --out FILE.json

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use send_passkey_link::mail::{LinkMail, MailRenderer};
use send_passkey_link::mailer::ses::SesMailer;
use send_passkey_link::mailer::Mailer;
use send_passkey_link::model::{OrgId, RecentLink, UserId};
use send_passkey_link::seed::Seed;
use send_passkey_link::store::dynamodb::Table;
use send_passkey_link::store::{LinkCommit, LinkDelivery, NewLink, SnapshotRead, WindowChange};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORG: &str = "900000000000000001";
const ADMIN: &str = "900000000000000010";
const NOBODY: &str = "900000000000000011";
/// Users per side: each takes RATE_LIMIT_LINKS (100) links in the window, so 20 allow 2000 calls
/// per side (ROUNDS x --calls).
const USERS: usize = 20;
const COLD_STARTS: usize = 5;
/// Warm rounds, each on a fresh instance: every figure gets a min, median and max.
const ROUNDS: usize = 3;

struct Args {
    rie: String,
    bootstrap: String,
    table: String,
    calls: usize,
    out: String,
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
        table: get("table"),
        calls: get("calls").parse().expect("--calls is a number"),
        out: get("out"),
    }
}

fn user(side: &str, n: usize) -> String {
    format!("9000000000000{}{n:04}", if side == "fn" { 1 } else { 2 })
}

fn seed_json() -> String {
    let mut users = vec![
        json!({"id": ADMIN, "userName": "admin@bench.example", "displayName": "Bench Admin", "email": "admin@bench.example"}),
        json!({"id": NOBODY, "userName": "nobody@bench.example", "displayName": "No Role", "email": "nobody@bench.example"}),
    ];
    for side in ["fn", "floor"] {
        for n in 0..USERS {
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

/// One emulator with the function behind it, and a kept-alive connection to it.
struct Instance {
    rie: Child,
    port: u16,
    conn: Option<TcpStream>,
}

impl Instance {
    fn start(args: &Args, port: u16) -> Self {
        let rie = Command::new(&args.rie)
            .args(["--runtime-interface-emulator-address", &format!("127.0.0.1:{port}")])
            .args(["--runtime-api-address", &format!("127.0.0.1:{}", port + 1)])
            .arg(&args.bootstrap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aws-lambda-rie");
        Self { rie, port, conn: None }
    }

    async fn wait_ready(&self) {
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("aws-lambda-rie did not listen on {}", self.port);
    }

    /// Invokes the function as a client that writes the head and the body separately, without
    /// TCP_NODELAY (a separate connection): what Nagle's algorithm and delayed ACKs do to it.
    async fn invoke_in_two_writes(&mut self, conn: &mut TcpStream, payload: &[u8]) -> u16 {
        let head = format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(payload).await.unwrap();
        let body = read_response(conn).await;
        let answer: Value = serde_json::from_slice(&body).expect("the function answers JSON");
        answer["statusCode"].as_u64().unwrap_or(0) as u16
    }

    /// Invokes the function; its status code.
    async fn invoke(&mut self, payload: &[u8]) -> u16 {
        if self.conn.is_none() {
            let conn = TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect to the emulator");
            // One write per request and no Nagle: otherwise delayed ACKs add ~40 ms to calls.
            conn.set_nodelay(true).unwrap();
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().unwrap();
        let mut request = format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        )
        .into_bytes();
        request.extend_from_slice(payload);
        conn.write_all(&request).await.unwrap();
        let body = read_response(conn).await;
        let answer: Value = serde_json::from_slice(&body).expect("the function answers JSON");
        answer["statusCode"].as_u64().unwrap_or(0) as u16
    }

    /// The function's process: the emulator's child running the bootstrap.
    fn function_pid(&self) -> Option<u32> {
        let parent = self.rie.id();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: u32 = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
    }

    fn stop(mut self) {
        let _ = self.rie.kill();
        let _ = self.rie.wait();
    }
}

async fn read_response(conn: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the emulator closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = conn.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            return buf[end + 4..end + 4 + len].to_vec();
        }
    }
}

/// CPU time (user + system, ms) and peak RSS (kB) of a process.
fn process_stats(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the name).
    let cpu_ms = (ticks(11) + ticks(12)) * 1000.0 / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (cpu_ms, hwm)
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
                preferred_language: Some("en"),
                org_name: "Bench Org",
                org_texts: None,
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

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = args();
    let sdk = send_passkey_link::aws::load().await;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), &args.table);
    table.create().await.expect("create the bench table");
    Seed::from_json(&seed_json()).unwrap().apply(&table).await.expect("seed");
    let floor = Floor {
        table,
        mailer: SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), "Bench <no-reply@bench.example>", None),
        renderer: MailRenderer::new().unwrap(),
    };
    let base_port = 19400;

    // Cold starts: a fresh emulator, then its first invocation (init included) and a second.
    let mut cold = Vec::new();
    for i in 0..COLD_STARTS {
        let spawned = Instant::now();
        let mut instance = Instance::start(&args, base_port + 10 + 2 * i as u16);
        instance.wait_ready().await;
        let listening = spawned.elapsed();
        let t = Instant::now();
        let status = instance.invoke(&event(NOBODY, &user("fn", 0))).await;
        let first = t.elapsed();
        let t = Instant::now();
        instance.invoke(&event(NOBODY, &user("fn", 0))).await;
        let second = t.elapsed();
        assert_eq!(status, 403);
        cold.push(json!({"emulator_listening_ms": millis(listening), "first_invocation_ms": millis(first),
            "second_invocation_ms": millis(second)}));
        instance.stop();
    }

    // Warm: ROUNDS fresh instances, each with calls interleaved with the floor.
    let mut samples: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let mut instance = Instance::start(&args, base_port);
        instance.wait_ready().await;
        for n in 0..5 {
            instance.invoke(&event(NOBODY, &user("fn", n))).await;
            floor.refuse(&user("floor", n)).await;
        }
        let pid = instance.function_pid().expect("the function's process");
        let (cpu_before, _) = process_stats(pid);
        let mut mine: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let started = Instant::now();
        for i in 0..args.calls {
            let n = (i + round) % USERS;
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
        }
        let wall = started.elapsed();
        let (cpu_after, peak_rss_kb) = process_stats(pid);
        if round == 0 {
            // The same 403 call from a client that sends head and body in two writes.
            let mut split = TcpStream::connect(("127.0.0.1", instance.port)).await.expect("connect");
            for i in 0..args.calls.min(100) {
                let t = Instant::now();
                let payload = event(NOBODY, &user("fn", i % USERS));
                assert_eq!(instance.invoke_in_two_writes(&mut split, &payload).await, 403);
                samples.entry("function_403_two_writes").or_default().push(millis(t.elapsed()));
            }
        }
        instance.stop();
        let p50 = |v: &Vec<f64>| {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        rounds.push(json!({
            "p50_ms": mine.iter().map(|(k, v)| (k.to_string(), p50(v))).collect::<BTreeMap<_, _>>(),
            "function_cpu_ms_per_call": (cpu_after - cpu_before) / (2 * args.calls) as f64,
            "function_peak_rss_kb": peak_rss_kb,
            "warm_loop_wall_s": wall.as_secs_f64(),
        }));
        for (k, v) in mine {
            samples.entry(k).or_default().extend(v);
        }
    }

    let result = json!({
        "calls": args.calls,
        "rounds": rounds,
        "samples_ms": samples,
        "cold_starts": cold,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&result).unwrap()).expect("write results");
    println!("bench: {} interleaved calls per kind, results in {}", args.calls, args.out);
}
