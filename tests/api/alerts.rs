//! Alerts (docs/alerts.md) over real HTTP, with a real webhook receiver on a loopback port that
//! checks each POST's signature: a data source goes down after `after_failures` failed tests in
//! a row and up after `after_successes`, each change is one signed event with no secret in it,
//! a failing receiver gets each event once it accepts, and a flapping data source is quiet.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jackal::config::{WebhookFormat, WebhookSettings};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::connection_test::{live, test_stored};
use crate::helpers::{
    create_database, database_name, error_json, jackal_url, key_file_in, ok_json, spawn_app_with,
    test_key, test_store_admin, wait_until, TestApp,
};

/// The password in every configUri here: it must never reach a receiver.
const PASSWORD: &str = "Al3rtS3cretPw";
const WEBHOOK_KEY: &[u8] = b"webhook-signing-key";

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    body: String,
    event_id: String,
    timestamp: String,
    signature: String,
    accepted: bool,
}

/// A webhook receiver on 127.0.0.1 that answers 500 to its first `fail_first` POSTs, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        tokio::spawn(async move {
            let seen = Arc::new(AtomicUsize::new(0));
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (log, seen) = (log.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &log, &seen, fail_first).await;
                });
            }
        });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r.accepted)
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }
}

/// Reads one HTTP/1.1 request, records it, answers and closes.
async fn serve(
    mut stream: TcpStream,
    log: &Mutex<Vec<Received>>,
    seen: &AtomicUsize,
    fail_first: usize,
) -> std::io::Result<()> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let accepted = seen.fetch_add(1, Ordering::SeqCst) >= fail_first;
    log.lock().unwrap().push(Received {
        body: String::from_utf8_lossy(&data[head_end..]).to_string(),
        event_id: header("x-jackal-event-id"),
        timestamp: header("x-jackal-timestamp"),
        signature: header("x-jackal-signature"),
        accepted,
    });
    let status = if accepted {
        "200 OK"
    } else {
        "500 Internal Server Error"
    };
    stream
        .write_all(
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    stream.shutdown().await
}

/// Checks `r`'s signature as a receiver would: HMAC-SHA256 of `{timestamp}.{body}`, and a
/// timestamp within five minutes.
fn assert_signed(r: &Received) {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_KEY);
    let hex_sig = r
        .signature
        .strip_prefix("sha256=")
        .unwrap_or_else(|| panic!("signature without sha256=: {r:?}"));
    let message = format!("{}.{}", r.timestamp, r.body);
    ring::hmac::verify(&key, message.as_bytes(), &hex::decode(hex_sig).unwrap())
        .unwrap_or_else(|_| panic!("the signature does not verify: {r:?}"));
    let at: i64 = r.timestamp.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now - at).abs() < 300, "timestamp {at}, now {now}");
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body["id"],
        r.event_id.as_str(),
        "the idempotency key is the event id"
    );
}

/// A TCP relay on 127.0.0.1 in front of `target`, that the test turns off (each connection is
/// closed at once, as a stopped database's would be) and on.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let on = up.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                if !on.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { port, up }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

async fn app_with_webhook(receiver: &Receiver, dir: tempfile::TempDir) -> TestApp {
    let secret_file = dir.path().join("webhook.key");
    std::fs::write(&secret_file, [WEBHOOK_KEY, b"\n"].concat()).unwrap();
    let url = receiver.url.clone();
    spawn_app_with(dir, test_key(), move |s| {
        s.limits.tests_burst = 100;
        s.alerts.base_url = Some("https://jackal.example.org".to_owned());
        s.alerts.webhook = vec![WebhookSettings {
            name: "ops".to_owned(),
            url,
            secret_file,
            format: WebhookFormat::Json,
        }];
    })
    .await
}

fn state_of<'a>(alerts: &'a Value, alias: &str) -> &'a Value {
    alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dataSource"]["alias"] == alias)
        .unwrap_or_else(|| panic!("{alias} not in {alerts}"))
}

fn assert_no_secret(receiver: &Receiver) {
    for r in receiver.received() {
        assert!(
            !r.body.contains(PASSWORD),
            "a secret in an event: {}",
            r.body
        );
        assert!(
            !r.body.contains(std::str::from_utf8(WEBHOOK_KEY).unwrap()),
            "the signing key in an event"
        );
    }
}

