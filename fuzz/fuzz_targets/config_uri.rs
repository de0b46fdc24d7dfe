//! `ConnectionSpec::parse` on arbitrary input, two ways per input:
//!
//! 1. the bytes as text, parsed as they are (the seeds are plain configUris);
//! 2. the bytes read by `arbitrary` as the pieces of a URI (scheme, user, password, host, port,
//!    database, options), each written fully percent-encoded, with only the delimiters
//!    encoded, or raw (so unencoded `@ / ? # %` and `:` reach the parser), so that the
//!    password is known exactly.
//!
//! Checked: no panic; a parsed spec round-trips (`parse(to_uri())` equals it, `to_uri()` is
//! idempotent) and its redacted URI does not depend on the password; an error's Display and
//! Debug never contain the password (decoded, or as written), and read exactly the same when
//! the password's letters and digits are changed; an unambiguously written password (and
//! user) is decoded to exactly what was written.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jackal_drivers::ConnectionSpec;
use jackal_fuzz::{
    begin_input, check_spec, check_uri_error, encode, note, rotate, url_passwords, Oracle,
};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Only what delimits a userinfo, database or option (and `%`, the escape character).
const DELIMITERS: &AsciiSet = &CONTROLS
    .add(b'@')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'%')
    .add(b':')
    .add(b'&')
    .add(b'=');

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Encoding {
    /// Everything but RFC 3986 unreserved characters.
    Full,
    /// Only the delimiters (`@ / ? # % : & =` and controls).
    Delimiters,
    /// As is.
    Raw,
}

#[derive(Arbitrary, Debug)]
struct Part {
    text: String,
    encoding: Encoding,
}

impl Part {
    fn written(&self) -> String {
        match self.encoding {
            Encoding::Full => encode(&self.text),
            Encoding::Delimiters => utf8_percent_encode(&self.text, DELIMITERS).to_string(),
            Encoding::Raw => self.text.clone(),
        }
    }

    /// Whether `parse` must give back exactly `text` for this part: it was encoded, or it
    /// holds no `%` (an escape cannot be told from a literal) and none of `extra`.
    fn unambiguous(&self, extra: &[char]) -> bool {
        self.encoding != Encoding::Raw || !self.text.contains(['%']) && !self.text.contains(extra)
    }
}

