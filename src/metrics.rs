//! CloudWatch metrics the function emits, in Embedded Metric Format: one JSON line on stdout
//! that CloudWatch Logs turns into a metric, with no extra AWS call on the request path.
//! infra/template.yaml alarms on these names.

use serde_json::json;

pub const NAMESPACE: &str = "PasskeyLinks";
pub const SERVICE: &str = "send-passkey-link";
pub const MAIL_SEND_FAILURES: &str = "MailSendFailures";

/// One e-mail that SES refused or could not take.
pub fn mail_send_failed() {
    println!("{}", mail_send_failed_line(chrono::Utc::now().timestamp_millis()));
}

fn mail_send_failed_line(timestamp_ms: i64) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service"]],
                "Metrics": [{"Name": MAIL_SEND_FAILURES, "Unit": "Count"}],
            }],
        },
        "Service": SERVICE,
        MAIL_SEND_FAILURES: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_embedded_metric_format() {
        let line = mail_send_failed_line(1_700_000_000_000);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "PasskeyLinks");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "MailSendFailures");
        assert_eq!(line["MailSendFailures"], 1);
        assert_eq!(line["Service"], "send-passkey-link");
    }
}
