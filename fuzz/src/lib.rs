//! What the fuzz targets share: the invariants of a parsed [`ConnectionSpec`] and the
//! password-leak oracle used on error messages.
//!
//! A message "leaks" a password when it contains it. Short passwords (under 4 characters)
//! and passwords that are also spelled elsewhere in the input (a scheme or option name that
//! an error may echo, an argument name) or in the fixed wording of some message (`"must"`,
//! `"configUri"`) cannot be told apart from legitimate text, so they are not looked for.

use jackal_drivers::{ConnectionSpec, UriError};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The drivers' rendering set: everything but RFC 3986 "unreserved" is encoded.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

thread_local! {
    static CONTEXT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Starts describing the current input: every panic (failed assertion) from here on prints
/// the lines noted with [`note`] first, so a crash report shows, say, the URI a structured
/// input was assembled into rather than only its bytes.
pub fn begin_input() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            CONTEXT.with(|c| {
                for line in c.borrow().iter() {
                    eprintln!("fuzz input: {line}");
                }
            });
            previous(info);
        }));
    });
    CONTEXT.with(|c| c.borrow_mut().clear());
}

/// Adds a line to the current input's description (see [`begin_input`]).
pub fn note(line: impl Into<String>) {
    CONTEXT.with(|c| c.borrow_mut().push(line.into()));
}

/// Passwords shorter than this are not looked for in messages (too likely to be a word).
pub const MIN_SECRET_CHARS: usize = 4;

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

pub fn decode_lossy(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Lowercased, with each run of ASCII digits collapsed to a single `0`: messages carry numbers
/// (JSON line and column, lengths) that a template cannot predict.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('0');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The secrets to look for in a message and the texts that may legitimately contain them.
#[derive(Default, Debug)]
pub struct Oracle {
    secrets: Vec<String>,
    /// Normalized other texts, separated by NUL (which no normalized secret contains
    /// unless it has one itself, in which case it is still found or not found correctly
    /// inside a single text).
    other: String,
}

impl Oracle {
    /// Looks for `secret` in messages (if it is long enough to mean something).
    pub fn secret(&mut self, secret: &str) {
        if secret.chars().count() >= MIN_SECRET_CHARS && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
    }

    /// Text a message may echo: the secret is not looked for if it occurs in it (in any of
    /// the spellings an echo may use: raw, percent-decoded, percent-encoded, `{:?}`-quoted).
    pub fn other(&mut self, text: &str) {
        for form in [
            text.to_owned(),
            decode_lossy(text),
            encode(text),
            format!("{text:?}"),
        ] {
            self.other.push_str(&normalize(&form));
            self.other.push('\0');
        }
    }

    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Whether `echo` (a quoted name inside a message, possibly capped with `…`) is spelled in
    /// the other texts, so it was echoed from there.
    pub fn explains(&self, echo: &str) -> bool {
        self.other
            .contains(&normalize(echo.trim_end_matches('\u{2026}')))
    }

    /// Panics if `text` contains a secret that is neither in the other texts nor in
    /// `templates` (the normalized wording of every message the code under test can give).
    ///
    /// Every `"quoted"` name in `text` that [`Oracle::explains`] is emptied first: a secret
    /// spanning the wording and an echoed name (`upportedScheme("i` in
    /// `UnsupportedScheme("idab")` when the scheme was `idab`) is neither a leak nor in any
    /// single template.
    pub fn assert_absent(&self, what: &str, text: &str, templates: &str) {
        if !self.secrets.iter().any(|s| text.contains(s.as_str())) {
            return;
        }
        let scrubbed = scrub_quoted(text, |echo| self.explains(echo));
        for secret in &self.secrets {
            if !scrubbed.contains(secret.as_str()) {
                continue;
            }
            let norm = normalize(secret);
            if self.other.contains(&norm) || templates.contains(&norm) {
                continue;
            }
            panic!("password leak: {what} contains the password {secret:?}: {text:?}");
        }
    }
}

/// `text` with the content of each `"quoted"` (`{:?}`-formatted) segment for which
/// `emptied(content)` holds removed, leaving `""`.
pub fn scrub_quoted(text: &str, emptied: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let content = &after[..end];
        out.push('"');
        if !emptied(content) {
            out.push_str(content);
        }
        out.push('"');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The normalized `messages`, each as it is and with every quoted name emptied (as
/// [`Oracle::assert_absent`] may see it), NUL-separated.
pub fn templates_of<'a>(messages: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for message in messages {
        out.push_str(&normalize(message));
        out.push('\0');
        out.push_str(&normalize(&scrub_quoted(message, |_| true)));
        out.push('\0');
    }
    out
}

/// The normalized Display and Debug of every [`UriError`] the parser can return (see
/// [`uri_error_samples`]): a password spelled inside this wording is not a leak.
pub fn uri_error_templates() -> &'static str {
    static TEMPLATES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let messages: Vec<String> = uri_error_samples()
            .iter()
            .flat_map(|e| [e.to_string(), format!("{e:?}")])
            .collect();
        templates_of(messages.iter().map(String::as_str))
    })
}

