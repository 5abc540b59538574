//! The API error catalogue: every [`Error`] as grpc-gateway JSON with a stable ID.
//!
//! This is the only place that decides codes, HTTP statuses and the texts callers see;
//! README.md lists the same table.

use serde_json::json;

use crate::error::Error;
use crate::request_body::BodyProblem;

/// gRPC status codes used by this API, with grpc-gateway's HTTP mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::Aborted => 409,
            Code::ResourceExhausted => 429,
            Code::Internal => 500,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::DeadlineExceeded => 504,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub id: &'static str,
    pub message: &'static str,
    /// The HTTP status where it differs from grpc-gateway's mapping of `code`.
    pub status: Option<u16>,
}

impl ApiError {
    pub const fn new(code: Code, id: &'static str, message: &'static str) -> Self {
        Self { code, id, message, status: None }
    }

    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or(self.code.http_status())
    }

    pub fn body(&self) -> serde_json::Value {
        json!({
            "code": self.code as i32,
            "message": format!("{} ({})", self.message, self.id),
            "details": [{
                "@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                "id": self.id,
                "message": self.message,
            }],
        })
    }
}

pub const ROUTE_NOT_FOUND: ApiError = ApiError::new(Code::NotFound, "HTTP-9vR3k", "Route not found");
/// HTTP's own 405 (with `Allow`), which clients and API tooling expect for a wrong method.
pub const METHOD_NOT_ALLOWED: ApiError = ApiError {
    status: Some(405),
    ..ApiError::new(Code::Unimplemented, "HTTP-Mt7Qa", "Method not allowed on this route, use POST")
};

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        use Code::*;
        match e {
            Error::Unauthenticated => {
                ApiError::new(Unauthenticated, "AUTH-7kZq2", "No valid caller identity")
            }
            Error::InvalidUserId => ApiError::new(
                InvalidArgument,
                "USER-x9Ql1",
                "User id must be 1-200 characters of A-Z a-z 0-9 - _ . @, starting with a letter or digit",
            ),
            Error::InvalidOrgId => ApiError::new(
                InvalidArgument,
                "AUTH-Pq4Wd",
                "x-zitadel-orgid must be 1-200 characters of A-Z a-z 0-9 - _ . @, starting with a letter or digit",
            ),
            Error::InvalidBody(e) => ApiError::new(
                InvalidArgument,
                "HTTP-Bd7Jn",
                match e.problem {
                    BodyProblem::TooLarge => "Request body is larger than 16 KiB",
                    BodyProblem::ContentType => "Request body must be sent as Content-Type: application/json",
                    BodyProblem::NotJson => {
                        "Request body is not valid JSON (UTF-8, no duplicate keys, at most 127 levels deep)"
                    }
                    BodyProblem::NotObject => "Request body must be a JSON object",
                    BodyProblem::NotBase64 => "Request body is marked base64-encoded but is not valid base64",
                },
            ),
            Error::UnreadableHeader(_) => ApiError::new(
                InvalidArgument,
                "HTTP-Hd4Rv",
                "A request header name or value is not valid HTTP",
            ),
            Error::NotHttpEvent(_) => ApiError::new(
                InvalidArgument,
                "HTTP-Ev5Nh",
                "Event is not an HTTP request from API Gateway or a load balancer",
            ),
            Error::PermissionDenied => ApiError::new(
                PermissionDenied,
                "AUTH-5mWD2",
                "No matching permissions found",
            ),
            Error::OrgNotFound => ApiError::new(NotFound, "AUTH-Bs7Ds", "Organisation not found"),
            Error::OrgInactive => ApiError::new(
                FailedPrecondition,
                "ORG-Hs9Lk",
                "Organisation is not active",
            ),
            Error::UserNotFound => ApiError::new(NotFound, "USER-3n8fS", "User could not be found"),
            Error::MachineUser => ApiError::new(
                FailedPrecondition,
                "USER-Mk8Ht",
                "Machine users cannot register passkeys",
            ),
            Error::UserNotActive => {
                ApiError::new(FailedPrecondition, "USER-Ds3Fv", "User is inactive, locked or deleted")
            }
            Error::UserWithoutEmail => ApiError::new(
                FailedPrecondition,
                "USER-Em4Nz",
                "User has no e-mail address",
            ),
            Error::InvalidEmail => ApiError::new(
                FailedPrecondition,
                "USER-Em5Iv",
                "User's e-mail address is not valid",
            ),
            Error::RateLimited { .. } => ApiError::new(
                ResourceExhausted,
                "USER-Rl8Pq",
                "Too many links sent to this user recently, try again later",
            ),
            Error::Conflict => ApiError::new(
                Aborted,
                "USER-Cq7Rx",
                "User was changed concurrently, try again",
            ),
            Error::StoreUnavailable(_) => ApiError::new(
                Unavailable,
                "STORE-Un5Wb",
                "Storage is unavailable, try again later",
            ),
            Error::MailUnavailable(_) => ApiError::new(
                Unavailable,
                "MAIL-Un2Ks",
                "E-mail service is unavailable, try again later",
            ),
            Error::MailRejected(_) => ApiError::new(
                FailedPrecondition,
                "MAIL-Rj6Tp",
                "E-mail could not be delivered to the user's address",
            ),
            Error::MailOutcomeUnknown(_) => ApiError::new(
                DeadlineExceeded,
                "MAIL-Tm4Uk",
                "E-mail service did not answer in time; the e-mail may have been sent and its link is valid, so check with the user before sending another",
            ),
            Error::CallerNotActive => ApiError::new(
                Unauthenticated,
                "AUTH-Cl5Ac",
                "Caller's account is not active",
            ),
            Error::Internal(_) => ApiError::new(Internal, "INTERNAL-Zx1Lq", "Internal error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_grpc_gateway_shape() {
        let e = ApiError::from(&Error::PermissionDenied);
        assert_eq!(e.http_status(), 403);
        assert_eq!(
            e.body(),
            json!({"code":7,"message":"No matching permissions found (AUTH-5mWD2)","details":[
                {"@type":"type.googleapis.com/zitadel.v1.ErrorDetail","id":"AUTH-5mWD2","message":"No matching permissions found"}]})
        );
    }

    #[test]
    fn internals_never_reach_the_message() {
        let e = ApiError::from(&Error::Internal("table passkeys-prod missing".into()));
        assert_eq!(e.http_status(), 500);
        assert!(!e.body().to_string().contains("passkeys-prod"));
    }
}
