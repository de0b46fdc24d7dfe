//! Data sources: create, read, update (the password-retention rule), delete; the password
//! sealed at rest and revealed only where the contract says, each reveal recorded.

use std::sync::Arc;

use jackal_drivers::report::CertificateFacts;
use jackal_drivers::ssh::SshCredentials;
use jackal_drivers::{ConnectionSpec, Kind, Password, TlsCredentials};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{events, AppError, AppState};
use crate::domain::ids::DataSourceId;
use crate::domain::Invalid;
use crate::secrets::SecretBox;
use crate::store::{AuditContext, DataSourceRow, Entity, Lock, Page, SealedColumn, Tx, Unique};

/// A data source to create, validated.
#[derive(Debug)]
pub struct NewDataSource {
    pub name: String,
    pub alias: Option<String>,
    /// The configUri as given: its password is sealed, the rest stored normalized.
    pub spec: ConnectionSpec,
    pub description: String,
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<String>,
    /// `Some(None)` clears the alias.
    pub alias: Option<Option<String>>,
    pub description: Option<String>,
    /// A new configUri. Its password, if it has one; otherwise the stored password survives
    /// only an unchanged type, host, port and user (the contract's retention rule).
    pub spec: Option<ConnectionSpec>,
    /// A new password for the stored destination (the Mode dialect); empty removes it.
    pub password: Option<Password>,
    /// New SSH secrets (sent beside configUri). Without them, the stored ones survive only an
    /// unchanged SSH route.
    pub ssh: Option<SshCredentials>,
    /// New TLS material (sent beside configUri), replacing all of the stored one. Without it,
    /// the stored one survives only an unchanged destination with TLS on.
    pub tls: Option<TlsCredentials>,
}

/// The SSH secrets as sealed: the three texts, as JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SealedSsh {
    private_key: Option<String>,
    passphrase: Option<String>,
    password: Option<String>,
}

/// The sealed SSH secrets and what may be shown of them, for the data source `id`; both
/// `None` when there are none.
async fn seal_ssh(
    secrets: &SecretBox,
    credentials: &SshCredentials,
    id: &DataSourceId,
) -> Result<(Option<Vec<u8>>, Option<String>), AppError> {
    if credentials.is_empty() {
        return Ok((None, None));
    }
    let facts = credentials
        .facts()
        .map_err(|e| Invalid::new("sshPrivateKey", e.to_string()))?;
    let shown = json!({
        "auth": facts.method,
        "publicKeyFingerprint": facts.public_key_fingerprint,
        "publicKey": facts.public_key,
    })
    .to_string();
    let text = |v: &Option<zeroize::Zeroizing<String>>| v.as_ref().map(|t| t.to_string());
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&SealedSsh {
            private_key: text(&credentials.private_key),
            passphrase: text(&credentials.passphrase),
            password: text(&credentials.password),
        })
        .map_err(AppError::internal)?,
    );
    let (secrets, aad) = (secrets.clone(), SealedColumn::SshSecret.aad(id.as_str()));
    let sealed = tokio::task::spawn_blocking(move || secrets.seal(&plain, &aad))
        .await
        .map_err(AppError::internal)?;
    Ok((Some(sealed), Some(shown)))
}

/// The stored SSH secrets of `row`, opened.
fn open_ssh(row: &DataSourceRow, secrets: &SecretBox) -> Result<SshCredentials, AppError> {
    let Some(sealed) = &row.ssh_secret_enc else {
        return Ok(SshCredentials::default());
    };
    let plain = zeroize::Zeroizing::new(
        secrets
            .open(sealed, &SealedColumn::SshSecret.aad(row.id.as_str()))
            .map_err(AppError::internal)?,
    );
    let stored: SealedSsh = serde_json::from_slice(&plain).map_err(AppError::internal)?;
    let secret = |v: Option<String>| v.map(zeroize::Zeroizing::new);
    Ok(SshCredentials {
        private_key: secret(stored.private_key),
        passphrase: secret(stored.passphrase),
        password: secret(stored.password),
    })
}

