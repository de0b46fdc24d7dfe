//! `docker-compose.yml`, checked by Compose itself where it is installed: `docker compose config`
//! (the plugin) or `docker-compose config` (Debian's `docker-compose` package). Neither needs a
//! Docker engine, which these machines do not have, so the stack itself is not started here.

use std::process::{Command, Output};

const KEY_ID: &str = "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e";
const KEY_SECRET: &str = "compose-test-secret-0123";

/// The Compose command installed here, if any.
fn compose() -> Option<&'static [&'static str]> {
    let candidates: [&'static [&'static str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    candidates.into_iter().find(|c| {
        Command::new(c[0])
            .args(&c[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn config(compose: &[&str], with_key: bool) -> Output {
    let mut cmd = Command::new(compose[0]);
    cmd.args(&compose[1..])
        .args(["--file", "docker-compose.yml", "config"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("JACKDB_API_KEY_ID")
        .env_remove("JACKDB_API_KEY_SECRET");
    if with_key {
        cmd.env("JACKDB_API_KEY_ID", KEY_ID)
            .env("JACKDB_API_KEY_SECRET", KEY_SECRET);
    }
    cmd.output().expect("run compose config")
}

#[test]
#[ignore = "needs docker compose or docker-compose (apt-get install docker-compose)"]
fn compose_file_is_valid_and_refuses_to_start_without_an_api_key() {
    let compose = compose().expect(
        "neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)",
    );
    let ok = config(compose, true);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{compose:?} config failed: {stderr}");
    for service in ["jackal:", "postgres:", "mysql:"] {
        assert!(
            stdout.contains(service),
            "no {service} service in:\n{stdout}"
        );
    }
    // The key comes from the environment, PostgreSQL runs with TLS on, and Jackal is published
    // on loopback only.
    assert!(
        stdout.contains(&format!("JACKDB_API_KEY_ID: {KEY_ID}")),
        "{stdout}"
    );
    assert!(stdout.contains("ssl=on"), "{stdout}");
    assert!(stdout.contains("127.0.0.1:8080:8080"), "{stdout}");

    let refused = config(compose, false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "config passed without an API key"
    );
    assert!(stderr.contains("set JACKDB_API_KEY_ID"), "{stderr}");
}
