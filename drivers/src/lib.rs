//! Jackal's connection layer.
//!
//! This crate turns a data source's `configUri` into a validated, normalized
//! [`ConnectionSpec`]. Parsing is pure (no DNS, files or sockets), so the HTTP
//! layer can reject a bad URI with a precise 400 before anything is stored.
//!
//! # Grammar
//!
//! ```text
//! <type>://[user[:password]@]host[:port][/database][?options]
//! sqlite:///absolute/path/to/file.db
//! ```
//!
//! User, password, database and option values are percent-encoded. A
//! password containing `@`, `/`, `?`, `#` or `%` must encode it (`%40`,
//! `%2F`, `%3F`, `%23`, `%25`); when it does not, parsing fails with a message
//! saying which character and how to write it, rather than guessing.
//!
//! | type | schemes accepted (stored as) | default port |
//! |---|---|---|
//! | [`Kind::Postgresql`] | `postgresql`, `postgres` (→ `postgresql`) | 5432 |
//! | [`Kind::Mysql`] | `mysql`, `mariadb` (→ `mysql`) | 3306 |
//! | [`Kind::Sqlite`] | `sqlite` (path must be absolute: `sqlite:///…`) | – (a local file) |
//!
//! Schemes are case-insensitive. A port, when written, must be `1..=65535`;
//! when absent it stays absent in the normalized URI and
//! [`ConnectionSpec::effective_port`] supplies the default. IPv6 hosts are
//! written in brackets (`[::1]`). At most one database name follows the host.
//!
//! # Options
//!
//! Network types (PostgreSQL, MySQL) understand the options below. Names are
//! case-sensitive; an unknown or repeated option is an error naming it.
//! SQLite accepts no options at all.
//!
//! | Option | Values | Default added when absent | Meaning |
//! |---|---|---|---|
//! | `validateSsl` | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case) | `false` | Verify the server certificate chain and host name. |
//! | `ssl` | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case) | `true` | Use TLS. |
//! | `sslRootCert` | an absolute path | – | PEM CA bundle to trust. |
//! | `connectTimeout` | whole seconds, `1..=300` | – | Deadline for testing this data source. |
//! | `sshHost` | host name or IP | – | PostgreSQL, MySQL and MariaDB: the SSH bastion to tunnel through ([`ssh`]). |
//! | `sshPort` | `1..=65535` | `22` | The bastion's SSH port. |
//! | `sshUser` | text | – | Required with `sshHost`: the user on every hop. |
//! | `sshHostKey` | `SHA256:…`, or a public-key or `known_hosts` line | – | The bastion's pinned host key, normalized to its fingerprint. |
//! | `sshJump` | `user@host[:port][;SHA256:…]`, comma-separated | – | Jump hosts in front of the bastion, in dialling order (`@` written `%40`). |
//!
//! # Normalization
//!
//! The scheme is lowercased and mapped to its type; user, password, host,
//! port and database are kept as given, with percent-encoding normalized
//! (everything but `A-Z a-z 0-9 - . _ ~` is encoded, hex in upper case); the
//! user's options keep their order, booleans become `true`/`false`; then
//! whichever of `validateSsl=false` and `ssl=true` is missing is appended, in
//! that order. Normalization is idempotent, and parsing the normalized URI
//! gives back an equal spec.
//!
//! ```
//! use jackal_drivers::{ConnectionSpec, Kind};
//!
//! let spec = ConnectionSpec::parse(
//!     "postgres://someuser:t0ps3cret@somedb.example.com:5432/some-db",
//! )?;
//! assert_eq!(spec.kind(), Kind::Postgresql);
//! assert_eq!(
//!     spec.to_uri(),
//!     "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db?validateSsl=false&ssl=true",
//! );
//! assert_eq!(
//!     spec.to_redacted_uri(),
//!     "postgresql://someuser@somedb.example.com:5432/some-db?validateSsl=false&ssl=true",
//! );
//! # Ok::<(), jackal_drivers::UriError>(())
//! ```
//!
//! # URIs pasted from other tools
//!
//! [`uri_forms::parse`] also takes the forms admins copy from libpq, the JDBC drivers and
//! MySQL's clients (`jdbc:postgresql://…`, `sslmode=verify-full`, `ssl-mode=REQUIRED`, …) and
//! rewrites them into the form above, with a note for each change.
//!
//! # Errors
//!
//! Every [`UriError`] is a client error. Its `Display` is written for the
//! person who typed the URI; it never contains the password and never echoes
//! the URI. [`UriError::code`] gives a stable snake_case code per variant and
//! [`UriError::CATEGORY`] (`invalid_config_uri`) the code shared by all.
//!
//! # Keeping a stored password
//!
//! When a data source is updated without a password, the stored one may be
//! reused only if [`ConnectionSpec::same_destination`] holds (same type,
//! host, effective port and user), so that a password is never sent to a
//! server or account it was not given for.

mod attempt;
pub mod egress;
pub mod host;
pub mod key_cost;
mod local_file;
mod mysql;
mod postgres;
pub mod probe;
pub mod product;
pub mod report;
pub mod resolve;
pub mod schema;
mod sqlite;
pub mod ssh;
#[cfg(test)]
mod test_keys;
mod tls;
pub mod tls_credentials;
pub mod uri;
pub mod uri_forms;

pub use egress::EgressPolicy;
pub use probe::{introspect, introspect_until, probe, probe_until, ProbeContext};
pub use report::{
    CertificateFacts, CompatibleWith, ErrorCode, IntrospectionReport, Phase, PhaseRecord,
    ProbeFailure, ProbeReport, ServerVersion, TlsFacts, TlsReport,
};
pub use resolve::{ResolveError, Resolver, StaticResolver, SystemResolver};
pub use schema::{Column, Schema, SchemaSnapshot, Table, TableKind};
pub use tls::MAX_ROOT_BUNDLE_BYTES;
pub use tls_credentials::{TlsCredentialError, TlsCredentials};
pub use uri::{ConnectionSpec, Kind, Password, UnlockError, UriError};

/// The rustls client configuration a spec's `ssl`, `validateSsl` and `sslRootCert` ask for,
/// for connections other than tests (Jackal's own PostgreSQL store): the same rules, so a
/// store URL means what the same data-source URI would, except that its `sslRootCert`, from
/// Jackal's own settings, may be in any directory. Reads that file (blocking).
pub fn tls_client_config(
    spec: &ConnectionSpec,
) -> Result<std::sync::Arc<rustls::ClientConfig>, ProbeFailure> {
    tls::own_client_config(spec)
}
