//! A request body, under one of several Content-Types, through `Args::parse` and then the
//! data-source create pipeline exactly as `src/api/data_source.rs` `create` runs it (up to the
//! store): `only(name, alias, configUri)`, `required("name")` + `parse_name`, `take("alias")` +
//! `parse_alias`, `required("configUri")` + `ConnectionSpec::parse`, errors through
//! `ApiError::from`.
//!
//! Input: the first byte picks the Content-Type (`f` form, `j` JSON, `F`/`J` the same with a
//! charset, `n` none, `t` text/plain, `m` multipart, `e` empty, `c` the text up to the first
//! line feed; any other byte picks one by its value); the rest is the body.
//!
//! Checked: no panic; every error is a 4xx (never 5xx) with a snake_case code; no error
//! message contains a password of a configUri argument (as `url` reads it: serialized and
//! decoded) unless that text is also elsewhere in the request or in the fixed wording of some
//! message; on success, the spec's invariants hold (see `jackal_fuzz::check_spec`).
#![no_main]

use jackal::api::args::Args;
use jackal::api::data_source::CreateDataSource;
use jackal::api::error::{ApiError, ErrorCode};
use jackal::app::data_sources::NewDataSource;
use jackal_drivers::ConnectionSpec;
use jackal_fuzz::{
    begin_input, check_spec, check_uri_error, note, templates_of, uri_error_samples, url_passwords,
    Oracle,
};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
    Some(""),
    Some("Application/JSON"),
];

/// What `create` does with the arguments, up to the store.
struct Created {
    name: String,
    alias: Option<String>,
    spec: ConnectionSpec,
}

fn pipeline(
    content_type: Option<&str>,
    body: &[u8],
    config_uri: &mut Option<String>,
) -> Result<Created, ApiError> {
    let body: CreateDataSource = Args::parse(content_type, body)?.into_body()?;
    *config_uri = body.config_uri().map(str::to_owned);
    if let Some(uri) = config_uri.as_deref() {
        // The drivers' own oracle first (the payloads it may echo are its own); the HTTP error
        // built from it is checked like every other.
        if let Err(e) = ConnectionSpec::parse(uri) {
            let mut oracle = Oracle::default();
            url_passwords(uri, &mut oracle);
            check_uri_error(&oracle, &e);
        }
    }
    let NewDataSource {
        name, alias, spec, ..
    } = body.into_new(false)?.0;
    Ok(Created { name, alias, spec })
}

/// The normalized wording of every message the pipeline can give (with placeholder names).
fn templates() -> &'static str {
    static TEMPLATES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let form = Some("application/x-www-form-urlencoded");
        let json = Some("application/json");
        let long = format!("name={}&configUri=postgresql://h", "x".repeat(300));
        let id_alias = "name=a&alias=D0123456789abcdef&configUri=postgresql://h".to_owned();
        let mut samples: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, b"x".to_vec()),
            (Some("%%"), b"x".to_vec()),
            (Some("text/plain"), b"x".to_vec()),
            (Some("a/b"), b"x".to_vec()),
            (form, b"name=%FF".to_vec()),
            (form, b"name=a&name=b".to_vec()),
            (form, b"x=1".to_vec()),
            (form, b"alias=a".to_vec()),
            (form, b"name=a".to_vec()),
            (form, b"name=+&configUri=postgresql://h".to_vec()),
            (form, b"name=a%09b&configUri=postgresql://h".to_vec()),
            (form, long.into_bytes()),
            (form, b"name=a&alias=a/b&configUri=postgresql://h".to_vec()),
            (form, id_alias.into_bytes()),
            (form, b"name=a&configUri=x".to_vec()),
            (json, b"[1]".to_vec()),
            (json, br#"{"name": [1]}"#.to_vec()),
        ];
        // serde_json's messages: one sample per error it can give on a Value.
        for bad in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1",
            "[",
            "[1",
            "\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\uD800\"",
            "\"\\uD800\\u0041\"",
            "\"\\uDC00\"",
            "\"\u{1}\"",
            "{1:2}",
            "[1,]",
            "{\"a\":1,}",
            "1 2",
            "1e999",
            "-",
            "tru",
            "nul",
            "x",
            "{\"a\" 1}",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "\"\\uZZZZ\"",
        ] {
            samples.push((json, bad.as_bytes().to_vec()));
        }
        samples.push((json, "[".repeat(200).into_bytes()));
        let mut errors: Vec<ApiError> = samples
            .iter()
            .filter_map(|(content_type, body)| pipeline(*content_type, body, &mut None).err())
            .collect();
        // Every UriError, as the HTTP layer words it.
        errors.extend(uri_error_samples().into_iter().map(ApiError::from));
        let mut messages: Vec<String> = Vec::new();
        for e in &errors {
            messages.push(e.message.clone());
            messages.push(e.to_string());
            // As `unsupported_media_type` messages are checked: without the Content-Type.
            messages.push(e.message.replace("a/b", ""));
            messages.push(e.to_string().replace("a/b", ""));
        }
        templates_of(messages.iter().map(String::as_str))
    })
}

