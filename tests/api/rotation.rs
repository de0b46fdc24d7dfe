//! `jackal secrets rotate`: every stored password re-encrypted with a new key, resumably, while
//! a server keeps answering.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use jackal::app::load_secrets;
use jackal::secrets::SecretBox;
use jackal::startup::Application;
use jackal::store::{Lock, Store};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    holds, key_file_in, ok_json, pg_store, settings_in, spawn_app, spawn_app_in, store_backend,
    store_contents, store_env, TestApp,
};

/// A data source the test made, and the configUri `/detail` must give back for it.
struct Made {
    id: String,
    detail: String,
    password: Option<String>,
}

fn jackal(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    store_env(&mut cmd, dir);
    cmd.current_dir(dir)
        .env_remove("JACKDB_API_KEY_ID")
        .env_remove("JACKDB_API_KEY_SECRET");
    cmd
}

/// Runs `jackal secrets rotate --new-key-file <new_key> <extra…>` on the store in `dir`.
async fn rotate(dir: &Path, new_key: &Path, extra: &[&str]) -> Output {
    let mut cmd = jackal(dir);
    cmd.args(["secrets", "rotate", "--new-key-file"])
        .arg(new_key)
        .args(extra);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

async fn rotate_ok(dir: &Path, new_key: &Path, extra: &[&str]) -> String {
    let out = rotate(dir, new_key, extra).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "rotate failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn rotate_err(dir: &Path, new_key: &Path, extra: &[&str]) -> String {
    let out = rotate(dir, new_key, extra).await;
    assert!(
        !out.status.success(),
        "rotate should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn key_file(dir: &Path) -> PathBuf {
    key_file_in(dir)
}

/// The store of `dir`, as a server opens it.
async fn open_store(dir: &Path) -> Store {
    Store::connect(&settings_in(dir).store).await.unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The `<key file>.old-*` files.
fn old_key_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("jackal.db.key.old-")
        })
        .collect();
    found.sort();
    found
}

/// Data sources with and without passwords, passwords with characters that need encoding.
async fn make_sources(app: &TestApp) -> Vec<Made> {
    let specs: [(&str, Option<&str>); 5] = [
        (
            "postgresql://alice:{}@db.example.com:5432/app",
            Some("Rot4te-Me-1"),
        ),
        (
            "mysql://bob:{}@mysql.example.com/shop",
            Some("second pw with spaces"),
        ),
        ("postgresql://carol@db.example.com/nopw", None),
        ("mysql://dave:{}@10.1.2.3:3306/x", Some("p@ss/w:rd?#%")),
        ("sqlite:///srv/data/local.db", None),
    ];
    let mut made = Vec::new();
    for (i, (template, password)) in specs.iter().enumerate() {
        let encoded = password.map(|p| {
            percent_encoding::utf8_percent_encode(p, percent_encoding::NON_ALPHANUMERIC).to_string()
        });
        let uri = template.replace("{}", encoded.as_deref().unwrap_or(""));
        let created = app
            .create(&[("name", &format!("source {i}")), ("configUri", &uri)])
            .await;
        made.push(Made {
            id: created["id"].as_str().unwrap().to_owned(),
            detail: created["configUri"].as_str().unwrap().to_owned(),
            password: password.map(str::to_owned),
        });
    }
    made
}

async fn detail(app: &TestApp, id: &str) -> Value {
    ok_json(app.get(&format!("/data-source/{id}/detail")).await).await
}

/// `/detail` gives every data source's password back.
async fn assert_details(app: &TestApp, made: &[Made], when: &str) {
    for m in made {
        let got = detail(app, &m.id).await;
        assert_eq!(got["configUri"], m.detail.as_str(), "{when}: {}", m.id);
    }
}

/// No password is in the store at rest (see `store_contents`).
async fn assert_no_plaintext(dir: &Path, made: &[Made]) {
    for (name, bytes) in &store_contents(dir).await {
        for password in made.iter().filter_map(|m| m.password.as_deref()) {
            assert!(!holds(bytes, password), "{name} holds {password:?}");
        }
    }
}

fn field_count(output: &str, label: &str) -> u64 {
    let rest = output
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in {output}"));
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no count after {label:?} in {output}"))
}

