//! Builds the AWS SDK configuration once per process (cold start), with timeouts.
//!
//! Endpoints, region and credentials come from the SDK's standard sources
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`, `AWS_REGION`, ...), so the same
//! binary talks to a local stack or to AWS with no code switch.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Per-attempt and whole-operation limits. The function's timeout (infra) is 10 s: three
/// calls, each bounded at 3 s including retries, still leave time to answer 503 instead of
/// being killed mid-request.
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
