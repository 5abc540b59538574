//! What the request path needs from storage, as narrow traits, plus the DynamoDB adapter.
//!
//! The domain sees only these traits; item layouts, keys and SDK errors stay in
//! [`dynamodb`].

pub mod dynamodb;

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::delivery::{DeliveryStatus, MailEvent};
use crate::error::StoreError;
use crate::message_text::CustomTexts;
use crate::model::{Org, OrgId, RecentLink, Undeliverable, User, UserId};

/// Everything the caller, permission and user checks need, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The caller's own user item: a token outlives a locked or deleted account.
    pub caller: Option<User>,
    /// The target user, whatever organisation owns it (the domain compares).
    pub user: Option<User>,
    pub org: Option<Org>,
    /// The caller's instance-level roles.
    pub instance_roles: Vec<String>,
    /// The caller's roles in the target organisation only.
    pub org_roles: Vec<String>,
    /// The target organisation's custom mail texts, if it set any.
    pub org_texts: Option<TextsRecord>,
    /// The instance's custom mail texts, if it set any.
    pub instance_texts: Option<TextsRecord>,
}

/// An organisation's or the instance's custom texts as stored, with the sequence of the
/// last change (what the next change expects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextsRecord {
    pub texts: CustomTexts,
    pub sequence: u64,
    /// Read from where seeds wrote texts before the text API: the next change writes the
    /// texts' own item afresh.
    pub legacy: bool,
}

impl TextsRecord {
    /// The sequence a change must find stored, `None` when it creates the item.
    pub fn expected_sequence(record: Option<&TextsRecord>) -> Option<u64> {
        record.filter(|r| !r.legacy).map(|r| r.sequence)
    }
}

/// Whose texts: an organisation's (management API) or the instance's (admin API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextLevel {
    Org(OrgId),
    Instance,
}

/// A change to one level's texts: the whole new set, and the events that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    pub level: TextLevel,
    pub texts: CustomTexts,
    /// The sequence the stored texts must still have; `None` when none are stored yet.
    pub previous_sequence: Option<u64>,
    /// ZITADEL's events, one per field set or removed (or one for a reset), with consecutive
    /// sequences after the previous one. None when only the sender name changed (seed).
    pub events: Vec<TextEvent>,
    pub language: String,
    /// A user id, or `passkey-admin` for the seed.
    pub editor: String,
    pub at: DateTime<Utc>,
}

/// One event of a level's history, as ZITADEL records custom texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEvent {
    pub sequence: u64,
    /// `org.customtext.set`, `instance.customtext.removed`, ...
    pub event_type: String,
    /// ZITADEL's key of the field (`Title`, `Footer`, ...); none for a reset.
    pub key: Option<&'static str>,
    /// The field's new text, for `set`.
    pub text: Option<String>,
}

impl TextChange {
    /// The sequence the level has after the change.
    pub fn sequence(&self) -> u64 {
        self.events.last().map_or(self.previous_sequence.unwrap_or(0), |e| e.sequence)
    }
}

/// Writes a level's texts, its new sequence and the event atomically;
/// [`StoreError::Conflict`] when the sequence moved meanwhile.
pub trait TextCommit {
    fn commit_texts(&self, change: &TextChange) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads the caller, the target user, the target org and the caller's memberships together.
///
/// One trait, one round trip: latency on Lambda is the sum of the AWS calls, so the reads a
/// request needs are batched instead of being separate lookups.
pub trait SnapshotRead {
    fn read_snapshot(
        &self,
        caller: &UserId,
        org: &OrgId,
        user: &UserId,
    ) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;
}

/// A link about to be stored, with the user event that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub code_id: String,
    /// Hash of the secret; the secret itself is never stored.
    pub code_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The user's sequence this write expects to find (optimistic concurrency).
    pub previous_sequence: u64,
    /// The sequence of the event this write adds.
    pub sequence: u64,
    pub requested_by: UserId,
    /// The change to the user's rate-limit window, written with the sequence so that
    /// concurrent calls cannot both take the last slot.
    pub window: WindowChange,
    /// The user's older links this one replaces (`SUPERSEDE_LINKS`): deleted in the same
    /// transaction.
    pub superseded: Vec<String>,
    pub delivery: LinkDelivery,
}

