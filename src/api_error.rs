//! The API error catalogue: every [`Error`] as grpc-gateway JSON with a stable ID.
//!
//! This is the only place that decides codes, HTTP statuses and the texts callers see;
//! docs/errors.md lists the same table.

use base64::Engine;
use serde_json::json;

use crate::error::{Error, FieldProblem};
use crate::request_body::BodyProblem;
use crate::store::TextLevel;

/// gRPC status codes used by this API, with grpc-gateway's HTTP mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
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
    /// The code's name in Connect error JSON.
    pub fn connect_name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::Aborted | Code::AlreadyExists => 409,
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
    /// What exactly in the caller's own input was refused (which field, which variable).
    pub detail: Option<String>,
}

impl ApiError {
    pub const fn new(code: Code, id: &'static str, message: &'static str) -> Self {
        Self { code, id, message, status: None, detail: None }
    }

    fn with_detail(self, detail: &str) -> Self {
        Self { detail: Some(detail.to_owned()), ..self }
    }

    /// The message callers read: the catalogue's, then the detail.
    fn text(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.message),
            None => self.message.to_owned(),
        }
    }

    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or(self.code.http_status())
    }

    /// The Connect protocol's error JSON (what ZITADEL's SDKs parse): the code's name, the
    /// message, and ZITADEL's `ErrorDetail` as a binary protobuf detail.
    pub fn connect_body(&self) -> serde_json::Value {
        json!({
            "code": self.code.connect_name(),
            "message": format!("{} ({})", self.text(), self.id),
            "details": [{
                "type": "zitadel.v1.ErrorDetail",
                "value": base64::engine::general_purpose::STANDARD_NO_PAD
                    .encode(error_detail_proto(self.id, &self.text())),
            }],
        })
    }

    pub fn body(&self) -> serde_json::Value {
        json!({
            "code": self.code as i32,
            "message": format!("{} ({})", self.text(), self.id),
            "details": [{
                "@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                "id": self.id,
                "message": self.text(),
            }],
        })
    }
}

/// `zitadel.v1.ErrorDetail { string id = 1; string message = 2; }` in protobuf's binary form.
fn error_detail_proto(id: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, text) in [(0x0a_u8, id), (0x12, message)] {
        out.push(tag);
        let mut len = text.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(text.as_bytes());
    }
    out
}

