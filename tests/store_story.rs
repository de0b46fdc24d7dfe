//! The store story: one sequence of use cases, no HTTP, run on the SQLite store and on a
//! PostgreSQL store, each step's outcome written down as a line. Both backends must tell the
//! same story, line for line, and it must be the story below: the rules live in `app`, so a
//! backend that broke one (an order, a constraint, a cascade, an id reused) shows up here as a
//! line that differs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal::app::data_sources::{self, Changes, NewDataSource};
use jackal::app::people::{self, NewPerson};
use jackal::app::permissions::{self, Scope};
use jackal::app::status_page::down_since;
use jackal::app::{api_keys, audit, roles, AppError, AppState};
use jackal::clock::{Clock, ManualClock};
use jackal::config::Settings;
use jackal::store::{AuditContext, AuditFilter, Member, Page, TestHistoryRow};
use jackal_drivers::ConnectionSpec;

#[path = "../drivers/tests/common/mod.rs"]
mod live;
/// What a step came to, as a line of the story.
fn said<T>(result: Result<T, AppError>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => ok(value),
        Err(AppError::Taken { field, value }) => format!("taken: {field} {value}"),
        Err(AppError::NotFound(entity, key)) => format!("not found: {entity} {key}"),
        Err(AppError::NotLocked(key)) => format!("not locked: {key}"),
        Err(other) => format!("error: {other}"),
    }
}

fn spec(uri: &str) -> ConnectionSpec {
    ConnectionSpec::parse(uri).unwrap()
}

