//! A server keeps the API keys it has checked in memory, so a key revoked by another process
//! must still stop working at once: within 100 ms, measured here on a real `jackal serve`
//! process on whichever store this run uses (SQLite; PostgreSQL under JACKAL_TEST_STORE).
//! The revocations come from outside the server: an `UPDATE` committed by this test process,
//! whose commit time is known to the microsecond, and `jackal api-key revoke`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::{field, jackal, jackal_with_key, run, serve, whoami_with};
use crate::helpers::commit_in_store;

/// The window the issue allows between a revocation's commit and the key's first refusal.
const WINDOW: Duration = Duration::from_millis(100);

async fn status(client: &reqwest::Client, port: u16, id: &str, secret: &str) -> u16 {
    whoami_with(client, port, id, secret)
        .await
        .status()
        .as_u16()
}

/// Asks with the key again and again from `since` until it is refused; how long that took.
async fn refused_after(
    client: &reqwest::Client,
    port: u16,
    id: &str,
    secret: &str,
    since: Instant,
) -> Duration {
    loop {
        let code = status(client, port, id, secret).await;
        if code == 401 {
            return since.elapsed();
        }
        assert_eq!(code, 200);
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "the revoked key still works after 5 s"
        );
    }
}

/// Revokes `id` with one `UPDATE` in the store, from this process; the instant it committed.
async fn revoke_in_store(dir: &Path, id: &str) -> Instant {
    commit_in_store(
        dir,
        "UPDATE api_key SET revoked_at = 1 WHERE id = $1 AND revoked_at IS NULL",
        id,
    )
    .await
}

fn create_key(dir: &Path, name: &str) -> (String, String) {
    let created = run(jackal(dir).args(["api-key", "create", "--name", name]));
    (field(&created, "id:"), field(&created, "secret:"))
}

#[tokio::test]
async fn a_key_revoked_by_another_process_stops_working_within_100_ms() {
    let dir = tempfile::tempdir().unwrap();
    let admin = (
        uuid::Uuid::new_v4().to_string(),
        "revocation-admin-0123456789".to_owned(),
    );
    let (server, _) = serve(jackal_with_key(dir.path(), &admin.0, &admin.1), dir.path());
    // One client, so each ask is one request on a kept connection.
    let client = reqwest::Client::new();
    let mut windows = Vec::new();
    for round in 0..5 {
        // Created by another process while the server runs: read from the store at first use,
        // then remembered.
        let (id, secret) = create_key(dir.path(), &format!("round {round}"));
        for _ in 0..20 {
            assert_eq!(status(&client, server.1, &id, &secret).await, 200);
        }
        let committed = revoke_in_store(dir.path(), &id).await;
        windows.push(refused_after(&client, server.1, &id, &secret, committed).await);
    }
    // And the command admins use, timed from its exit (its commit came before).
    let (id, secret) = create_key(dir.path(), "by the command");
    for _ in 0..20 {
        assert_eq!(status(&client, server.1, &id, &secret).await, 200);
    }
    run(jackal(dir.path()).args(["api-key", "revoke", &id]));
    let by_command = refused_after(&client, server.1, &id, &secret, Instant::now()).await;

    eprintln!(
        "revocation windows on {}: {windows:?} after the commit; {by_command:?} after `jackal \
         api-key revoke` exited",
        crate::helpers::store_backend()
    );
    for window in windows.iter().chain([&by_command]) {
        assert!(*window <= WINDOW, "{windows:?}, {by_command:?}");
    }
    // The other keys were not disturbed.
    assert_eq!(status(&client, server.1, &admin.0, &admin.1).await, 200);
}
