//! The status page in a real browser: tests/browser/status-page.mjs drives Debian's Chromium
//! through playwright-core against two servers started here (one with a passing and a failing
//! data source, one with 2,000), and writes the screenshots docs/ keeps. scripts/test installs
//! Chromium and the two npm packages and runs it (it is `#[ignore]`d for a plain `cargo test`);
//! without them it fails, saying why. tests/browser/console.mjs, run the same way, drives the
//! console's forms against the live bastion and PostgreSQL of scripts/test-databases.

use std::path::Path;
use std::process::Command;

use reqwest::Method;

use crate::helpers::ok_json;
use crate::ui::{app_with_data_using, fleet_of_2000};

/// Why the browser test cannot run here, if it cannot.
fn missing(root: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (scripts/test installs Debian's chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    let modules = root.join("tests/browser/node_modules/playwright-core");
    if !modules.exists() {
        return Some(format!(
            "{} is missing: run npm ci in tests/browser (scripts/test does)",
            modules.display()
        ));
    }
    None
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core (scripts/test-browser-setup)"]
async fn the_status_page_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(reason) = missing(root) {
        panic!("the browser test needs Chromium and playwright-core: {reason}");
    }
    let (app, up, down) = app_with_data_using(|s| {
        s.limits.auth_failures_before_delay = 10;
        s.limits.auth_failures_before_block = 3;
    })
    .await;
    let key = app.key.clone();
    ok_json(
        app.request(Method::POST, &format!("/data-source/{down}/test"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // More events than the audit page shows at once: its end loads the older ones as it scrolls
    // into view.
    for n in 0..120 {
        let body = format!("description=Revision+{n}");
        ok_json(
            app.form(Method::PATCH, &format!("/data-source/{up}"), &body)
                .await,
        )
        .await;
    }
    // The big fleet signs in with the same key id and secret.
    let big = fleet_of_2000(key.clone()).await;

    let script = root.join("tests/browser/status-page.mjs");
    let screenshots = root.join("docs/screenshots");
    let mut node = Command::new("node");
    node.arg(&script)
        .env("JACKAL_URL", &app.address)
        .env("JACKAL_BIG_URL", &big.address)
        .env("JACKAL_KEY_ID", &key.id)
        .env("JACKAL_KEY_SECRET", &key.secret)
        .env("JACKAL_UP", &up)
        .env("JACKAL_DOWN", &down)
        .env("JACKAL_SCREENSHOTS", &screenshots);
    run(
        node,
        "browser",
        &screenshots,
        &["sign-in", "fleet", "data-source", "audit"],
    )
    .await;
}

/// The console in Chromium: tests/browser/console.mjs creates a data source through the form
/// (a password, an SSH key and a client certificate, through the live bastion to the live
/// PostgreSQL that demands a client certificate), tests it before saving, edits only its
/// name, changes its host (the form warns; the secrets go), grants and revokes access, and
/// deletes it, checking each step through the API; and writes the new pages' screenshots.
#[tokio::test]
#[ignore = "needs Chromium and playwright-core (scripts/test-browser-setup), PG_CERT and SSH_BASTION"]
async fn the_console_forms_in_chromium() {
    use crate::connection_test::live;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(reason) = missing(root) {
        panic!("the browser test needs Chromium and playwright-core: {reason}");
    }
    live::require(&[&live::PG_CERT, &live::SSH_BASTION]);
    let app = crate::helpers::spawn_app().await;
    // Someone to grant to and a role to add to, made with the API.
    ok_json(
        app.form(
            Method::POST,
            "/person",
            "name=Ann+Lee&email=ann@example.com&username=ann",
        )
        .await,
    )
    .await;
    ok_json(app.form(Method::POST, "/role", "name=Finance").await).await;

    let tls = live::ca_dir();
    let ssh = Path::new(live::SSH_DIR.get());
    let (bastion_host, bastion_port) = live::SSH_BASTION.get().rsplit_once(':').unwrap();
    let (db_host, db_port) = live::PG_CERT.get().rsplit_once(':').unwrap();
    let screenshots = root.join("docs/screenshots");
    let mut node = Command::new("node");
    node.arg(root.join("tests/browser/console.mjs"))
        .env("JACKAL_URL", &app.address)
        .env("JACKAL_KEY_ID", &app.key.id)
        .env("JACKAL_KEY_SECRET", &app.key.secret)
        .env("JACKAL_DB_HOST", db_host)
        .env("JACKAL_DB_PORT", db_port)
        .env("JACKAL_DB_NAME", live::DATABASE.get())
        .env("JACKAL_DB_USER", live::USER.get())
        .env("JACKAL_SSH_HOST", bastion_host)
        .env("JACKAL_SSH_PORT", bastion_port)
        .env("JACKAL_SSH_USER", live::SSH_USER.get())
        .env("JACKAL_SSH_HOST_KEY", live::ssh_fingerprint("bastion"))
        .env("JACKAL_SSH_KEY_FILE", ssh.join("client/id_ed25519"))
        .env("JACKAL_CLIENT_CERT_FILE", tls.join("client-ec.pem"))
        .env("JACKAL_CLIENT_KEY_FILE", tls.join("client-ec-key.pem"))
        .env("JACKAL_CA_FILE", tls.join("ca.pem"))
        .env("JACKAL_SCREENSHOTS", &screenshots);
    run(
        node,
        "console",
        &screenshots,
        &[
            "data-source-new",
            "data-source-edit",
            "data-source-access",
            "people",
            "roles",
            "permissions",
        ],
    )
    .await;
}

/// Runs the browser script `node` (off the runtime's workers: the servers answer the browser
/// meanwhile), which must pass and end with `{name}: all checks passed`, and checks that it
/// wrote each page's screenshot at 1280 and 390 px.
async fn run(mut node: Command, name: &str, screenshots: &Path, pages: &[&str]) {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::task::spawn_blocking(move || node.output()),
    )
    .await
    .expect("the browser test finishes within 240 s")
    .unwrap()
    .expect("node runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the {name} test failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{name}: all checks passed")),
        "{stdout}"
    );
    for page in pages {
        for width in [1280, 390] {
            let shot = screenshots.join(format!("{page}-{width}.png"));
            assert!(shot.metadata().unwrap().len() > 1000, "{}", shot.display());
        }
    }
}