/// The TLS material as sealed: the four texts, as JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SealedTls {
    client_cert: Option<String>,
    client_key: Option<String>,
    key_password: Option<String>,
    root_cert: Option<String>,
}

/// A certificate as a data source shows it.
fn shown_certificate(cert: &CertificateFacts) -> serde_json::Value {
    json!({
        "subject": cert.subject,
        "issuer": cert.issuer,
        "fingerprintSha256": cert.fingerprint_sha256,
        "notBefore": cert.not_before,
        "notAfter": cert.not_after,
    })
}

/// The sealed TLS material and what may be shown of it, for the data source `id`; both `None`
/// when there is none.
async fn seal_tls(
    secrets: &SecretBox,
    credentials: &TlsCredentials,
    id: &DataSourceId,
) -> Result<(Option<Vec<u8>>, Option<String>), AppError> {
    if credentials.is_empty() {
        return Ok((None, None));
    }
    let now = std::time::SystemTime::now();
    let decoded = crate::domain::client_tls::checked(credentials)?;
    let mut shown = json!({});
    if let Some(identity) = &decoded.identity {
        shown["clientCertificate"] = shown_certificate(&identity.facts);
    }
    if decoded.roots.is_some() {
        shown["rootCertificates"] = decoded
            .root_facts(now)
            .iter()
            .map(shown_certificate)
            .collect();
    }
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&SealedTls {
            client_cert: credentials.client_cert.clone(),
            client_key: credentials.client_key.as_ref().map(|k| k.to_string()),
            key_password: credentials.key_password.as_ref().map(|p| p.to_string()),
            root_cert: credentials.root_cert.clone(),
        })
        .map_err(AppError::internal)?,
    );
    let (secrets, aad) = (secrets.clone(), SealedColumn::TlsSecret.aad(id.as_str()));
    let sealed = tokio::task::spawn_blocking(move || secrets.seal(&plain, &aad))
        .await
        .map_err(AppError::internal)?;
    Ok((Some(sealed), Some(shown.to_string())))
}

/// The stored TLS material of `row`, opened.
fn open_tls(row: &DataSourceRow, secrets: &SecretBox) -> Result<TlsCredentials, AppError> {
    let Some(sealed) = &row.tls_secret_enc else {
        return Ok(TlsCredentials::default());
    };
    let plain = zeroize::Zeroizing::new(
        secrets
            .open(sealed, &SealedColumn::TlsSecret.aad(row.id.as_str()))
            .map_err(AppError::internal)?,
    );
    let stored: SealedTls = serde_json::from_slice(&plain).map_err(AppError::internal)?;
    Ok(TlsCredentials {
        client_cert: stored.client_cert,
        client_key: stored.client_key.map(zeroize::Zeroizing::new),
        key_password: stored.key_password.map(zeroize::Zeroizing::new),
        root_cert: stored.root_cert,
    })
}

fn not_found(key: &str) -> AppError {
    AppError::NotFound(Entity::DataSource, key.to_owned())
}

/// The stored (password-free) configUri parsed again; it was normalized on the way in.
pub fn stored_spec(row: &DataSourceRow) -> Result<ConnectionSpec, AppError> {
    ConnectionSpec::parse(&row.config_uri).map_err(|e| {
        AppError::internal(format_args!(
            "stored configUri of {} does not parse: {e}",
            row.id
        ))
    })
}

/// The stored configUri with its password decrypted: for `/detail` and connection tests.
pub fn spec_with_password(
    row: &DataSourceRow,
    secrets: &SecretBox,
) -> Result<ConnectionSpec, AppError> {
    let spec = stored_spec(row)?
        .with_ssh_credentials(open_ssh(row, secrets)?)
        // Checked when it arrived; refused now only if the store was altered.
        .with_tls_credentials(open_tls(row, secrets)?)
        .map_err(|e| {
            AppError::internal(format_args!(
                "stored TLS material of {} is unusable: {e}",
                row.id
            ))
        })?;
    let Some(sealed) = &row.password_enc else {
        return Ok(spec);
    };
    let password = secrets
        .open(sealed, row.id.as_str().as_bytes())
        .map_err(AppError::internal)?;
    let password = String::from_utf8(password).map_err(AppError::internal)?;
    Ok(spec.with_password(Some(Password::from(password))))
}

