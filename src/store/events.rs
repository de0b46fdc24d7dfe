//! The audit events each store change records, built in one place so that both backends write
//! the same trail: same actions, same objects, same `changes` (never a secret).

use serde_json::json;

use super::model::data_source_changes;
use super::{AuditEvent, DataSourceRow, Member, PersonRow, RoleRow};
use crate::domain::audit as domain_audit;
use crate::domain::time::render_millis;

fn event(
    action: &'static str,
    object_type: &'static str,
    object_id: &str,
    changes: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        action,
        object_type,
        object_id: object_id.to_owned(),
        changes,
    }
}

pub(super) fn data_source_created(row: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.create",
        "data_source",
        &row.id,
        domain_audit::data_source_created(
            &row.name,
            row.alias.as_deref(),
            &row.config_uri,
            row.password_enc.is_some(),
        ),
    )
}

pub(super) fn data_source_updated(before: &DataSourceRow, after: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.update",
        "data_source",
        &after.id,
        data_source_changes(before, after),
    )
}

pub(super) fn data_source_deleted(row: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.delete",
        "data_source",
        &row.id,
        json!({"name": row.name, "alias": row.alias}),
    )
}

pub(super) fn person_created(person: &PersonRow) -> AuditEvent {
    event(
        "person.create",
        "person",
        &person.id,
        json!({"name": person.name, "email": person.email, "username": person.username}),
    )
}

/// `person` is the row before the change.
pub(super) fn person_locked(person: &PersonRow, locked: bool) -> AuditEvent {
    event(
        if locked {
            "person.lock"
        } else {
            "person.unlock"
        },
        "person",
        &person.id,
        json!({"isLocked": {"from": !locked, "to": locked}}),
    )
}

pub(super) fn person_deleted(person: &PersonRow) -> AuditEvent {
    event(
        "person.delete",
        "person",
        &person.id,
        json!({"username": person.username}),
    )
}

pub(super) fn two_factor_reset(person: &PersonRow) -> AuditEvent {
    event("person.reset_two_factor", "person", &person.id, json!({}))
}

pub(super) fn person_permissions_revoked(person: &PersonRow, count: usize) -> AuditEvent {
    event(
        "permission.revoke_all",
        "person",
        &person.id,
        json!({"count": count}),
    )
}

pub(super) fn role_created(role: &RoleRow) -> AuditEvent {
    event("role.create", "role", &role.id, json!({"name": role.name}))
}

pub(super) fn role_deleted(role: &RoleRow) -> AuditEvent {
    event("role.delete", "role", &role.id, json!({"name": role.name}))
}

/// A data source or person added to (`member`) or removed from a role.
pub(super) fn role_member_changed(
    role_id: &str,
    kind: Member,
    member: bool,
    member_id: &str,
) -> AuditEvent {
    let (action, field) = match (kind, member) {
        (Member::DataSource, true) => ("role.add_data_source", "dataSourceId"),
        (Member::DataSource, false) => ("role.remove_data_source", "dataSourceId"),
        (Member::Person, true) => ("role.add_person", "personId"),
        (Member::Person, false) => ("role.remove_person", "personId"),
    };
    event(action, "role", role_id, json!({ field: member_id }))
}

pub(super) fn permission_granted(
    id: i64,
    person_id: &str,
    data_source_id: &str,
    starts_at: i64,
    expires_at: i64,
) -> AuditEvent {
    event(
        "permission.grant",
        "permission",
        &id.to_string(),
        json!({
            "personId": person_id,
            "dataSourceId": data_source_id,
            "startsAt": render_millis(starts_at),
            "expiresAt": render_millis(expires_at),
        }),
    )
}

pub(super) fn permission_revoked(id: i64) -> AuditEvent {
    event(
        "permission.revoke",
        "permission",
        &id.to_string(),
        json!({}),
    )
}

/// Every permission of a data source, or of one person on it, revoked at once.
pub(super) fn scoped_permissions_revoked(
    data_source_id: &str,
    person_id: Option<&str>,
    count: usize,
) -> AuditEvent {
    event(
        "permission.revoke_all",
        "data_source",
        data_source_id,
        json!({"count": count, "personId": person_id}),
    )
}
