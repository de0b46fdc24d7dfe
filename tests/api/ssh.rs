//! `POST /connection-test` through the real SSH servers of scripts/test-databases: the tunnel's
//! secrets sent beside configUri, checked on arrival, never answered, logged or recorded.

use reqwest::Method;
use serde_json::Value;

use crate::connection_test::{live, test_stored};
use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with, test_key, TestApp};

fn bastion_uri(pin: Option<&str>) -> String {
    let (host, port) = live::SSH_BASTION.get().rsplit_once(':').unwrap();
    let mut uri = format!(
        "{}?ssl=false&sshHost={host}&sshPort={port}&sshUser={}",
        live::pg_admin_url("postgres"),
        live::SSH_USER.get()
    );
    if let Some(pin) = pin {
        uri.push_str(&format!("&sshHostKey={}", pin.replace('+', "%2B")));
    }
    uri
}

async fn test(app: &TestApp, pairs: &[(&str, &str)]) -> reqwest::Response {
    let body = serde_urlencoded::to_string(pairs).unwrap();
    app.form(Method::POST, "/connection-test", &body).await
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn a_tunnelled_test_succeeds_and_names_each_hop_and_phase() {
    live::require(&[&live::PG_MAIN, &live::SSH_BASTION]);
    let app = spawn_app().await;
    let key = live::ssh_client_key("id_ed25519");
    let uri = bastion_uri(Some(&live::ssh_fingerprint("bastion")));
    let result = ok_json(test(&app, &[("configUri", &uri), ("sshPrivateKey", &key)]).await).await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["version"]["productName"], "PostgreSQL");
    let hop = format!("{}@{}", live::SSH_USER.get(), live::SSH_BASTION.get());
    let ssh: Vec<(String, String)> = result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("hop").is_some())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["hop"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ssh,
        [
            ("ssh_connect".to_owned(), hop.clone()),
            ("ssh_auth".to_owned(), hop.clone()),
            ("ssh_forward".to_owned(), hop),
        ]
    );

    // Nothing of the key in the answer, the audit trail or the server log.
    let body = key.lines().nth(1).unwrap().to_owned();
    assert!(!result.to_string().contains(&body));
    let audit = ok_json(app.get("/audit?limit=100").await).await;
    assert!(!audit.to_string().contains(&body), "{audit}");
    assert!(
        audit.to_string().contains("sshHost"),
        "the route is recorded: {audit}"
    );

    // Counted as tunnelled, by outcome.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jackal_tunnelled_tests_total{outcome=\"success\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn an_unpinned_bastion_answers_its_fingerprint_and_the_option_to_add() {
    live::require(&[&live::PG_MAIN, &live::SSH_BASTION]);
    let app = spawn_app().await;
    let key = live::ssh_client_key("id_ed25519");
    let result = ok_json(
        test(
            &app,
            &[("configUri", &bastion_uri(None)), ("sshPrivateKey", &key)],
        )
        .await,
    )
    .await;
    assert_eq!(result["success"], false);
    assert_eq!(result["errorCode"], "ssh_host_key_unknown", "{result}");
    let message = result["message"].as_str().unwrap();
    assert!(message.contains(&live::ssh_fingerprint("bastion")) && message.contains("sshHostKey"));
}

/// A passphrase-protected key (scripts/test-databases's) without its passphrase, or with a
/// wrong one, is a 400 naming the passphrase argument.
#[tokio::test]
#[ignore = "live: needs the client keys of SSH_DIR (scripts/test-databases)"]
async fn a_protected_key_without_its_passphrase_is_a_400_naming_it() {
    let app = spawn_app().await;
    let uri = "postgresql://u@127.0.0.1:1/db?sshHost=127.0.0.1&sshUser=x";
    let protected = live::ssh_client_key("id_ed25519_pass");
    let err = error_json(
        test(&app, &[("configUri", uri), ("sshPrivateKey", &protected)]).await,
        400,
        "invalid_argument",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sshKeyPassphrase"),
        "{err}"
    );
    let err = error_json(
        test(
            &app,
            &[
                ("configUri", uri),
                ("sshPrivateKey", &protected),
                ("sshKeyPassphrase", "wrong"),
            ],
        )
        .await,
        400,
        "invalid_argument",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not decrypt"),
        "{err}"
    );
}

