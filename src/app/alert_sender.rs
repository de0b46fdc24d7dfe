//! Delivers the alert outbox to the `[[alerts.webhook]]` channels (docs/alerts.md).
//!
//! Each server on a store runs a sender. A sender claims due events with a lease (one `UPDATE`
//! per event that only one server can win, `claim_outbox`), POSTs each, and records the
//! attempt; a failed one is retried with exponential backoff (1 s, 2 s, 4 s, … at most an
//! hour apart) until 24 h after the event, then given up. Of each data source and channel only
//! the oldest open event is claimable, so a receiver sees a data source's events in order. A
//! server that dies holding a claim leaves it to expire: the event is sent again (the receiver
//! drops the repeat by `X-Jackal-Event-Id`).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use actix_web::web;
use futures_util::future::join_all;
use ring::hmac;

use super::AppState;
use crate::config::WebhookSettings;
use crate::store::{ClaimedEvent, DeliveryAttempt};

/// How long a claim holds: well beyond a POST's timeout, so no other server sends the event
/// while this one may still be sending it.
const LEASE_MS: i64 = 60_000;
/// A POST's time limit.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle sender looks for due events.
const POLL: Duration = Duration::from_millis(500);
/// Events claimed at once.
const BATCH: i64 = 32;
/// The first retry's delay, doubled for each one after it up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// How long an event is retried before it is given up.
const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;

/// A webhook channel, its signing key loaded.
pub struct Webhook {
    pub name: String,
    pub url: String,
    key: hmac::Key,
}

// The signing key stays out of logs and errors.
impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The channel `settings` describe, with the key from its `secret_file` (trailing
    /// whitespace dropped, so a file written by `echo` works).
    pub fn load(settings: &WebhookSettings) -> anyhow::Result<Webhook> {
        let secret = read_secret(&settings.secret_file).map_err(|e| {
            anyhow::anyhow!(
                "[[alerts.webhook]] {}: cannot read secret_file {}: {e}",
                settings.name,
                settings.secret_file.display()
            )
        })?;
        Ok(Webhook {
            name: settings.name.clone(),
            url: settings.url.clone(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        })
    }

    /// `sha256=<hex>`: HMAC-SHA256 of `{timestamp}.{body}` under the channel's key.
    pub fn signature(&self, timestamp: i64, body: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body.as_bytes());
        format!("sha256={}", hex::encode(ctx.sign().as_ref()))
    }
}

fn read_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut secret = std::fs::read(path)?;
    while secret.last().is_some_and(u8::is_ascii_whitespace) {
        secret.pop();
    }
    if secret.is_empty() {
        return Err(std::io::Error::other("the file is empty"));
    }
    Ok(secret)
}

/// The delay before retry number `attempts` (1 for the first retry).
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(40);
    FIRST_BACKOFF_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_BACKOFF_MS)
}

/// Runs the sender until the process ends.
pub async fn run(app: web::Data<AppState>) {
    let client = match client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "the alert sender could not start its HTTP client");
            return;
        }
    };
    let claimant = uuid::Uuid::new_v4().to_string();
    loop {
        let now = app.clock.now_millis();
        let (who, channels) = (claimant.clone(), app.alerts.channels.clone());
        let claimed = app
            .store
            .write(move |tx| {
                Box::pin(async move {
                    Ok::<_, super::AppError>(
                        tx.claim_outbox(&channels, now, now + LEASE_MS, &who, BATCH)
                            .await?,
                    )
                })
            })
            .await;
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "the alert sender could not claim events");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            let backlog = app
                .store
                .read(|tx| {
                    Box::pin(async move { Ok::<_, super::AppError>(tx.outbox_backlog().await?) })
                })
                .await;
            if let Ok(events) = backlog {
                app.metrics.set_alert_backlog(events);
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        join_all(
            claimed
                .into_iter()
                .map(|event| deliver(&app, &client, &claimant, event)),
        )
        .await;
    }
}