/// The configUri values a body holds, read the way its Content-Type says (as `Args::parse`
/// decides it, but leniently: duplicates and bad UTF-8 are kept), and every other name and
/// value as other text.
fn config_uris(content_type: Option<&str>, body: &[u8], oracle: &mut Oracle) -> Vec<String> {
    let essence = content_type
        .and_then(|ct| ct.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_owned());
    let mut uris = Vec::new();
    let mut record = |name: &str, value: &str, oracle: &mut Oracle| {
        oracle.other(name);
        if name == "configUri" {
            uris.push(value.to_owned());
        } else {
            oracle.other(value);
        }
    };
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            for (name, value) in url::form_urlencoded::parse(body) {
                record(&name, &value, oracle);
            }
        }
        Some("application/json") => {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
                for (name, value) in map {
                    match value {
                        serde_json::Value::String(s) => record(&name, &s, oracle),
                        other => record(&name, &other.to_string(), oracle),
                    }
                }
            }
        }
        _ => {}
    }
    uris
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (content_type, body): (Option<String>, &[u8]) = match selector {
        b'f' => (CONTENT_TYPES[1].map(str::to_owned), rest),
        b'j' => (CONTENT_TYPES[2].map(str::to_owned), rest),
        b'F' => (CONTENT_TYPES[3].map(str::to_owned), rest),
        b'J' => (CONTENT_TYPES[4].map(str::to_owned), rest),
        b'n' => (None, rest),
        b't' => (CONTENT_TYPES[5].map(str::to_owned), rest),
        b'm' => (CONTENT_TYPES[6].map(str::to_owned), rest),
        b'e' => (CONTENT_TYPES[7].map(str::to_owned), rest),
        b'c' => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            // The server reads a non-ASCII header value as "" (HeaderValue::to_str fails).
            let header = std::str::from_utf8(&rest[..end])
                .ok()
                .filter(|h| h.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
                .unwrap_or("");
            (Some(header.to_owned()), rest.get(end + 1..).unwrap_or(&[]))
        }
        other => (
            CONTENT_TYPES[other as usize % CONTENT_TYPES.len()].map(str::to_owned),
            rest,
        ),
    };

    begin_input();
    note(format!(
        "Content-Type {content_type:?}, body {:?}",
        String::from_utf8_lossy(body)
    ));
    let mut config_uri = None;
    let result = pipeline(content_type.as_deref(), body, &mut config_uri);
    match result {
        Ok(created) => {
            assert!(!created.name.is_empty() && created.name == created.name.trim());
            if let Some(alias) = &created.alias {
                assert!(!alias.is_empty() && !alias.contains('/'));
            }
            check_spec(&created.spec);
        }
        Err(e) => {
            assert!(
                e.status.is_client_error(),
                "{} is not a 4xx: {} {}",
                e.status,
                e.code,
                e.message
            );
            // Codes are an enum now (api::error::ErrorCode); their spelling is checked by its
            // unit tests, so only the status is the fuzzer's to check.
            assert_eq!(e.status, e.code.status(), "{}", e.code);
            let mut oracle = Oracle::default();
            if let Some(ct) = &content_type {
                oracle.other(ct);
            }
            let mut uris = config_uris(content_type.as_deref(), body, &mut oracle);
            uris.extend(config_uri);
            for uri in &uris {
                url_passwords(uri, &mut oracle);
            }
            let (mut message, mut display) = (e.message.clone(), e.to_string());
            if e.code == ErrorCode::UnsupportedMediaType {
                // It names the Content-Type (a header, unquoted when it parsed); the body is
                // not read. Remove the header's spellings, as in the templates.
                if let Some(ct) = content_type.as_deref().filter(|ct| !ct.is_empty()) {
                    let essence = ct
                        .parse::<mime::Mime>()
                        .map(|m| m.essence_str().to_owned())
                        .unwrap_or_default();
                    for spelled in [ct, essence.as_str()] {
                        if !spelled.is_empty() {
                            message = message.replace(spelled, "");
                            display = display.replace(spelled, "");
                        }
                    }
                }
            }
            oracle.assert_absent("the ApiError's message", &message, templates());
            oracle.assert_absent("the ApiError's Display", &display, templates());
        }
    }
});