#[tokio::test]
async fn unusable_ssh_secrets_are_a_400_that_names_the_argument_and_echoes_nothing() {
    let app = spawn_app().await;
    let uri = "postgresql://u@127.0.0.1:1/db?sshHost=127.0.0.1&sshUser=x";
    let garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET-LOOKING-TEXT\n-----END OPENSSH PRIVATE KEY-----";
    let err: Value = error_json(
        test(&app, &[("configUri", uri), ("sshPrivateKey", garbage)]).await,
        400,
        "invalid_argument",
    )
    .await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("sshPrivateKey"), "{message}");
    assert!(!message.contains("SECRET-LOOKING-TEXT"), "{message}");

    // Secrets without a tunnel to use them.
    let err = error_json(
        test(
            &app,
            &[
                ("configUri", "postgresql://u@127.0.0.1:1/db"),
                ("sshPassword", "pw"),
            ],
        )
        .await,
        400,
        "invalid_argument",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sshHost"),
        "{err}"
    );

    // The same on an update of a data source without a tunnel.
    app.create(&[
        ("name", "plain"),
        ("alias", "plain"),
        ("configUri", "postgresql://u@h/db"),
    ])
    .await;
    let body = serde_urlencoded::to_string([("sshPassword", "pw")]).unwrap();
    let err = error_json(
        app.form(Method::PATCH, "/data-source/plain", &body).await,
        400,
        "invalid_argument",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sshHost"),
        "{err}"
    );
}

/// The middle line of a key file: secret material, never to be seen again.
fn secret_line(key: &str) -> String {
    key.lines().nth(2).unwrap().to_owned()
}

