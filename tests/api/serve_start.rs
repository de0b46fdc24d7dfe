//! What the real `jackal serve` does as it starts: the line about API keys it prints (the first
//! key once, then how many there are, never a secret), and the addresses it listens on when
//! `JACKAL_LISTEN` is a name.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::cli::{field, jackal, run, serve, whoami_with};

#[tokio::test]
async fn the_first_start_shows_the_key_once_and_later_starts_count_keys_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();

    let (first, printed) = serve(jackal(dir.path()), dir.path());
    let id = field(&printed, "  export JACKDB_API_KEY_ID=");
    let secret = field(&printed, "  export JACKDB_API_KEY_SECRET=");
    assert!(printed.contains("shown only now"), "{printed}");
    // How to make another, with the subcommand as the CLI spells it.
    assert!(
        printed.contains("jackal api-key create --name NAME"),
        "{printed}"
    );
    assert!(
        printed.contains("cargo run --release -- api-key create --name NAME"),
        "{printed}"
    );
    let client = reqwest::Client::new();
    assert_eq!(
        whoami_with(&client, first.1, &id, &secret).await.status(),
        200
    );
    drop(first);

    // The command the notice names works as printed.
    let created = run(jackal(dir.path()).args(["api-key", "create", "--name", "NAME"]));
    let second_secret = field(&created, "secret:");

    let (second, printed) = serve(jackal(dir.path()), dir.path());
    assert_eq!(printed.lines().count(), 1, "one line: {printed}");
    assert!(
        printed.contains("2 active API keys")
            && printed.contains("jackal api-key create --name NAME"),
        "{printed}"
    );
    for secret in [&secret, &second_secret] {
        assert!(!printed.contains(secret.as_str()), "a secret: {printed}");
    }
    assert!(!printed.contains("export"), "{printed}");
    assert_eq!(
        whoami_with(&client, second.1, &id, &secret).await.status(),
        200
    );
}

/// The addresses `name:0` resolves to that this host can bind (IPv6 may be off).
fn bindable(name: &str) -> BTreeSet<std::net::IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .unwrap()
        .filter(|address| TcpListener::bind(address).is_ok())
        .map(|address| address.ip())
        .collect()
}

#[tokio::test]
async fn a_listen_name_is_resolved_and_every_address_is_served_on_one_port() {
    let expected = bindable("localhost");
    assert!(
        expected.contains(&"127.0.0.1".parse().unwrap()),
        "{expected:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jackal(dir.path());
    cmd.env("JACKAL_LISTEN", "localhost:0");
    let (server, _) = serve(cmd, dir.path());

    // One log line per address served; the lines are written by the server's log thread, so
    // wait for all of them.
    let started = Instant::now();
    let served: Vec<SocketAddr> = loop {
        let log = std::fs::read_to_string(&server.2).unwrap();
        let served: Vec<SocketAddr> = log
            .split("serving the JackDB v2 API at http://")
            .skip(1)
            .map(|rest| rest.split("/api/v2").next().unwrap().parse().unwrap())
            .collect();
        if served.len() >= expected.len() {
            break served;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "served {served:?}, expected {expected:?}: {log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let ips: BTreeSet<_> = served.iter().map(|a| a.ip()).collect();
    assert_eq!(ips, expected, "{served:?}");
    assert!(served.iter().all(|a| a.port() == server.1), "{served:?}");

    // Each address answers.
    for address in &served {
        let res = reqwest::get(format!("http://{address}/healthz"))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{address}");
    }
}
