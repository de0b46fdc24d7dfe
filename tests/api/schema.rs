//! `POST` and `GET /data-source/:ds/schema` over real HTTP: a live PostgreSQL database made for
//! the test, an SQLite file, a closed port and a denied target.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with, test_key, TestApp};

use crate::connection_test::live;

async fn refresh(app: &TestApp, key: &str) -> Value {
    ok_json(
        app.request(Method::POST, &format!("/data-source/{key}/schema"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A new database on the local PostgreSQL (named `jackal_t_…`, so scripts/test drops it) with
/// two schemas, two tables and a view; its name.
async fn sample_database() -> String {
    let name = format!("jackal_t_schema_{}", uuid::Uuid::new_v4().simple());
    let connect = |db: &str| {
        let url = live::pg_admin_url(db);
        async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
        }
    };
    connect("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    connect(&name)
        .await
        .batch_execute(
            "CREATE TABLE public.item (id integer NOT NULL, label text, \
                 price numeric(10,2) NOT NULL);
             CREATE VIEW public.cheap AS SELECT id, label FROM public.item WHERE price < 10;
             CREATE SCHEMA sales;
             CREATE TABLE sales.orders (id bigint NOT NULL, placed timestamptz);",
        )
        .await
        .unwrap();
    name
}

fn table<'a>(snapshot: &'a Value, schema: &str, table: &str) -> &'a Value {
    snapshot["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == schema)
        .and_then(|s| {
            s["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == table)
        })
        .unwrap_or_else(|| panic!("no {schema}.{table} in {snapshot}"))
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn a_snapshot_is_fetched_kept_filtered_and_removed_with_its_data_source() {
    live::require(&[&live::PG_MAIN]);
    let db = sample_database().await;
    let app = spawn_app().await;
    let uri = live::pg_admin_url(&db) + "?ssl=false";
    let ds = app
        .create(&[("name", "Shop"), ("alias", "shop"), ("configUri", &uri)])
        .await;
    let id = ds["id"].as_str().unwrap();

    // Nothing fetched yet: a 404 that says how to fetch one.
    let none = error_json(
        app.get("/data-source/shop/schema").await,
        404,
        "schema_not_fetched",
    )
    .await;
    assert!(
        none["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /api/v2/data-source/shop/schema"),
        "{none}"
    );

    let fetched = refresh(&app, "shop").await;
    assert_eq!(fetched["success"], true, "{fetched}");
    assert_eq!(fetched["dataSourceId"], id);
    assert_eq!(fetched["version"]["productName"], "PostgreSQL");
    assert_eq!(
        fetched["counts"],
        serde_json::json!({"schemas": 2, "tables": 2, "views": 1, "columns": 7}),
        "{fetched}"
    );
    let item = table(&fetched, "public", "item");
    assert_eq!(item["kind"], "table");
    assert_eq!(
        item["columns"],
        serde_json::json!([
            {"name": "id", "dataType": "integer", "nullable": false},
            {"name": "label", "dataType": "text", "nullable": true},
            {"name": "price", "dataType": "numeric(10,2)", "nullable": false},
        ])
    );
    assert_eq!(table(&fetched, "public", "cheap")["kind"], "view");
    assert_eq!(
        table(&fetched, "sales", "orders")["columns"][1]["dataType"],
        "timestamp with time zone"
    );
    assert!(fetched["durationMs"].as_i64().unwrap() >= 0);

    // GET returns the same snapshot, and filters it.
    let kept = ok_json(app.get(&format!("/data-source/{id}/schema")).await).await;
    assert_eq!(kept, fetched);
    let sales = ok_json(app.get("/data-source/shop/schema?schema=sales").await).await;
    assert_eq!(sales["counts"]["schemas"], 1);
    assert_eq!(sales["schemas"][0]["name"], "sales");
    let items = ok_json(app.get("/data-source/shop/schema?table=item").await).await;
    assert_eq!(
        items["counts"],
        serde_json::json!({"schemas": 1, "tables": 1, "views": 0, "columns": 3})
    );
    let nothing = ok_json(app.get("/data-source/shop/schema?table=absent").await).await;
    assert_eq!(nothing["schemas"], serde_json::json!([]));
    let bad = error_json(
        app.get("/data-source/shop/schema?tables=item").await,
        400,
        "invalid_argument",
    )
    .await;
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("?table="));

    // A failed refresh answers like a failed test and keeps the snapshot.
    let moved = app
        .form(
            Method::PUT,
            "/data-source/shop",
            "configUri=postgresql%3A%2F%2Fpostgres%40127.0.0.1%3A1%2Fx%3Fssl%3Dfalse",
        )
        .await;
    ok_json(moved).await;
    let failed = refresh(&app, "shop").await;
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["errorCode"], "refused");
    assert!(failed["message"].as_str().unwrap().contains("127.0.0.1:1"));
    let still = ok_json(app.get("/data-source/shop/schema").await).await;
    assert_eq!(still["fetchedAt"], fetched["fetchedAt"]);

    // Both refreshes are in the audit trail.
    let audit = ok_json(app.get(&format!("/audit?objectId={id}")).await).await;
    let outcomes: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "data_source.introspect")
        .map(|e| &e["changes"])
        .collect();
    assert_eq!(outcomes.len(), 2, "{audit}");
    assert_eq!(outcomes[0]["tables"], 2);
    assert_eq!(outcomes[1]["errorCode"], "refused");

    // Deleting the data source removes its snapshot.
    ok_json(app.delete("/data-source/shop").await).await;
    error_json(
        app.get(&format!("/data-source/{id}/schema")).await,
        404,
        "data_source_not_found",
    )
    .await;
}

#[tokio::test]
async fn an_sqlite_file_is_introspected_read_only() {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("inventory.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT NOT NULL, note);
         CREATE VIEW labels AS SELECT label FROM item;",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let allowed = files.path().to_owned();
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.drivers.sqlite.allowed_dirs = vec![allowed];
    })
    .await;
    app.create(&[
        ("name", "Inventory"),
        ("alias", "inv"),
        ("configUri", &format!("sqlite://{}", path.display())),
    ])
    .await;
    let fetched = refresh(&app, "inv").await;
    assert_eq!(fetched["success"], true, "{fetched}");
    assert_eq!(fetched["version"]["productName"], "SQLite");
    assert_eq!(fetched["schemas"][0]["name"], "main");
    let item = table(&fetched, "main", "item");
    assert_eq!(
        item["columns"],
        serde_json::json!([
            {"name": "id", "dataType": "INTEGER", "nullable": true},
            {"name": "label", "dataType": "TEXT", "nullable": false},
            {"name": "note", "dataType": "", "nullable": true},
        ])
    );
    assert_eq!(table(&fetched, "main", "labels")["kind"], "view");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );
}