#[tokio::test]
async fn rotation_re_encrypts_every_password_and_installs_the_new_key() {
    let app = spawn_app().await;
    let made = make_sources(&app).await;
    let (dir, key) = app.stop().await;
    let old_key = read(&key_file(dir.path()));
    let new_key_file = dir.path().join("new.key");

    let out = rotate_ok(dir.path(), &new_key_file, &[]).await;
    assert!(out.contains("created"), "{out}");
    assert!(out.contains("Finished"), "{out}");
    assert_eq!(field_count(&out, "with a password:"), 3, "{out}");
    assert_eq!(field_count(&out, "re-sealed now:"), 3, "{out}");
    assert!(!out.contains(old_key.trim()), "never prints a key: {out}");

    // The configured key file now holds the new key; the old one is kept beside it.
    let new_key = read(&new_key_file);
    assert_eq!(new_key.trim().len(), 64);
    assert_ne!(new_key, old_key);
    assert!(!out.contains(new_key.trim()), "never prints a key: {out}");
    assert_eq!(read(&key_file(dir.path())), new_key);
    let kept = old_key_files(dir.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(read(&kept[0]), old_key);
    assert!(out.contains(kept[0].to_str().unwrap()), "{out}");
    for file in [&key_file(dir.path()), &kept[0], &new_key_file] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_no_plaintext(dir.path(), &made).await;

    // The server starts on the configured key file and gives every password back.
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "after the rotation").await;
    let (dir, key) = app.stop().await;

    // Running it again changes nothing.
    let out = rotate_ok(dir.path(), &new_key_file, &[]).await;
    assert!(out.contains("Nothing to do"), "{out}");
    assert_eq!(old_key_files(dir.path()).len(), 1);

    // The finished rotation is in the audit trail once (the no-op run adds nothing), with
    // counts and paths but no key.
    let trail = jackal(dir.path())
        .args(["audit", "tail", "-n", "1000"])
        .output()
        .unwrap();
    let trail = String::from_utf8(trail.stdout).unwrap();
    let rotations: Vec<&str> = trail
        .lines()
        .filter(|l| l.contains("secrets.rotate"))
        .collect();
    assert_eq!(rotations.len(), 1, "{trail}");
    assert!(
        rotations[0].contains("finished") && rotations[0].contains("\"resealed\":3"),
        "{trail}"
    );
    assert!(!trail.contains(old_key.trim()) && !trail.contains(new_key.trim()));

    // The old key is no longer accepted.
    std::fs::write(key_file(dir.path()), &old_key).unwrap();
    let err = Application::build(&settings_in(dir.path()), Some(&key))
        .await
        .err()
        .expect("the old key is refused");
    assert!(format!("{err:#}").contains("not the key"), "{err:#}");
}

#[tokio::test]
async fn a_second_rotation_at_the_same_time_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let made = make_sources(&app).await;
    let (dir, key) = app.stop().await;
    let old_key = read(&key_file(dir.path()));
    let new_key_file = dir.path().join("new.key");

    // Another rotation holds the lock: on SQLite a second open file description of the lock
    // file, as another process; on PostgreSQL the store's advisory lock, from a session of
    // its own.
    let (held, lock_name): (Box<dyn std::any::Any>, String) = if store_backend() == "postgresql" {
        let store = open_store(dir.path()).await;
        let lock = store.try_rotation_lock().await.unwrap().expect("lock free");
        (Box::new((lock, store.clone())), store.rotation_lock_name())
    } else {
        let lock_path = jackal::secrets::rotation::lock_path(&dir.path().join("jackal.db"));
        let held = std::fs::File::create(&lock_path).unwrap();
        held.try_lock().unwrap();
        (Box::new(held), lock_path.display().to_string())
    };
    let err = rotate_err(dir.path(), &new_key_file, &[]).await;
    assert!(
        err.contains("another `jackal secrets rotate` is running") && err.contains(&lock_name),
        "{err}"
    );
    assert!(!new_key_file.exists(), "the refused run created no key");
    assert_eq!(read(&key_file(dir.path())), old_key);
    assert!(old_key_files(dir.path()).is_empty());

    // Released (or its process gone), the rotation runs.
    drop(held);
    let out = rotate_ok(dir.path(), &new_key_file, &[]).await;
    assert!(out.contains("Finished"), "{out}");
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "after the rotation").await;
}

