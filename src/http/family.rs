//! A route's family, apart from the route table: the handlers branch on it, and the table
//! names the handlers.

/// How a route's requests and errors are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// grpc-gateway REST: ids in the path, errors `{"code":5,"message",...}`.
    Rest,
    /// Connect (what ZITADEL's SDKs send): ids in the body, errors `{"code":"not_found",...}`.
    Connect,
    /// The registration page and its calls: no token (API Gateway runs no authorizer on
    /// them), the link's code is the proof; errors as REST.
    Page,
}
