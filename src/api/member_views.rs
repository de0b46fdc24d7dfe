//! The Person and Role objects of the contract, which `person.rs` and `role.rs` each answer
//! with (a role's people, a person's roles).

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::docs::Timestamp;
use super::error::ApiError;
use super::reply::json_ok;
use crate::domain::time;
use crate::store::{PersonRow, RoleRow};

/// The contract's Person object.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonView {
    #[schema(pattern = "^P[0-9A-Za-z]{16}$", example = "P0cKFCMIHoNaBFt7Y")]
    pub id: String,
    pub name: String,
    /// Unique, ignoring case.
    pub email: String,
    /// Unique.
    pub username: String,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    /// A locked person reaches nothing, and only a locked person can be deleted.
    pub is_locked: bool,
}

impl From<&PersonRow> for PersonView {
    fn from(row: &PersonRow) -> Self {
        Self {
            id: row.id.to_string(),
            name: row.name.clone(),
            email: row.email.clone(),
            username: row.username.clone(),
            created_at: time::render_millis(row.created_at),
            is_locked: row.is_locked,
        }
    }
}

pub fn people_json(rows: &[PersonRow]) -> Result<HttpResponse, ApiError> {
    json_ok(&rows.iter().map(PersonView::from).collect::<Vec<_>>())
}

/// The contract's Role object.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    #[schema(pattern = "^R[0-9A-Za-z]{16}$", example = "RKm2x3dfX0b505iHy")]
    pub id: String,
    /// Unique.
    pub name: String,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    /// Moves when the role's members change.
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// Only in the roles of a data source: when it was added to the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<Timestamp>)]
    pub assigned_at: Option<String>,
}

impl From<&RoleRow> for RoleView {
    fn from(row: &RoleRow) -> Self {
        Self {
            id: row.id.to_string(),
            name: row.name.clone(),
            created_at: time::render_millis(row.created_at),
            updated_at: time::render_millis(row.updated_at),
            assigned_at: row.assigned_at.map(time::render_millis),
        }
    }
}
