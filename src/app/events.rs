//! The audit events each change records, built in one place: the same actions, objects and
//! `changes` (never a secret) whichever store keeps them.

use serde_json::{json, Value};

use crate::domain::audit as domain_audit;
use crate::domain::ids::{DataSourceId, PersonId, RoleId};
use crate::domain::time::render_millis;
use crate::store::{AuditEvent, DataSourceRow, Member, PersonRow, RoleRow};

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

pub fn data_source_created(row: &DataSourceRow) -> AuditEvent {
    let mut changes = domain_audit::data_source_created(
        &row.name,
        row.alias.as_deref(),
        &row.config_uri,
        row.password_enc.is_some(),
    );
    // Present only with a tunnel's secrets, so other records keep their shape.
    if row.ssh_secret_enc.is_some() {
        changes["hasSshSecrets"] = json!(true);
    }
    // Likewise with TLS material: that there is some, never what.
    if row.tls_secret_enc.is_some() {
        changes["hasTlsMaterial"] = json!(true);
    }
    event(
        "data_source.create",
        "data_source",
        row.id.as_str(),
        changes,
    )
}

/// What an update of a data source changed (secrets removed).
fn data_source_changes(before: &DataSourceRow, after: &DataSourceRow) -> Value {
    fn view(row: &DataSourceRow) -> (&str, Option<&str>, &str, Option<&[u8]>) {
        (
            row.name.as_str(),
            row.alias.as_deref(),
            row.config_uri.as_str(),
            row.password_enc.as_deref(),
        )
    }
    let mut changes = domain_audit::data_source_changes(view(before), view(after));
    if before.description != after.description {
        changes["description"] = json!({"from": before.description, "to": after.description});
    }
    // Whether the tunnel's secrets or the TLS material were replaced, dropped or first set;
    // never their values.
    let sealed_change = |before: &Option<Vec<u8>>, after: &Option<Vec<u8>>| {
        (before != after).then(|| {
            json!({
                "from": if before.is_some() { "stored" } else { "none" },
                "to": if after.is_some() { "new" } else { "none" },
            })
        })
    };
    if let Some(change) = sealed_change(&before.ssh_secret_enc, &after.ssh_secret_enc) {
        changes["sshSecrets"] = change;
    }
    if let Some(change) = sealed_change(&before.tls_secret_enc, &after.tls_secret_enc) {
        changes["tlsMaterial"] = change;
    }
    changes
}

pub fn data_source_updated(before: &DataSourceRow, after: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.update",
        "data_source",
        after.id.as_str(),
        data_source_changes(before, after),
    )
}

pub fn data_source_deleted(row: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.delete",
        "data_source",
        row.id.as_str(),
        json!({"name": row.name, "alias": row.alias}),
    )
}

pub fn person_created(person: &PersonRow) -> AuditEvent {
    event(
        "person.create",
        "person",
        person.id.as_str(),
        json!({"name": person.name, "email": person.email, "username": person.username}),
    )
}

/// `person` is the row before the change.
pub fn person_locked(person: &PersonRow, locked: bool) -> AuditEvent {
    event(
        if locked {
            "person.lock"
        } else {
            "person.unlock"
        },
        "person",
        person.id.as_str(),
        json!({"isLocked": {"from": !locked, "to": locked}}),
    )
}

pub fn person_deleted(person: &PersonRow) -> AuditEvent {
    event(
        "person.delete",
        "person",
        person.id.as_str(),
        json!({"username": person.username}),
    )
}

pub fn two_factor_reset(person: &PersonRow) -> AuditEvent {
    event(
        "person.reset_two_factor",
        "person",
        person.id.as_str(),
        json!({}),
    )
}

pub fn person_permissions_revoked(person: &PersonRow, count: u64) -> AuditEvent {
    event(
        "permission.revoke_all",
        "person",
        person.id.as_str(),
        json!({"count": count}),
    )
}

pub fn role_created(role: &RoleRow) -> AuditEvent {
    event(
        "role.create",
        "role",
        role.id.as_str(),
        json!({"name": role.name}),
    )
}

pub fn role_deleted(role: &RoleRow) -> AuditEvent {
    event(
        "role.delete",
        "role",
        role.id.as_str(),
        json!({"name": role.name}),
    )
}

/// A data source or person added to (`member`) or removed from a role.
pub fn role_member_changed(
    role_id: &RoleId,
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
    event(
        action,
        "role",
        role_id.as_str(),
        json!({ field: member_id }),
    )
}

pub fn permission_granted(
    id: i64,
    person_id: &PersonId,
    data_source_id: &DataSourceId,
    starts_at: i64,
    expires_at: i64,
) -> AuditEvent {
    event(
        "permission.grant",
        "permission",
        &id.to_string(),
        json!({
            "personId": person_id.as_str(),
            "dataSourceId": data_source_id.as_str(),
            "startsAt": render_millis(starts_at),
            "expiresAt": render_millis(expires_at),
        }),
    )
}

pub fn permission_revoked(id: i64) -> AuditEvent {
    event(
        "permission.revoke",
        "permission",
        &id.to_string(),
        json!({}),
    )
}

/// Every permission of a data source, or of one person on it, revoked at once.
pub fn scoped_permissions_revoked(
    data_source_id: &DataSourceId,
    person_id: Option<&PersonId>,
    count: u64,
) -> AuditEvent {
    event(
        "permission.revoke_all",
        "data_source",
        data_source_id.as_str(),
        json!({"count": count, "personId": person_id.map(PersonId::as_str)}),
    )
}

/// A password read back (`/detail`): recorded before it is sent, so no read goes unrecorded.
pub fn password_read(row: &DataSourceRow) -> AuditEvent {
    event(
        "data_source.read_password",
        "data_source",
        row.id.as_str(),
        json!({"hasPassword": row.password_enc.is_some()}),
    )
}

/// A connection test: of a saved data source, or of an unsaved configUri (`subject`, its
/// redacted form); `changes` says how it ended.
pub fn connection_tested(object_type: &'static str, subject: &str, changes: Value) -> AuditEvent {
    event("connection.test", object_type, subject, changes)
}

/// A fleet test (`POST /test-run`): what was asked and how it ended.
pub fn test_run(changes: Value) -> AuditEvent {
    event("connection.test_run", "test_run", "test_run", changes)
}

/// An introspection of a data source; `changes` says how it ended.
pub fn data_source_introspected(id: &DataSourceId, changes: Value) -> AuditEvent {
    event(
        "data_source.introspect",
        "data_source",
        id.as_str(),
        changes,
    )
}

/// A run of `jackal secrets rotate` that changed something, on the key file `key_file`.
pub fn secrets_rotated(key_file: &str, changes: Value) -> AuditEvent {
    event("secrets.rotate", "secret_key", key_file, changes)
}

/// What tests left about a data source (its snapshot, its last outcome) dropped.
pub fn data_source_purged(row: &DataSourceRow, snapshot: bool, test_result: bool) -> AuditEvent {
    event(
        "data_source.purge",
        "data_source",
        row.id.as_str(),
        json!({"schemaSnapshot": snapshot, "testResult": test_result}),
    )
}

/// A sign-in to the status page (`started`) or a sign-out, by the API key `key_id`.
pub fn ui_session(key_id: &str, started: bool) -> AuditEvent {
    let action = if started { "ui.sign_in" } else { "ui.sign_out" };
    event(action, "api_key", key_id, json!({}))
}
