//! The invocation's deadline. Lambda ends a function at its timeout without an answer, so
//! each invocation stops [`MARGIN`] earlier and answers itself: retry loops ask [`allows`]
//! before they wait, a send is cut by [`bounded`], and [`run`] drops whatever still runs a
//! little later.
//!
//! The deadline is task-local, set once per invocation by [`run`], so the AWS helpers read it
//! without every signature carrying it. Outside [`run`] (the admin tool, the seed, unit
//! tests) there is none and nothing is cut.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::Context;

/// Left before Lambda's deadline for the answer, its log lines and the runtime's reply.
pub const MARGIN: Duration = Duration::from_millis(500);

/// [`run`] cuts the work this long after the deadline [`left`] counts down to: the AWS calls
/// and retry loops that watch that deadline end first, each with its own error.
const BACKSTOP_DELAY: Duration = Duration::from_millis(200);

/// What an attempt needs at the least to be worth starting after a backoff.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

tokio::task_local! {
    static WORK_DEADLINE: Instant;
}

/// The work did not end before the invocation's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the invocation's deadline came first")]
pub struct OutOfTime;

/// Runs `work` under `context`'s deadline less [`MARGIN`], and drops it, `Err(OutOfTime)`, if
/// it still runs [`BACKSTOP_DELAY`] later. Without a context, or one without a deadline (the
/// runtime always sets one) or with one already passed, `work` runs unbounded.
pub async fn run<F: Future>(context: Option<&Context>, work: F) -> Result<F::Output, OutOfTime> {
    // Lambda hands out an invocation with its whole timeout ahead, so a deadline already
    // passed at the start is none Lambda gave: cargo-lambda's emulator sends a fixed 600000
    // (ten minutes after 1970).
    let left = context
        .filter(|c| c.deadline != 0)
        .and_then(|c| c.deadline().duration_since(SystemTime::now()).ok())
        .filter(|left| !left.is_zero());
    let Some(left) = left else {
        return Ok(work.await);
    };
    let now = Instant::now();
    let work_deadline = now + left.saturating_sub(MARGIN);
    let backstop = tokio::time::Instant::from_std(work_deadline + BACKSTOP_DELAY);
    WORK_DEADLINE.scope(work_deadline, tokio::time::timeout_at(backstop, work)).await.map_err(|_| OutOfTime)
}

/// Time left for work in this invocation; `None` outside [`run`].
pub fn left() -> Option<Duration> {
    WORK_DEADLINE.try_with(|deadline| deadline.saturating_duration_since(Instant::now())).ok()
}

/// Whether waiting `backoff` and then trying once more still fits before the deadline.
pub fn allows(backoff: Duration) -> bool {
    has_left(backoff + MIN_ATTEMPT)
}

/// Whether at least `needed` is left before the deadline (always, outside [`run`]).
pub fn has_left(needed: Duration) -> bool {
    left().is_none_or(|left| left >= needed)
}

/// `call`, dropped at the deadline.
pub async fn bounded<F: Future>(call: F) -> Result<F::Output, OutOfTime> {
    match left() {
        None => Ok(call.await),
        Some(left) => tokio::time::timeout(left, call).await.map_err(|_| OutOfTime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_ending_in(after: Duration) -> Context {
        let mut context = Context::default();
        let at = SystemTime::now() + after;
        context.deadline = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64;
        context
    }

    #[tokio::test]
    async fn work_sees_the_deadline_less_the_margin_and_is_cut_after_it() {
        let context = context_ending_in(Duration::from_millis(1500));
        let seen = run(Some(&context), async { left() }).await.unwrap().unwrap();
        assert!(seen <= Duration::from_millis(1000) && seen > Duration::from_millis(800), "{seen:?}");
        let started = Instant::now();
        let cut =
            run(Some(&context_ending_in(Duration::from_millis(800))), std::future::pending::<()>()).await;
        assert_eq!(cut, Err(OutOfTime));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(450) && took < Duration::from_millis(800), "{took:?}");
    }

    #[tokio::test]
    async fn without_a_deadline_nothing_is_cut_or_refused() {
        assert_eq!(left(), None);
        assert!(allows(Duration::from_secs(3600)));
        assert_eq!(run(Some(&Context::default()), async { left() }).await, Ok(None));
        assert_eq!(bounded(async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_deadline_passed_before_the_invocation_began_is_no_deadline() {
        // What cargo-lambda's emulator sends.
        let mut context = Context::default();
        context.deadline = 600_000;
        assert_eq!(
            run(Some(&context), async { (left(), allows(Duration::from_secs(60))) }).await,
            Ok((None, true))
        );
    }

    #[tokio::test]
    async fn has_left_counts_down_to_the_deadline() {
        assert!(has_left(Duration::from_secs(3600)), "no deadline outside run");
        let context = context_ending_in(Duration::from_millis(1500));
        let (some, much) = run(Some(&context), async {
            (has_left(Duration::from_millis(500)), has_left(Duration::from_secs(2)))
        })
        .await
        .unwrap();
        assert!(some && !much);
    }

    #[tokio::test]
    async fn a_passed_deadline_refuses_retries_and_cuts_calls() {
        let context = context_ending_in(Duration::from_millis(100));
        let (allowed, call) = run(Some(&context), async {
            (allows(Duration::ZERO), bounded(std::future::pending::<()>()).await)
        })
        .await
        .unwrap();
        assert!(!allowed);
        assert_eq!(call, Err(OutOfTime));
    }
}
