//! Send Passwordless/Passkey Registration Link: ZITADEL's
//! `POST /management/v1/users/{userId}/passwordless/_send_link` on API Gateway + Lambda +
//! DynamoDB + SES v2.
//!
//! Read top to bottom: `bin/send-passkey-link.rs` (cold start) -> [`http`] (event -> command,
//! outcome -> response) -> [`domain`] (who may, what is written, what is sent) -> the
//! [`store`] and [`mailer`] traits -> their DynamoDB and SES adapters.

pub mod api_error;
pub mod aws;
pub mod ceremony;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod event;
pub mod http;
pub mod invisible;
pub mod link;
pub mod local_authorizer;
pub mod mail;
pub mod mailer;
pub mod message_text;
pub mod metrics;
pub mod model;
pub mod page;
pub mod permissions;
pub mod registration;
pub mod request_body;
pub mod seed;
pub mod store;
pub mod telemetry;
pub mod text_links;
pub mod texts;
