//! HAL answers: `application/hal+json` with `_links`, relative as Mode writes them; the
//! workspace in the path.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde::Serialize;

use crate::api::error::{ApiError, ErrorCode};
use crate::app::data_sources;
use crate::app::{AppError, AppState};
use crate::store::{DataSourceRow, Entity};

use super::error::*;
use super::HAL_CONTENT_TYPE;

pub(super) fn hal(status: StatusCode, value: &impl Serialize) -> Result<HttpResponse, ModeError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HAL_CONTENT_TYPE))
        .body(body))
}

/// A HAL link.
#[derive(Debug, Serialize)]
pub(super) struct Link {
    href: String,
    templated: bool,
}

pub(super) fn link(href: String) -> Link {
    Link {
        href,
        templated: false,
    }
}

/// Where the Mode dialect's resources are, for `_links` (relative, as Mode writes them).
pub(super) struct Paths<'a> {
    pub(super) workspace: &'a str,
}

impl Paths<'_> {
    pub(super) fn list(&self) -> String {
        format!("/api/{}/data_sources", self.workspace)
    }

    pub(super) fn data_source(&self, token: &str) -> String {
        format!("{}/{token}", self.list())
    }

    pub(super) fn schema_updates(&self, token: &str) -> String {
        format!("{}/schema_updates", self.data_source(token))
    }
}

/// The workspace in the path, checked against `[mode] workspace`.
pub(super) fn workspace<'a>(state: &'a AppState, name: &str) -> Result<Paths<'a>, ModeError> {
    if name != state.mode_workspace {
        return Err(ApiError::new(
            ErrorCode::WorkspaceNotFound,
            format!(
                "no workspace is named {name:?}: this server's workspace is {:?} \
                 (GET /api/{}/data_sources)",
                state.mode_workspace, state.mode_workspace
            ),
        )
        .into());
    }
    Ok(Paths {
        workspace: &state.mode_workspace,
    })
}

/// `err` in Mode's words: a data source is named by its token.
pub(super) fn in_mode_words(err: AppError, paths: &Paths<'_>, token: &str) -> ModeError {
    match err {
        AppError::NotFound(Entity::DataSource, _) => ApiError::new(
            ErrorCode::DataSourceNotFound,
            format!(
                "no data source has the token {token:?}; GET {} lists them",
                paths.list()
            ),
        )
        .into(),
        other => ApiError::from(other).into(),
    }
}

/// The workspace and the data source that a `/{workspace}/data_sources/{token}` path names.
pub(super) async fn located(
    state: &AppState,
    path: (String, String),
) -> Result<(Paths<'_>, DataSourceRow), ModeError> {
    let (workspace_name, token) = path;
    let paths = workspace(state, &workspace_name)?;
    let row = find(state, &paths, &token).await?;
    Ok((paths, row))
}

pub(super) async fn find(
    state: &AppState,
    paths: &Paths<'_>,
    token: &str,
) -> Result<DataSourceRow, ModeError> {
    data_sources::find(state, token)
        .await
        .map_err(|e| in_mode_words(e, paths, token))
}