/// One [`UriError`] of every kind the parser returns (with empty or canonical payloads).
pub fn uri_error_samples() -> Vec<UriError> {
    {
        let mut errors = vec![
            UriError::UnsupportedScheme(String::new()),
            UriError::UnknownOption(String::new()),
            UriError::SqliteOption(String::new()),
        ];
        for (ch, escape) in [
            ('@', "%40"),
            ('/', "%2F"),
            ('?', "%3F"),
            ('#', "%23"),
            (':', "%3A"),
            ('%', "%25"),
        ] {
            errors.push(UriError::UnencodedInUserinfo { ch, escape });
        }
        // One input per remaining variant, so that the crate's own wording (and the option
        // names and expectations inside BadOptionValue/DuplicateOption) is used.
        for bad in [
            "",
            "a\tb",
            "postgresql://u:a%zz@h",
            "postgresql://u:%FF@h",
            "postgresql://u@/db",
            "postgresql://h h/db",
            "postgresql://h:0",
            "postgresql://h/a/b",
            "postgresql://h?ssl=1&ssl=1",
            "postgresql://h?validateSsl=1&validateSsl=1",
            "postgresql://h?sslRootCert=/a&sslRootCert=/a",
            "postgresql://h?connectTimeout=1&connectTimeout=1",
            "postgresql://h?ssl=x",
            "postgresql://h?validateSsl=x",
            "postgresql://h?sslRootCert=x",
            "postgresql://h?connectTimeout=x",
            "sqlite://a.db",
            "sqlite:///",
            "sqlite://u@/a.db",
        ] {
            errors.push(ConnectionSpec::parse(bad).expect_err(bad));
        }
        // The pasted forms' own refusals, one per wording.
        for bad in [
            "postgresql://h?sslmode=x",
            "mysql://h?ssl-mode=x",
            "mysql://h?sslMode=x",
            "postgresql://h?sslmode=require&sslmode=require",
            "postgresql://h?connect_timeout=0",
            "postgresql://h?connect_timeout=x",
            "postgresql://h?sslrootcert=x",
            "postgresql://h?sslmode=require&sslrootcert=system",
            "postgresql://h?sslmode=disable&ssl=true",
            "postgresql://h?sslcert=/a",
            "postgresql://a@h?user=b",
            "jdbc:postgresql://h?password=a+b",
            "jdbc:mysql://h?connectTimeout=x",
            "jdbc:mysql://h?connectTimeout=0",
            "jdbc:mysql://h?connectTimeout=301000",
            "jdbc:postgresql:db",
        ] {
            errors.push(jackal_drivers::uri_forms::parse(bad).expect_err(bad));
        }
        errors
    }
}

