//! Encrypted private keys are decrypted once, when they arrive (create, update,
//! `/connection-test`), and stored decrypted: `/detail`, tests, fleet runs and the monitor then
//! only parse them. The key derivation, bounded by `jackal_drivers::key_cost` before it runs,
//! runs on the blocking threads, never on an HTTP worker.

use jackal_drivers::ssh::SshCredentials;
use jackal_drivers::{ConnectionSpec, TlsCredentials};

use super::AppError;
use crate::domain::Invalid;

/// `spec` with its encrypted keys decrypted, and its TLS material checked again now that its
/// key can be read (a locked key's certificate was checked without it).
pub async fn unlocked(spec: ConnectionSpec) -> Result<ConnectionSpec, AppError> {
    if !spec.has_locked_keys() {
        return Ok(spec);
    }
    let spec = off_workers(move || spec.unlocked())
        .await?
        .map_err(|e| Invalid::new(e.argument(), e.to_string()))?;
    crate::domain::client_tls::checked(spec.tls_credentials())?;
    Ok(spec)
}

/// SSH secrets sent on their own (an update), with the key decrypted.
pub async fn unlocked_ssh(
    credentials: Option<SshCredentials>,
) -> Result<Option<SshCredentials>, AppError> {
    match credentials {
        Some(c) if c.is_locked() => Ok(Some(
            off_workers(move || c.decrypted())
                .await?
                .map_err(|e| Invalid::new(e.argument(), e.to_string()))?,
        )),
        other => Ok(other),
    }
}

/// TLS material sent on its own (an update), with the key decrypted.
pub async fn unlocked_tls(
    credentials: Option<TlsCredentials>,
) -> Result<Option<TlsCredentials>, AppError> {
    match credentials {
        Some(c) if c.is_locked() => Ok(Some(
            off_workers(move || c.decrypted())
                .await?
                .map_err(|e| Invalid::new(e.argument(), e.to_string()))?,
        )),
        other => Ok(other),
    }
}

/// Decryptions at once: one per core. Each may take about a second of CPU (see
/// `jackal_drivers::key_cost`); more at once would only slow every request down, not finish
/// sooner, so the others wait their turn.
static DECRYPTIONS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
});

async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _turn = DECRYPTIONS.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(AppError::internal)
}
