//! What the store holds and is asked for, the same for every backend.

use std::path::PathBuf;

use jackal_drivers::Kind;
use serde_json::Value;

use crate::domain::ids::{DataSourceId, PersonId, RoleId};

/// The meta rows the secret-key handling keeps.
pub(crate) const KEY_CHECK: &str = "key_check";
pub(crate) const ROTATION_KEY_FILE: &str = "rotation_key_file";
pub(crate) const ROTATION_KEY_CHECK: &str = "rotation_key_check";

/// A value that must be unique among its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    Alias,
    Username,
    Email,
    RoleName,
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unique::Alias => "alias",
            Unique::Username => "username",
            Unique::Email => "email",
            Unique::RoleName => "role name",
        })
    }
}

/// A slice of a list, oldest first (`?limit=&offset=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// At most this many; `None` is all.
    pub limit: Option<u64>,
    pub offset: u64,
    /// Only rows after this place in the list's order (`seq`, or a permission's id): where a
    /// streamed list's next chunk starts.
    pub after: Option<i64>,
}

impl Page {
    pub const ALL: Page = Page {
        limit: None,
        offset: 0,
        after: None,
    };

    /// Up to `size` rows of this page from `after` (see `Page::after`); the page's offset
    /// applies to its first chunk only.
    pub fn chunk(self, after: Option<i64>, size: u64) -> Page {
        Page {
            limit: Some(size),
            offset: if after.is_none() { self.offset } else { 0 },
            after,
        }
    }
}

/// The kinds of object a path can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    DataSource,
    Person,
    Role,
    Permission,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::DataSource => "data source",
            Entity::Person => "person",
            Entity::Role => "role",
            Entity::Permission => "permission",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: PersonId,
    pub name: String,
    pub email: String,
    pub username: String,
    pub is_locked: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub id: RoleId,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When listed as a role containing a data source: when it was added.
    pub assigned_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRow {
    pub id: i64,
    pub person_id: PersonId,
    pub data_source_id: DataSourceId,
    pub starts_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A data source as stored. `config_uri` never holds the password; `password_enc` is the
/// sealed password (see `crate::secrets`), bound to `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceRow {
    /// The store's creation-order number (the Mode dialect's integer `id`); assigned by the
    /// store on insert, whatever the row handed to it says.
    pub seq: i64,
    pub id: DataSourceId,
    pub name: String,
    pub alias: Option<String>,
    pub kind: Kind,
    pub config_uri: String,
    pub password_enc: Option<Vec<u8>>,
    /// The SSH tunnel's secrets, sealed (see [`SealedColumn::SshSecret`]).
    pub ssh_secret_enc: Option<Vec<u8>>,
    /// What may be shown of them (JSON: method, client public key and its fingerprint).
    pub ssh_auth: Option<String>,
    /// The TLS material sent beside configUri, sealed (see [`SealedColumn::TlsSecret`]).
    pub tls_secret_enc: Option<Vec<u8>>,
    /// What may be shown of it (JSON: the client certificate's and CA certificates' facts).
    pub tls_shown: Option<String>,
    /// Free text; empty when none.
    pub description: String,
    /// How the last connection test or introspection ended; `None` when none is on record
    /// (never tested, purged, or the destination or password changed since).
    pub last_test_ok: Option<bool>,
    /// When that test ended.
    pub last_tested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One test result kept in a data source's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestHistoryRow {
    pub data_source_id: DataSourceId,
    pub tested_at: i64,
    pub success: bool,
    pub error_code: Option<String>,
    pub duration_us: i64,
    pub product_name: Option<String>,
    pub product_version: Option<String>,
}

/// A data source's current run of failures as its kept history shows it
/// (the store's `failure_runs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRun {
    pub data_source_id: DataSourceId,
    /// The run's first failure.
    pub since: i64,
    /// Failures in the run, as kept.
    pub failures: i64,
    /// A success is kept before the run: it is whole. Without one, a full history may have
    /// dropped the run's beginning.
    pub after_success: bool,
}

/// The columns that hold sealed secrets, each bound to its data source by its own associated
/// data, so that a sealed value cannot be moved to another column or data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    Password,
    SshSecret,
    TlsSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 3] = [
        SealedColumn::Password,
        SealedColumn::SshSecret,
        SealedColumn::TlsSecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SealedColumn::Password => "password_enc",
            SealedColumn::SshSecret => "ssh_secret_enc",
            SealedColumn::TlsSecret => "tls_secret_enc",
        }
    }

    /// The associated data a value of this column is sealed with, for the data source `id`.
    pub fn aad(self, id: &str) -> Vec<u8> {
        match self {
            SealedColumn::Password => id.as_bytes().to_vec(),
            SealedColumn::SshSecret => format!("{id}/ssh").into_bytes(),
            SealedColumn::TlsSecret => format!("{id}/tls").into_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub secret_sha256: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Who acts, from where, and when; passed to every store method that changes something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// `None` for the command line.
    pub api_key_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: i64,
}

/// One thing that happened to one object. `changes` never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub changes: Value,
}

/// How a test or introspection of a saved data source ended, kept on its row (the Mode
/// dialect's `queryable`). Not a change of the data source: `updated_at` stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub data_source_id: DataSourceId,
    pub ok: bool,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub api_key_id: Option<String>,
    pub client_addr: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub changes: Value,
}

/// Which events to read: a time window, one object, after a known id; at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub object_id: Option<String>,
    pub after_id: Option<i64>,
    /// Only events older than this id (the status page scrolls back from the newest).
    pub before_id: Option<i64>,
    pub limit: usize,
    /// The newest `limit` events (still listed oldest first) instead of the oldest.
    pub newest: bool,
}

/// The store's key check and the rotation in progress, if any, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMeta {
    pub key_check: Option<Vec<u8>>,
    pub pending: Option<PendingRotation>,
}

/// A rotation to the key in `key_file` has started and not finished: passwords may be sealed
/// with either key. `key_check` is a check value sealed with the new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRotation {
    pub key_file: PathBuf,
    pub key_check: Vec<u8>,
}

/// Counts of data sources by what their password is sealed with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealedCounts {
    pub data_sources: u64,
    pub with_password: u64,
    /// Passwords whose sealed value starts with the prefix asked about.
    pub with_prefix: u64,
}

/// Which membership table a change is about.
#[derive(Debug, Clone, Copy)]
pub enum Member {
    DataSource,
    Person,
}

/// The last schema snapshot of a data source: `snapshot` is the JSON the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSnapshotRow {
    pub data_source_id: DataSourceId,
    pub fetched_at: i64,
    pub duration_ms: i64,
    pub snapshot: String,
}

/// A browser's sign-in to the status page: the token's SHA-256 (the cookie holds the token),
/// the API key it signed in with, the token its state-changing requests must echo, and when it
/// ends.
#[derive(Clone, PartialEq, Eq)]
pub struct UiSessionRow {
    pub token_sha256: Vec<u8>,
    pub api_key_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for UiSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CSRF token is a credential of the session: not for logs.
        f.debug_struct("UiSessionRow")
            .field("api_key_id", &self.api_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The last test of a data source as `/test` answered it (JSON), and when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReportRow {
    pub data_source_id: DataSourceId,
    pub tested_at: i64,
    pub report: String,
}

/// A data source's recent test durations, oldest first (the status page's sparklines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentTest {
    pub data_source_id: DataSourceId,
    pub tested_at: i64,
    pub success: bool,
    pub duration_us: i64,
}