#[derive(Arbitrary, Debug)]
enum Scheme {
    Postgresql,
    Postgres,
    Mysql,
    Mariadb,
    Sqlite,
    Upper,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Host {
    Example,
    Name(String),
    Ipv4([u8; 4]),
    Ipv6([u16; 8]),
    Ipv6Loopback,
    Bracketed(String),
    Empty,
}

#[derive(Arbitrary, Debug)]
enum Port {
    None,
    Number(u16),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum OptionName {
    ValidateSsl,
    Ssl,
    SslRootCert,
    ConnectTimeout,
    SshHost,
    SshPort,
    SshUser,
    SshHostKey,
    SshJump,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum OptionValue {
    True,
    False,
    On,
    Seconds(u16),
    CaPath,
    /// A real host key's fingerprint, `+` and `/` included.
    Fingerprint,
    /// A jump list of two hops, the first pinned (`@` written %40).
    Jump,
    Text(Part),
}

#[derive(Arbitrary, Debug)]
struct Pieces {
    scheme: Scheme,
    user: Option<Part>,
    password: Option<Part>,
    host: Host,
    port: Port,
    database: Option<Part>,
    options: Vec<(OptionName, OptionValue)>,
    trailing: Option<String>,
}

struct Assembled {
    uri: String,
    /// Byte range of the password as written.
    password_span: Option<(usize, usize)>,
}

impl Pieces {
    fn assemble(&self) -> Assembled {
        let mut uri = match &self.scheme {
            Scheme::Postgresql => "postgresql".to_owned(),
            Scheme::Postgres => "postgres".to_owned(),
            Scheme::Mysql => "mysql".to_owned(),
            Scheme::Mariadb => "mariadb".to_owned(),
            Scheme::Sqlite => "sqlite".to_owned(),
            Scheme::Upper => "PostgreSQL".to_owned(),
            // Without delimiters, so that the first `://` is the one written next.
            Scheme::Other(s) => s.replace([':', '/', '?', '#', '@'], ""),
        };
        uri.push_str("://");
        let mut password_span = None;
        if self.user.is_some() || self.password.is_some() {
            if let Some(user) = &self.user {
                uri.push_str(&user.written());
            }
            if let Some(password) = &self.password {
                uri.push(':');
                let start = uri.len();
                uri.push_str(&password.written());
                password_span = Some((start, uri.len()));
            }
            uri.push('@');
        }
        match &self.host {
            Host::Example => uri.push_str("somedb.example.com"),
            Host::Name(name) => uri.push_str(name),
            Host::Ipv4([a, b, c, d]) => uri.push_str(&format!("{a}.{b}.{c}.{d}")),
            Host::Ipv6(segments) => {
                uri.push('[');
                let parts: Vec<String> = segments.iter().map(|s| format!("{s:x}")).collect();
                uri.push_str(&parts.join(":"));
                uri.push(']');
            }
            Host::Ipv6Loopback => uri.push_str("[::1]"),
            Host::Bracketed(inner) => {
                uri.push('[');
                uri.push_str(inner);
                uri.push(']');
            }
            Host::Empty => {}
        }
        match &self.port {
            Port::None => {}
            Port::Number(n) => uri.push_str(&format!(":{n}")),
            Port::Text(t) => {
                uri.push(':');
                uri.push_str(t);
            }
        }
        if let Some(database) = &self.database {
            uri.push('/');
            uri.push_str(&database.written());
        }
        for (i, (name, value)) in self.options.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(match name {
                OptionName::ValidateSsl => "validateSsl",
                OptionName::Ssl => "ssl",
                OptionName::SslRootCert => "sslRootCert",
                OptionName::ConnectTimeout => "connectTimeout",
                OptionName::SshHost => "sshHost",
                OptionName::SshPort => "sshPort",
                OptionName::SshUser => "sshUser",
                OptionName::SshHostKey => "sshHostKey",
                OptionName::SshJump => "sshJump",
                OptionName::Other(other) => other,
            });
            uri.push('=');
            match value {
                OptionValue::True => uri.push_str("true"),
                OptionValue::False => uri.push_str("false"),
                OptionValue::On => uri.push_str("On"),
                OptionValue::Seconds(s) => uri.push_str(&s.to_string()),
                OptionValue::CaPath => uri.push_str("/etc/ssl/certs/ca%20bundle.pem"),
                OptionValue::Fingerprint => {
                    uri.push_str("SHA256:H1A0MOgNmSX3XWZTmX/3zKGCHwCbWDGC1iyaSmZ5Jng")
                }
                OptionValue::Jump => uri.push_str(
                    "j%40gw.example.com:2222;SHA256:H1A0MOgNmSX3XWZTmX/3zKGCHwCbWDGC1iyaSmZ5Jng,\
                     k%40[fd00::1]",
                ),
                OptionValue::Text(part) => uri.push_str(&part.written()),
            }
        }
        if let Some(trailing) = &self.trailing {
            uri.push_str(trailing);
        }
        Assembled { uri, password_span }
    }
}

/// Mode 1: the input as it is. The password is known only through `url` (or the spec).
fn check_text(text: &str) {
    note(format!("as text: {text:?}"));
    match ConnectionSpec::parse(text) {
        Ok(spec) => check_spec(&spec),
        Err(e) => {
            let mut oracle = Oracle::default();
            url_passwords(text, &mut oracle);
            check_uri_error(&oracle, &e);
        }
    }
}

/// Mode 2: a URI built from pieces, so the password (and where it is) is known.
fn check_pieces(pieces: &Pieces) {
    let Assembled { uri, password_span } = pieces.assemble();
    note(format!("as pieces: {pieces:?}"));
    note(format!(
        "assembled: {uri:?} (password at {password_span:?})"
    ));
    let result = ConnectionSpec::parse(&uri);
    match &result {
        Ok(spec) => check_spec(spec),
        Err(e) => {
            let mut oracle = Oracle::default();
            if let (Some((start, end)), Some(password)) = (password_span, &pieces.password) {
                let written = &uri[start..end];
                oracle.secret(&password.text);
                oracle.secret(written);
                oracle.secret(&jackal_fuzz::decode_lossy(written));
                oracle.other(&uri[..start]);
                oracle.other(&uri[end..]);
            }
            check_uri_error(&oracle, e);
        }
    }

    // The rest assumes the userinfo is where it was written: a known scheme and a user
    // that cannot end the userinfo early (`u@h?:pw@host` is ambiguous, and legitimately
    // parses or fails in ways that depend on what follows).
    let known_scheme = !matches!(pieces.scheme, Scheme::Other(_));
    let user_clean = pieces
        .user
        .as_ref()
        .is_none_or(|u| u.unambiguous(&['@', '/', '?', '#', ':']));
    if !known_scheme || !user_clean {
        return;
    }

    // The same URI with the password's letters and digits changed must behave the same,
    // apart from the password itself: an error reads identically, a spec differs only in it.
    if let Some((start, end)) = password_span {
        let rotated = format!(
            "{}{}{}",
            &uri[..start],
            rotate(&uri[start..end]),
            &uri[end..]
        );
        note(format!("rotated:   {rotated:?}"));
        match (&result, ConnectionSpec::parse(&rotated)) {
            (Err(a), Err(b)) => {
                assert_eq!(
                    a.to_string(),
                    b.to_string(),
                    "the error depends on the password"
                );
                assert_eq!(
                    format!("{a:?}"),
                    format!("{b:?}"),
                    "the error depends on the password"
                );
            }
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    a.without_password(),
                    b.without_password(),
                    "the spec depends on the password"
                );
                assert_eq!(a.to_redacted_uri(), b.to_redacted_uri());
            }
            (a, b) => panic!(
                "changing the password's letters changes the outcome: {:?} vs {:?}",
                a.as_ref().err(),
                b.as_ref().err()
            ),
        }
    }

    // What was written unambiguously comes back exactly (an empty user or password is none).
    if let Ok(spec) = &result {
        if let Some(password) = &pieces.password {
            if password.unambiguous(&[]) {
                let expected = Some(password.text.as_str()).filter(|p| !p.is_empty());
                assert!(
                    spec.password().map(|p| p.expose()) == expected,
                    "the password was not decoded to what was written"
                );
            }
        }
        if let Some(user) = &pieces.user {
            let expected = Some(user.text.as_str()).filter(|u| !u.is_empty());
            assert_eq!(
                spec.user(),
                expected,
                "the user was not decoded to what was written"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    begin_input();
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    if let Ok(pieces) = Pieces::arbitrary_take_rest(Unstructured::new(data)) {
        check_pieces(&pieces);
    }
});
