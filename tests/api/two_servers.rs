//! Two `jackal serve` processes on one PostgreSQL store, as behind a load balancer: what one
//! writes the other reads at once, a unique alias stays unique across them, and a password sealed
//! by one is opened by the other (one shared key file).
//!
//! Only meaningful on the PostgreSQL store, so it runs whatever JACKAL_TEST_STORE says: on the
//! server it names, else on the live tests' PG_MAIN as its superuser. Live tests: ignored by a
//! plain `cargo test`, run by scripts/test, failing when the server cannot be reached.

use std::path::Path;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use crate::cli::{jackal_with_key, serve, Server};
use crate::connection_test::live;
use crate::helpers::{
    create_database, database_name, error_json, jackal_url, ok_json, pg_error, test_key,
    test_store_admin, USER_AGENT, VENDOR_ACCEPT,
};

/// One of the two servers, as a client sees it.
struct Node {
    base: String,
    client: reqwest::Client,
    id: String,
    secret: String,
    /// The shared store's URL.
    store: String,
    _server: Server,
}

impl Node {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("User-Agent", USER_AGENT)
            .header("Accept", VENDOR_ACCEPT)
            .basic_auth(format!("{}@api", self.id), Some(&self.secret))
    }

    async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    async fn put(&self, path: &str) -> Response {
        self.request(Method::PUT, path).send().await.unwrap()
    }

    /// A form body, each value form-encoded.
    async fn form(&self, method: Method, path: &str, pairs: &[(&str, &str)]) -> Response {
        self.request(method, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(pairs).unwrap())
            .send()
            .await
            .unwrap()
    }
}

/// The PostgreSQL admin URL to run on, after creating `db` through it; the test fails, saying
/// to run scripts/test-databases, when that cannot be done.
async fn admin_creating(db: &str) -> String {
    let admin = test_store_admin().unwrap_or_else(|| live::pg_admin_url("postgres"));
    let reached = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        create_database(&admin, db),
    )
    .await;
    match reached {
        Ok(Ok(())) => admin,
        Ok(Err(e)) => panic!(
            "live test: cannot create database {db} through {admin}: {}; run scripts/test-databases",
            pg_error(&e)
        ),
        Err(_) => panic!("live test: no answer from {admin} within 15 s; run scripts/test-databases"),
    }
}

/// Starts `jackal serve` on `url` with the shared key file and API key.
fn start(dir: &Path, url: &str, id: &str, secret: &str) -> Node {
    let mut cmd = jackal_with_key(dir, id, secret);
    cmd.env("JACKAL_STORE", url)
        .env("JACKAL_SECRET_KEY_FILE", dir.join("shared.key"));
    let (server, _) = serve(cmd, dir);
    Node {
        base: format!("http://127.0.0.1:{}/api/v2", server.1),
        client: reqwest::Client::new(),
        id: id.to_owned(),
        secret: secret.to_owned(),
        store: url.to_owned(),
        _server: server,
    }
}