/// The password of `spec` sealed for the data source `id`; `None` when it has none. Sealing
/// reads the store's key record (a rotation may have brought a new key), which blocks: it runs
/// off the async workers.
async fn seal(
    secrets: &SecretBox,
    spec: &ConnectionSpec,
    id: &DataSourceId,
) -> Result<Option<Vec<u8>>, AppError> {
    let Some(password) = spec.password() else {
        return Ok(None);
    };
    let (secrets, plain, id) = (
        secrets.clone(),
        zeroize::Zeroizing::new(password.expose().as_bytes().to_vec()),
        id.clone(),
    );
    tokio::task::spawn_blocking(move || Some(secrets.seal(&plain, id.as_str().as_bytes())))
        .await
        .map_err(AppError::internal)
}

/// Forgets the last test outcome when what it was a test of changed (the configUri or the
/// password): it says nothing about the new settings.
fn forget_stale_test_outcome(current: &DataSourceRow, next: &mut DataSourceRow) {
    if next.config_uri != current.config_uri
        || next.password_enc != current.password_enc
        || next.ssh_secret_enc != current.ssh_secret_enc
        || next.tls_secret_enc != current.tls_secret_enc
    {
        next.last_test_ok = None;
        next.last_tested_at = None;
    }
}

/// Creates a data source; the row as stored, and the spec with its password (the contract
/// answers a create with the password in the configUri).
pub async fn create(
    app: &AppState,
    ctx: &AuditContext,
    new: NewDataSource,
) -> Result<(DataSourceRow, ConnectionSpec), AppError> {
    let new = NewDataSource {
        spec: super::keys::unlocked(new.spec).await?,
        ..new
    };
    let id = DataSourceId::generate();
    let password_enc = seal(&app.secrets, &new.spec, &id).await?;
    let (ssh_secret_enc, ssh_auth) =
        seal_ssh(&app.secrets, new.spec.ssh_credentials(), &id).await?;
    let (tls_secret_enc, tls_shown) =
        seal_tls(&app.secrets, new.spec.tls_credentials(), &id).await?;
    let mut row = DataSourceRow {
        password_enc,
        ssh_secret_enc,
        ssh_auth,
        tls_secret_enc,
        tls_shown,
        id,
        name: new.name,
        alias: new.alias,
        kind: new.spec.kind(),
        config_uri: new.spec.to_redacted_uri(),
        description: new.description,
        last_test_ok: None,
        last_tested_at: None,
        seq: 0,
        created_at: ctx.at,
        updated_at: ctx.at,
    };
    let ctx = ctx.clone();
    let row = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                if let Some(alias) = &row.alias {
                    if tx.alias_used(alias, &row.id).await? {
                        return Err(taken(alias));
                    }
                }
                row.seq = tx.insert_data_source(&row).await.map_err(|e| {
                    // Another server may have taken the alias a moment ago.
                    let alias = row.alias.as_deref().unwrap_or_default();
                    AppError::taken_if(e, Unique::Alias, alias)
                })?;
                tx.record(&ctx, &events::data_source_created(&row)).await?;
                Ok(row)
            })
        })
        .await?;
    Ok((row, new.spec))
}

fn taken(alias: &str) -> AppError {
    AppError::Taken {
        field: Unique::Alias,
        value: alias.to_owned(),
    }
}

/// Every data source, oldest first (a page of them).
pub async fn list(app: &AppState, page: Page) -> Result<Vec<DataSourceRow>, AppError> {
    Ok(app
        .store
        .read(move |tx| Box::pin(async move { tx.data_sources(page).await }))
        .await?)
}

/// The data source `key` (id, else alias) names, in `tx`.
pub(crate) async fn resolve(
    tx: &mut dyn Tx,
    key: &str,
    lock: Lock,
) -> Result<DataSourceRow, AppError> {
    tx.data_source(key, lock)
        .await?
        .ok_or_else(|| not_found(key))
}