/// The story, told against `app`; the lines it wrote.
async fn tell(app: &AppState, clock: &ManualClock) -> Vec<String> {
    let mut story = Vec::new();
    let ctx = |clock: &ManualClock| AuditContext {
        api_key_id: Some("story-key".into()),
        client_addr: Some("127.0.0.1".into()),
        at: clock.now_millis(),
    };
    let new_ds = |name: &str, alias: Option<&str>, uri: &str| NewDataSource {
        name: name.into(),
        alias: alias.map(str::to_owned),
        spec: spec(uri),
        description: String::new(),
    };

    // Data sources: aliases are unique, a password never follows a moved destination.
    let ledger = data_sources::create(
        app,
        &ctx(clock),
        new_ds(
            "Ledger",
            Some("ledger"),
            "postgresql://app:Story-Pw-1@db.example.com/ledger",
        ),
    )
    .await
    .unwrap()
    .0;
    story.push(format!(
        "ledger has a password: {}",
        ledger.password_enc.is_some()
    ));
    story.push(said(
        data_sources::create(
            app,
            &ctx(clock),
            new_ds("Other", Some("ledger"), "mysql://h/db"),
        )
        .await,
        |_| "a second ledger alias was accepted".into(),
    ));
    story.push(said(data_sources::find(app, "ledger").await, |r| {
        format!("found by alias: {}", r.id == ledger.id)
    }));
    clock.advance(std::time::Duration::from_millis(0));
    let renamed = data_sources::update(
        app,
        &ctx(clock),
        "ledger",
        Changes {
            name: Some("Ledger (prod)".into()),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    story.push(format!(
        "renamed within the same millisecond, updatedAt moved: {}",
        renamed.updated_at > ledger.updated_at
    ));
    let moved = data_sources::update(
        app,
        &ctx(clock),
        ledger.id.as_str(),
        Changes {
            spec: Some(spec("postgresql://app@elsewhere.example.com/ledger")),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    story.push(format!(
        "moved to another host, password kept: {}",
        moved.password_enc.is_some()
    ));
    let shop = data_sources::create(
        app,
        &ctx(clock),
        new_ds("Shop", None, "mysql://shop@h/shop"),
    )
    .await
    .unwrap()
    .0;

    // People: usernames, then emails (case-insensitive), are unique; delete needs a lock.
    let person = |name: &str, email: &str, username: &str| NewPerson {
        name: name.into(),
        email: email.into(),
        username: username.into(),
    };
    let ann = people::create(app, &ctx(clock), person("Ann", "Ann@Example.com", "ann"))
        .await
        .unwrap();
    for (email, username) in [
        ("other@example.com", "ann"),
        ("ann@example.COM", "ann2"),
        ("ann@example.com", "ann"),
    ] {
        story.push(said(
            people::create(app, &ctx(clock), person("X", email, username)).await,
            |p| format!("created {}", p.username),
        ));
    }
    people::create(app, &ctx(clock), person("Bob", "bob@example.com", "bob"))
        .await
        .unwrap();
    story.push(said(people::find(app, "ANN@example.com").await, |p| {
        format!("found by email, any case: {}", p.id == ann.id)
    }));
    story.push(said(people::delete(app, &ctx(clock), "bob").await, |()| {
        "deleted bob unlocked".into()
    }));

    // Roles: names are unique; membership is idempotent and moves updatedAt once.
    let finance = roles::create(app, &ctx(clock), "Finance".into())
        .await
        .unwrap();
    story.push(said(
        roles::create(app, &ctx(clock), "Finance".into()).await,
        |_| "a second Finance was accepted".into(),
    ));
    for _ in 0..2 {
        roles::set_member(
            app,
            &ctx(clock),
            "Finance",
            Member::DataSource,
            "ledger",
            true,
        )
        .await
        .unwrap();
    }
    roles::set_member(app, &ctx(clock), "Finance", Member::Person, "ann", true)
        .await
        .unwrap();
    let after = roles::find(app, "Finance").await.unwrap();
    story.push(format!(
        "membership moved updatedAt: {}",
        after.updated_at > finance.updated_at
    ));
    story.push(said(
        roles::set_member(app, &ctx(clock), "Finance", Member::Person, "nobody", true).await,
        |()| "added nobody".into(),
    ));
    story.push(said(
        roles::set_member(app, &ctx(clock), "Nope", Member::Person, "nobody", true).await,
        |()| "added to no role".into(),
    ));
    story.push(format!(
        "finance holds: {:?}",
        roles::data_sources(app, "Finance")
            .await
            .unwrap()
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
    ));

    // Permissions: ids are never reused; what a person reaches follows roles and windows.
    let now = clock.now_millis();
    let by_name = permissions::grant(app, &ctx(clock), "Shop", "bob", now, 3600).await;
    story.push(said(by_name, |p| {
        format!("granted bob Shop by name: {}", p.id)
    }));
    let first = permissions::grant(app, &ctx(clock), shop.id.as_str(), "bob", now, 3600)
        .await
        .unwrap();
    permissions::revoke(app, &ctx(clock), first.id)
        .await
        .unwrap();
    let second = permissions::grant(app, &ctx(clock), shop.id.as_str(), "bob", now - 10, 3600)
        .await
        .unwrap();
    story.push(format!("ids not reused: {}", second.id > first.id));
    let future = permissions::grant(app, &ctx(clock), "ledger", "bob", now + 60_000, 60)
        .await
        .unwrap();
    let reach = |key: &'static str| async move {
        people::reachable_data_sources(app, key, now)
            .await
            .unwrap()
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
    };
    story.push(format!(
        "ann reaches {:?}, bob reaches {:?}",
        reach("ann").await,
        reach("bob").await
    ));
    story.push(format!(
        "bob's permissions on ledger: {}",
        permissions::scoped(
            app,
            Scope::Pair {
                data_source: "ledger".into(),
                person: "bob".into()
            }
        )
        .await
        .unwrap()
        .len()
    ));
    people::set_locked(app, &ctx(clock), "bob", true)
        .await
        .unwrap();
    people::set_locked(app, &ctx(clock), "bob", true)
        .await
        .unwrap();
    story.push(format!("locked bob reaches {:?}", reach("bob").await));
    story.push(format!(
        "revoked on shop: {}",
        permissions::revoke_scoped(app, &ctx(clock), Scope::DataSource(shop.id.to_string()))
            .await
            .unwrap()
    ));
    story.push(said(people::delete(app, &ctx(clock), "bob").await, |()| {
        "deleted locked bob".into()
    }));
    story.push(said(permissions::find(app, future.id).await, |_| {
        "bob's permission outlived him".into()
    }));

    // Deleting a data source takes its memberships with it.
    data_sources::delete(app, &ctx(clock), "ledger")
        .await
        .unwrap();
    story.push(format!(
        "finance after ledger went: {:?}",
        roles::data_sources(app, "Finance").await.unwrap().len()
    ));
    story.push(format!(
        "data sources left: {:?}",
        data_sources::list(app, Page::ALL)
            .await
            .unwrap()
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
    ));

    // API keys.
    let key = api_keys::create(&app.store, "story").await.unwrap();
    let verified = |secret: String| {
        let (keys, id) = (app.keys.clone(), key.id.clone());
        async move { keys.verify(&id, &secret).await.unwrap().is_some() }
    };
    story.push(format!(
        "key verifies: {}, wrong secret: {}",
        verified(key.secret.clone()).await,
        verified("wrong".into()).await
    ));
    api_keys::revoke(&app.store, &key.id, clock.now_millis())
        .await
        .unwrap();
    // The server remembers keys and hears of the revocation within milliseconds (the key
    // watch); a second is the story's patience.
    let heard = Instant::now() + Duration::from_secs(1);
    while verified(key.secret.clone()).await && Instant::now() < heard {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    story.push(format!(
        "revoked key verifies: {}",
        verified(key.secret.clone()).await
    ));

    // The trail: every change once, in order; no-op repeats recorded nowhere.
    let trail = audit::list(
        &app.store,
        AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap();
    story.push(format!(
        "trail: {}",
        trail
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    story
}

/// The story as it must be told.
const EXPECTED: &[&str] = &[
    "ledger has a password: true",
    "taken: alias ledger",
    "found by alias: true",
    "renamed within the same millisecond, updatedAt moved: true",
    "moved to another host, password kept: false",
    "taken: username ann",
    "taken: email ann@example.COM",
    "taken: username ann",
    "found by email, any case: true",
    "not locked: bob",
    "taken: role name Finance",
    "membership moved updatedAt: true",
    "not found: person nobody",
    "not found: role Nope",
    "finance holds: [\"Ledger (prod)\"]",
    "not found: data source Shop",
    "ids not reused: true",
    "ann reaches [\"Ledger (prod)\"], bob reaches [\"Shop\"]",
    "bob's permissions on ledger: 1",
    "locked bob reaches []",
    "revoked on shop: 1",
    "deleted locked bob",
    "not found: permission 3",
    "finance after ledger went: 0",
    "data sources left: [\"Shop\"]",
    "key verifies: true, wrong secret: false",
    "revoked key verifies: false",
    "trail: data_source.create data_source.update data_source.update data_source.create \
     person.create person.create role.create role.add_data_source role.add_person \
     permission.grant permission.revoke permission.grant permission.grant person.lock \
     permission.revoke_all person.delete data_source.delete",
];

async fn story_on(settings: Settings) -> Vec<String> {
    let clock = ManualClock::new(1_800_000_000_000);
    let app = AppState::open(&settings, Arc::new(clock.clone()))
        .await
        .expect("the store opens");
    tell(&app, &clock).await
}

#[tokio::test]
async fn the_sqlite_store_tells_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Settings::default();
    sqlite.store.path = dir.path().join("story.db");
    assert_eq!(story_on(sqlite).await, EXPECTED, "the SQLite store's story");
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn the_postgresql_store_tells_the_same_story() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, db) = fresh_postgres_database("story").await;
    let mut postgres = Settings::default();
    postgres.store.url = Some(format!("{}/{db}?ssl=false", admin_base(&admin)));
    postgres.secrets.key_file = Some(dir.path().join("pg.key"));
    let on_postgres = story_on(postgres).await;
    drop_database(&admin, &db).await;
    assert_eq!(on_postgres, EXPECTED, "the PostgreSQL store's story");
}

/// `postgresql://user@host:port` of an admin URL.
fn admin_base(admin: &str) -> String {
    let without_query = admin.split('?').next().unwrap();
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    match without_query[scheme_end..].find('/') {
        Some(i) => without_query[..scheme_end + i].to_owned(),
        None => without_query.to_owned(),
    }
}

async fn admin_client(admin: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(
        &format!("{}/postgres", admin_base(admin)),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A new database on JACKAL_TEST_STORE's server, else the local one; the test fails, saying to
/// run scripts/test-databases, when none answers.
async fn fresh_postgres_database(purpose: &str) -> (String, String) {
    let admin = std::env::var("JACKAL_TEST_STORE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| live::pg_admin_url("postgres"));
    let client = admin_client(&admin).await.unwrap_or_else(|e| {
        panic!("live test: no PostgreSQL at {admin}: {e}; run scripts/test-databases")
    });
    let db = format!("jackal_t_{purpose}_{}", std::process::id());
    // One statement each: a multi-statement batch runs as one transaction, which these refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        client.batch_execute(&sql).await.unwrap();
    }
    (admin, db)
}

async fn drop_database(admin: &str, db: &str) {
    if let Ok(client) = admin_client(admin).await {
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    }
}

/// The fleet's "down since" from the history (each store's SQL): the first failure after the
/// last success kept, and whether the history may have dropped the run's beginning.
async fn failure_runs_on(settings: Settings) -> Vec<String> {
    let clock = ManualClock::new(1_800_000_000_000);
    let app = AppState::open(&settings, Arc::new(clock.clone()))
        .await
        .expect("the store opens");
    let ctx = AuditContext {
        api_key_id: None,
        client_addr: None,
        at: clock.now_millis(),
    };
    // Oldest first; the history keeps 3 results, so the first of the first is dropped.
    let stories: [(&str, &[bool]); 3] = [
        ("recovered, then down", &[false, true, false, false]),
        ("never up", &[false, false, false]),
        ("up again", &[false, true]),
    ];
    let mut lines = Vec::new();
    for (name, results) in stories {
        let mut row = data_sources::create(
            &app,
            &ctx,
            NewDataSource {
                name: name.into(),
                alias: None,
                spec: spec("postgresql://u@127.0.0.1:1/x"),
                description: String::new(),
            },
        )
        .await
        .unwrap()
        .0;
        for (n, ok) in results.iter().enumerate() {
            let test = TestHistoryRow {
                data_source_id: row.id.clone(),
                tested_at: 1000 * (n as i64 + 1),
                success: *ok,
                error_code: (!ok).then(|| "refused".to_owned()),
                duration_us: 5,
                product_name: None,
                product_version: None,
            };
            app.store
                .write(move |tx| Box::pin(async move { tx.add_test_history(&test, 3).await }))
                .await
                .unwrap();
        }
        let id = row.id.clone();
        let runs = app
            .store
            .read(move |tx| Box::pin(async move { tx.failure_runs(Some(&id)).await }))
            .await
            .unwrap();
        row.last_test_ok = results.last().copied();
        lines.push(match runs.first() {
            Some(run) => format!(
                "{name}: since {}, {} failures, after a success: {}; {:?}",
                run.since,
                run.failures,
                run.after_success,
                down_since(&row, Some(run), 3)
            ),
            None => format!("{name}: no run of failures"),
        });
    }
    let every = app
        .store
        .read(|tx| Box::pin(async move { tx.failure_runs(None).await }))
        .await
        .unwrap();
    lines.push(format!("runs in the fleet: {}", every.len()));
    lines
}

const FAILURE_RUNS: &[&str] = &[
    "recovered, then down: since 3000, 2 failures, after a success: true; \
     Some(DownSince { at: 3000, at_least: false })",
    "never up: since 1000, 3 failures, after a success: false; \
     Some(DownSince { at: 1000, at_least: true })",
    "up again: no run of failures",
    "runs in the fleet: 2",
];

#[tokio::test]
async fn the_sqlite_store_finds_each_run_of_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Settings::default();
    sqlite.store.path = dir.path().join("runs.db");
    assert_eq!(failure_runs_on(sqlite).await, FAILURE_RUNS);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn the_postgresql_store_finds_the_same_runs_of_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, db) = fresh_postgres_database("runs").await;
    let mut postgres = Settings::default();
    postgres.store.url = Some(format!("{}/{db}?ssl=false", admin_base(&admin)));
    postgres.secrets.key_file = Some(dir.path().join("pg.key"));
    let on_postgres = failure_runs_on(postgres).await;
    drop_database(&admin, &db).await;
    assert_eq!(on_postgres, FAILURE_RUNS);
}