/// Two servers on one fresh database; the second starts once the first has made the key.
async fn two_servers(dir: &Path) -> (Node, Node) {
    let db = database_name(dir);
    let admin = admin_creating(&db).await;
    let url = jackal_url(&admin, &db);
    let key = test_key();
    let a = start(dir, &url, &key.id, &key.secret);
    let b = start(dir, &url, &key.id, &key.secret);
    assert_ne!(a.base, b.base);
    (a, b)
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn two_servers_on_one_postgresql_store_see_each_others_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(dir.path()).await;

    // Created on A (with a password): B reads it at once, the same, password included.
    let created = ok_json(
        a.form(
            Method::POST,
            "/data-source",
            &[
                ("name", "Shared"),
                ("alias", "shared"),
                (
                    "configUri",
                    "postgresql://app:Tw0-Servers-Pw@db.example.com:5432/app",
                ),
            ],
        )
        .await,
    )
    .await;
    let ds = id(&created);
    let path = format!("/data-source/{ds}");
    let on_a = ok_json(a.get(&path).await).await;
    let on_b = ok_json(b.get(&path).await).await;
    assert_eq!(on_b, on_a);
    assert!(!on_b.to_string().contains("Tw0-Servers-Pw"), "{on_b}");
    // The password sealed by A is opened by B: one shared key file.
    let detail = ok_json(b.get("/data-source/shared/detail").await).await;
    assert_eq!(detail["configUri"], created["configUri"]);
    assert!(
        detail["configUri"]
            .as_str()
            .unwrap()
            .contains("Tw0-Servers-Pw"),
        "{detail}"
    );

    // Updated on B: A sees the change at once.
    let updated = ok_json(
        b.form(Method::PATCH, &path, &[("name", "Renamed on B")])
            .await,
    )
    .await;
    assert_eq!(updated["name"], "Renamed on B");
    let on_a = ok_json(a.get(&path).await).await;
    assert_eq!(on_a["name"], "Renamed on B");
    assert_eq!(on_a["updatedAt"], updated["updatedAt"]);
    assert_eq!(on_a, ok_json(b.get(&path).await).await);
    assert_eq!(
        ok_json(a.get("/data-source/shared/detail").await).await["configUri"],
        created["configUri"]
    );

    // A role made on A, a data source added to it on B: A lists it.
    let second = ok_json(
        b.form(
            Method::POST,
            "/data-source",
            &[
                ("name", "Second"),
                ("configUri", "mysql://u@mysql.example.com/s"),
            ],
        )
        .await,
    )
    .await;
    ok_json(a.form(Method::POST, "/role", &[("name", "Finance")]).await).await;
    ok_json(
        b.put(&format!("/role/Finance/data-source/{}", id(&second)))
            .await,
    )
    .await;
    let members = ok_json(a.get("/role/Finance/data-source").await).await;
    let listed: Vec<String> = members.as_array().unwrap().iter().map(id).collect();
    assert_eq!(listed, [id(&second)], "{members}");

    // Deleted on A: gone on B.
    ok_json(a.delete(&path).await).await;
    error_json(b.get(&path).await, 404, "data_source_not_found").await;
    error_json(
        b.get("/data-source/shared/detail").await,
        404,
        "data_source_not_found",
    )
    .await;
    let left = ok_json(b.get("/data-source").await).await;
    let left: Vec<String> = left.as_array().unwrap().iter().map(id).collect();
    assert_eq!(left, [id(&second)]);
}

/// The same new alias sent to both servers at the same moment, 50 times: each time exactly one
/// create wins and the other is told the alias is taken.
#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn one_alias_raced_on_two_servers_is_created_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(dir.path()).await;
    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        let alias = format!("race-{round}");
        let pairs = [
            ("name", "race"),
            ("alias", alias.as_str()),
            ("configUri", "postgresql://u:p@db.example.com/race"),
        ];
        let (on_a, on_b) = tokio::join!(
            a.form(Method::POST, "/data-source", &pairs),
            b.form(Method::POST, "/data-source", &pairs),
        );
        let (won, lost, winner) = match (on_a.status().as_u16(), on_b.status().as_u16()) {
            (200, _) => (on_a, on_b, "A"),
            (_, 200) => (on_b, on_a, "B"),
            (sa, sb) => panic!(
                "round {round}: no create succeeded: A {sa} {}, B {sb} {}",
                on_a.text().await.unwrap(),
                on_b.text().await.unwrap()
            ),
        };
        let created = ok_json(won).await;
        assert_eq!(created["alias"], alias.as_str(), "round {round}");
        let clash = error_json(lost, 409, "alias_taken").await;
        assert!(
            clash["error"]["message"].as_str().unwrap().contains(&alias),
            "round {round} (won by {winner}): {clash}"
        );
        // Both servers name the winner by the alias.
        for node in [&a, &b] {
            let found = ok_json(node.get(&format!("/data-source/{alias}")).await).await;
            assert_eq!(found["id"], created["id"], "round {round}");
        }
    }
    for node in [&a, &b] {
        let list = ok_json(node.get("/data-source").await).await;
        assert_eq!(list.as_array().unwrap().len(), ROUNDS);
    }
}

