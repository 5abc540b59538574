//! Closed-loop load: one client per connection, each sending its next request as soon as the
//! previous one is answered, for a fixed time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{Conn, Response};

/// What one client sends: the request for the n-th call overall, and whether a response is
/// the expected one.
pub trait Client: Send + 'static {
    fn request(&mut self, n: usize) -> Vec<u8>;
    fn ok(&self, response: &Response) -> bool;
}

pub struct Outcome {
    pub calls: usize,
    pub failures: usize,
    pub wall: Duration,
    pub latencies_ms: Vec<f64>,
}

/// Runs every client on its connection (port) for `duration`; the calls they completed.
pub async fn run<C: Client>(clients: Vec<(u16, C)>, duration: Duration) -> Outcome {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (port, mut client) in clients {
        let counter = counter.clone();
        tasks.spawn(async move {
            let mut conn = Conn::open(port).await;
            let (mut latencies, mut failures) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let request = client.request(counter.fetch_add(1, Ordering::Relaxed));
                let t = Instant::now();
                let response = conn.call(&request).await;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if !client.ok(&response) {
                    failures += 1;
                }
            }
            (latencies, failures)
        });
    }
    let mut outcome = Outcome { calls: 0, failures: 0, wall: Duration::ZERO, latencies_ms: Vec::new() };
    while let Some(done) = tasks.join_next().await {
        let (latencies, failures) = done.expect("a load client");
        outcome.calls += latencies.len();
        outcome.failures += failures;
        outcome.latencies_ms.extend(latencies);
    }
    outcome.wall = started.elapsed();
    outcome
}