/// Creates `behind`: the machine's PostgreSQL through the pinned bastion, with the ed25519
/// client key. Returns the key, the configUri and the answer.
async fn create_behind(app: &TestApp) -> (String, String, Value) {
    let key = live::ssh_client_key("id_ed25519");
    let uri = bastion_uri(Some(&live::ssh_fingerprint("bastion")));
    let body = serde_urlencoded::to_string([
        ("name", "behind"),
        ("alias", "behind"),
        ("configUri", uri.as_str()),
        ("sshPrivateKey", key.as_str()),
    ])
    .unwrap();
    let created = ok_json(app.form(Method::POST, "/data-source", &body).await).await;
    (key, uri, created)
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, SSH_NOFORWARD (scripts/test-databases)"]
async fn a_saved_tunnel_keeps_its_key_sealed_shows_only_its_fingerprint_and_tests_through_it() {
    live::require(&[&live::PG_MAIN, &live::SSH_BASTION, &live::SSH_NOFORWARD]);
    let app = spawn_app().await;
    let (key, _, created) = create_behind(&app).await;
    let public = std::fs::read_to_string(
        std::path::Path::new(live::SSH_DIR.get()).join("client/id_ed25519.pub"),
    )
    .unwrap();
    let expected = jackal_drivers::ssh::HostKeyPin::parse(&public).unwrap();
    assert_eq!(created["ssh"]["auth"], "publicKey", "{created}");
    assert_eq!(created["ssh"]["publicKeyFingerprint"], expected.as_str());
    assert!(public.starts_with(created["ssh"]["publicKey"].as_str().unwrap()));

    let secret = secret_line(&key);
    let mut seen = vec![created.to_string()];
    for path in [
        "/data-source",
        "/data-source/behind",
        "/data-source/behind/detail",
    ] {
        seen.push(ok_json(app.get(path).await).await.to_string());
    }
    let tested = test_stored(&app, "behind").await;
    assert_eq!(tested["success"], true, "{tested}");
    seen.push(tested.to_string());
    // Introspection goes the same way.
    let schema = ok_json(
        app.request(Method::POST, "/data-source/behind/schema")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(schema["success"], true, "{schema}");
    assert!(
        schema["counts"]["schemas"].as_u64().unwrap() >= 1,
        "{schema}"
    );
    seen.push(ok_json(app.get("/audit?limit=100").await).await.to_string());
    for text in &seen {
        assert!(!text.contains(&secret), "{text}");
    }

    // Another bastion, no key sent: the stored key and the password stay behind.
    let (host, port) = live::SSH_NOFORWARD.get().rsplit_once(':').unwrap();
    let moved = format!(
        "{}?ssl=false&sshHost={host}&sshPort={port}&sshUser={}&sshHostKey={}",
        live::pg_admin_url("postgres"),
        live::SSH_USER.get(),
        live::ssh_fingerprint("noforward").replace('+', "%2B")
    );
    let body = serde_urlencoded::to_string([("configUri", moved.as_str())]).unwrap();
    let updated = ok_json(app.form(Method::PATCH, "/data-source/behind", &body).await).await;
    assert_eq!(updated["ssh"]["auth"], "none", "{updated}");
    let tested = test_stored(&app, "behind").await;
    assert_eq!(tested["errorCode"], "ssh_auth_failed", "{tested}");
    assert!(tested["message"]
        .as_str()
        .unwrap()
        .contains("no SSH credentials"));

    // The key sent again on its own: stored for the route the data source has now.
    let body = serde_urlencoded::to_string([("sshPrivateKey", key.as_str())]).unwrap();
    let updated = ok_json(app.form(Method::PATCH, "/data-source/behind", &body).await).await;
    assert_eq!(updated["ssh"]["auth"], "publicKey", "{updated}");
    let tested = test_stored(&app, "behind").await;
    assert_eq!(tested["errorCode"], "ssh_forward_denied", "{tested}");

    let audit = ok_json(app.get("/audit?limit=100").await).await.to_string();
    assert!(
        audit.contains("sshSecrets") && !audit.contains(&secret),
        "{audit}"
    );

    // Nothing of the key at rest but sealed bytes.
    let (dir, _) = app.stop().await;
    for (place, bytes) in crate::helpers::store_contents(dir.path()).await {
        assert!(
            !crate::helpers::holds(&bytes, &secret),
            "the key in {place}"
        );
    }
}

/// A MariaDB data source's configUri with the test user and `password`, through the SSH
/// server at `ssh` (pinned by the fingerprint of `name`).
fn mariadb_via(password: &str, ssh: &str, name: &str) -> String {
    let (host, port) = ssh.rsplit_once(':').unwrap();
    format!(
        "mysql://{}:{password}@{}/{}?ssl=false&sshHost={host}&sshPort={port}&sshUser={}&sshHostKey={}",
        live::USER.get(),
        live::MARIADB_PLAIN.get(),
        live::DATABASE.get(),
        live::SSH_USER.get(),
        live::ssh_fingerprint(name).replace('+', "%2B")
    )
}

/// The real binary at `RUST_LOG=debug`: MariaDB through two tunnels (a password login, and a
/// passphrase-protected key) and over mutual TLS (an encrypted client key), a failing test, a
/// moved bastion. No secret in any answer, in the debug log, in the audit trail or in the
/// store's files; the moved data source lost its database password (its test is refused by
/// MariaDB).
#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN, MARIADB_TLS, SSH_BASTION, SSH_PASSWORD_SERVER (scripts/test-databases)"]
async fn no_secret_reaches_a_debug_log_an_answer_the_audit_or_the_store() {
    live::require(&[
        &live::MARIADB_PLAIN,
        &live::MARIADB_TLS,
        &live::SSH_BASTION,
        &live::SSH_PASSWORD_SERVER,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = (
        "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e",
        "debug-log-key-secret-0123456789",
    );
    let mut cmd = crate::cli::jackal_with_key(dir.path(), id, secret);
    cmd.env("RUST_LOG", "debug");
    let (mut server, _) = crate::cli::serve(cmd, dir.path());
    let client = reqwest::Client::new();
    // One call, its answer as JSON (a 200 is required).
    let call = |method: Method, path: &str, pairs: &[(&str, &str)]| {
        let request = client
            .request(
                method.clone(),
                format!("http://127.0.0.1:{}/api/v2{path}", server.1),
            )
            .header("User-Agent", crate::helpers::USER_AGENT)
            .header("Accept", crate::helpers::VENDOR_ACCEPT)
            .basic_auth(format!("{id}@api"), Some(secret));
        let request = match method {
            Method::GET => request,
            _ => request.form(pairs),
        };
        async move { ok_json(request.send().await.unwrap()).await }
    };
    let password = live::PASSWORD.get();
    let key = live::ssh_client_key("id_ed25519_pass");
    let passphrase = live::SSH_KEY_PASSPHRASE.get();
    let ssh_password = live::SSH_PASSWORD.get();
    let read = |name: &str| std::fs::read_to_string(live::ca_dir().join(name)).unwrap();
    let client_key = read("client-encrypted-key.pem");
    let key_password = "jackal-key-pw-1";
    // Answers, and whether the contract has them carry the database password (create, update
    // and detail do).
    let mut seen: Vec<(String, bool)> = Vec::new();

    let by_password = mariadb_via(password, &live::SSH_PASSWORD_SERVER, "password");
    let created = call(
        Method::POST,
        "/data-source",
        &[
            ("name", "by-password"),
            ("alias", "by-password"),
            ("configUri", &by_password),
            ("sshPassword", ssh_password),
        ],
    )
    .await;
    assert_eq!(created["ssh"]["auth"], "password", "{created}");
    seen.push((created.to_string(), true));
    let by_key = mariadb_via(password, &live::SSH_BASTION, "bastion");
    let created = call(
        Method::POST,
        "/data-source",
        &[
            ("name", "by-key"),
            ("alias", "by-key"),
            ("configUri", &by_key),
            ("sshPrivateKey", &key),
            ("sshKeyPassphrase", passphrase),
        ],
    )
    .await;
    assert_eq!(created["ssh"]["auth"], "publicKey", "{created}");
    seen.push((created.to_string(), true));
    let by_cert = format!(
        "mysql://jackal_cert:{password}@{}/{}?validateSsl=false",
        live::MARIADB_TLS.get(),
        live::DATABASE.get()
    );
    let created = call(
        Method::POST,
        "/data-source",
        &[
            ("name", "by-cert"),
            ("alias", "by-cert"),
            ("configUri", &by_cert),
            ("sslCert", &read("client-encrypted.pem")),
            ("sslKey", &client_key),
            ("sslKeyPassword", key_password),
        ],
    )
    .await;
    assert_eq!(
        created["tls"]["clientCertificate"]["subject"], "CN=jackal_test",
        "{created}"
    );
    seen.push((created.to_string(), true));

    for alias in ["by-password", "by-key", "by-cert"] {
        let tested = call(Method::POST, &format!("/data-source/{alias}/test"), &[]).await;
        assert_eq!(tested["success"], true, "{alias}: {tested}");
        assert_eq!(tested["version"]["productName"], "MariaDB", "{tested}");
        seen.push((tested.to_string(), false));
    }
    // An unsaved test with a wrong database password: the database's own code.
    let wrong = mariadb_via("wrong-pw", &live::SSH_BASTION, "bastion");
    let tested = call(
        Method::POST,
        "/connection-test",
        &[
            ("configUri", &wrong),
            ("sshPrivateKey", &key),
            ("sshKeyPassphrase", passphrase),
        ],
    )
    .await;
    assert_eq!(tested["errorCode"], "auth_failed", "{tested}");
    seen.push((tested.to_string(), false));

    // The bastion moves (the key sent again for it): the database password stays behind.
    let (host, port) = live::SSH_BASTION.get().rsplit_once(':').unwrap();
    let moved = by_password
        .replace(
            &format!("{}:{password}@", live::USER.get()),
            &format!("{}@", live::USER.get()),
        )
        .replace(
            &live::SSH_PASSWORD_SERVER
                .get()
                .rsplit_once(':')
                .unwrap()
                .1
                .to_string(),
            port,
        )
        .replace(
            &live::ssh_fingerprint("password").replace('+', "%2B"),
            &live::ssh_fingerprint("bastion").replace('+', "%2B"),
        );
    assert!(
        moved.contains(&format!("sshHost={host}&sshPort={port}")),
        "{moved}"
    );
    let updated = call(
        Method::PATCH,
        "/data-source/by-password",
        &[
            ("configUri", &moved),
            ("sshPrivateKey", &key),
            ("sshKeyPassphrase", passphrase),
        ],
    )
    .await;
    assert_eq!(updated["ssh"]["auth"], "publicKey", "{updated}");
    seen.push((updated.to_string(), true));
    let tested = call(Method::POST, "/data-source/by-password/test", &[]).await;
    assert_eq!(tested["errorCode"], "auth_failed", "{tested}");
    seen.push((tested.to_string(), false));
    for path in [
        "/data-source",
        "/data-source/by-key/detail",
        "/data-source/by-password/detail",
        "/data-source/by-cert/detail",
        "/audit?limit=100",
    ] {
        let answer = call(Method::GET, path, &[]).await;
        seen.push((answer.to_string(), path.ends_with("/detail")));
    }
    let log = server.stop_and_read_log();
    // The log is at debug: it holds the SSH client's own lines (about 200 of them).
    assert!(log.contains("DEBUG russh"), "{log}");
    let secrets = [
        password.to_owned(),
        ssh_password.to_owned(),
        passphrase.to_owned(),
        secret_line(&key),
        secret_line(&client_key),
        key_password.to_owned(),
        secret.to_owned(),
    ];
    let stored = secrets.len() - 1;
    for (i, (text, echoes_password)) in seen.iter().enumerate() {
        let skip = usize::from(*echoes_password);
        for s in &secrets[skip..] {
            assert!(
                !text.contains(s.as_str()),
                "answer {i} holds a secret: {text}"
            );
        }
    }
    for s in &secrets[..stored] {
        assert!(!log.contains(s.as_str()), "the debug log holds a secret");
    }
    drop(server);
    for (place, bytes) in crate::helpers::store_contents(dir.path()).await {
        for s in &secrets[..stored] {
            assert!(!crate::helpers::holds(&bytes, s), "a secret in {place}");
        }
    }
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn a_patch_of_only_the_database_host_cannot_take_the_kept_key_to_a_denied_address() {
    live::require(&[&live::PG_MAIN, &live::SSH_BASTION]);
    const DENIED: &str = "127.0.0.5";
    let (port, accepted) = live::silent_listener_at(DENIED).await;
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.egress.deny = vec![format!("{DENIED}/32").parse().unwrap()];
    })
    .await;
    let (key, uri, _) = create_behind(&app).await;
    assert_eq!(test_stored(&app, "behind").await["success"], true);

    // Only the database's host changes: the SSH key stays (it belongs to the route), and the
    // test is refused before the bastion is asked for anything.
    let moved = uri.replace(live::PG_MAIN.get(), &format!("{DENIED}:{port}"));
    assert_ne!(moved, uri);
    let body = serde_urlencoded::to_string([("configUri", moved.as_str())]).unwrap();
    let updated = ok_json(app.form(Method::PATCH, "/data-source/behind", &body).await).await;
    assert_eq!(updated["ssh"]["auth"], "publicKey", "{updated}");
    let tested = test_stored(&app, "behind").await;
    assert_eq!(tested["errorCode"], "denied_by_policy", "{tested}");
    assert!(
        tested["message"].as_str().unwrap().contains(DENIED),
        "{tested}"
    );

    // The address in another spelling is no host at all, in a PATCH or an unsaved test.
    for odd in ["127.5", "2130706437", "0x7f000005", "0177.0.0.5", "127.0.5"] {
        let moved = uri.replace(live::PG_MAIN.get(), &format!("{odd}:{port}"));
        let body = serde_urlencoded::to_string([("configUri", moved.as_str())]).unwrap();
        let err = error_json(
            app.form(Method::PATCH, "/data-source/behind", &body).await,
            400,
            "invalid_config_uri",
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("configUri") && message.contains("dotted quad"),
            "{odd}: {message}"
        );
        // An unsaved test answers a configUri it cannot read as a failed test, as always.
        let result =
            ok_json(test(&app, &[("configUri", &moved), ("sshPrivateKey", &key)]).await).await;
        assert_eq!(result["errorCode"], "invalid_uri", "{odd}: {result}");
        assert!(
            result["message"].as_str().unwrap().contains("dotted quad"),
            "{odd}: {result}"
        );
    }
    // A negative: a dial let through would reach the listener well within 200 ms.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}
