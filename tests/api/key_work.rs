//! Private keys sent beside configUri (`sshPrivateKey`, `sslKey`): every key derivation bounded
//! before it runs and run off the HTTP workers, each encrypted key decrypted once, when it
//! arrives, and stored decrypted; keys an older version stored encrypted still work.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use jackal::app::load_secrets;
use jackal::secrets::SecretBox;
use jackal::store::{SealedColumn, Store};
use reqwest::Method;
use serde_json::{json, Value};

use crate::connection_test::test_stored;
use crate::helpers::{
    error_json, holds, key_file_in, ok_json, pg_store, settings_in, spawn_app, spawn_app_in,
    store_contents, TestApp,
};

/// Held by the tests of this file that time answers or burn CPU (key generation, a decryption
/// at the bound): on two cores, one's work would otherwise show in another's timings.
static TIMED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `program args` with `stdin`; its output, which it must succeed to give.
fn run(program: &str, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// An ed25519 key `ssh-keygen` writes with `args` (e.g. `-N pw -a 16`): its text and its
/// public-key line.
fn ssh_key(args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let mut all = vec![
        "-q",
        "-t",
        "ed25519",
        "-C",
        "",
        "-f",
        path.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run("ssh-keygen", &all, "");
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (
        std::fs::read_to_string(&path).unwrap(),
        public.trim().to_owned(),
    )
}

/// The public-key line of the OpenSSH key `text` (with `passphrase`, "" for none).
fn ssh_public(text: &str, passphrase: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    run(
        "ssh-keygen",
        &["-y", "-P", passphrase, "-f", path.to_str().unwrap()],
        "",
    )
    .trim()
    .to_owned()
}

/// `text`, an encrypted OpenSSH key, asking for `rounds` of bcrypt: the KDF options are in
/// clear in the file, so they are written without decrypting anything.
fn with_rounds(text: &str, rounds: u32) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut bytes = b64.decode(body).unwrap();
    let read_len = |bytes: &[u8], at: usize| {
        u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
    };
    // "openssh-key-v1\0", cipher name, KDF name, then the KDF options: a string holding the
    // salt (a string) and the rounds.
    let mut at = b"openssh-key-v1\0".len();
    for _ in 0..2 {
        at += 4 + read_len(&bytes, at);
    }
    at += 4;
    at += 4 + read_len(&bytes, at);
    bytes[at..at + 4].copy_from_slice(&rounds.to_be_bytes());
    let encoded = b64.encode(&bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// An EC P-256 key as `openssl req -newkey` writes it (PKCS#8) and a self-signed certificate.
fn tls_pair() -> (String, String) {
    let out = run(
        "openssl",
        &[
            "req",
            "-x509",
            "-nodes",
            "-keyout",
            "-",
            "-subj",
            "/CN=jackal_client",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-days",
            "30",
        ],
        "",
    );
    let at = out.find("-----BEGIN CERTIFICATE-----").unwrap();
    (out[..at].to_owned(), out[at..].to_owned())
}

/// `key` encrypted by `openssl pkcs8 -topk8` with the password `pw` and `args`.
fn encrypted_pkcs8(key: &str, args: &[&str]) -> String {
    let mut all = vec!["pkcs8", "-topk8", "-passout", "pass:pw"];
    all.extend_from_slice(args);
    run("openssl", &all, key)
}

/// The public key of the PEM `key`, as `openssl pkey -pubout` prints it.
fn tls_public(key: &str) -> String {
    run("openssl", &["pkey", "-pubout", "-passin", "pass:"], key)
}

/// A configUri with a tunnel to a port of this machine where nothing listens.
fn tunnel_uri() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!(
        "postgresql://jackal@127.0.0.1:5432/jackal?ssl=false&connectTimeout=2&sshHost=127.0.0.1\
         &sshPort={port}&sshUser=jackal&sshHostKey=SHA256:{}",
        "A".repeat(43)
    )
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let body = serde_urlencoded::to_string(pairs).unwrap();
    app.request(method, path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_asking_for_endless_bcrypt_rounds_are_refused_at_once_while_healthz_answers() {
    let _timed = TIMED.lock().await;
    let app = spawn_app().await;
    let (key, _) = ssh_key(&["-N", "pw", "-a", "16"]);
    let endless = with_rounds(&key, u32::MAX);
    let uri = tunnel_uri();
    let pairs = [
        ("name", "endless"),
        ("configUri", uri.as_str()),
        ("sshPrivateKey", endless.as_str()),
        ("sshKeyPassphrase", "pw"),
    ];
    let refused = |path: &'static str| {
        let (app, pairs) = (&app, &pairs);
        async move {
            let started = Instant::now();
            // /connection-test takes no name.
            let sent = if path == "/data-source" {
                &pairs[..]
            } else {
                &pairs[1..]
            };
            let res = send(app, Method::POST, path, sent).await;
            (
                started.elapsed(),
                error_json(res, 400, "invalid_argument").await,
            )
        }
    };
    let healthz = async {
        let mut slowest = Duration::ZERO;
        for _ in 0..20 {
            let started = Instant::now();
            let res = app
                .client
                .get(format!("{}/healthz", app.address))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        slowest
    };
    let ((took_a, a), (took_b, b), slowest) = tokio::join!(
        refused("/data-source"),
        refused("/connection-test"),
        healthz
    );
    for (took, error) in [(took_a, a), (took_b, b)] {
        assert!(took < Duration::from_secs(1), "{took:?}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("sshPrivateKey") && message.contains("128 bcrypt rounds"),
            "{message}"
        );
    }
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
}

#[tokio::test]
async fn details_of_keys_that_arrived_under_the_strongest_allowed_kdf_answer_at_once() {
    let _timed = TIMED.lock().await;
    let app = spawn_app().await;
    let (key, cert) = tls_pair();
    let mut ids = Vec::new();
    // PBKDF2 at its bound, and scrypt as OpenSSL writes it (16 MiB; OpenSSL writes no more).
    for (name, args) in [
        ("pbkdf2", &["-v2", "aes-256-cbc", "-iter", "100000"][..]),
        ("scrypt", &["-scrypt"][..]),
    ] {
        let encrypted = encrypted_pkcs8(&key, args);
        let started = Instant::now();
        let created = ok_json(
            send(
                &app,
                Method::POST,
                "/data-source",
                &[
                    ("name", name),
                    (
                        "configUri",
                        "postgresql://jackal@127.0.0.1:5432/jackal?ssl=true",
                    ),
                    ("sslCert", &cert),
                    ("sslKey", &encrypted),
                    ("sslKeyPassword", "pw"),
                ],
            )
            .await,
        )
        .await;
        // The create decrypted the key once, on arrival: the floor a decrypting answer
        // could not beat, measured in this run on this machine.
        ids.push((
            created["id"].as_str().unwrap().to_owned(),
            started.elapsed(),
        ));
    }
    for (id, create_took) in &ids {
        let detail = |id: String| {
            let app = &app;
            async move {
                let started = Instant::now();
                let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
                (started.elapsed(), detail)
            }
        };
        let answers = futures_util::future::join_all((0..6).map(|_| detail(id.clone()))).await;
        for (took, detail) in answers {
            assert_eq!(
                detail["tls"]["clientCertificate"]["subject"],
                "CN=jackal_client"
            );
            // Six at once on two cores: each decrypting would take longer than the one
            // create did alone.
            assert!(
                took < *create_took,
                "a detail took {took:?}, the create that decrypted {create_took:?}"
            );
        }
    }
}

/// The sealed column `column` of the data source `id` in the store of `dir`, opened.
async fn opened(dir: &Path, id: &str, column: SealedColumn) -> Value {
    let select = format!("SELECT {} FROM data_source WHERE id = $1", column.name());
    let sealed: Vec<u8> = if let Some(client) = pg_store(dir).await {
        client.query_one(&select, &[&id]).await.unwrap().get(0)
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        conn.query_row(&select.replace('$', "?"), [id], |r| r.get(0))
            .unwrap()
    };
    let store = Store::connect(&settings_in(dir).store).await.unwrap();
    let secrets = load_secrets(&key_file_in(dir), &store).await.unwrap();
    serde_json::from_slice(&secrets.open(&sealed, &column.aad(id)).unwrap()).unwrap()
}

/// Seals `plain` into the column `column` of the data source `id`, as an older version would
/// have written it.
async fn seal_into(dir: &Path, id: &str, column: SealedColumn, plain: &Value) {
    let secrets = SecretBox::read_key_file(&key_file_in(dir))
        .unwrap()
        .unwrap();
    let sealed = secrets.seal(plain.to_string().as_bytes(), &column.aad(id));
    let update = format!(
        "UPDATE data_source SET {} = $1 WHERE id = $2",
        column.name()
    );
    let changed = if let Some(client) = pg_store(dir).await {
        client.execute(&update, &[&sealed, &id]).await.unwrap() as usize
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        conn.execute(&update.replace('$', "?"), rusqlite::params![sealed, id])
            .unwrap()
    };
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn an_encrypted_key_is_stored_decrypted_and_its_passphrase_is_not_kept() {
    let app = spawn_app().await;
    let (ssh_text, ssh_pub) = ssh_key(&["-N", "ssh-pass-phrase-1", "-a", "16"]);
    let (key, cert) = tls_pair();
    let tls_text = encrypted_pkcs8(&key, &["-v2", "aes-256-cbc"]);
    let uri = tunnel_uri().replace("ssl=false", "ssl=true");
    let created = ok_json(
        send(
            &app,
            Method::POST,
            "/data-source",
            &[
                ("name", "stored"),
                ("configUri", &uri),
                ("sshPrivateKey", &ssh_text),
                ("sshKeyPassphrase", "ssh-pass-phrase-1"),
                ("sslCert", &cert),
                ("sslKey", &tls_text),
                ("sslKeyPassword", "pw"),
            ],
        )
        .await,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    // Answers as before: the key's public line and the certificate's facts.
    let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
    assert_eq!(detail["ssh"]["publicKey"], ssh_pub.as_str(), "{detail}");
    assert_eq!(
        detail["tls"]["clientCertificate"]["subject"],
        "CN=jackal_client"
    );

    let (dir, _) = app.stop().await;
    let ssh = opened(dir.path(), &id, SealedColumn::SshSecret).await;
    let stored = ssh["privateKey"].as_str().unwrap();
    assert!(stored.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert_ne!(stored, ssh_text);
    // Opens without a passphrase, and is the same key.
    assert_eq!(ssh_public(stored, ""), ssh_pub);
    assert_eq!(
        ssh["passphrase"],
        Value::Null,
        "{}",
        json!(ssh.as_object().unwrap().keys().collect::<Vec<_>>())
    );
    let tls = opened(dir.path(), &id, SealedColumn::TlsSecret).await;
    let stored = tls["clientKey"].as_str().unwrap();
    assert!(
        stored.starts_with("-----BEGIN PRIVATE KEY-----"),
        "not decrypted"
    );
    assert_eq!(tls_public(stored), tls_public(&key));
    assert_eq!(tls["keyPassword"], Value::Null);
    for (name, bytes) in store_contents(dir.path()).await {
        assert!(!holds(&bytes, "ssh-pass-phrase-1"), "{name}");
    }
}

#[tokio::test]
async fn keys_an_older_version_stored_encrypted_are_decrypted_at_test_time_within_the_deadline() {
    let _timed = TIMED.lock().await;
    let app = spawn_app().await;
    let (plain, _) = ssh_key(&["-N", ""]);
    let uri = tunnel_uri();
    let mut ids = Vec::new();
    for name in ["legacy", "costly", "slow"] {
        let uri = match name {
            "slow" => uri.replace("connectTimeout=2", "connectTimeout=1"),
            _ => uri.clone(),
        };
        let created = app
            .create(&[
                ("name", name),
                ("configUri", &uri),
                ("sshPrivateKey", &plain),
            ])
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let (dir, key) = app.stop().await;
    // As an older version stored them: the encrypted text and its passphrase.
    let (encrypted, _) = ssh_key(&["-N", "pw", "-a", "16"]);
    let (at_bound, _) = ssh_key(&["-N", "pw", "-a", "128"]);
    for (id, text) in ids.iter().zip([
        encrypted.clone(),
        with_rounds(&encrypted, u32::MAX),
        at_bound,
    ]) {
        let legacy = json!({"privateKey": text, "passphrase": "pw", "password": null});
        seal_into(dir.path(), id, SealedColumn::SshSecret, &legacy).await;
    }
    let app = spawn_app_in(dir, key).await;

    // Decrypted under the bounds: the test goes on to dial the bastion (where nothing listens).
    let result = test_stored(&app, &ids[0]).await;
    assert_eq!(result["errorCode"], "ssh_refused", "{result}");
    // Above them: refused at once, naming the bound.
    let started = Instant::now();
    let result = test_stored(&app, &ids[1]).await;
    assert_eq!(result["errorCode"], "ssh_auth_failed", "{result}");
    assert!(result["message"]
        .as_str()
        .unwrap()
        .contains("128 bcrypt rounds"));
    assert!(started.elapsed() < Duration::from_secs(1));
    // At the bound, 128 rounds take longer (in this debug build) than the 1 s deadline: the
    // answer comes at the deadline, a timeout, not when the decryption ends.
    let started = Instant::now();
    let result = test_stored(&app, &ids[2]).await;
    let took = started.elapsed();
    assert_eq!(result["errorCode"], "timeout", "{result}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // /detail decrypts nothing: it answers well inside the time one decryption at the bound
    // takes (over 1 s here, above), with room for a loaded machine.
    let started = Instant::now();
    ok_json(app.get(&format!("/data-source/{}/detail", ids[2])).await).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[tokio::test]
async fn every_openssl_ec_key_is_read_as_ssl_key() {
    let _timed = TIMED.lock().await;
    let app = spawn_app().await;
    let mut refused = Vec::new();
    for i in 0..20 {
        let (key, cert) = tls_pair();
        let name = format!("ec-{i}");
        let uri = "postgresql://jackal@127.0.0.1:5432/jackal?ssl=true";
        // Half as a form, half as JSON.
        let res = if i % 2 == 0 {
            send(
                &app,
                Method::POST,
                "/data-source",
                &[
                    ("name", &name),
                    ("configUri", uri),
                    ("sslCert", &cert),
                    ("sslKey", &key),
                ],
            )
            .await
        } else {
            let body = json!({"name": name, "configUri": uri, "sslCert": cert, "sslKey": key});
            app.json(Method::POST, "/data-source", &body).await
        };
        if res.status() != 200 {
            refused.push(res.text().await.unwrap());
        }
    }
    assert!(refused.is_empty(), "{} refused: {refused:?}", refused.len());
}