/// A receiver that fails three times gets the `down` event once after the retries (1 s, 2 s,
/// 4 s apart), signed, with the incident and a link, and no password; the API shows the state
/// and the open incident.
#[tokio::test]
async fn a_down_event_reaches_a_failing_receiver_once_after_retries() {
    let receiver = Receiver::start(3).await;
    let app = app_with_webhook(&receiver, tempfile::tempdir().unwrap()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let created = app
        .create(&[
            ("name", "Ledger"),
            ("alias", "ledger"),
            (
                "configUri",
                &format!("postgresql://u:{PASSWORD}@127.0.0.1:{port}/db"),
            ),
        ])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let alerts = ok_json(app.get("/alerts").await).await;
    assert_eq!(state_of(&alerts, "ledger")["state"], "unknown", "{alerts}");

    assert_eq!(test_stored(&app, "ledger").await["errorCode"], "refused");
    let alerts = ok_json(app.get("/alerts").await).await;
    assert_eq!(
        state_of(&alerts, "ledger")["state"],
        "unknown",
        "one failure is no incident: {alerts}"
    );
    test_stored(&app, "ledger").await;
    let alerts = ok_json(app.get("/alerts").await).await;
    let entry = state_of(&alerts, "ledger");
    assert_eq!(entry["state"], "down", "{alerts}");
    assert_eq!(
        entry["incident"]["errorCodes"],
        serde_json::json!(["refused"])
    );
    assert!(entry["incident"]["end"].is_null(), "{alerts}");

    wait_until(Duration::from_secs(30), "the event accepted", || async {
        !receiver.accepted().is_empty()
    })
    .await;
    // Beyond the next retry's time: nothing more comes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        4,
        "3 refused POSTs, 1 accepted: {received:?}"
    );
    assert!(
        received.iter().all(|r| r.event_id == received[0].event_id),
        "one event, retried: {received:?}"
    );
    received.iter().for_each(assert_signed);
    let events = receiver.accepted();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["type"], "data_source.down");
    assert_eq!(event["dataSource"]["id"], id.as_str());
    assert_eq!(event["dataSource"]["name"], "Ledger");
    assert_eq!(event["dataSource"]["type"], "postgresql");
    assert_eq!(
        event["dataSource"]["address"],
        format!("127.0.0.1:{port}").as_str()
    );
    assert_eq!(event["lastResult"]["errorCode"], "refused");
    assert_eq!(
        event["link"],
        format!("https://jackal.example.org/ui/data-source/{id}").as_str()
    );
    assert_eq!(event["incident"]["id"], entry["incident"]["id"]);
    assert_no_secret(&receiver);
    let metrics = app.metrics().await;
    for line in [
        "jackal_alert_deliveries_total{channel=\"ops\",outcome=\"failed\"} 3",
        "jackal_alert_deliveries_total{channel=\"ops\",outcome=\"delivered\"} 1",
        "jackal_alert_outbox_backlog 0",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }

    let incidents = ok_json(app.get("/data-source/ledger/incidents").await).await;
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    let none = ok_json(
        app.get("/data-source/ledger/incidents?since=2999-01-01T00:00:00Z")
            .await,
    )
    .await;
    assert_eq!(
        none.as_array().unwrap().len(),
        1,
        "an open incident is open now: {none}"
    );
    error_json(
        app.get("/data-source/ledger/incidents?since=yesterday")
            .await,
        400,
        "invalid_argument",
    )
    .await;
    error_json(
        app.get("/data-source/nope/incidents").await,
        404,
        "data_source_not_found",
    )
    .await;
}

/// A database stopped and started behind a relay gives exactly one `down` and one `up`, in
/// order, for one incident; a flapping one (fail, pass, fail, pass) gives none.
#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn a_stopped_and_started_database_gives_one_down_and_one_up() {
    live::require(&[&live::PG_MAIN]);
    let receiver = Receiver::start(0).await;
    let app = app_with_webhook(&receiver, tempfile::tempdir().unwrap()).await;
    let (steady, flapping) = (
        Relay::start(live::PG_MAIN.to_string()).await,
        Relay::start(live::PG_MAIN.to_string()).await,
    );
    for (alias, relay) in [("steady", &steady), ("flapping", &flapping)] {
        app.create(&[
            ("name", alias),
            ("alias", alias),
            (
                "configUri",
                &format!(
                    "postgresql://{}:{PASSWORD}@127.0.0.1:{}/postgres?ssl=false",
                    live::PG_ADMIN_USER,
                    relay.port
                ),
            ),
        ])
        .await;
    }
    assert_eq!(test_stored(&app, "steady").await["success"], true);
    steady.set(false);
    for _ in 0..3 {
        assert_eq!(test_stored(&app, "steady").await["success"], false);
    }
    steady.set(true);
    assert_eq!(test_stored(&app, "steady").await["success"], true);
    assert_eq!(test_stored(&app, "steady").await["success"], true);

    for up in [false, true, false, true] {
        flapping.set(up);
        assert_eq!(test_stored(&app, "flapping").await["success"], up);
    }

    wait_until(Duration::from_secs(10), "two events", || async {
        receiver.accepted().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = receiver.accepted();
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e["dataSource"]["alias"].clone(), e["type"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("steady".into(), "data_source.down".into()),
            ("steady".into(), "data_source.up".into())
        ],
        "{events:?}"
    );
    assert_eq!(events[0]["incident"]["id"], events[1]["incident"]["id"]);
    assert!(events[1]["incident"]["durationSeconds"].as_f64().unwrap() > 0.0);
    receiver.received().iter().for_each(assert_signed);
    assert_no_secret(&receiver);

    let alerts = ok_json(app.get("/alerts").await).await;
    assert_eq!(state_of(&alerts, "steady")["state"], "up", "{alerts}");
    assert!(state_of(&alerts, "steady")["incident"].is_null());
    assert_eq!(state_of(&alerts, "flapping")["state"], "up", "{alerts}");
    let incidents = ok_json(app.get("/data-source/steady/incidents").await).await;
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert!(incidents[0]["end"].is_string(), "{incidents}");
    let none = ok_json(app.get("/data-source/flapping/incidents").await).await;
    assert_eq!(none, serde_json::json!([]));
}