/// POSTs `body` to `hook`, signed at `at` (epoch ms): the receiver's status, and why it failed
/// (`None` for a 2xx answer).
async fn post(
    client: &reqwest::Client,
    hook: &Webhook,
    event_id: &str,
    body: &str,
    at: i64,
) -> (Option<i64>, Option<String>) {
    let timestamp = at.div_euclid(1000);
    let sent = client
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("jackal/", env!("CARGO_PKG_VERSION")))
        .header("X-Jackal-Event-Id", event_id)
        .header("X-Jackal-Timestamp", timestamp.to_string())
        .header("X-Jackal-Signature", hook.signature(timestamp, body))
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(res) if res.status().is_success() => (Some(i64::from(res.status().as_u16())), None),
        Ok(res) => (
            Some(i64::from(res.status().as_u16())),
            Some(format!(
                "the receiver answered HTTP {}",
                res.status().as_u16()
            )),
        ),
        Err(e) => (None, Some(described(e))),
    }
}

/// Why a POST failed, with its causes (connection refused, a timeout, …) and without the URL:
/// a webhook's URL may carry a token.
fn described(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// `jackal alerts test CHANNEL`: POSTs an `alerts.test` event to `hook` now, once, signed as
/// every event is (not through the outbox: the answer is the check). The receiver's status, or
/// why it failed.
pub async fn send_test(hook: &Webhook, at: i64) -> Result<i64, String> {
    let client = client().map_err(|e| e.to_string())?;
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "id": event_id,
        "type": "alerts.test",
        "occurredAt": crate::domain::time::render_millis(at),
        "channel": hook.name,
        "message": "A test event from Jackal: this channel receives alerts.",
    })
    .to_string();
    match post(&client, hook, &event_id, &body, at).await {
        (Some(status), None) => Ok(status),
        (_, error) => Err(error.unwrap_or_default()),
    }
}

/// POSTs one claimed event and records the attempt.
async fn deliver(app: &AppState, client: &reqwest::Client, claimant: &str, event: ClaimedEvent) {
    let Some(hook) = app.alerts.webhooks.iter().find(|w| w.name == event.channel) else {
        // Not claimed: `claim_outbox` takes only this server's channels.
        return;
    };
    let at = app.clock.now_millis();
    let (status, error) = post(client, hook, &event.event_id, &event.body, at).await;
    let retry_at = error.as_ref().and_then(|_| {
        let next = at + backoff_ms(event.attempts + 1);
        (next < event.created_at + GIVE_UP_AFTER_MS).then_some(next)
    });
    let outcome = match (&error, retry_at) {
        (None, _) => "delivered",
        (Some(_), Some(_)) => "failed",
        (Some(_), None) => "given_up",
    };
    app.metrics.count_alert_delivery(&hook.name, outcome);
    match (&error, retry_at) {
        (None, _) => {
            tracing::info!(channel = %hook.name, event = %event.event_id, "alert delivered")
        }
        (Some(e), Some(_)) => {
            tracing::warn!(channel = %hook.name, event = %event.event_id, error = %e, "alert delivery failed; retrying")
        }
        (Some(e), None) => {
            tracing::error!(channel = %hook.name, event = %event.event_id, error = %e, "alert delivery failed for 24 h; given up")
        }
    }
    let attempt = DeliveryAttempt {
        event_id: event.event_id,
        channel: event.channel,
        at,
        status,
        error,
        retry_at,
    };
    let claimant = claimant.to_owned();
    if let Err(e) = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                Ok::<_, super::AppError>(tx.finish_delivery(&attempt, &claimant).await?)
            })
        })
        .await
    {
        tracing::warn!(error = %e, "the alert sender could not record a delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(1), 1_000);
        assert_eq!(backoff_ms(2), 2_000);
        assert_eq!(backoff_ms(4), 8_000);
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(i64::MAX), MAX_BACKOFF_MS);
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        let hook = Webhook {
            name: "ops".into(),
            url: "http://127.0.0.1:9/".into(),
            key: hmac::Key::new(hmac::HMAC_SHA256, b"key"),
        };
        // RFC 4231-style check against an independently computed value:
        // HMAC-SHA256("key", "1.{}").
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"key"), b"1.{}");
        assert_eq!(
            hook.signature(1, "{}"),
            format!("sha256={}", hex::encode(expected.as_ref()))
        );
        assert!(!format!("{hook:?}").contains("key\""));
    }
}
