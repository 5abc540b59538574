//! Builds the AWS SDK configuration once per process (cold start), with timeouts.
//!
//! Endpoints, region and credentials come from the SDK's standard sources
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`, `AWS_REGION`, ...), so the same
//! binary talks to a local stack or to AWS with no code switch.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Per-attempt and whole-operation limits, within which a call is answered 503 (or 504 for a
/// send) instead of hanging; the invocation's deadline (`crate::deadline`) bounds the calls
/// together, so the function answers before Lambda's 10 s timeout (infra) kills it.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_secs(3))
        .build()
}

pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).load().await
}
