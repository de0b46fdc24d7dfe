//! The whole application (routes, gate, handlers, a real SQLite store), in process, given a
//! request without credentials: any method, any path and query the HTTP parser accepts.
//!
//! Input: the first byte picks the method; the next picks which vendor headers are sent; the
//! rest is the request target, as the client wrote it (spellings such as `/%61pi/v2/...`,
//! `//api/./v2`, `%2F`, upper case reach the gate exactly like that).
//!
//! Checked: the answer is never a route's answer. An unauthenticated request gets 400 or 406 (a
//! missing User-Agent, an Accept the API does not serve), 401, or a public operation's 200
//! (`/healthz`, `/readyz`, `/metrics`, the OpenAPI document, recognised by their bodies); never
//! 404 or 405 (which would tell which paths exist), never another 2xx, never a 5xx; and no
//! answer holds the stored password.
#![no_main]

use std::sync::{Arc, OnceLock};

use actix_service::ServiceExt;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use jackal::app::AppState;
use jackal::clock::SystemClock;
use jackal::config::Settings;
use jackal::startup;
use jackal_fuzz::{begin_input, note};
use libfuzzer_sys::fuzz_target;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const PASSWORD: &str = "Gate-Fuzz-Secret-Pw-1";

type App = actix_service::boxed::BoxService<actix_http::Request, ServiceResponse, actix_web::Error>;

struct Harness {
    runtime: actix_web::rt::SystemRunner,
    app: App,
    _dir: tempfile::TempDir,
}

thread_local! {
    // Leaked, never dropped: tearing the actix runtime down while thread-locals are destroyed
    // at exit panics.
    static HARNESS: OnceLock<&'static Harness> = const { OnceLock::new() };
}

/// The application on a fresh store holding one data source whose password is [`PASSWORD`].
fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.store.path = dir.path().join("jackal.db");
    let runtime = actix_web::rt::System::new();
    let app = runtime.block_on(async {
        let clock = Arc::new(SystemClock);
        let state = AppState::open(&settings, clock.clone()).await.unwrap();
        jackal::app::api_keys::bootstrap(
            &state.store,
            Some(&jackal::app::api_keys::KeyCredentials {
                id: "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e".to_owned(),
                secret: "gate-fuzz-secret-0123456789".to_owned(),
            }),
        )
        .await
        .unwrap();
        let limits = jackal::api::limits::Limits::new(&settings, false, clock);
        let app =
            test::init_service(startup::app(web::Data::new(state), web::Data::new(limits))).await;
        // A data source with a password, created through the API itself.
        let auth = format!(
            "Basic {}",
            base64_encode("0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e@api:gate-fuzz-secret-0123456789")
        );
        let req = TestRequest::post()
            .uri("/api/v2/data-source")
            .insert_header(("User-Agent", "fuzz"))
            .insert_header(("Authorization", auth))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!(
                "name=fuzz&configUri=postgresql%3A%2F%2Fu%3A{PASSWORD}%40db.example.com%2Fx"
            ))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200);
        actix_service::boxed::service(app.map(|res: ServiceResponse<_>| res.map_into_boxed_body()))
    });
    Harness {
        runtime,
        app,
        _dir: dir,
    }
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fuzz_target!(|data: &[u8]| {
    let [method, headers, target @ ..] = data else {
        return;
    };
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    // What the HTTP parser would refuse before routing never reaches the application.
    let Ok(uri) = target.parse::<actix_web::http::Uri>() else {
        return;
    };
    if uri.scheme().is_some() || !target.starts_with('/') {
        return;
    }
    begin_input();
    let method = METHODS[usize::from(*method) % METHODS.len()];
    note(format!("{method} {target} (headers {headers:#04x})"));
    HARNESS.with(|cell| {
        let harness = *cell.get_or_init(|| Box::leak(Box::new(harness())));
        let mut req = TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(target);
        if headers & 1 == 0 {
            req = req.insert_header(("User-Agent", "fuzz"));
        }
        if headers & 2 != 0 {
            req = req.insert_header(("Accept", "text/html"));
        }
        let (status, body) = harness.runtime.block_on(async {
            let res = harness.app.call(req.to_request()).await.unwrap();
            let status = res.status().as_u16();
            let body = test::read_body(res).await;
            (status, String::from_utf8_lossy(&body).into_owned())
        });
        note(format!("{status} {body}"));
        assert!(!body.contains(PASSWORD), "the stored password in an answer");
        let public = body.starts_with("{\"status\":")
            || body.contains("# HELP")
            || body.contains("\"openapi\"");
        match status {
            400 | 401 | 406 | 429 => {}
            200 if public => {}
            other => panic!("{method} {target}: {other} without credentials"),
        }
    });
});