/// The data source `key` (id, else alias) names.
pub async fn find(app: &AppState, key: &str) -> Result<DataSourceRow, AppError> {
    let owned = key.to_owned();
    app.store
        .read_point(move |tx| Box::pin(async move { tx.data_source(&owned, Lock::No).await }))
        .await?
        .ok_or_else(|| not_found(key))
}

/// [`find`] from this server's memory while nothing can have changed the row (see
/// [`super::data_source_cache`]): for `GET /data-source/{id}` only.
pub async fn find_remembered(app: &AppState, key: &str) -> Result<Arc<DataSourceRow>, AppError> {
    let Some(cache) = &app.data_source_cache else {
        return Ok(Arc::new(find(app, key).await?));
    };
    if let Some(row) = cache.get(key) {
        return Ok(row);
    }
    let token = cache.token();
    let row = Arc::new(find(app, key).await?);
    cache.remember(key, row.clone(), token);
    Ok(row)
}

/// The data source with its password in the configUri. The read is recorded in the audit
/// trail before the password is handed out: no read of a password goes unrecorded.
pub async fn reveal(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
) -> Result<(DataSourceRow, ConnectionSpec), AppError> {
    let row = find(app, key).await?;
    let spec = spec_with_password(&row, &app.secrets)?;
    let (ctx, event) = (ctx.clone(), events::password_read(&row));
    app.store
        .write(move |tx| Box::pin(async move { tx.record(&ctx, &event).await }))
        .await?;
    Ok((row, spec))
}

/// Applies `changes` to the data source `key` names; the row as stored.
///
/// A new password is sealed first (for the data source's id), off the transaction; then, in
/// one transaction with the row locked, the rules: the retention rule, the alias uniqueness
/// check, `updatedAt` moving forward (even within one millisecond), the stale test outcome
/// forgotten, and the audit record.
pub async fn update(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
    changes: Changes,
) -> Result<DataSourceRow, AppError> {
    let found = find(app, key).await?;
    if changes.password.is_some() && found.kind == Kind::Sqlite {
        return Err(Invalid::new(
            "password",
            "data_source.password: an SQLite data source has no password",
        )
        .into());
    }
    if let Some(credentials) = &changes.ssh {
        // The route the secrets are for: the new configUri's, else the stored one's.
        let route = match &changes.spec {
            Some(spec) => spec.ssh_route(),
            None => stored_spec(&found)?.ssh_route(),
        };
        crate::domain::ssh::check_sent_for_a_tunnel(credentials, route.is_some())?;
    }
    if let Some(credentials) = &changes.tls {
        // The configUri the material is for: the new one, else the stored one.
        match &changes.spec {
            Some(spec) => crate::domain::client_tls::check_sent_for_tls(credentials, spec)?,
            None => {
                crate::domain::client_tls::check_sent_for_tls(credentials, &stored_spec(&found)?)?
            }
        }
    }
    // Decrypted once, after the cheap checks above.
    let (ssh, tls) = super::keys::unlocked_secrets(changes.ssh, changes.tls).await?;
    let changes = Changes {
        ssh,
        tls,
        ..changes
    };
    // The password this update brings, if any, sealed for this data source.
    let brought = match (&changes.spec, &changes.password) {
        (Some(spec), _) if spec.has_password() => Some(seal(&app.secrets, spec, &found.id).await?),
        (_, Some(password)) => {
            // The stored destination with the new password (an empty one removes it).
            let spec = stored_spec(&found)?.with_password(Some(password.clone()));
            Some(seal(&app.secrets, &spec, &found.id).await?)
        }
        _ => None,
    };
    let brought_ssh = match &changes.ssh {
        Some(credentials) => Some(seal_ssh(&app.secrets, credentials, &found.id).await?),
        None => None,
    };
    let brought_tls = match &changes.tls {
        Some(credentials) => Some(seal_tls(&app.secrets, credentials, &found.id).await?),
        None => None,
    };
    let brought = Brought {
        password: brought,
        ssh: brought_ssh,
        tls: brought_tls,
    };
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let id = found.id.as_str();
                let current = tx
                    .data_source(id, Lock::ForUpdate)
                    .await?
                    .ok_or_else(|| not_found(&key))?;
                let next = apply(&current, changes, brought, ctx.at)?;
                if let Some(alias) = &next.alias {
                    if tx.alias_used(alias, &next.id).await? {
                        return Err(taken(alias));
                    }
                }
                tx.update_data_source(&next).await.map_err(|e| {
                    AppError::taken_if(e, Unique::Alias, next.alias.as_deref().unwrap_or_default())
                })?;
                tx.record(&ctx, &events::data_source_updated(&current, &next))
                    .await?;
                Ok((current, next))
            })
        })
        .await
        .map(|(before, after)| {
            app.metrics
                .relabel_data_source(&labels(&before), &labels(&after));
            after
        })
}