/// How the link leaves the service; recorded on the link and its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDelivery {
    Mail,
    /// Handed to the caller (v1 `_link`, v2 `returnCode`).
    Returned,
}

/// How a link enters the user's rate-limit window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowChange {
    /// No window is stored yet: write this one whole.
    Create(Vec<RecentLink>),
    /// Add this link and drop the entries that left the window, key by key: replacing the
    /// whole window would put back an entry a concurrent revoke just took out.
    Edit { add: RecentLink, expired: Vec<String> },
}

/// Stores the link, the user's new sequence and the audit event atomically.
///
/// Fails with [`StoreError::Conflict`] when the user's sequence is no longer
/// `previous_sequence`, so two concurrent calls can never both claim one sequence.
pub trait LinkCommit {
    fn commit_link(&self, link: &NewLink) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Removes a stored link whose e-mail could not be sent, takes it out of the user's
/// rate-limit window (a failed send must not lock the user out) and records why, atomically.
///
/// Separate from [`LinkCommit`] because it runs only on the failure path. The record does
/// not change the user's sequence: the user's state is as before the call.
pub trait LinkRevoke {
    fn revoke_link(
        &self,
        link: &NewLink,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A stored link as API callers and operators see it: never the code or its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredLink {
    pub code_id: String,
    pub org_id: String,
    pub created_at: String,
    /// Epoch seconds.
    pub expires_at: i64,
    pub requested_by: String,
    /// `mail` or `returned`; links stored before returned links existed were mailed.
    pub delivery: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When its code registered a passkey; a used link is no longer outstanding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// Wrong codes tried with it; at `PASSKEY_CODE_MAX_ATTEMPTS` it is locked.
    pub failed_attempts: u32,
    /// What SES last reported about its mail; none before the first event (or without
    /// delivery feedback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_delivery: Option<DeliveryStatus>,
}

/// A user's stored links, expired ones included (TTL deletes them late or, on emulators,
/// never): whoever reads them compares `expires_at` with the clock.
pub trait LinkList {
    fn list_links(&self, user: &UserId) -> impl Future<Output = Result<Vec<StoredLink>, StoreError>> + Send;
}

/// Links revoked by a caller, with the user event that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRemoval {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub code_ids: Vec<String>,
    pub previous_sequence: u64,
    pub sequence: u64,
    pub removed_by: UserId,
    pub at: DateTime<Utc>,
}

/// Deletes the links, bumps the user's sequence and writes the audit event atomically;
/// [`StoreError::Conflict`] when the sequence moved or a link is already gone.
pub trait LinkRemove {
    fn remove_links(&self, removal: &LinkRemoval) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A link as redeeming its code needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub org_id: OrgId,
    pub code_hash: String,
    /// Epoch seconds.
    pub expires_at: i64,
    pub used: bool,
    pub failed_attempts: u32,
}

/// The outcome of [`PasskeyStore::reserve_code_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAttempt {
    /// A check is reserved; the link as it was before.
    Reserved(LinkRecord),
    /// Every check is used up.
    Locked,
    Missing,
}

/// A started registration ceremony, kept between RegisterPasskey and its verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub passkey_id: String,
    pub rp_id: String,
    /// webauthn-rs's serialised registration state.
    pub state: String,
    /// The link whose code started it, consumed when it finishes.
    pub code_id: Option<String>,
    /// Who started it (the user itself on the anonymous page).
    pub started_by: UserId,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// A registered passkey as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: String,
    pub name: String,
    pub credential_id: String,
    pub created_at: String,
}

/// A verified passkey and everything its one transaction writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub passkey_id: String,
    pub name: String,
    pub rp_id: String,
    pub credential_id: String,
    pub public_key: String,
    pub sign_count: u32,
    pub aaguid: String,
    /// webauthn-rs's form of the credential, for later authentications.
    pub passkey: String,
    /// The link consumed: its id and the hash its code must still match.
    pub code: Option<(String, String)>,
    /// Wrong codes that lock the link: a link locked meanwhile is not spent.
    pub code_max_attempts: u32,
    pub previous_sequence: u64,
    pub sequence: u64,
    pub editor: UserId,
    pub at: DateTime<Utc>,
}