#[tokio::test]
async fn a_running_server_keeps_answering_during_and_after_a_rotation() {
    let app = spawn_app().await;
    let mut made = make_sources(&app).await;
    assert_details(&app, &made, "before").await;
    let dir = app.dir.path().to_owned();
    let new_key_file = dir.join("new.key");

    // Half-way: two passwords sealed with the new key, a server that never saw it.
    let out = rotate_ok(&dir, &new_key_file, &["--limit", "2"]).await;
    assert!(out.contains("Stopped"), "{out}");
    assert_eq!(field_count(&out, "re-sealed now:"), 2, "{out}");
    assert_details(&app, &made, "midway").await;

    // Writes during the rotation.
    let during = app
        .create(&[
            ("name", "made during"),
            (
                "configUri",
                "postgresql://erin:During-pw-7@db.example.com/d",
            ),
        ])
        .await;
    made.push(Made {
        id: during["id"].as_str().unwrap().to_owned(),
        detail: during["configUri"].as_str().unwrap().to_owned(),
        password: Some("During-pw-7".into()),
    });
    let patched = ok_json(
        app.form(
            Method::PATCH,
            &format!("/data-source/{}", made[0].id),
            "configUri=postgresql%3A%2F%2Falice%3APatched-pw-8%40db.example.com%3A5432%2Fapp",
        )
        .await,
    )
    .await;
    made[0].detail = patched["configUri"].as_str().unwrap().to_owned();
    made[0].password = Some("Patched-pw-8".into());
    assert_details(&app, &made, "after writes midway").await;

    let out = rotate_ok(&dir, &new_key_file, &[]).await;
    assert!(out.contains("Finished"), "{out}");
    assert!(out.contains("resuming"), "{out}");
    assert_details(&app, &made, "after, without a restart").await;

    // A write after the rotation is sealed with the new key: it survives a restart.
    let after = app
        .create(&[
            ("name", "made after"),
            ("configUri", "mysql://frank:After-pw-9@mysql.example.com/f"),
        ])
        .await;
    made.push(Made {
        id: after["id"].as_str().unwrap().to_owned(),
        detail: after["configUri"].as_str().unwrap().to_owned(),
        password: Some("After-pw-9".into()),
    });
    assert_details(&app, &made, "after a write after").await;

    let (dir, key) = app.stop().await;
    assert_no_plaintext(dir.path(), &made).await;
    // Only the configured key file is needed now.
    std::fs::remove_file(&new_key_file).unwrap();
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "after a restart").await;
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_and_both_keys_work_until_it_completes() {
    let app = spawn_app().await;
    let made = make_sources(&app).await;
    let (dir, key) = app.stop().await;
    let old_key = read(&key_file(dir.path()));
    let new_key_file = dir.path().join("new.key");

    let out = rotate_ok(dir.path(), &new_key_file, &["--limit", "1"]).await;
    assert!(
        out.contains("with 2 password(s) still sealed with the old key"),
        "{out}"
    );
    // Not finished: the configured file still holds the old key, and nothing was kept aside.
    assert_eq!(read(&key_file(dir.path())), old_key);
    assert!(old_key_files(dir.path()).is_empty());

    // A server started now takes both keys.
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "pending, one re-sealed").await;
    let (dir, key) = app.stop().await;

    let out = rotate_ok(dir.path(), &new_key_file, &["--limit", "1"]).await;
    assert!(out.contains("resuming"), "{out}");
    assert_eq!(field_count(&out, "already sealed with the new key:"), 1);
    assert!(
        out.contains("with 1 password(s) still sealed with the old key"),
        "{out}"
    );
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "pending, two re-sealed").await;
    let (dir, key) = app.stop().await;

    // --limit reached with nothing left: the run finishes.
    let out = rotate_ok(dir.path(), &new_key_file, &["--limit", "1"]).await;
    assert!(out.contains("Finished"), "{out}");
    assert_eq!(read(&key_file(dir.path())), read(&new_key_file));
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "finished").await;
}

/// The normalized configUri a data source with this password is stored under, and the one
/// `/detail` gives back: made once through the API, then copied.
struct Template {
    stored: String,
    detail: String,
}

const TEMPLATE_PASSWORD: &str = "Template-pw-0";