/// What an update brings, sealed: each `None` when the update does not bring it.
struct Brought {
    /// The new sealed password (`Some(None)` removes it).
    password: Option<Option<Vec<u8>>>,
    /// The new sealed SSH secrets, with what may be shown of them.
    ssh: Option<(Option<Vec<u8>>, Option<String>)>,
    /// The new sealed TLS material, with what may be shown of it.
    tls: Option<(Option<Vec<u8>>, Option<String>)>,
}

/// `current` with `changes` applied and what the update `brought`.
fn apply(
    current: &DataSourceRow,
    changes: Changes,
    brought: Brought,
    now: i64,
) -> Result<DataSourceRow, AppError> {
    let Brought {
        password: brought,
        ssh: brought_ssh,
        tls: brought_tls,
    } = brought;
    let mut next = current.clone();
    if let Some(name) = changes.name {
        next.name = name;
    }
    if let Some(alias) = changes.alias {
        next.alias = alias;
    }
    if let Some(description) = changes.description {
        next.description = description;
    }
    if let Some(spec) = &changes.spec {
        next.password_enc = match brought.clone() {
            Some(sealed) => sealed,
            // A password is only ever sent where it was entered for: it survives only an
            // unchanged type, host, port and user.
            None if stored_spec(current)?.same_destination(spec) => current.password_enc.clone(),
            None => None,
        };
        // SSH secrets likewise follow only the same route (hops, users, ports and pins).
        if brought_ssh.is_none() && !stored_spec(current)?.same_ssh_path(spec) {
            next.ssh_secret_enc = None;
            next.ssh_auth = None;
        }
        if spec.ssh_route().is_none() {
            next.ssh_secret_enc = None;
            next.ssh_auth = None;
        }
        // The client certificate too: it is never presented to another host, port or user
        // (or through another bastion), and is of no use without TLS.
        if (brought_tls.is_none() && !stored_spec(current)?.same_destination(spec)) || !spec.ssl() {
            next.tls_secret_enc = None;
            next.tls_shown = None;
        }
        next.kind = spec.kind();
        next.config_uri = spec.to_redacted_uri();
    } else if let Some(sealed) = brought {
        next.password_enc = sealed;
    }
    if let Some((sealed, shown)) = brought_ssh {
        next.ssh_secret_enc = sealed;
        next.ssh_auth = shown;
    }
    if let Some((sealed, shown)) = brought_tls {
        // Checked before the transaction against the configUri then; checked again on the one
        // it now holds, which a concurrent update may have changed.
        let spec = stored_spec(&next)?;
        if sealed.is_some() && (spec.kind() == Kind::Sqlite || !spec.ssl()) {
            return Err(Invalid::new(
                "sslCert",
                "TLS material was sent, but the data source's configUri (changed meanwhile by another update) has TLS off: send it again with a configUri with ssl=true",
            )
            .into());
        }
        next.tls_secret_enc = sealed;
        next.tls_shown = shown;
    }
    forget_stale_test_outcome(current, &mut next);
    next.updated_at = now.max(current.updated_at + 1);
    Ok(next)
}

/// Deletes the data source `key` names, with its permissions, memberships and snapshot.
pub async fn delete(app: &AppState, ctx: &AuditContext, key: &str) -> Result<(), AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let row = resolve(tx, &key, Lock::ForUpdate).await?;
                tx.delete_data_source(&row.id).await?;
                tx.record(&ctx, &events::data_source_deleted(&row)).await?;
                Ok(row)
            })
        })
        .await
        .map(|row| app.metrics.forget_data_source(&labels(&row)))
}