/// Two servers on one PostgreSQL store, both sending: ten down/up cycles, tested through either
/// server, reach the receiver as twenty events, each exactly once and in order.
#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn two_servers_on_one_store_send_each_event_exactly_once() {
    live::require(&[&live::PG_MAIN]);
    let receiver = Receiver::start(0).await;
    let first_dir = tempfile::tempdir().unwrap();
    let admin = test_store_admin().unwrap_or_else(|| live::pg_admin_url("postgres"));
    let db = database_name(first_dir.path());
    create_database(&admin, &db).await.unwrap();
    let (store, key_file) = (jackal_url(&admin, &db), key_file_in(first_dir.path()));
    let secret_file = first_dir.path().join("webhook.key");
    std::fs::write(&secret_file, WEBHOOK_KEY).unwrap();
    let key = test_key();
    let mut servers = Vec::new();
    for dir in [first_dir, tempfile::tempdir().unwrap()] {
        let (store, key_file, secret_file, url) = (
            store.clone(),
            key_file.clone(),
            secret_file.clone(),
            receiver.url.clone(),
        );
        servers.push(
            spawn_app_with(dir, key.clone(), move |s| {
                s.store.url = Some(store);
                s.secrets.key_file = Some(key_file);
                s.limits.tests_burst = 1000;
                s.alerts.webhook = vec![WebhookSettings {
                    name: "ops".to_owned(),
                    url,
                    secret_file,
                    format: WebhookFormat::Json,
                }];
            })
            .await,
        );
    }
    let relay = Relay::start(live::PG_MAIN.to_string()).await;
    servers[0]
        .create(&[
            ("name", "shared"),
            ("alias", "shared"),
            (
                "configUri",
                &format!(
                    "postgresql://{}@127.0.0.1:{}/postgres?ssl=false",
                    live::PG_ADMIN_USER,
                    relay.port
                ),
            ),
        ])
        .await;
    const CYCLES: usize = 10;
    for _ in 0..CYCLES {
        relay.set(false);
        assert_eq!(test_stored(&servers[0], "shared").await["success"], false);
        assert_eq!(test_stored(&servers[1], "shared").await["success"], false);
        relay.set(true);
        assert_eq!(test_stored(&servers[1], "shared").await["success"], true);
    }
    wait_until(Duration::from_secs(60), "every event", || async {
        receiver.received().len() >= 2 * CYCLES
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2 * CYCLES, "each event once: {received:?}");
    let ids: std::collections::BTreeSet<_> = received.iter().map(|r| &r.event_id).collect();
    assert_eq!(ids.len(), 2 * CYCLES, "{received:?}");
    let kinds: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..CYCLES)
        .flat_map(|_| ["data_source.down", "data_source.up"])
        .map(str::to_owned)
        .collect();
    assert_eq!(kinds, expected, "in order");
    received.iter().for_each(assert_signed);
}

/// `jackal alerts test CHANNEL` POSTs one signed `alerts.test` event and says so; a receiver
/// that refuses it, or an unknown channel, is a failure that says why.
// Two workers: the receiver answers while the test waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jackal_alerts_test_sends_one_signed_test_event() {
    let receiver = Receiver::start(1).await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("webhook.key");
    std::fs::write(&secret_file, WEBHOOK_KEY).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[alerts.webhook]]\nname = \"ops\"\nurl = \"{}\"\nsecret_file = \"{}\"\n",
            receiver.url,
            secret_file.display()
        ),
    )
    .unwrap();
    let run = |channel: &str| {
        crate::cli::jackal(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["alerts", "test", channel])
            .output()
            .unwrap()
    };
    let refused = run("ops");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("HTTP 500"), "{said}");
    assert!(
        !said.contains(&receiver.url),
        "the URL may hold a token: {said}"
    );

    let sent = run("ops");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("ops: delivered (HTTP 200)"));
    let events = receiver.accepted();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "alerts.test");
    assert_eq!(events[0]["channel"], "ops");
    receiver.received().iter().for_each(assert_signed);

    let unknown = run("pager");
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("\"pager\"") && said.contains("ops"), "{said}");
}
