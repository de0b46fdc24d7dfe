//! The store's schema migrations: one sequence, the same version numbers on both backends.
//! Migration N brings a store from version N-1 to N; each has a file per backend in
//! `migrations/`, `NNNN_name.sqlite.sql` and `NNNN_name.postgres.sql`, written for that
//! backend's types. Append only: a released migration never changes.
//!
//! To add one: write both files, add a line below. SQLite records the version in
//! `PRAGMA user_version`, PostgreSQL in the `jackal_schema` table.

/// One step of the schema, in each backend's dialect.
pub(super) struct Migration {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            sqlite: include_str!(concat!("migrations/", $name, ".sqlite.sql")),
            postgres: include_str!(concat!("migrations/", $name, ".postgres.sql")),
        }
    };
}

pub(super) const MIGRATIONS: &[Migration] = &[
    migration!("0001_initial"),
    migration!("0002_people_roles_permissions"),
    migration!("0003_audit"),
    migration!("0004_schema_snapshot"),
    migration!("0005_data_source_description_and_last_test"),
    migration!("0006_data_source_ssh"),
    migration!("0007_data_source_tls"),
    migration!("0008_test_history"),
    migration!("0009_monitor_claim"),
    migration!("0010_api_key_changes"),
    migration!("0011_status_page"),
    migration!("0012_alerts"),
];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
