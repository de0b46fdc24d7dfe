//! Status-page sessions (`/ui/`): begun by signing in with an API key, kept in the store so
//! that every server of a shared store honours them, ended by signing out, by expiry, or by
//! the key's revocation (each request asks the key cache whether the key is still active).
//!
//! The browser holds a random token; the store holds only its SHA-256, so a copy of the store
//! cannot be replayed as a cookie. Each session also has a CSRF token, which every
//! state-changing request must echo.

use std::time::Duration;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{events, AppError, AppState};
use crate::app::api_keys::Caller;
use crate::domain::ids;
use crate::store::{AuditContext, UiSessionRow};

/// How long a sign-in lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

const TOKEN_LEN: usize = 43;
const CSRF_LEN: usize = 32;

/// A session just begun: the cookie's token, shown to the browser once (it ends
/// [`LIFETIME`] after it began).
pub struct Begun {
    pub token: Zeroizing<String>,
}

impl std::fmt::Debug for Begun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is the session's credential: not for logs.
        f.debug_struct("Begun").finish_non_exhaustive()
    }
}

/// A session a request presented, still valid, and its key as the caller.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    csrf_token: String,
    token_sha256: Vec<u8>,
}

impl Session {
    /// The token state-changing requests must echo (written into each page).
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// Whether `presented` is the session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf_token
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The CSRF token and the token's digest are credentials: not for logs.
        f.debug_struct("Session")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> Vec<u8> {
    crate::app::api_keys::hash_secret(token)
}

/// Begins a session for `caller`, who has just proved its key; recorded in the audit trail.
/// The session of the cookie the browser still held (`replacing`), if any, ends: one browser,
/// one session. Expired sessions are cleared on the way.
pub async fn begin(
    app: &AppState,
    ctx: &AuditContext,
    caller: &Caller,
    replacing: Option<&str>,
) -> Result<Begun, AppError> {
    let replaced = replacing.map(digest).unwrap_or_default();
    let token = Zeroizing::new(ids::random_base62(TOKEN_LEN));
    let now = app.clock.now_millis();
    let row = UiSessionRow {
        token_sha256: digest(&token),
        api_key_id: caller.key_id.clone(),
        csrf_token: ids::random_base62(CSRF_LEN),
        created_at: now,
        expires_at: now + LIFETIME.as_millis() as i64,
    };
    let (ctx, event) = (ctx.clone(), events::ui_session(&caller.key_id, true));
    app.store
        .write(move |tx| {
            Box::pin(async move {
                tx.delete_ui_session(&replaced, now).await?;
                tx.insert_ui_session(&row).await?;
                tx.record(&ctx, &event).await?;
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(Begun { token })
}

/// The session `token` names, if it has not expired and its key is still active.
pub async fn find(app: &AppState, token: &str) -> Result<Option<Session>, AppError> {
    let (token_sha256, now) = (digest(token), app.clock.now_millis());
    let key = token_sha256.clone();
    let Some(row) = app
        .store
        .read_point(move |tx| Box::pin(async move { tx.ui_session(&key, now).await }))
        .await?
    else {
        return Ok(None);
    };
    let Some(caller) = app.keys.active(&row.api_key_id).await? else {
        return Ok(None);
    };
    Ok(Some(Session {
        caller,
        csrf_token: row.csrf_token,
        token_sha256,
    }))
}

/// Ends `session` (signing out); recorded in the audit trail.
pub async fn end(app: &AppState, ctx: &AuditContext, session: &Session) -> Result<(), AppError> {
    let (ctx, key, now) = (
        ctx.clone(),
        session.token_sha256.clone(),
        app.clock.now_millis(),
    );
    let event = events::ui_session(&session.caller.key_id, false);
    app.store
        .write(move |tx| {
            Box::pin(async move {
                tx.delete_ui_session(&key, now).await?;
                tx.record(&ctx, &event).await?;
                Ok::<_, AppError>(())
            })
        })
        .await
}
