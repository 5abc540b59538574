//! Concurrent calls for one user: optimistic concurrency on the user's sequence keeps every
//! success distinct and the rate limit exact. Real handler, real emulators.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use send_passkey_link::config::RateLimit;

async fn burst(h: Arc<Harness>, n: usize) -> Vec<(u16, serde_json::Value)> {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let h = h.clone();
        calls.spawn(async move { h.admin_sends_to_alice().await });
    }
    calls.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_lose_no_update() {
    let mut h = Harness::new().await;
    h.api.links.policy.rate_limit = RateLimit { links: 100, window: Duration::from_secs(900) };
    let h = Arc::new(h);
    let answers = burst(h.clone(), 50).await;

    let mut sequences = HashSet::new();
    let mut conflicts = 0;
    for (status, body) in &answers {
        match status {
            200 => assert!(
                sequences.insert(body["details"]["sequence"].as_str().unwrap().to_owned()),
                "duplicate sequence {body}"
            ),
            409 => {
                assert_eq!(error_id(body), "USER-Cq7Rx");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let successes = sequences.len();
    println!("50 concurrent calls: {successes} succeeded, {conflicts} answered 409 Aborted");
    assert!(successes > 0);
    assert_eq!(successes + conflicts, 50);
    assert_eq!(h.user_sequence(ALICE).await, successes as u64, "final sequence = successes");
    let expected: HashSet<String> = (1..=successes).map(|s| s.to_string()).collect();
    assert_eq!(sequences, expected, "sequences 1..=n, no gaps, no repeats");
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), successes);
    assert_eq!(h.items(ALICE, "EVENT#").await.len(), successes);
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), successes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rate_limit_is_exact_under_concurrency() {
    let mut h = Harness::new().await;
    h.api.links.policy.rate_limit = RateLimit { links: 5, window: Duration::from_secs(900) };
    let h = Arc::new(h);
    let answers = burst(h.clone(), 20).await;

    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(ok, 5, "exactly the limit succeeds: {answers:?}");
    assert_eq!(limited.len(), 15, "the rest are rate limited: {answers:?}");
    for (_, body) in limited {
        assert_eq!(body["code"], 8);
        assert_eq!(error_id(body), "USER-Rl8Pq");
    }
    assert_eq!(h.items(ALICE, "PASSKEYLINK#").await.len(), 5, "no link beyond the limit");
    assert_eq!(mails_to(&h.email_of("alice", "demo.example")).len(), 5, "no mail beyond the limit");
    assert_eq!(h.user_sequence(ALICE).await, 5);
}

#[tokio::test]
async fn rate_limited_answers_say_when_to_retry() {
    let mut h = Harness::new().await;
    h.api.links.policy.rate_limit = RateLimit { links: 1, window: Duration::from_secs(600) };
    let (status, _) = h.admin_sends_to_alice().await;
    assert_eq!(status, 200);
    let request =
        lambda_http::request::from_str(&event(Some((DEMO_ADMIN, DEMO_ORG)), ALICE, None).to_string())
            .unwrap();
    let response = h.api.handle(request).await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((590..=600).contains(&retry_after), "{retry_after}");
    // Another user is not limited by Alice's window.
    let mut e = event(Some((DEMO_ADMIN, DEMO_ORG)), DEMO_ADMIN, None);
    e["requestContext"]["requestId"] = "other".into();
    assert_eq!(h.call(&e).await.0, 200);
}