async fn template(app: &TestApp, dir: &Path) -> Template {
    let created = app
        .create(&[
            ("name", "template"),
            (
                "configUri",
                &format!("postgresql://u:{TEMPLATE_PASSWORD}@db.example.com/t"),
            ),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    let stored: String = if let Some(client) = pg_store(dir).await {
        client
            .query_one("SELECT config_uri FROM data_source WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0)
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        conn.query_row(
            "SELECT config_uri FROM data_source WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    Template {
        stored,
        detail: created["configUri"].as_str().unwrap().to_owned(),
    }
}

/// Seals as Jackal did before keys could rotate: `nonce || ciphertext + tag`, the id as
/// associated data.
fn legacy_seal(key_file: &Path, plaintext: &[u8], id: &str) -> Vec<u8> {
    let key = hex::decode(read(key_file).trim()).unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
    let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
    let body = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: id.as_bytes(),
            },
        )
        .unwrap();
    [nonce.as_slice(), &body].concat()
}

/// Inserts data sources `(id, name, stored configUri, sealed password)` straight into the
/// store, in one transaction.
async fn insert_rows(dir: &Path, rows: &[(String, String, String, Vec<u8>)]) {
    const INSERT: &str = "INSERT INTO data_source (id, name, alias, type, config_uri, \
        password_enc, created_at, updated_at) VALUES ($1, $2, NULL, 'postgresql', $3, $4, 1, 1)";
    if let Some(mut client) = pg_store(dir).await {
        let tx = client.transaction().await.unwrap();
        let insert = tx.prepare(INSERT).await.unwrap();
        for (id, name, stored, sealed) in rows {
            tx.execute(&insert, &[id, name, stored, sealed])
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    } else {
        let mut conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        let tx = conn.transaction().unwrap();
        for (id, name, stored, sealed) in rows {
            tx.execute(
                &INSERT.replace('$', "?"),
                rusqlite::params![id, name, stored, sealed],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
}

/// The sealed password of every data source that has one, by id, as stored.
async fn sealed_passwords(dir: &Path) -> HashMap<String, Vec<u8>> {
    const SELECT: &str = "SELECT id, password_enc FROM data_source WHERE password_enc IS NOT NULL";
    if let Some(client) = pg_store(dir).await {
        let rows = client.query(SELECT, &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        let mut select = conn.prepare(SELECT).unwrap();
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }
}

/// Every sealed password in the store, and the key check.
async fn all_sealed(dir: &Path) -> (Vec<Vec<u8>>, Vec<u8>) {
    const PASSWORDS: &str = "SELECT password_enc FROM data_source WHERE password_enc IS NOT NULL";
    const CHECK: &str = "SELECT value FROM meta WHERE key = 'key_check'";
    if let Some(client) = pg_store(dir).await {
        let sealed = client
            .query(PASSWORDS, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let check = client.query_one(CHECK, &[]).await.unwrap().get(0);
        (sealed, check)
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        let sealed = conn
            .prepare(PASSWORDS)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let check = conn.query_row(CHECK, [], |r| r.get(0)).unwrap();
        (sealed, check)
    }
}

/// Replaces the stored key check.
async fn set_key_check(dir: &Path, value: &[u8]) {
    const UPDATE: &str = "UPDATE meta SET value = $1 WHERE key = 'key_check'";
    if let Some(client) = pg_store(dir).await {
        assert_eq!(client.execute(UPDATE, &[&value]).await.unwrap(), 1);
    } else {
        let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
        assert_eq!(conn.execute(&UPDATE.replace('$', "?"), [value]).unwrap(), 1);
    }
}

/// Inserts `count` data sources with passwords straight into the store, half of them in the
/// legacy format, in one transaction.
async fn insert_many(dir: &Path, template: &Template, count: usize) -> Vec<Made> {
    let key_file = key_file(dir);
    let current = SecretBox::read_key_file(&key_file).unwrap().unwrap();
    let mut rows = Vec::new();
    let mut made = Vec::new();
    for i in 0..count {
        let id = jackal::domain::ids::DataSourceId::generate().into_string();
        let password = format!("Bulk-pw-{i:05}");
        let sealed = if i % 2 == 0 {
            legacy_seal(&key_file, password.as_bytes(), &id)
        } else {
            current.seal(password.as_bytes(), id.as_bytes())
        };
        rows.push((
            id.clone(),
            format!("bulk {i}"),
            template.stored.clone(),
            sealed,
        ));
        made.push(Made {
            detail: template.detail.replace(TEMPLATE_PASSWORD, &password),
            id,
            password: Some(password),
        });
    }
    insert_rows(dir, &rows).await;
    made
}

/// Opens every password with the keys a server would load now.
async fn assert_all_open(dir: &Path, made: &[Made]) {
    let store = open_store(dir).await;
    let secrets = load_secrets(&key_file(dir), &store).await.unwrap();
    let sealed = sealed_passwords(dir).await;
    for m in made {
        let plain = secrets.open(&sealed[&m.id], m.id.as_bytes()).unwrap();
        assert_eq!(
            Some(String::from_utf8(plain).unwrap()),
            m.password,
            "{}",
            m.id
        );
    }
}

#[tokio::test]
async fn a_rotation_killed_mid_way_on_2000_passwords_loses_nothing() {
    let app = spawn_app().await;
    let template = template(&app, app.dir.path()).await;
    let (dir, key) = app.stop().await;
    let made = insert_many(dir.path(), &template, 2000).await;
    let new_key_file = dir.path().join("new.key");

    // Kill -9 once it has re-sealed a hundred.
    let mut cmd = jackal(dir.path());
    cmd.args(["secrets", "rotate", "--new-key-file"])
        .arg(&new_key_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let printed = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("re-sealed ") {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed: {printed}");
        printed
    })
    .await
    .unwrap();
    // 2000 and the template.
    assert!(printed.contains("re-sealed 100 of 2001"), "{printed}");

    // Mid-way: some passwords under each key, every one readable, both keys accepted.
    let out = rotate_ok(dir.path(), &new_key_file, &["--limit", "0"]).await;
    let already = field_count(&out, "already sealed with the new key:");
    assert!((100..2001).contains(&already), "{out}");
    assert!(out.contains("Stopped"), "{out}");
    assert_all_open(dir.path(), &made).await;
    let app = spawn_app_in(dir, key).await;
    for m in made.iter().step_by(97) {
        assert_eq!(detail(&app, &m.id).await["configUri"], m.detail.as_str());
    }
    let (dir, key) = app.stop().await;

    let out = rotate_ok(dir.path(), &new_key_file, &[]).await;
    assert!(out.contains("Finished"), "{out}");
    assert_eq!(
        field_count(&out, "already sealed with the new key:") + field_count(&out, "re-sealed now:"),
        2001,
        "{out}"
    );
    assert_all_open(dir.path(), &made).await;
    let app = spawn_app_in(dir, key).await;
    for m in made.iter().step_by(41) {
        assert_eq!(detail(&app, &m.id).await["configUri"], m.detail.as_str());
    }
}

#[tokio::test]
async fn wrong_or_missing_new_key_files_are_refused_naming_the_file() {
    // A store that was never keyed has nothing to rotate.
    let empty = tempfile::tempdir().unwrap();
    let err = rotate_err(empty.path(), &empty.path().join("new.key"), &[]).await;
    assert!(err.contains("no secret key yet"), "{err}");
    assert!(!empty.path().join("new.key").exists());

    let app = spawn_app().await;
    let made = make_sources(&app).await;
    let (dir, key) = app.stop().await;
    let d = dir.path();

    let garbage = d.join("garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let err = rotate_err(d, &garbage, &[]).await;
    assert!(err.contains(garbage.to_str().unwrap()), "{err}");
    assert!(err.contains("not valid"), "{err}");

    let nowhere = d.join("no-such-dir").join("new.key");
    let err = rotate_err(d, &nowhere, &[]).await;
    assert!(err.contains(nowhere.to_str().unwrap()), "{err}");
    assert!(err.contains("cannot create"), "{err}");

    let err = rotate_err(d, &key_file(d), &[]).await;
    assert!(err.contains("configured secret key file itself"), "{err}");

    // A pending rotation to new.key…
    let new_key_file = d.join("new.key");
    let out = rotate_ok(d, &new_key_file, &["--limit", "1"]).await;
    assert!(out.contains("Stopped"), "{out}");
    // …is not silently replaced by a rotation to another file,
    let other = d.join("other.key");
    let err = rotate_err(d, &other, &[]).await;
    assert!(err.contains("is pending"), "{err}");
    assert!(err.contains(new_key_file.to_str().unwrap()), "{err}");
    assert!(!other.exists());
    // nor continued with another key in its file,
    let saved = d.join("saved.key");
    std::fs::rename(&new_key_file, &saved).unwrap();
    std::fs::write(&new_key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = rotate_err(d, &new_key_file, &[]).await;
    assert!(err.contains(new_key_file.to_str().unwrap()), "{err}");
    assert!(err.contains("does not hold the key"), "{err}");
    // nor with a fresh key when the file is gone; a server will not start either.
    std::fs::remove_file(&new_key_file).unwrap();
    let err = rotate_err(d, &new_key_file, &[]).await;
    assert!(err.contains(new_key_file.to_str().unwrap()), "{err}");
    assert!(err.contains("is missing"), "{err}");
    assert!(!new_key_file.exists(), "no new key made in its place");
    let err = Application::build(&settings_in(d), Some(&key))
        .await
        .err()
        .expect("refused while the pending key file is missing");
    let message = format!("{err:#}");
    assert!(
        message.contains(new_key_file.to_str().unwrap()),
        "{message}"
    );
    assert!(message.contains("is missing"), "{message}");

    // Restored, the rotation finishes and nothing was lost.
    std::fs::rename(&saved, &new_key_file).unwrap();
    let out = rotate_ok(d, &new_key_file, &[]).await;
    assert!(out.contains("Finished"), "{out}");
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "after the errors").await;
}

#[tokio::test]
async fn legacy_values_are_read_and_upgraded() {
    let app = spawn_app().await;
    let template = template(&app, app.dir.path()).await;
    let (dir, key) = app.stop().await;
    let d = dir.path();
    // A store as the previous Jackal wrote it: legacy passwords and a legacy key check.
    let made = insert_many(d, &template, 4).await;
    let legacy_check = legacy_seal(&key_file(d), b"jackal key check v1", "key-check");
    set_key_check(d, &legacy_check).await;

    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "legacy values").await;
    let (dir, key) = app.stop().await;
    let d = dir.path();

    let out = rotate_ok(d, &d.join("new.key"), &[]).await;
    assert!(out.contains("Finished"), "{out}");
    // The template's password and the four bulk ones; every other bulk one was legacy.
    assert_eq!(field_count(&out, "re-sealed now:"), 5, "{out}");
    assert_eq!(field_count(&out, "of which"), 2, "{out}");
    let (sealed, check) = all_sealed(d).await;
    for value in sealed.iter().chain([&check]) {
        assert!(value.starts_with(b"jks\x01"), "upgraded: {value:?}");
        assert_eq!(&value[..12], &check[..12], "all under one key");
    }
    let app = spawn_app_in(dir, key).await;
    assert_details(&app, &made, "upgraded").await;
}

/// A server that sealed a password with the old key just before a rotation finished, and
/// wrote it just after: it still holds the old key, and re-seals that value itself.
#[tokio::test]
async fn a_write_racing_the_end_of_a_rotation_is_re_sealed_by_the_server() {
    let app = spawn_app().await;
    let template = template(&app, app.dir.path()).await;
    let (dir, _) = app.stop().await;
    let d = dir.path();
    let store = open_store(d).await;
    // As a server loads it, without the background task, so the test drives the refreshes.
    let server = SecretBox::load(&key_file(d), &store).await.unwrap();

    let late_id = jackal::domain::ids::DataSourceId::generate().into_string();
    let late_sealed = server.seal(b"Late-pw-1", late_id.as_bytes());
    let out = rotate_ok(d, &d.join("new.key"), &[]).await;
    assert!(out.contains("Finished"), "{out}");
    insert_rows(
        d,
        &[(
            late_id.clone(),
            "late".to_owned(),
            template.stored.clone(),
            late_sealed.clone(),
        )],
    )
    .await;
    let restarted = || async {
        let store = open_store(d).await;
        load_secrets(&key_file(d), &store).await.unwrap()
    };
    assert!(
        restarted()
            .await
            .open(&late_sealed, late_id.as_bytes())
            .is_err(),
        "sealed with the retired key"
    );

    // The server's next refresh notices the rotation and re-seals what it wrote.
    assert_eq!(server.refresh_now().await, 1);
    assert_eq!(server.refresh_now().await, 0);
    let key = late_id.clone();
    let after = open_store(d)
        .await
        .read(move |tx| Box::pin(async move { tx.data_source(&key, Lock::No).await }))
        .await
        .unwrap()
        .unwrap();
    let sealed = after.password_enc.unwrap();
    assert_eq!(
        restarted().await.open(&sealed, late_id.as_bytes()).unwrap(),
        b"Late-pw-1"
    );
    // What it seals from now on, a restarted server opens.
    let next = server.seal(b"Next-pw-2", b"Dnext");
    assert_eq!(
        restarted().await.open(&next, b"Dnext").unwrap(),
        b"Next-pw-2"
    );
}

/// The data source `pairs` create (alias `rotated`), the server stopped and its key rotated
/// (`resealed` values re-sealed), `secret` nowhere in the store's files after it; then a
/// server on the new key still tests it successfully, so the re-sealed values open.
async fn a_rotated_data_source_still_tests(pairs: &[(&str, &str)], secret: &str, resealed: u64) {
    let app = spawn_app().await;
    let mut pairs = pairs.to_vec();
    pairs.extend([("name", "rotated"), ("alias", "rotated")]);
    app.create(&pairs).await;
    let (dir, key) = app.stop().await;

    let out = rotate_ok(dir.path(), &dir.path().join("new.key"), &[]).await;
    assert_eq!(field_count(&out, "re-sealed now:"), resealed, "{out}");
    for (place, bytes) in crate::helpers::store_contents(dir.path()).await {
        assert!(
            !crate::helpers::holds(&bytes, secret),
            "the secret in {place}"
        );
    }

    let app = spawn_app_in(dir, key).await;
    let tested = ok_json(
        app.request(reqwest::Method::POST, "/data-source/rotated/test")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tested["success"], true, "{tested}");
}

/// SSH secrets are sealed like passwords, so a rotation re-seals them too: after it, the server
/// on the new key still logs in to the bastion with the stored password.
#[tokio::test]
#[ignore = "live: needs SSH_PASSWORD_SERVER, PG_MAIN (scripts/test-databases)"]
async fn rotation_re_seals_ssh_secrets_and_the_tunnel_still_logs_in() {
    use crate::connection_test::live;
    live::require(&[&live::SSH_PASSWORD_SERVER, &live::PG_MAIN]);
    let (host, port) = live::SSH_PASSWORD_SERVER.get().rsplit_once(':').unwrap();
    let uri = format!(
        "{}?ssl=false&sshHost={host}&sshPort={port}&sshUser={}&sshHostKey={}",
        live::pg_admin_url("postgres"),
        live::SSH_USER.get(),
        live::ssh_fingerprint("password").replace('+', "%2B")
    );
    a_rotated_data_source_still_tests(
        &[
            ("configUri", &uri),
            ("sshPassword", live::SSH_PASSWORD.get()),
        ],
        live::SSH_PASSWORD.get(),
        1,
    )
    .await;
}

/// TLS material too: after a rotation, the server on the new key still presents the stored
/// client certificate (its key encrypted with a password) and logs in with it.
#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn rotation_re_seals_tls_material_and_mutual_tls_still_logs_in() {
    use crate::connection_test::live;
    live::require(&[&live::PG_CERT]);
    let read = |name: &str| std::fs::read_to_string(live::ca_dir().join(name)).unwrap();
    let uri = format!(
        "postgresql://{}:{}@{}/{}?validateSsl=false",
        live::USER.get(),
        live::PASSWORD.get(),
        live::PG_CERT.get(),
        live::DATABASE.get()
    );
    let key = read("client-encrypted-key.pem");
    let secret = key.lines().nth(2).unwrap().to_owned();
    a_rotated_data_source_still_tests(
        &[
            ("configUri", &uri),
            ("sslCert", &read("client-encrypted.pem")),
            ("sslKey", &key),
            ("sslKeyPassword", "jackal-key-pw-1"),
        ],
        &secret,
        // The database password and the TLS material.
        2,
    )
    .await;
}