/// A passkey removed by a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRemoval {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub passkey_id: String,
    pub credential_id: String,
    pub previous_sequence: u64,
    pub sequence: u64,
    pub removed_by: UserId,
    pub at: DateTime<Utc>,
}

/// What registering, listing and removing passkeys needs from storage.
pub trait PasskeyStore {
    fn read_link(
        &self,
        user: &UserId,
        code_id: &str,
    ) -> impl Future<Output = Result<Option<LinkRecord>, StoreError>> + Send;

    /// Takes one of the link's `max_attempts` code checks before the code is compared, so
    /// that concurrent guesses cannot outnumber the limit; a right code gives it back
    /// ([`PasskeyStore::release_code_attempt`]), a wrong one keeps it.
    fn reserve_code_attempt(
        &self,
        user: &UserId,
        code_id: &str,
        max_attempts: u32,
    ) -> impl Future<Output = Result<CodeAttempt, StoreError>> + Send;

    fn release_code_attempt(
        &self,
        user: &UserId,
        code_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn list_passkeys(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<StoredPasskey>, StoreError>> + Send;

    /// The user and passkey id holding a credential id, if any user registered it.
    fn credential_owner(
        &self,
        credential_id: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, StoreError>> + Send;

    fn save_ceremony(&self, ceremony: &Ceremony) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn read_ceremony(
        &self,
        user: &UserId,
        passkey_id: &str,
    ) -> impl Future<Output = Result<Option<Ceremony>, StoreError>> + Send;

    /// In one transaction: stores the credential and its global index entry, consumes the
    /// code (unused, unexpired, same hash), deletes the ceremony, bumps the sequence and
    /// writes the event. [`StoreError::Conflict`] when any of it was no longer so.
    fn commit_passkey(&self, passkey: &NewPasskey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the passkey and its index entry, bumps the sequence, writes the event.
    fn remove_passkey(&self, removal: &PasskeyRemoval)
        -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts one request against `key` in the fixed window starting at `window_start`
    /// (epoch seconds, lasting `window_secs`): `false` once `limit` requests were counted.
    fn admit(
        &self,
        key: &str,
        window_start: i64,
        window_secs: i64,
        limit: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A link's user, its delivery and whether an event was recorded before, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryView {
    pub user: Option<User>,
    /// The link, if it is still stored.
    pub link: Option<LinkMail>,
    /// The event's marker exists: it was recorded before.
    pub seen: bool,
}

/// What a stored link knows of its mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkMail {
    /// `None` before the first event.
    pub status: Option<DeliveryStatus>,
    /// SES's id of the mail, from the first event.
    pub message_id: Option<String>,
}

/// One SES event recorded: the user's new sequence and audit event, the event's marker,
/// the link's new status and the address's mark, as one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryChange {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub previous_sequence: u64,
    pub sequence: u64,
    pub at: DateTime<Utc>,
    pub event: MailEvent,
    /// The link was stored when read: the write requires it still is.
    pub link_exists: bool,
    /// The link's new status; `None` leaves it (an older or lower event, another mail's,
    /// or no link).
    pub link_status: Option<DeliveryStatus>,
    /// The mark the event adds to the user's.
    pub undeliverable: Option<Undeliverable>,
    /// Names the event (see [`MailEvent::marker`]); written only if absent.
    pub marker: String,
    /// Epoch seconds.
    pub marker_expires_at: i64,
}

/// What recording SES's events needs from storage.
pub trait DeliveryStore {
    fn read_delivery(
        &self,
        user: &UserId,
        code_id: &str,
        marker: &str,
    ) -> impl Future<Output = Result<DeliveryView, StoreError>> + Send;

    /// [`StoreError::Conflict`] when the user's sequence moved, the link went or the marker
    /// appeared meanwhile.
    fn commit_delivery(&self, change: &DeliveryChange)
        -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Everything the request path needs from storage, as one bound.
pub trait Store:
    SnapshotRead + LinkCommit + LinkRevoke + LinkList + LinkRemove + PasskeyStore + TextCommit + Sync
{
}

impl<T> Store for T where
    T: SnapshotRead + LinkCommit + LinkRevoke + LinkList + LinkRemove + PasskeyStore + TextCommit + Sync
{
}