pub const ROUTE_NOT_FOUND: ApiError = ApiError::new(Code::NotFound, "HTTP-9vR3k", "Route not found");
/// HTTP's own 405 (with `Allow`), which clients and API tooling expect for a wrong method.
pub const METHOD_NOT_ALLOWED: ApiError = ApiError {
    code: Code::Unimplemented,
    id: "HTTP-Mt7Qa",
    message: "Method not allowed on this route; the Allow header names the allowed ones",
    status: Some(405),
    detail: None,
};

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        use Code::*;
        match e {
            Error::Unauthenticated => {
                ApiError::new(Unauthenticated, "AUTH-7kZq2", "No valid caller identity")
            }
            Error::MissingOrgClaim(_) => ApiError::new(
                Unauthenticated,
                "AUTH-Or6Cm",
                "Token names no organisation: request it with ZITADEL's scope urn:zitadel:iam:user:resourceowner",
            ),
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
            Error::InvalidField(problem) => ApiError::new(
                InvalidArgument,
                "REQ-Fd3Kw",
                match problem {
                    FieldProblem::MediumConflict => "Set either sendLink or returnCode, not both",
                    FieldProblem::SendLinkNotObject => "sendLink must be a JSON object",
                    FieldProblem::UrlTemplateNotString => "sendLink.urlTemplate must be a string",
                    FieldProblem::ReturnCodeNotObject => "returnCode must be a JSON object",
                    FieldProblem::UserIdMissing => "userId is required",
                    FieldProblem::SameFieldTwice => "A field is set under both its JSON and its proto name",
                    FieldProblem::ConnectProtocolVersion => "connect-protocol-version must be 1",
                    FieldProblem::Code => "code must be an object with the strings id and code",
                    FieldProblem::Authenticator => {
                        "authenticator must be PASSKEY_AUTHENTICATOR_UNSPECIFIED, _PLATFORM or _CROSS_PLATFORM"
                    }
                    FieldProblem::Domain => "domain must be a string",
                    FieldProblem::PasskeyIdMissing => "passkeyId is required",
                    FieldProblem::PublicKeyCredential => {
                        "publicKeyCredential must be the browser's PublicKeyCredential as a JSON object"
                    }
                    FieldProblem::PasskeyName => {
                        "passkeyName must be 1-200 characters without control characters"
                    }
                },
            ),
            Error::InvalidUrlTemplate(_) => ApiError::new(
                InvalidArgument,
                "LINK-Ut6Vz",
                "URL Template is invalid: 1-200 characters, https (http only for localhost, 127.0.0.0/8 and [::1]), placeholders {{.UserID}} {{.OrgID}} {{.CodeID}} {{.Code}} only, {{.Code}} required",
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
            Error::LinkNotFound => ApiError::new(
                NotFound,
                "LINK-Nf4Rk",
                "Registration link not found: unknown, expired or already revoked",
            ),
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
            Error::EmailUndeliverable => ApiError::new(
                FailedPrecondition,
                "USER-Em6Bq",
                "User's e-mail address does not take mail (it bounced permanently or the recipient \
                 reported a link mail as spam); change the address or have an operator clear the mark",
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
            Error::OutOfTime(_) => ApiError::new(
                Unavailable,
                "CALL-Tm6Dl",
                "The call ran out of time, try again later",
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
                "Caller's user was not found, is not active, or is not in the organisation its token names",
            ),
            Error::CodeNotFound => ApiError::new(
                NotFound,
                "CODE-Nf2Qe",
                "Registration code not found for this user",
            ),
            Error::CodeInvalid => ApiError::new(InvalidArgument, "CODE-Iv3Kp", "Registration code is not valid"),
            Error::CodeUsed => ApiError::new(
                FailedPrecondition,
                "CODE-Us4Dz",
                "Registration code has already been used; request a new link",
            ),
            Error::CodeExpired => ApiError::new(
                FailedPrecondition,
                "CODE-Ex5Pr",
                "Registration code has expired; request a new link",
            ),
            Error::CodeLocked => ApiError::new(
                FailedPrecondition,
                "CODE-Lk6Tr",
                "Registration code is locked after too many wrong attempts; request a new link",
            ),
            Error::CeremonyNotFound => ApiError::new(
                NotFound,
                "PASSKEY-Cn7Wm",
                "Passkey registration not found: unknown, expired or already verified",
            ),
            Error::AttestationRefused(_) => ApiError::new(
                InvalidArgument,
                "PASSKEY-At8Rf",
                "Passkey could not be verified against this registration",
            ),
            Error::CredentialExists => ApiError::new(
                AlreadyExists,
                "PASSKEY-Dp9Ex",
                "This authenticator's credential is already registered",
            ),
            Error::DomainNotAllowed => ApiError::new(
                InvalidArgument,
                "PASSKEY-Rp1Dn",
                "domain is not one of the allowed relying party ids",
            ),
            Error::PasskeyNotFound => ApiError::new(NotFound, "PASSKEY-Nf2Rm", "Passkey not found"),
            Error::InvalidLanguage(reason) => {
                ApiError::new(InvalidArgument, "LANG-3M9f2", "Language is not valid").with_detail(reason)
            }
            Error::InvalidText(reason) => {
                ApiError::new(InvalidArgument, "TEXT-Vf4Qm", "Message text is not valid").with_detail(reason)
            }
            Error::TextNotFound(TextLevel::Org(_)) => {
                ApiError::new(NotFound, "Org-3b8Jf", "Custom message text not found for this language")
            }
            Error::TextNotFound(TextLevel::Instance) => {
                ApiError::new(NotFound, "INSTANCE-fju90", "Custom message text not found for this language")
            }
            Error::TextConflict => ApiError::new(
                Aborted,
                "TEXT-Cf8Rt",
                "Message texts were changed concurrently, try again",
            ),
            Error::TooManyLanguages => ApiError::new(
                FailedPrecondition,
                "TEXT-Ln7Xw",
                "Custom texts are stored for 20 languages, the most allowed; reset one first",
            ),
            Error::PageRateLimited { .. } => ApiError::new(
                ResourceExhausted,
                "PAGE-Rl3Sl",
                "Too many requests from this address or for this link, try again in a minute",
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
    fn connect_body_names_the_code_and_carries_zitadels_detail() {
        let e = ApiError::from(&Error::UserNotFound);
        let body = e.connect_body();
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], "User could not be found (USER-3n8fS)");
        assert_eq!(body["details"][0]["type"], "zitadel.v1.ErrorDetail");
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body["details"][0]["value"].as_str().unwrap())
            .unwrap();
        let mut expected = vec![0x0a, 10];
        expected.extend_from_slice(b"USER-3n8fS");
        expected.extend_from_slice(&[0x12, 23]);
        expected.extend_from_slice(b"User could not be found");
        assert_eq!(bytes, expected);
        // Lengths of 128 and more take two varint bytes.
        let long = error_detail_proto("x", &"m".repeat(200));
        assert_eq!(&long[3..6], &[0x12, 0xc8, 0x01]);
    }

    #[test]
    fn a_refused_text_names_what_was_refused() {
        let e = ApiError::from(&Error::InvalidText("greeting: unknown variable {{.X}}".into()));
        assert_eq!(e.http_status(), 400);
        assert_eq!(
            e.body()["message"],
            "Message text is not valid: greeting: unknown variable {{.X}} (TEXT-Vf4Qm)"
        );
        assert_eq!(
            e.body()["details"][0]["message"],
            "Message text is not valid: greeting: unknown variable {{.X}}"
        );
    }

    #[test]
    fn internals_never_reach_the_message() {
        let e = ApiError::from(&Error::Internal("table passkeys-prod missing".into()));
        assert_eq!(e.http_status(), 500);
        assert!(!e.body().to_string().contains("passkeys-prod"));
    }
}