/// `[monitor] interval` on two servers of one store: every periodic test runs on exactly one of
/// them (each data source has at most one result per period), and both do run tests.
#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn with_two_servers_each_periodic_test_runs_once_per_period() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[monitor]\ninterval = 1\n[limits]\ntests_burst = 100\n",
    )
    .unwrap();
    let (a, b) = two_servers(dir.path()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for i in 0..4 {
        ok_json(
            a.form(
                Method::POST,
                "/data-source",
                &[
                    ("name", &format!("m{i}")),
                    ("alias", &format!("m{i}")),
                    (
                        "configUri",
                        &format!("postgresql://u@127.0.0.1:{port}/db{i}"),
                    ),
                ],
            )
            .await,
        )
        .await;
    }
    // Each data source tested in at least 2 periods (the first 4.5 s took, on a quiet machine).
    let started = std::time::Instant::now();
    let mut histories = Vec::new();
    while histories.len() < 4 {
        let history = ok_json(
            b.get(&format!("/data-source/m{}/test-history", histories.len()))
                .await,
        )
        .await;
        if history.as_array().unwrap().len() >= 2 {
            histories.push(history);
            continue;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "m{} tested fewer than 2 times in 20 s: {history}",
            histories.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (i, history) in histories.iter().enumerate() {
        let periods: Vec<i64> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let at =
                    chrono::DateTime::parse_from_rfc3339(e["testedAt"].as_str().unwrap()).unwrap();
                at.timestamp_millis().div_euclid(1000)
            })
            .collect();
        let mut distinct = periods.clone();
        distinct.dedup();
        assert_eq!(
            distinct, periods,
            "m{i}: two tests in one period: {history}"
        );
    }
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn a_status_page_session_works_on_both_servers_until_signed_out_or_its_key_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(dir.path()).await;
    let root = |node: &Node| node.base.trim_end_matches("/api/v2").to_owned();
    let mut on_a = crate::ui::Browser::of(&root(&a));
    on_a.sign_in(&test_key_of(&a)).await;
    // The same cookie, sent to B: signed in there too (the session is in the shared store).
    let mut on_b = crate::ui::Browser::of(&root(&b));
    on_b.cookie = on_a.cookie.clone();
    let fleet = on_b.page("/ui/").await;
    assert!(fleet.contains("<h1>Fleet</h1>"), "{fleet}");
    // Signed out on B: refused on A at once.
    let csrf = on_b.csrf().await;
    assert_eq!(on_b.post("/ui/sign-out", &csrf).await.status(), 303);
    let res = on_a.get("/ui/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/ui/sign-in");

    // Signed in again on A; the key revoked by `jackal api-key revoke` (a third process): the
    // session is refused on B too, within the key watch's window.
    on_a.sign_in(&test_key_of(&a)).await;
    on_b.cookie = on_a.cookie.clone();
    on_b.page("/ui/").await;
    crate::cli::run(
        crate::cli::jackal(dir.path())
            .env("JACKAL_STORE", &a.store)
            .env("JACKAL_SECRET_KEY_FILE", dir.path().join("shared.key"))
            .args(["api-key", "revoke", &a.id]),
    );
    let revoked = std::time::Instant::now();
    while on_b.get("/ui/").await.status() != 303 {
        assert!(
            revoked.elapsed() < std::time::Duration::from_secs(1),
            "the revoked key's session still works on B"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    println!(
        "session refused on the other server {:?} after the revoke command exited",
        revoked.elapsed()
    );
}

fn test_key_of(node: &Node) -> jackal::app::api_keys::KeyCredentials {
    jackal::app::api_keys::KeyCredentials {
        id: node.id.clone(),
        secret: node.secret.clone(),
    }
}