#[tokio::test]
async fn a_denied_target_is_never_dialled_and_nothing_is_kept() {
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.egress.deny = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    app.create(&[
        ("name", "Local"),
        ("alias", "local"),
        (
            "configUri",
            &(live::pg_admin_url("postgres") + "?ssl=false"),
        ),
    ])
    .await;
    let failed = refresh(&app, "local").await;
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["errorCode"], "denied_by_policy");
    assert_eq!(
        failed["address"],
        Value::Null,
        "nothing was dialled: {failed}"
    );
    error_json(
        app.get("/data-source/local/schema").await,
        404,
        "schema_not_fetched",
    )
    .await;
    error_json(
        app.request(Method::POST, "/data-source/absent/schema")
            .send()
            .await
            .unwrap(),
        404,
        "data_source_not_found",
    )
    .await;
}

/// The document says a failed refresh names its data source like a snapshot does
/// (`SchemaFailure`), so a client can tell answers apart by their shape alone.
#[tokio::test]
async fn a_failed_refresh_names_its_data_source() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "Closed"),
            ("alias", "closed"),
            ("configUri", "postgresql://postgres@127.0.0.1:1/x?ssl=false"),
        ])
        .await;
    let failed = refresh(&app, "closed").await;
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["errorCode"], "refused", "{failed}");
    assert_eq!(failed["dataSourceId"], ds["id"], "{failed}");
}