/// A data source's labels in `/metrics`.
fn labels(row: &DataSourceRow) -> crate::metrics::DataSourceLabels<'_> {
    crate::metrics::DataSourceLabels {
        id: row.id.as_str(),
        alias: row.alias.as_deref(),
        kind: row.kind.as_str(),
    }
}

/// Drops what tests and introspections left about the data source `key` names: its schema
/// snapshot and its last test outcome, together, recorded. What there was: `(snapshot, test
/// outcome)`.
pub async fn purge_results(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
) -> Result<(DataSourceRow, bool, bool), AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let row = resolve(tx, &key, Lock::ForUpdate).await?;
                let snapshot = tx.delete_schema_snapshot(&row.id).await?;
                let outcome = row.last_test_ok.is_some();
                tx.set_test_outcome(&row.id, None).await?;
                tx.delete_test_report(&row.id).await?;
                tx.record(&ctx, &events::data_source_purged(&row, snapshot, outcome))
                    .await?;
                Ok((row, snapshot, outcome))
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(config_uri: &str, password: Option<&[u8]>) -> DataSourceRow {
        DataSourceRow {
            seq: 1,
            id: DataSourceId::stored("DUGC6IqGQ4DX00Lt0".into()),
            name: "n".into(),
            alias: None,
            kind: Kind::Postgresql,
            config_uri: config_uri.into(),
            password_enc: password.map(<[u8]>::to_vec),
            ssh_secret_enc: None,
            ssh_auth: None,
            tls_secret_enc: None,
            tls_shown: None,
            description: String::new(),
            last_test_ok: Some(true),
            last_tested_at: Some(5),
            created_at: 1,
            updated_at: 10,
        }
    }

    const NOTHING: Brought = Brought {
        password: None,
        ssh: None,
        tls: None,
    };

    fn spec(uri: &str) -> Option<ConnectionSpec> {
        Some(ConnectionSpec::parse(uri).unwrap())
    }

    #[test]
    fn a_stored_password_survives_only_an_unchanged_destination() {
        let current = row(
            "postgresql://u@h:5432/a?validateSsl=false&ssl=true",
            Some(b"sealed"),
        );
        let changes = |uri| Changes {
            spec: spec(uri),
            ..Changes::default()
        };
        let kept = apply(&current, changes("postgresql://u@h/b"), NOTHING, 20).unwrap();
        assert_eq!(kept.password_enc.as_deref(), Some(&b"sealed"[..]));
        for elsewhere in [
            "postgresql://u@other/a",
            "postgresql://u@h:5433/a",
            "postgresql://v@h/a",
            "mysql://u@h:5432/a",
        ] {
            let moved = apply(&current, changes(elsewhere), NOTHING, 20).unwrap();
            assert_eq!(moved.password_enc, None, "{elsewhere}");
            assert_eq!(
                moved.last_test_ok, None,
                "the old test says nothing of {elsewhere}"
            );
        }
        let brought = apply(
            &current,
            changes("postgresql://u:pw@other/a"),
            Brought {
                password: Some(Some(b"new".to_vec())),
                ..NOTHING
            },
            20,
        )
        .unwrap();
        assert_eq!(brought.password_enc.as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn updated_at_always_moves_forward() {
        let current = row("postgresql://u@h/a", None);
        let renamed = Changes {
            name: Some("m".into()),
            ..Changes::default()
        };
        assert_eq!(apply(&current, renamed, NOTHING, 3).unwrap().updated_at, 11);
        let later = apply(&current, Changes::default(), NOTHING, 50).unwrap();
        assert_eq!(later.updated_at, 50);
        assert_eq!(later.last_test_ok, Some(true), "nothing tested changed");
    }

    #[test]
    fn stored_ssh_secrets_follow_only_the_same_route_and_take_the_password_with_them() {
        let tunnel =
            "postgresql://u@db.internal:5432/a?sshHost=b1&sshUser=ops&validateSsl=false&ssl=true";
        let mut current = row(tunnel, Some(b"sealed"));
        current.ssh_secret_enc = Some(b"ssh-sealed".to_vec());
        current.ssh_auth = Some("{}".into());
        let changes = |uri| Changes {
            spec: spec(uri),
            ..Changes::default()
        };
        let kept = apply(
            &current,
            changes("postgresql://u@db.internal/a?sshHost=B1&sshUser=ops"),
            NOTHING,
            20,
        )
        .unwrap();
        assert_eq!(kept.ssh_secret_enc.as_deref(), Some(&b"ssh-sealed"[..]));
        assert_eq!(kept.password_enc.as_deref(), Some(&b"sealed"[..]));
        for elsewhere in [
            "postgresql://u@db.internal/a?sshHost=b2&sshUser=ops",
            "postgresql://u@db.internal/a?sshHost=b1&sshUser=root",
            "postgresql://u@db.internal/a?sshHost=b1&sshUser=ops&sshPort=2222",
            "postgresql://u@db.internal/a?sshHost=b1&sshUser=ops&sshJump=j%40gw",
            "postgresql://u@db.internal/a",
        ] {
            let moved = apply(&current, changes(elsewhere), NOTHING, 20).unwrap();
            assert_eq!(moved.ssh_secret_enc, None, "{elsewhere}");
            assert_eq!(moved.ssh_auth, None, "{elsewhere}");
            assert_eq!(
                moved.password_enc, None,
                "the password goes too: {elsewhere}"
            );
        }
        let brought = apply(
            &current,
            changes("postgresql://u@db.internal/a?sshHost=b2&sshUser=ops"),
            Brought {
                ssh: Some((Some(b"new-ssh".to_vec()), Some("{}".into()))),
                ..NOTHING
            },
            20,
        )
        .unwrap();
        assert_eq!(brought.ssh_secret_enc.as_deref(), Some(&b"new-ssh"[..]));
        assert_eq!(
            brought.password_enc, None,
            "a new bastion does not get the old password"
        );
    }

    #[test]
    fn stored_tls_material_follows_only_the_same_destination_with_tls_on() {
        let mut current = row(
            "postgresql://u@db.internal:5432/a?ssl=true",
            Some(b"sealed"),
        );
        current.tls_secret_enc = Some(b"tls-sealed".to_vec());
        current.tls_shown = Some("{}".into());
        let changes = |uri| Changes {
            spec: spec(uri),
            ..Changes::default()
        };
        let kept = apply(
            &current,
            changes("postgresql://u@DB.internal/b?ssl=true&validateSsl=true"),
            NOTHING,
            20,
        )
        .unwrap();
        assert_eq!(kept.tls_secret_enc.as_deref(), Some(&b"tls-sealed"[..]));
        assert_eq!(kept.tls_shown.as_deref(), Some("{}"));
        for elsewhere in [
            "postgresql://u@other.internal/a?ssl=true",
            "postgresql://u@db.internal:5433/a?ssl=true",
            "postgresql://v@db.internal/a?ssl=true",
            "postgresql://u@db.internal/a?ssl=true&sshHost=b1&sshUser=ops",
            "postgresql://u@db.internal/a?ssl=false",
        ] {
            let moved = apply(&current, changes(elsewhere), NOTHING, 20).unwrap();
            assert_eq!(moved.tls_secret_enc, None, "{elsewhere}");
            assert_eq!(moved.tls_shown, None, "{elsewhere}");
            assert_eq!(moved.last_test_ok, None, "{elsewhere}");
        }
        // Sent again with the new destination: kept.
        let brought = apply(
            &current,
            changes("postgresql://u@other.internal/a?ssl=true"),
            Brought {
                tls: Some((Some(b"new-tls".to_vec()), Some("{}".into()))),
                ..NOTHING
            },
            20,
        )
        .unwrap();
        assert_eq!(brought.tls_secret_enc.as_deref(), Some(&b"new-tls"[..]));
        // A rename keeps it.
        let renamed = Changes {
            name: Some("m".into()),
            ..Changes::default()
        };
        assert!(apply(&current, renamed, NOTHING, 20)
            .unwrap()
            .tls_secret_enc
            .is_some());
    }
}
