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
    let spec = decrypted(spec, ConnectionSpec::unlocked).await?;
    crate::domain::client_tls::checked(spec.tls_credentials())?;
    Ok(spec)
}

/// The SSH secrets and TLS material an update sends on their own, their keys decrypted.
pub async fn unlocked_secrets(
    ssh: Option<SshCredentials>,
    tls: Option<TlsCredentials>,
) -> Result<(Option<SshCredentials>, Option<TlsCredentials>), AppError> {
    let ssh = match ssh {
        Some(c) if c.is_locked() => Some(decrypted(c, SshCredentials::decrypted).await?),
        other => other,
    };
    let tls = match tls {
        Some(c) if c.is_locked() => Some(decrypted(c, TlsCredentials::decrypted).await?),
        other => other,
    };
    Ok((ssh, tls))
}

/// `credentials` through `decrypt`, off the workers.
async fn decrypted<C, E>(credentials: C, decrypt: fn(&C) -> Result<C, E>) -> Result<C, AppError>
where
    C: Send + 'static,
    E: Send + 'static,
    Invalid: From<E>,
{
    Ok(off_workers(move || decrypt(&credentials))
        .await?
        .map_err(Invalid::from)?)
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