/// `s` with its ASCII letters and digits rotated (a→b, z→a, 9→0, ...), except for the two
/// characters after each `%` so that percent escapes keep their meaning. Nothing a URI
/// parser looks at changes, so an error from the rotated URI must read exactly the same.
pub fn rotate(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut keep = 0;
    for c in s.chars() {
        if keep > 0 {
            keep -= 1;
            out.push(c);
            continue;
        }
        if c == '%' {
            keep = 2;
        }
        out.push(match c {
            'a'..='y' | 'A'..='Y' | '0'..='8' => (c as u8 + 1) as char,
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            _ => c,
        });
    }
    out
}

/// The invariants of a successfully parsed spec: it round-trips through `to_uri()`, the
/// normalization is idempotent, and the redacted rendering does not depend on the password
/// (so it cannot contain it) and parses back to the same destination without one.
pub fn check_spec(spec: &ConnectionSpec) {
    let uri = spec.to_uri();
    let again = ConnectionSpec::parse(&uri)
        .unwrap_or_else(|e| panic!("to_uri() of {spec:?} does not parse again: {e}"));
    assert_eq!(&again, spec, "parse(to_uri()) differs from the spec");
    assert_eq!(again.to_uri(), uri, "to_uri() is not idempotent");

    let redacted = spec.to_redacted_uri();
    let bare = spec.without_password();
    assert!(!bare.has_password());
    assert_eq!(
        redacted,
        bare.to_uri(),
        "to_redacted_uri() is not the URI without its password"
    );
    let reparsed = ConnectionSpec::parse(&redacted)
        .unwrap_or_else(|e| panic!("to_redacted_uri() of {spec:?} does not parse: {e}"));
    assert_eq!(reparsed, bare, "the redacted URI names another destination");
    assert!(!reparsed.has_password(), "the redacted URI has a password");

    let debug = format!("{spec:?}");
    for other in ["x", "0ther-Pässwörd/@?#%"] {
        let alt = spec.with_password(Some(other.into()));
        assert_eq!(
            alt.to_redacted_uri(),
            redacted,
            "to_redacted_uri() depends on the password"
        );
        if spec.has_password() {
            assert_eq!(format!("{alt:?}"), debug, "Debug depends on the password");
        }
    }

    if let Some(password) = spec.password() {
        let password = password.expose();
        assert!(!password.is_empty(), "an empty password is kept");
        let written = format!(":{}@", encode(password));
        assert!(uri.contains(&written), "to_uri() lacks {written:?}");
        // Exactly the `:password` is removed, nothing else.
        let expected = match spec.user() {
            Some(user) => {
                let user = encode(user);
                redacted.replacen(
                    &format!("://{user}@"),
                    &format!("://{user}:{}@", encode(password)),
                    1,
                )
            }
            None => redacted.replacen("://", &format!("://:{}@", encode(password)), 1),
        };
        assert_eq!(expected, uri, "redaction removed more than the password");
    }
}

/// Panics if an error from parsing a URI leaks one of `oracle`'s secrets.
pub fn check_uri_error(oracle: &Oracle, e: &UriError) {
    let templates = uri_error_templates();
    oracle.assert_absent("the UriError's Display", &e.to_string(), templates);
    oracle.assert_absent("the UriError's Debug", &format!("{e:?}"), templates);
    let code = e.code();
    assert!(
        !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "code {code:?} is not snake_case"
    );
}

/// The passwords `url` sees in `uri` (as serialized and percent-decoded), if any, and the rest
/// of the URI as other text: the `:password@` is cut once, so the same text anywhere else (an option
/// name, say) still counts as other.
pub fn url_passwords(uri: &str, oracle: &mut Oracle) {
    let Ok(url) = url::Url::parse(uri.trim()) else {
        return;
    };
    let Some(serialized) = url.password() else {
        return;
    };
    oracle.secret(serialized);
    if let Ok(decoded) = percent_decode_str(serialized).decode_utf8() {
        oracle.secret(&decoded);
    }
    oracle.other(&uri.replacen(&format!(":{serialized}@"), ":@", 1));
}
