//! What an audit record says about a data source: names, configUri parts and whether the
//! password was set, changed or removed. Never a password.

use jackal_drivers::ConnectionSpec;
use serde_json::{json, Map, Value};

/// The parts of a (password-free) configUri worth telling apart, by name.
fn uri_parts(config_uri: &str) -> Vec<(&'static str, Value)> {
    let Ok(spec) = ConnectionSpec::parse(config_uri) else {
        return vec![("configUri", json!(config_uri))];
    };
    vec![
        ("type", json!(spec.kind().as_str())),
        ("host", json!(spec.host())),
        ("port", json!(spec.effective_port())),
        ("user", json!(spec.user())),
        ("database", json!(spec.database())),
        (
            "path",
            json!(spec.sqlite_path().map(|p| p.display().to_string())),
        ),
        ("ssl", json!(spec.ssl())),
        ("validateSsl", json!(spec.validate_ssl())),
        (
            "sslRootCert",
            json!(spec.ssl_root_cert().map(|p| p.display().to_string())),
        ),
        (
            "connectTimeout",
            json!(spec.connect_timeout().map(|d| d.as_secs())),
        ),
    ]
}

/// A data source as created: its name, alias, redacted configUri and whether it has a password.
pub fn data_source_created(
    name: &str,
    alias: Option<&str>,
    config_uri: &str,
    has_password: bool,
) -> Value {
    json!({
        "name": name,
        "alias": alias,
        "configUri": config_uri,
        "password": if has_password { "set" } else { "none" },
    })
}

/// What changed between two versions of a data source: `{"host": {"from": a, "to": b}, ...}`.
pub fn data_source_changes(
    before: (&str, Option<&str>, &str, Option<&[u8]>),
    after: (&str, Option<&str>, &str, Option<&[u8]>),
) -> Value {
    let mut changes = Map::new();
    let mut note = |field: &str, from: Value, to: Value| {
        if from != to {
            changes.insert(field.to_owned(), json!({"from": from, "to": to}));
        }
    };
    note("name", json!(before.0), json!(after.0));
    note("alias", json!(before.1), json!(after.1));
    let (old, new) = (uri_parts(before.2), uri_parts(after.2));
    for ((field, from), (_, to)) in old.into_iter().zip(new) {
        note(field, from, to);
    }
    let password = match (before.3, after.3) {
        (None, Some(_)) => Some("set"),
        (Some(_), None) => Some("removed"),
        (Some(a), Some(b)) if a != b => Some("changed"),
        _ => None,
    };
    if let Some(what) = password {
        changes.insert("password".to_owned(), json!(what));
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_parts_and_never_the_password() {
        let before = (
            "GL",
            Some("gl"),
            "postgresql://u@a.example.com:5432/gl?validateSsl=false&ssl=false",
            Some(&b"sealed-1"[..]),
        );
        let after = (
            "GL",
            Some("gl"),
            "postgresql://u@b.example.com:5432/gl?validateSsl=false&ssl=true",
            Some(&b"sealed-2"[..]),
        );
        let changes = data_source_changes(before, after);
        assert_eq!(
            changes,
            json!({
                "host": {"from": "a.example.com", "to": "b.example.com"},
                "ssl": {"from": false, "to": true},
                "password": "changed",
            })
        );
        assert_eq!(data_source_changes(before, before), json!({}));
    }
}
