//! The one error type of the request path. [`crate::api_error`] maps it to the API's catalogue.

/// Why a call failed. The `String`s carry diagnostics for logs only; what a caller sees comes
/// from the catalogue, never from these, except the reasons of [`Error::InvalidLanguage`] and
/// [`Error::InvalidText`], which name the caller's own input (and so stay out of the logs).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no caller identity from the authorizer")]
    Unauthenticated,
    /// The authorizer names a caller but not its organisation: with ZITADEL, the token was
    /// requested without the scope that adds the org claim. Holds the claim's name.
    #[error("authorizer names the caller but has no org claim {0:?}")]
    MissingOrgClaim(String),
    #[error("user id in the path is malformed")]
    InvalidUserId,
    #[error("x-zitadel-orgid header is malformed")]
    InvalidOrgId,
    #[error("request body refused: {0}")]
    InvalidBody(crate::request_body::BodyError),
    #[error("request field refused: {0:?}")]
    InvalidField(FieldProblem),
    #[error("URL template refused: {0}")]
    InvalidUrlTemplate(String),
    #[error("request header {0:?} cannot be read")]
    UnreadableHeader(String),
    #[error("event is not an HTTP event of API Gateway or an ALB: {0}")]
    NotHttpEvent(String),
    #[error("caller lacks user.write in the target organisation")]
    PermissionDenied,
    #[error("target organisation does not exist")]
    OrgNotFound,
    #[error("target organisation is not active")]
    OrgInactive,
    #[error("user does not exist in the target organisation")]
    UserNotFound,
    #[error("no outstanding link with this id")]
    LinkNotFound,
    #[error("user is a machine user")]
    MachineUser,
    #[error("user is inactive, locked or deleted")]
    UserNotActive,
    #[error("user has no e-mail address")]
    UserWithoutEmail,
    #[error("user's e-mail address is not a valid recipient")]
    InvalidEmail,
    #[error("user's e-mail address bounced permanently or its owner reported spam")]
    EmailUndeliverable,
    #[error("rate limit reached; next link possible in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("concurrent changes to the user kept winning")]
    Conflict,
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    #[error("mail service unavailable: {0}")]
    MailUnavailable(String),
    /// The invocation's deadline (`crate::deadline`) came before the call was done.
    #[error("out of time: {0}")]
    OutOfTime(String),
    #[error("mail rejected: {0}")]
    MailRejected(String),
    #[error("mail may or may not have been sent: {0}")]
    MailOutcomeUnknown(String),
    #[error("caller's own account is missing, not active or not in its claimed organisation")]
    CallerNotActive,
    #[error("no registration code with this id for this user")]
    CodeNotFound,
    #[error("registration code does not match")]
    CodeInvalid,
    #[error("registration code already used")]
    CodeUsed,
    #[error("registration code expired")]
    CodeExpired,
    #[error("registration code locked after too many wrong attempts")]
    CodeLocked,
    #[error("passkey registration not found, expired or already verified")]
    CeremonyNotFound,
    #[error("passkey not verified: {0}")]
    AttestationRefused(String),
    #[error("credential already registered")]
    CredentialExists,
    #[error("domain is not an allowed relying party")]
    DomainNotAllowed,
    #[error("no such passkey")]
    PasskeyNotFound,
    /// The reason names the caller's input: it goes to the caller, never to the logs.
    #[error("language refused")]
    InvalidLanguage(String),
    #[error("message text refused")]
    InvalidText(String),
    #[error("concurrent changes to the texts kept winning")]
    TextConflict,
    #[error("no custom message text for this language ({0:?} level)")]
    TextNotFound(crate::store::TextLevel),
    #[error("custom texts for the most languages allowed are stored")]
    TooManyLanguages,
    #[error("page rate limit reached; retry in {retry_after_secs} s")]
    PageRateLimited { retry_after_secs: u64 },
    #[error("internal: {0}")]
    Internal(String),
}

/// Which rule a field of a v2 request broke (protobuf JSON types and oneofs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    /// `sendLink` and `returnCode` are one oneof: at most one may be set.
    MediumConflict,
    SendLinkNotObject,
    UrlTemplateNotString,
    ReturnCodeNotObject,
    /// Connect requests carry the user in the body.
    UserIdMissing,
    /// A field under its JSON name and its proto name (`returnCode` and `return_code`).
    SameFieldTwice,
    /// Connect's `connect-protocol-version` header, when sent, must be `1`.
    ConnectProtocolVersion,
    /// `code` must be `{"id","code"}` with two strings.
    Code,
    /// `authenticator` must name a `PasskeyAuthenticator` value.
    Authenticator,
    /// `domain` must be a string.
    Domain,
    /// Connect requests carry the passkey id in the body.
    PasskeyIdMissing,
    /// `publicKeyCredential` must be a JSON object.
    PublicKeyCredential,
    /// `passkeyName` must be 1-200 characters, no control characters.
    PasskeyName,
}

/// What the store can report; the domain decides what each means for the call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition guarding the write failed: someone else changed the user meanwhile.
    #[error("write conflict")]
    Conflict,
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Error::Conflict,
            StoreError::Unavailable(m) => Error::StoreUnavailable(m),
            StoreError::Internal(m) => Error::Internal(m),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message was not accepted (unreachable, throttled, failing): nothing was sent and
    /// the caller may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The service refused this message (bad recipient, sender not verified...).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The request may have reached the service but no answer came back (timeout, dropped
    /// connection): the message may have been sent, so it must not be sent again.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
}

impl From<MailError> for Error {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Unavailable(m) => Error::MailUnavailable(m),
            MailError::Rejected(m) => Error::MailRejected(m),
            MailError::OutcomeUnknown(m) => Error::MailOutcomeUnknown(m),
        }
    }
}

/// An error and its causes on one line, for logs (SDK errors hide the useful part in sources).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
