//! `POST /connection-test` through the real SSH servers of scripts/test-databases: the tunnel's
//! secrets sent beside configUri, checked on arrival, never answered, logged or recorded.

use reqwest::Method;
use serde_json::Value;

use crate::connection_test::live;
use crate::helpers::{error_json, ok_json, spawn_app, TestApp};

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

fn up() -> bool {
    live::reachable(&live::PG_MAIN) && live::reachable(&live::SSH_BASTION)
}

#[tokio::test]
async fn a_tunnelled_test_succeeds_and_names_each_hop_and_phase() {
    if !up() {
        return;
    }
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
}

#[tokio::test]
async fn an_unpinned_bastion_answers_its_fingerprint_and_the_option_to_add() {
    if !up() {
        return;
    }
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

    if live::reachable(&live::SSH_BASTION) {
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
        err["error"]["message"].as_str().unwrap().contains("sshHost"),
        "{err}"
    );
}
