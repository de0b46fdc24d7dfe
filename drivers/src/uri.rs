//! Parsing, validation and normalization of a data source's `configUri`.
//!
//! Everything here is pure string work: no DNS, no file system, no sockets.
//! See the crate documentation for the accepted grammar and options.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::host::{self, HostError};
use crate::ssh::{self, Hop, SshCredentials, SshRoute};
use crate::tls_credentials::{DecodedTls, TlsCredentialError, TlsCredentials};

/// Shown in errors so that a person sees the expected shape rather than
/// their own (secret-bearing) input echoed back.
const EXAMPLE: &str = "postgresql://user:password@host:5432/database";

/// Everything except RFC 3986 "unreserved" characters is encoded, so a
/// rendered user, password or database name can never be mistaken for a
/// delimiter by this parser, by `url`, or by any driver downstream.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// File paths (the SQLite file, `sslRootCert`) keep `/` literal so that the
/// normalized URI stays readable; `/` is not a delimiter inside them.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// SSH option values keep `:`, `,`, `;` and `+` literal (host keys, `host:port` hops): none of
/// them is a delimiter inside a query value. `@` stays `%40`: a raw `@` after the host is
/// refused, as it may be a password's.
const SSH_VALUE: &AsciiSet = &PATH.remove(b':').remove(b',').remove(b';').remove(b'+');

/// Names echoed in error messages come from the user's input; capping them
/// keeps a pasted blob (possibly containing a secret) out of logs.
const MAX_ECHO_CHARS: usize = 40;

/// The kind of database a `configUri` designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// Exhaustive on purpose: the server maps each variant to the contract's documented list
// (OpenAPI), and a new one must fail its build rather than fall back silently.
pub enum Kind {
    /// `postgresql://` or `postgres://`.
    Postgresql,
    /// `mysql://` or `mariadb://`.
    Mysql,
    /// `sqlite:///absolute/path.db`.
    Sqlite,
}

impl Kind {
    /// Every kind, in the order the contract lists the types.
    pub const ALL: [Kind; 3] = [Kind::Postgresql, Kind::Mysql, Kind::Sqlite];

    /// The kind whose canonical scheme ([`Kind::as_str`], a data source's stored `type`) is
    /// `name`.
    pub fn from_canonical(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The canonical scheme, as stored and rendered.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Postgresql => "postgresql",
            Kind::Mysql => "mysql",
            Kind::Sqlite => "sqlite",
        }
    }

    /// The port used when the URI names none; `None` for SQLite (a local file).
    pub fn default_port(&self) -> Option<u16> {
        match self {
            Kind::Postgresql => Some(5432),
            Kind::Mysql => Some(3306),
            Kind::Sqlite => None,
        }
    }

    /// `scheme` must already be lowercase.
    fn from_scheme(scheme: &str) -> Option<Kind> {
        match scheme {
            "postgresql" | "postgres" => Some(Kind::Postgresql),
            "mysql" | "mariadb" => Some(Kind::Mysql),
            "sqlite" => Some(Kind::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded password. Its `Debug` output is redacted so that it cannot leak
/// through `{:?}` in logs or panics; call [`Password::expose`] deliberately.
/// Its memory is overwritten with zeros when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Drop for Password {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Password {
    /// The password in clear text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Password(password)
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Password(password.to_owned())
    }
}

/// Why a `configUri` was rejected.
///
/// `Display` is the message meant for the person who typed the URI. No
/// variant carries the password, and no message echoes the URI; the few
/// variants that carry input (a scheme or option name) cap its length.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// Empty, blank, or without `scheme://`.
    #[error("configUri must look like {EXAMPLE}")]
    NotAUri,
    /// `url` silently drops tabs and line breaks, which would change a
    /// password without telling anyone, so they are refused instead.
    #[error(
        "configUri contains a tab, line break or other control character: \
         percent-encode it (a tab is %09, a line feed %0A)"
    )]
    ControlCharacter,
    /// The scheme (lowercased) is not one of the supported ones.
    #[error("unsupported scheme {0:?}: use one of postgresql, postgres, mysql, mariadb, sqlite")]
    UnsupportedScheme(String),
    /// A delimiter appears where only the user or password can have put it.
    #[error("{}", unencoded_message(.ch, .escape))]
    UnencodedInUserinfo {
        /// The offending character.
        ch: char,
        /// How it must be written, e.g. `%40`.
        escape: &'static str,
    },
    /// A `%` not followed by two hex digits.
    #[error(
        "configUri contains a '%' that does not start a %XX escape: \
         a literal '%' (for example in a password) must be written %25"
    )]
    BadPercentEncoding,
    /// A percent-decoded user, password, database, path or option is not UTF-8.
    #[error(
        "a percent-encoded user, password, database name, path or option in configUri \
         does not decode to UTF-8 text"
    )]
    NotUtf8,
    /// A network database needs a host.
    #[error("configUri has no host: it must look like {EXAMPLE}")]
    MissingHost,
    /// The host is neither a valid name nor a valid `[IPv6]` literal.
    #[error(
        "the host in configUri is not a valid host name or [IPv6] address \
         (spaces and other special characters are not allowed)"
    )]
    BadHost,
    /// The host is a number in another spelling than a dotted quad (`127.1`, `2130706437`).
    #[error("the host in configUri is {}", HostError::NumericSpelling.advice())]
    NumericHost,
    /// Port 0, above 65535, empty, or not digits.
    #[error("bad port: the port in configUri must be a number from 1 to 65535")]
    BadPort,
    /// Something after the database name, e.g. `/db/schema`.
    #[error(
        "the database name in configUri contains a '/': give a single database name \
         after the host (write %2F if the name really contains '/')"
    )]
    DatabaseWithSlash,
    /// An option this crate does not understand (name capped).
    #[error(
        "unknown option {0:?} in configUri: supported options are \
         validateSsl, ssl, sslRootCert, connectTimeout, sshHost, sshPort, sshUser, sshHostKey \
         and sshJump (names are case-sensitive)"
    )]
    UnknownOption(String),
    /// The same option twice.
    #[error("option {0:?} appears more than once in configUri")]
    DuplicateOption(String),
    /// A known option with a value outside its domain (the value is not echoed).
    #[error("option {option} in configUri must be {expected}")]
    BadOptionValue {
        /// The option's canonical name.
        option: &'static str,
        /// What it accepts.
        expected: &'static str,
    },
    /// `sshJump` is not a list of `user@host[:port][;hostkey]` hops (the message says which).
    #[error("{0}")]
    BadSshJump(String),
    /// SSH options that do not make a tunnel: one missing, or a kind that cannot be tunnelled.
    #[error("{0}")]
    SshSettings(&'static str),
    /// `sqlite:relative.db`, `sqlite://relative.db` or `sqlite://host/...`.
    #[error(
        "relative SQLite path: use sqlite:///absolute/path/to/file.db \
         (three slashes; an SQLite configUri has no host)"
    )]
    RelativeSqlitePath,
    /// `sqlite:///` or a path ending in `/`.
    #[error(
        "the SQLite path in configUri names a directory: use sqlite:///absolute/path/to/file.db"
    )]
    SqliteNotAFile,
    /// User, password, host or port on an SQLite URI.
    #[error(
        "an SQLite configUri takes no user, password, host or port: \
         use sqlite:///absolute/path/to/file.db"
    )]
    SqliteAuthority,
    /// Any option on an SQLite URI (name capped).
    #[error("SQLite takes no options, but configUri has {0:?}")]
    SqliteOption(String),
    /// An option of another client's URI (libpq's, a JDBC driver's, MySQL's) that is understood
    /// but cannot be honoured as written (see [`crate::uri_forms`]); the value is not echoed.
    #[error("option {option} in configUri cannot be honoured: {problem}")]
    CannotHonour {
        /// The option's name as that client spells it.
        option: &'static str,
        /// Why, and what to write instead.
        problem: &'static str,
    },
    /// A JDBC URL in a form other than `jdbc:<type>://host…`.
    #[error(
        "a JDBC URL in configUri must name its host: jdbc:postgresql://host:5432/database, \
         jdbc:mysql://host:3306/database or jdbc:mariadb://host:3306/database (one host; \
         forms such as jdbc:postgresql:database or jdbc:mysql:loadbalance:// are not understood)"
    )]
    UnsupportedJdbcUrl,
}

impl UriError {
    /// A stable snake_case identifier for the HTTP layer.
    ///
    /// Every variant is a client error (HTTP 400); callers wanting a single
    /// category can use [`UriError::CATEGORY`] and put this finer code beside it.
    pub fn code(&self) -> &'static str {
        match self {
            UriError::NotAUri => "not_a_uri",
            UriError::ControlCharacter => "control_character",
            UriError::UnsupportedScheme(_) => "unsupported_scheme",
            UriError::UnencodedInUserinfo { .. } => "unencoded_character",
            UriError::BadPercentEncoding => "bad_percent_encoding",
            UriError::NotUtf8 => "not_utf8",
            UriError::MissingHost => "missing_host",
            UriError::BadHost | UriError::NumericHost => "bad_host",
            UriError::BadPort => "bad_port",
            UriError::DatabaseWithSlash => "database_with_slash",
            UriError::UnknownOption(_) => "unknown_option",
            UriError::DuplicateOption(_) => "duplicate_option",
            UriError::BadOptionValue { .. } => "bad_option_value",
            UriError::BadSshJump(_) => "bad_ssh_jump",
            UriError::SshSettings(_) => "bad_ssh_settings",
            UriError::RelativeSqlitePath => "relative_sqlite_path",
            UriError::SqliteNotAFile => "sqlite_not_a_file",
            UriError::SqliteAuthority => "sqlite_authority",
            UriError::SqliteOption(_) => "sqlite_option",
            UriError::CannotHonour { .. } => "cannot_honour_option",
            UriError::UnsupportedJdbcUrl => "unsupported_jdbc_url",
        }
    }

    /// The coarse code shared by every variant.
    pub const CATEGORY: &'static str = "invalid_config_uri";
}

fn unencoded_message(ch: &char, escape: &str) -> String {
    match ch {
        '@' => format!(
            "the user or password in configUri contains an unencoded '@': write it as {escape}"
        ),
        '/' | '?' => format!(
            "configUri has an '@' after the host: if the user or password contains '{ch}', \
             write it as {escape}; an '@' anywhere else must be written %40"
        ),
        '#' => format!("configUri contains a '#': a '#' in a password must be written {escape}"),
        _ => format!(
            "the user or password in configUri contains an unencoded '{ch}': write it as {escape}"
        ),
    }
}

fn unencoded(ch: char) -> UriError {
    let escape = match ch {
        '@' => "%40",
        '/' => "%2F",
        '?' => "%3F",
        '#' => "%23",
        ':' => "%3A",
        _ => "%25",
    };
    UriError::UnencodedInUserinfo { ch, escape }
}

pub(crate) fn echo(input: &str) -> String {
    let mut chars = input.chars();
    let mut out: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// A raw `@` after the authority means a `/` or `?` in the userinfo ended the authority early:
/// the error names that character, whose escape is the fix.
fn refuse_at_after_authority(after_authority: &str) -> Result<(), UriError> {
    if after_authority.contains('@') {
        let cut = after_authority.chars().next().unwrap_or('/');
        return Err(unencoded(cut));
    }
    Ok(())
}

pub(crate) fn decode(raw: &str) -> Result<String, UriError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UriError::NotUtf8)
}

fn encode(value: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(value, set).to_string()
}

/// `value` encoded as a user, password or database name is rendered.
pub(crate) fn encode_component(value: &str) -> String {
    encode(value, COMPONENT)
}

/// The contract's spellings of a boolean option (`ssl`, `validateSsl`), any case.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `url` (WHATWG) keeps a malformed escape verbatim, so a password holding a
/// literal `%` would otherwise be decoded into something else without a word.
pub(crate) fn check_percent_escapes(s: &str) -> Result<(), UriError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(UriError::BadPercentEncoding);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl OptionName {
    fn as_str(self) -> &'static str {
        match self {
            OptionName::ValidateSsl => "validateSsl",
            OptionName::Ssl => "ssl",
            OptionName::SslRootCert => "sslRootCert",
            OptionName::ConnectTimeout => "connectTimeout",
            OptionName::SshHost => "sshHost",
            OptionName::SshPort => "sshPort",
            OptionName::SshUser => "sshUser",
            OptionName::SshHostKey => "sshHostKey",
            OptionName::SshJump => "sshJump",
        }
    }

    /// How the value is percent-encoded when rendered: SSH values keep the characters their
    /// own syntax uses (`user@host:port;SHA256:…,…`) readable; all are legal in a query.
    fn encode_set(self) -> &'static AsciiSet {
        match self {
            OptionName::SshHost
            | OptionName::SshPort
            | OptionName::SshUser
            | OptionName::SshHostKey
            | OptionName::SshJump => SSH_VALUE,
            _ => PATH,
        }
    }

    fn from_name(name: &str) -> Option<OptionName> {
        [
            OptionName::ValidateSsl,
            OptionName::Ssl,
            OptionName::SslRootCert,
            OptionName::ConnectTimeout,
            OptionName::SshHost,
            OptionName::SshPort,
            OptionName::SshUser,
            OptionName::SshHostKey,
            OptionName::SshJump,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
    }

    /// Returns the canonical value, so that equal meanings compare equal and
    /// render identically.
    fn normalize(self, value: &str) -> Result<String, UriError> {
        let bad = |expected| UriError::BadOptionValue {
            option: self.as_str(),
            expected,
        };
        match self {
            OptionName::ValidateSsl | OptionName::Ssl => parse_bool(value)
                .map(|b| b.to_string())
                .ok_or_else(|| bad("true or false (1/0, yes/no and on/off are also accepted)")),
            OptionName::SslRootCert => {
                if !value.is_empty() && Path::new(value).is_absolute() {
                    Ok(value.to_owned())
                } else {
                    Err(bad("the absolute path of a PEM CA bundle"))
                }
            }
            OptionName::ConnectTimeout => {
                let seconds = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u32>().ok())
                    .flatten()
                    .filter(|s| (1..=300).contains(s));
                seconds
                    .map(|s| s.to_string())
                    .ok_or_else(|| bad("a whole number of seconds from 1 to 300"))
            }
            OptionName::SshHost => host::parse(value).map_err(|e| match e {
                HostError::Invalid => bad("a host name or IP address (the SSH bastion)"),
                HostError::NumericSpelling => bad(
                    "a host name or IP address (the SSH bastion); an IPv4 address as a dotted \
                     quad (127.1, 2130706437, 0x7f.0.0.1 and 0177.0.0.1 are refused, since \
                     resolvers read them as other addresses than they seem)",
                ),
            }),
            OptionName::SshPort => ssh::parse_port(value)
                .map(|p| p.to_string())
                .ok_or_else(|| bad("a port number from 1 to 65535")),
            OptionName::SshUser => ssh::parse_user(value)
                .ok_or_else(|| bad("the user to log in to the bastion as (no '@', ',' or ';')")),
            OptionName::SshHostKey => ssh::HostKeyPin::parse(value)
                .map(|pin| pin.to_string())
                .map_err(bad),
            OptionName::SshJump => ssh::parse_jump(value)
                .map(|hops| ssh::render_jump(&hops))
                .map_err(UriError::BadSshJump),
        }
    }
}

/// Splits a raw query into `(name, value)` pairs, skipping empty segments so
/// that a trailing `?` or `&` is harmless. Splitting by hand rather than with
/// `Url::query_pairs` because that applies form decoding, where `+` means a
/// space: a CA bundle at `/etc/a+b.pem` must stay `/etc/a+b.pem`.
fn query_segments(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|seg| !seg.is_empty())
        .map(|seg| seg.split_once('=').unwrap_or((seg, "")))
}

/// A validated, normalized `configUri`.
///
/// Equality is on normalized parts, so two spellings of the same URI
/// (`postgres://` and `postgresql://`, `ssl=on` and `ssl=true`) compare equal.
#[derive(Clone, PartialEq)]
pub struct ConnectionSpec {
    kind: Kind,
    user: Option<String>,
    password: Option<Password>,
    /// IPv6 addresses are stored without brackets.
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    sqlite_path: Option<String>,
    /// The user's options in their order, then the appended defaults.
    options: Vec<(OptionName, String)>,
    /// The tunnel's key or password: beside the URI, never rendered into it.
    ssh_credentials: SshCredentials,
    /// The client certificate and CA certificates sent beside the URI, with their decoded form.
    tls_material: TlsMaterial,
}

/// [`TlsCredentials`] as given, and decoded once, not at every handshake (an encrypted key is
/// not decrypted here: see [`ConnectionSpec::unlocked`]). Equal when the texts are.
#[derive(Clone, Default)]
struct TlsMaterial {
    given: TlsCredentials,
    decoded: Arc<DecodedTls>,
}

/// Why an encrypted key of a spec could not be decrypted ([`ConnectionSpec::unlocked`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    #[error(transparent)]
    Ssh(ssh::KeyError),
    #[error(transparent)]
    Tls(TlsCredentialError),
}

impl UnlockError {
    /// The API argument the error is about.
    pub fn argument(&self) -> &'static str {
        match self {
            UnlockError::Ssh(e) => e.argument(),
            UnlockError::Tls(e) => e.argument(),
        }
    }
}

impl PartialEq for TlsMaterial {
    fn eq(&self, other: &Self) -> bool {
        self.given == other.given
    }
}

impl fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: Vec<String> = self
            .options
            .iter()
            .map(|(name, value)| format!("{}={}", name.as_str(), value))
            .collect();
        f.debug_struct("ConnectionSpec")
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("sqlite_path", &self.sqlite_path)
            .field("options", &options)
            .field("ssh_credentials", &self.ssh_credentials)
            .field("tls_credentials", &self.tls_material.given)
            .finish()
    }
}

impl FromStr for ConnectionSpec {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConnectionSpec::parse(s)
    }
}

impl ConnectionSpec {
    /// Parses and validates `uri`, normalizing it as described in the crate
    /// documentation. Surrounding whitespace is ignored.
    pub fn parse(uri: &str) -> Result<ConnectionSpec, UriError> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(UriError::NotAUri);
        }
        if uri.chars().any(char::is_control) {
            return Err(UriError::ControlCharacter);
        }
        let Some(scheme_end) = uri.find("://") else {
            // `sqlite:file.db` is a classic way of writing a relative path,
            // so it deserves the specific advice rather than the generic shape.
            return match uri.split_once(':') {
                Some((scheme, _)) if scheme.eq_ignore_ascii_case("sqlite") => {
                    Err(UriError::RelativeSqlitePath)
                }
                _ => Err(UriError::NotAUri),
            };
        };
        let scheme = &uri[..scheme_end];
        if !is_scheme(scheme) {
            return Err(UriError::NotAUri);
        }
        let scheme = scheme.to_ascii_lowercase();
        let kind =
            Kind::from_scheme(&scheme).ok_or_else(|| UriError::UnsupportedScheme(echo(&scheme)))?;

        // None of our URIs has a fragment, so a `#` can only be a password
        // character that `url` would otherwise cut off silently.
        if uri.contains('#') {
            return Err(unencoded('#'));
        }
        check_percent_escapes(uri)?;

        let rest = &uri[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        let (path, query) = match after.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (after, None),
        };

        match kind {
            Kind::Sqlite => Self::parse_sqlite(authority, after, path, query),
            Kind::Postgresql | Kind::Mysql => {
                Self::parse_network(kind, uri, authority, after, path, query)
            }
        }
    }

    fn parse_sqlite(
        authority: &str,
        after_authority: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<ConnectionSpec, UriError> {
        // As for network URIs: a raw `@` after the authority means a `/` or `?` in a userinfo
        // ended it early, and the text after that `?` may be a password, which the options
        // message below would echo (found by the config_uri fuzz target).
        refuse_at_after_authority(after_authority)?;
        if !authority.is_empty() {
            return Err(if authority.contains(['@', ':']) {
                UriError::SqliteAuthority
            } else {
                UriError::RelativeSqlitePath
            });
        }
        if let Some((name, _)) = query_segments(query).next() {
            let name = percent_decode_str(name).decode_utf8_lossy();
            return Err(UriError::SqliteOption(echo(&name)));
        }
        if path.is_empty() {
            return Err(UriError::RelativeSqlitePath);
        }
        // Checked on the decoded path: `%2F` at the end names a directory too, and `%00` (or
        // any control character) cannot be in a file name SQLite is given (both found by the
        // config_uri fuzz target, as paths that did not survive to_uri then parse).
        let decoded = decode(path)?;
        if decoded.chars().any(char::is_control) {
            return Err(UriError::ControlCharacter);
        }
        if decoded.ends_with('/') {
            return Err(UriError::SqliteNotAFile);
        }
        Ok(ConnectionSpec {
            kind: Kind::Sqlite,
            user: None,
            password: None,
            host: None,
            port: None,
            database: None,
            sqlite_path: Some(decoded),
            options: Vec::new(),
            ssh_credentials: SshCredentials::default(),
            tls_material: TlsMaterial::default(),
        })
    }

    fn parse_network(
        kind: Kind,
        uri: &str,
        authority: &str,
        after_authority: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<ConnectionSpec, UriError> {
        // `url` takes the *last* `@` as the end of the userinfo, so a second
        // one would silently move part of the password into the user.
        if authority.matches('@').count() > 1 {
            return Err(unencoded('@'));
        }
        // An `@` after the authority means a `/` or `?` in the userinfo ended
        // the authority early (`u:p/x@host`, or `u:t0p@s3c/x@host`, where the
        // first `@` makes a wrong host out of the rest of the password). Either
        // way the real host would be taken from the password: refuse it, and an
        // `@` in a database name or option value must be written %40 anyway.
        refuse_at_after_authority(after_authority)?;
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        // `url` accepts `host:` as "no port"; an empty port is a typo.
        if host_port.ends_with(':') {
            return Err(UriError::BadPort);
        }

        let url = url::Url::parse(uri).map_err(|e| match e {
            url::ParseError::EmptyHost => UriError::MissingHost,
            url::ParseError::InvalidPort => UriError::BadPort,
            url::ParseError::IdnaError
            | url::ParseError::InvalidIpv4Address
            | url::ParseError::InvalidIpv6Address
            | url::ParseError::InvalidDomainCharacter => UriError::BadHost,
            _ => UriError::NotAUri,
        })?;
        let host = match url.host() {
            Some(url::Host::Ipv6(addr)) => addr.to_string(),
            Some(url::Host::Ipv4(addr)) => addr.to_string(),
            // `url` keeps a non-special scheme's host opaque: the one host rule judges it.
            Some(url::Host::Domain(name)) if !name.is_empty() => {
                host::parse(name).map_err(|e| match e {
                    HostError::Invalid => UriError::BadHost,
                    HostError::NumericSpelling => UriError::NumericHost,
                })?
            }
            _ => return Err(UriError::MissingHost),
        };
        let port = match url.port() {
            Some(0) => return Err(UriError::BadPort),
            port => port,
        };
        let user = Some(decode(url.username())?).filter(|u| !u.is_empty());
        let password = match url.password() {
            Some(raw) => Some(decode(raw)?).filter(|p| !p.is_empty()),
            None => None,
        }
        .map(Password);

        // The raw path is used rather than `url.path()` because `url` resolves
        // dot segments (`/a/../b` becomes `/b`), which would hide the slash.
        let database = match path.strip_prefix('/').unwrap_or(path) {
            "" => None,
            name if name.contains('/') => return Err(UriError::DatabaseWithSlash),
            name => Some(decode(name)?),
        };

        let mut options: Vec<(OptionName, String)> = Vec::new();
        for (raw_name, raw_value) in query_segments(query) {
            let name = decode(raw_name)?;
            let option =
                OptionName::from_name(&name).ok_or_else(|| UriError::UnknownOption(echo(&name)))?;
            if options.iter().any(|(seen, _)| *seen == option) {
                return Err(UriError::DuplicateOption(option.as_str().to_owned()));
            }
            let value = option.normalize(&decode(raw_value)?)?;
            options.push((option, value));
        }
        for (option, default) in [
            (OptionName::ValidateSsl, "false"),
            (OptionName::Ssl, "true"),
        ] {
            if !options.iter().any(|(seen, _)| *seen == option) {
                options.push((option, default.to_owned()));
            }
        }

        let spec = ConnectionSpec {
            kind,
            user,
            password,
            host: Some(host),
            port,
            database,
            sqlite_path: None,
            options,
            ssh_credentials: SshCredentials::default(),
            tls_material: TlsMaterial::default(),
        };
        spec.check_ssh_options()?;
        Ok(spec)
    }

    /// A tunnel needs its bastion and a user; the other SSH options mean nothing without them.
    fn check_ssh_options(&self) -> Result<(), UriError> {
        let has = |name| self.option(name).is_some();
        let any = [
            OptionName::SshPort,
            OptionName::SshUser,
            OptionName::SshHostKey,
            OptionName::SshJump,
        ]
        .into_iter()
        .any(has);
        if !has(OptionName::SshHost) {
            return match any {
                true => Err(UriError::SshSettings(
                    "configUri has SSH options but no sshHost: name the bastion to tunnel through",
                )),
                false => Ok(()),
            };
        }
        if !has(OptionName::SshUser) {
            return Err(UriError::SshSettings(
                "configUri has sshHost but no sshUser: name the user to log in to the bastion as",
            ));
        }
        Ok(())
    }

    /// The database kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The decoded user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The decoded password, if any.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// The host as written (IPv6 without brackets); `None` for SQLite.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port as written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port as written, else the kind's default; `None` for SQLite.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or(self.kind.default_port())
    }

    /// The decoded database name, if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The decoded absolute path of the SQLite file.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref().map(Path::new)
    }

    fn option(&self, name: OptionName) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether to use TLS (default `true`; always `false` for SQLite).
    pub fn ssl(&self) -> bool {
        self.option(OptionName::Ssl) == Some("true")
    }

    /// Whether to verify the server certificate chain and host name
    /// (default `false`; always `false` for SQLite).
    pub fn validate_ssl(&self) -> bool {
        self.option(OptionName::ValidateSsl) == Some("true")
    }

    /// The PEM CA bundle to trust, if given.
    pub fn ssl_root_cert(&self) -> Option<&Path> {
        self.option(OptionName::SslRootCert).map(Path::new)
    }

    /// The deadline for testing this data source, if given.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.option(OptionName::ConnectTimeout)
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
    }

    /// The SSH route to the database, when `configUri` names a bastion (`sshHost`).
    pub fn ssh_route(&self) -> Option<SshRoute> {
        let host = self.option(OptionName::SshHost)?.to_owned();
        let mut hops = self
            .option(OptionName::SshJump)
            .and_then(|jump| ssh::parse_jump(jump).ok())
            .unwrap_or_default();
        hops.push(Hop {
            user: self
                .option(OptionName::SshUser)
                .unwrap_or_default()
                .to_owned(),
            host,
            port: self
                .option(OptionName::SshPort)
                .and_then(|p| p.parse().ok())
                .unwrap_or(ssh::DEFAULT_PORT),
            host_key: self
                .option(OptionName::SshHostKey)
                .and_then(|pin| ssh::HostKeyPin::parse(pin).ok()),
        });
        Some(SshRoute { hops })
    }

    /// The tunnel's key, passphrase and password (empty when none are set).
    pub fn ssh_credentials(&self) -> &SshCredentials {
        &self.ssh_credentials
    }

    /// The same spec with `credentials` for its tunnel. SQLite has no tunnel: unchanged.
    pub fn with_ssh_credentials(&self, credentials: SshCredentials) -> ConnectionSpec {
        let mut spec = self.clone();
        if self.kind != Kind::Sqlite {
            spec.ssh_credentials = credentials;
        }
        spec
    }

    /// The client certificate and CA certificates sent beside the URI (empty when none).
    pub fn tls_credentials(&self) -> &TlsCredentials {
        &self.tls_material.given
    }

    /// Them, decoded: what the TLS handshake presents and trusts.
    pub(crate) fn tls_decoded(&self) -> &DecodedTls {
        &self.tls_material.decoded
    }

    /// The same spec with `credentials` for its TLS, decoded and checked now (see
    /// [`TlsCredentials::decode`]). SQLite has no TLS: unchanged.
    pub fn with_tls_credentials(
        &self,
        credentials: TlsCredentials,
    ) -> Result<ConnectionSpec, TlsCredentialError> {
        let mut spec = self.clone();
        if self.kind != Kind::Sqlite {
            let decoded = credentials.decode(std::time::SystemTime::now())?;
            spec.tls_material = TlsMaterial {
                given: credentials,
                decoded: Arc::new(decoded),
            };
        }
        Ok(spec)
    }

    /// An encrypted key is among its SSH or TLS secrets (as sent, or as an older version
    /// stored it): [`Self::unlocked`] must run before the spec is used.
    pub fn has_locked_keys(&self) -> bool {
        self.ssh_credentials.is_locked() || self.tls_material.given.is_locked()
    }

    /// The same spec with its encrypted keys decrypted (see [`SshCredentials::decrypted`] and
    /// [`TlsCredentials::decrypted`]), each key derivation's cost checked first. Blocks: run it
    /// off the async workers.
    pub fn unlocked(&self) -> Result<ConnectionSpec, UnlockError> {
        let ssh = self.ssh_credentials.decrypted().map_err(UnlockError::Ssh)?;
        let tls = self
            .tls_material
            .given
            .decrypted()
            .map_err(UnlockError::Tls)?;
        self.with_ssh_credentials(ssh)
            .with_tls_credentials(tls)
            .map_err(UnlockError::Tls)
    }

    /// Both go the same way to the database: no tunnel, or the same hops with the same pins.
    pub fn same_ssh_path(&self, other: &ConnectionSpec) -> bool {
        match (self.ssh_route(), other.ssh_route()) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same_path(&b),
            _ => false,
        }
    }

    /// The normalized URI, password included. Keep it away from logs.
    pub fn to_uri(&self) -> String {
        self.render(true)
    }

    /// The normalized URI with `:password` removed and the user kept.
    pub fn to_redacted_uri(&self) -> String {
        self.render(false)
    }

    /// The same destination with no password.
    pub fn without_password(&self) -> ConnectionSpec {
        self.with_password(None)
    }

    /// The same destination with `password` (an empty one means none).
    /// SQLite has no password, so an SQLite spec is returned unchanged.
    pub fn with_password(&self, password: Option<Password>) -> ConnectionSpec {
        let mut spec = self.clone();
        if self.kind != Kind::Sqlite {
            spec.password = password.filter(|p| !p.0.is_empty());
        }
        spec
    }

    /// Whether a (non-empty) password is present.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Type, host, effective port, user and SSH route all equal: a stored password may
    /// be reused. Host names compare ASCII-case-insensitively because DNS
    /// does, so `DB.example.com` and `db.example.com` are the same server.
    pub fn same_destination(&self, other: &ConnectionSpec) -> bool {
        let same_host = match (&self.host, &other.host) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        self.kind == other.kind
            && same_host
            && self.effective_port() == other.effective_port()
            && self.user == other.user
            && self.sqlite_path == other.sqlite_path
            // Through another bastion the password would pass through another machine.
            && self.same_ssh_path(other)
    }

    fn render(&self, with_password: bool) -> String {
        let mut out = format!("{}://", self.kind.as_str());
        if let Some(path) = &self.sqlite_path {
            out.push_str(&encode(path, PATH));
            return out;
        }
        let password = self.password.as_ref().filter(|_| with_password);
        if self.user.is_some() || password.is_some() {
            if let Some(user) = &self.user {
                out.push_str(&encode(user, COMPONENT));
            }
            if let Some(password) = password {
                out.push(':');
                out.push_str(&encode(password.expose(), COMPONENT));
            }
            out.push('@');
        }
        if let Some(host) = &self.host {
            // Only an IPv6 address can contain ':'; `url` rejects it in names.
            if host.contains(':') {
                out.push('[');
                out.push_str(host);
                out.push(']');
            } else {
                out.push_str(host);
            }
        }
        if let Some(port) = self.port {
            out.push(':');
            out.push_str(&port.to_string());
        }
        if let Some(database) = &self.database {
            out.push('/');
            out.push_str(&encode(database, COMPONENT));
        }
        for (i, (name, value)) in self.options.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(name.as_str());
            out.push('=');
            out.push_str(&encode(value, name.encode_set()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what it proves, input, expected `to_uri()`, expected kind)
    const VALID: &[(&str, &str, &str, Kind)] = &[
        (
            "vendor example",
            "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db",
            "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "postgres alias",
            "postgres://u:p@h/db",
            "postgresql://u:p@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "uppercase scheme",
            "POSTGRESQL://u:p@h/db",
            "postgresql://u:p@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "uppercase mariadb alias",
            "MARIADB://u:p@h:3307/shop",
            "mysql://u:p@h:3307/shop?validateSsl=false&ssl=true",
            Kind::Mysql,
        ),
        (
            "mysql gets default options",
            "mysql://root@localhost",
            "mysql://root@localhost?validateSsl=false&ssl=true",
            Kind::Mysql,
        ),
        (
            "no userinfo",
            "postgresql://db.example.com/app",
            "postgresql://db.example.com/app?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "no database",
            "postgresql://u:p@h:5432",
            "postgresql://u:p@h:5432?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "lone slash means no database",
            "postgresql://h/",
            "postgresql://h?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "user without password",
            "postgresql://gl@db.example.com:5432/gl",
            "postgresql://gl@db.example.com:5432/gl?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "empty password means none",
            "postgresql://gl:@h/gl",
            "postgresql://gl@h/gl?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "password without user",
            "postgresql://:pw@h/db",
            "postgresql://:pw@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "encoded @ in password kept encoded",
            "postgresql://u:p%40ss@h/db",
            "postgresql://u:p%40ss@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "encoded unreserved tilde decoded",
            "postgresql://u:p%7ess@h/db",
            "postgresql://u:p~ss@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "lowercase hex escape uppercased",
            "postgresql://u:a%2fb%3fc%23d%25e@h/db",
            "postgresql://u:a%2Fb%3Fc%23d%25e@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "second colon belongs to the password",
            "postgresql://u:pa:ss@h/db",
            "postgresql://u:pa%3Ass@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "non-ascii and space in password encoded",
            "postgresql://u:pä ss@h/db",
            "postgresql://u:p%C3%A4%20ss@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "encoded user decoded to plain",
            "postgresql://us%65r:p@h/db",
            "postgresql://user:p@h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "ipv6 host keeps brackets",
            "postgresql://u@[::1]:5432/db",
            "postgresql://u@[::1]:5432/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "ipv6 host without port",
            "mysql://[2001:db8::10]/db",
            "mysql://[2001:db8::10]/db?validateSsl=false&ssl=true",
            Kind::Mysql,
        ),
        (
            "host case kept",
            "postgresql://DB.Example.COM/db",
            "postgresql://DB.Example.COM/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "ip v4 host",
            "mysql://u:p@10.0.0.7:3306/db",
            "mysql://u:p@10.0.0.7:3306/db?validateSsl=false&ssl=true",
            Kind::Mysql,
        ),
        (
            "port 1 and leading zeros",
            "postgresql://h:0001/db",
            "postgresql://h:1/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "port 65535",
            "postgresql://h:65535/db",
            "postgresql://h:65535/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "ssl=1 normalized and validateSsl appended after",
            "postgresql://h/db?ssl=1",
            "postgresql://h/db?ssl=true&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "ssl=on normalized",
            "postgresql://h/db?ssl=on",
            "postgresql://h/db?ssl=true&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "ssl=NO normalized",
            "postgresql://h/db?ssl=NO",
            "postgresql://h/db?ssl=false&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "validateSsl=YES and ssl=off normalized in place",
            "mysql://h/db?validateSsl=YES&ssl=off",
            "mysql://h/db?validateSsl=true&ssl=false",
            Kind::Mysql,
        ),
        (
            "validateSsl=0 and ssl=TRUE",
            "mysql://h/db?ssl=TRUE&validateSsl=0",
            "mysql://h/db?ssl=true&validateSsl=false",
            Kind::Mysql,
        ),
        (
            "options order kept, defaults appended",
            "postgresql://h/db?connectTimeout=10&sslRootCert=/etc/ssl/ca.pem&ssl=true",
            "postgresql://h/db?connectTimeout=10&sslRootCert=/etc/ssl/ca.pem&ssl=true&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "sslRootCert encoded slashes decoded",
            "postgresql://h/db?sslRootCert=%2Fetc%2Fssl%2Fca.pem",
            "postgresql://h/db?sslRootCert=/etc/ssl/ca.pem&validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "sslRootCert plus is not a space",
            "postgresql://h/db?sslRootCert=/etc/a+b c.pem",
            "postgresql://h/db?sslRootCert=/etc/a%2Bb%20c.pem&validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "connectTimeout leading zero dropped",
            "postgresql://h/db?connectTimeout=030",
            "postgresql://h/db?connectTimeout=30&validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "connectTimeout 300 is the maximum",
            "postgresql://h/db?connectTimeout=300",
            "postgresql://h/db?connectTimeout=300&validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "trailing question mark tolerated",
            "postgresql://h/db?",
            "postgresql://h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "empty segments and trailing ampersand tolerated",
            "postgresql://h/db?&ssl=true&&",
            "postgresql://h/db?ssl=true&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "encoded option name decoded",
            "postgresql://h/db?ss%6C=false",
            "postgresql://h/db?ssl=false&validateSsl=false",
            Kind::Postgresql,
        ),
        (
            "database with encoded space and slash",
            "postgresql://h/my%20db%2fx",
            "postgresql://h/my%20db%2Fx?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "surrounding whitespace trimmed",
            "  postgresql://h/db \n",
            "postgresql://h/db?validateSsl=false&ssl=true",
            Kind::Postgresql,
        ),
        (
            "sqlite absolute path",
            "sqlite:///var/lib/jackal/app.db",
            "sqlite:///var/lib/jackal/app.db",
            Kind::Sqlite,
        ),
        (
            "sqlite uppercase scheme",
            "SQLite:///tmp/a.db",
            "sqlite:///tmp/a.db",
            Kind::Sqlite,
        ),
        (
            "sqlite path escapes normalized",
            "sqlite:///tmp/my%20file%7e.db",
            "sqlite:///tmp/my%20file~.db",
            Kind::Sqlite,
        ),
        (
            "sqlite raw space encoded",
            "sqlite:///tmp/my file.db",
            "sqlite:///tmp/my%20file.db",
            Kind::Sqlite,
        ),
        (
            "sqlite trailing question mark tolerated",
            "sqlite:///tmp/a.db?",
            "sqlite:///tmp/a.db",
            Kind::Sqlite,
        ),
    ];

    /// Every invalid row carries `S3cret` where the input has a password, so
    /// the leak test below covers the whole table.
    const INVALID: &[(&str, &str, UriError)] = &[
        ("empty string", "", UriError::NotAUri),
        ("only whitespace", " \t\n ", UriError::NotAUri),
        ("plain words", "my database", UriError::NotAUri),
        (
            "host and port only",
            "db.example.com:5432",
            UriError::NotAUri,
        ),
        (
            "userinfo without scheme",
            "u:Sup3rS3cret@db.example.com/db",
            UriError::NotAUri,
        ),
        (
            "jdbc prefix",
            "jdbc:postgresql://u:Sup3rS3cret@h/db",
            UriError::NotAUri,
        ),
        ("scheme only", "postgresql://", UriError::MissingHost),
        (
            "tab in password",
            "postgresql://u:Sup3r\tS3cret@h/db",
            UriError::ControlCharacter,
        ),
        (
            "newline in password",
            "postgresql://u:Sup3r\nS3cret@h/db",
            UriError::ControlCharacter,
        ),
        (
            "unsupported scheme",
            "oracle://u:Sup3rS3cret@h/db",
            UriError::UnsupportedScheme(String::new()),
        ),
        (
            "unencoded @ in password",
            "postgresql://u:Sup3r@S3cret@h/db",
            UriError::UnencodedInUserinfo {
                ch: '@',
                escape: "%40",
            },
        ),
        (
            "unencoded / in password",
            "postgresql://u:Sup3r/S3cret@h:5432/db",
            UriError::UnencodedInUserinfo {
                ch: '/',
                escape: "%2F",
            },
        ),
        (
            "unencoded ? in password",
            "postgresql://u:Sup3r?S3cret@h/db",
            UriError::UnencodedInUserinfo {
                ch: '?',
                escape: "%3F",
            },
        ),
        (
            "unencoded ? in password that looks like an option",
            "postgresql://u:Sup3r?x=S3cret@h/db",
            UriError::UnencodedInUserinfo {
                ch: '?',
                escape: "%3F",
            },
        ),
        (
            "unencoded # in password",
            "postgresql://u:Sup3r#S3cret@h/db",
            UriError::UnencodedInUserinfo {
                ch: '#',
                escape: "%23",
            },
        ),
        (
            "unencoded @ in database without userinfo",
            "postgresql://h/Sup3rS3cret@x",
            UriError::UnencodedInUserinfo {
                ch: '/',
                escape: "%2F",
            },
        ),
        (
            "bad percent escape",
            "postgresql://u:Sup3r%zzS3cret@h/db",
            UriError::BadPercentEncoding,
        ),
        (
            "lone percent in password",
            "postgresql://u:Sup3rS3cret%@h/db",
            UriError::BadPercentEncoding,
        ),
        (
            "truncated escape at end",
            "postgresql://u:Sup3rS3cret@h/db%4",
            UriError::BadPercentEncoding,
        ),
        (
            "password not utf8",
            "postgresql://u:Sup3rS3cret%FF@h/db",
            UriError::NotUtf8,
        ),
        (
            "database not utf8",
            "postgresql://u:Sup3rS3cret@h/db%C3",
            UriError::NotUtf8,
        ),
        (
            "port 0",
            "postgresql://u:Sup3rS3cret@h:0/db",
            UriError::BadPort,
        ),
        (
            "port 70000",
            "postgresql://u:Sup3rS3cret@h:70000/db",
            UriError::BadPort,
        ),
        (
            "port abc",
            "postgresql://u:Sup3rS3cret@h:abc/db",
            UriError::BadPort,
        ),
        (
            "negative port",
            "mysql://u:Sup3rS3cret@h:-1/db",
            UriError::BadPort,
        ),
        (
            "empty port",
            "postgresql://u:Sup3rS3cret@h:/db",
            UriError::BadPort,
        ),
        (
            "ipv6 empty port",
            "postgresql://u:Sup3rS3cret@[::1]:/db",
            UriError::BadPort,
        ),
        (
            "missing host after userinfo",
            "postgresql://u:Sup3rS3cret@/db",
            UriError::MissingHost,
        ),
        (
            "missing host three slashes",
            "postgresql:///db",
            UriError::MissingHost,
        ),
        (
            "port without host",
            "mysql://u:Sup3rS3cret@:3306/db",
            UriError::MissingHost,
        ),
        (
            "bad ipv6 literal",
            "postgresql://u:Sup3rS3cret@[::zz]/db",
            UriError::BadHost,
        ),
        (
            "space in host",
            "postgresql://u:Sup3rS3cret@db host/db",
            UriError::BadHost,
        ),
        (
            "database with slash",
            "postgresql://u:Sup3rS3cret@h/db/public",
            UriError::DatabaseWithSlash,
        ),
        (
            "database with dot segment",
            "postgresql://u:Sup3rS3cret@h/a/../b",
            UriError::DatabaseWithSlash,
        ),
        (
            "unknown option sslmode",
            "postgresql://u:Sup3rS3cret@h/db?sslmode=require",
            UriError::UnknownOption(String::new()),
        ),
        (
            "option names are case-sensitive",
            "postgresql://u:Sup3rS3cret@h/db?SSL=true",
            UriError::UnknownOption(String::new()),
        ),
        (
            "duplicate option",
            "postgresql://u:Sup3rS3cret@h/db?ssl=true&ssl=false",
            UriError::DuplicateOption(String::new()),
        ),
        (
            "duplicate option spelled differently",
            "postgresql://u:Sup3rS3cret@h/db?validateSsl=1&validate%53sl=0",
            UriError::DuplicateOption(String::new()),
        ),
        (
            "ssl not boolean",
            "postgresql://u:Sup3rS3cret@h/db?ssl=maybe",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "validateSsl without value",
            "postgresql://u:Sup3rS3cret@h/db?validateSsl",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "sslRootCert relative",
            "postgresql://u:Sup3rS3cret@h/db?sslRootCert=ca.pem",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "sslRootCert empty",
            "postgresql://u:Sup3rS3cret@h/db?sslRootCert=",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "connectTimeout 0",
            "postgresql://u:Sup3rS3cret@h/db?connectTimeout=0",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "connectTimeout 301",
            "postgresql://u:Sup3rS3cret@h/db?connectTimeout=301",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "connectTimeout fractional",
            "postgresql://u:Sup3rS3cret@h/db?connectTimeout=1.5",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "connectTimeout huge",
            "postgresql://u:Sup3rS3cret@h/db?connectTimeout=99999999999",
            UriError::BadOptionValue {
                option: "",
                expected: "",
            },
        ),
        (
            "sqlite relative with two slashes",
            "sqlite://relative.db",
            UriError::RelativeSqlitePath,
        ),
        (
            "sqlite relative without slashes",
            "sqlite:relative.db",
            UriError::RelativeSqlitePath,
        ),
        (
            "sqlite with host",
            "sqlite://localhost/tmp/a.db",
            UriError::RelativeSqlitePath,
        ),
        (
            "sqlite without path",
            "sqlite://",
            UriError::RelativeSqlitePath,
        ),
        (
            "sqlite root directory",
            "sqlite:///",
            UriError::SqliteNotAFile,
        ),
        (
            "sqlite directory",
            "sqlite:///var/lib/",
            UriError::SqliteNotAFile,
        ),
        (
            "sqlite with userinfo",
            "sqlite://u:Sup3rS3cret@/tmp/a.db",
            UriError::SqliteAuthority,
        ),
        (
            "sqlite with host and port",
            "sqlite://localhost:5432/tmp/a.db",
            UriError::SqliteAuthority,
        ),
        (
            "sqlite with option",
            "sqlite:///tmp/a.db?ssl=true",
            UriError::SqliteOption(String::new()),
        ),
        (
            "sqlite path not utf8",
            "sqlite:///tmp/%FF.db",
            UriError::NotUtf8,
        ),
    ];

    fn same_variant(a: &UriError, b: &UriError) -> bool {
        std::mem::discriminant(a) == std::mem::discriminant(b)
            && match (a, b) {
                (
                    UriError::UnencodedInUserinfo { ch: a, escape: x },
                    UriError::UnencodedInUserinfo { ch: b, escape: y },
                ) => a == b && x == y,
                _ => true,
            }
    }

    #[test]
    fn valid_table_normalizes_as_expected() {
        for (what, input, expected, kind) in VALID {
            let spec = ConnectionSpec::parse(input)
                .unwrap_or_else(|e| panic!("{what}: {input:?} rejected: {e}"));
            assert_eq!(spec.to_uri(), *expected, "{what}");
            assert_eq!(spec.kind(), *kind, "{what}");
        }
    }

    #[test]
    fn normalization_round_trips_and_is_idempotent() {
        for (what, input, _, _) in VALID {
            let spec = ConnectionSpec::parse(input).unwrap();
            let uri = spec.to_uri();
            let again = ConnectionSpec::parse(&uri);
            assert_eq!(again.as_ref(), Ok(&spec), "{what}");
            assert_eq!(again.unwrap().to_uri(), uri, "{what}");
            // The redacted form must be a valid URI for the same destination.
            let redacted = ConnectionSpec::parse(&spec.to_redacted_uri()).unwrap();
            assert_eq!(redacted, spec.without_password(), "{what}");
        }
    }

    #[test]
    fn invalid_table_is_rejected_with_the_expected_error() {
        assert!(VALID.len() + INVALID.len() >= 40);
        for (what, input, expected) in INVALID {
            match ConnectionSpec::parse(input) {
                Ok(spec) => panic!("{what}: accepted as {spec:?}"),
                Err(e) => assert!(
                    same_variant(&e, expected),
                    "{what}: got {e:?}, expected {expected:?}"
                ),
            }
        }
    }

    #[test]
    fn no_error_message_contains_the_password() {
        let with_password = INVALID
            .iter()
            .filter(|(_, input, _)| input.contains("S3cret"))
            .count();
        assert!(
            with_password >= 40,
            "only {with_password} rows carry a password"
        );
        for (what, input, _) in INVALID {
            let e = ConnectionSpec::parse(input).unwrap_err();
            for text in [e.to_string(), format!("{e:?}")] {
                // "S3cret" is in every spelling: raw, encoded and decoded.
                assert!(!text.contains("S3cret"), "{what}: {text}");
                assert!(!text.contains("Sup3r"), "{what}: {text}");
                if input.len() > 12 && !EXAMPLE.contains(input) {
                    assert!(!text.contains(input), "{what}: echoes the URI: {text}");
                }
            }
        }
    }

    #[test]
    fn every_error_has_a_snake_case_code_and_a_message() {
        for (what, input, _) in INVALID {
            let e = ConnectionSpec::parse(input).unwrap_err();
            let code = e.code();
            assert!(
                !code.is_empty()
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{what}: {code}"
            );
            assert!(e.to_string().len() > 20, "{what}: {e}");
        }
    }

    #[test]
    fn vendor_example_normalizes_byte_for_byte() {
        let spec = ConnectionSpec::parse(
            "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db",
        )
        .unwrap();
        assert_eq!(
            spec.to_uri(),
            "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db?validateSsl=false&ssl=true"
        );
        assert_eq!(spec.kind(), Kind::Postgresql);
        assert_eq!(spec.kind().as_str(), "postgresql");
        assert_eq!(spec.user(), Some("someuser"));
        assert_eq!(spec.password().map(Password::expose), Some("t0ps3cret"));
        assert_eq!(spec.host(), Some("somedb.example.com"));
        assert_eq!(spec.port(), Some(5432));
        assert_eq!(spec.database(), Some("some-db"));
        assert!(spec.ssl());
        assert!(!spec.validate_ssl());
        assert_eq!(spec.ssl_root_cert(), None);
        assert_eq!(spec.connect_timeout(), None);
        assert_eq!(spec.sqlite_path(), None);
    }

    #[test]
    fn password_removed_keeps_user_and_drops_colon_password() {
        let spec =
            ConnectionSpec::parse("postgresql://gl:Sup3rS3cret@db.example.com:5432/gl").unwrap();
        let expected = "postgresql://gl@db.example.com:5432/gl?validateSsl=false&ssl=true";
        assert_eq!(spec.to_redacted_uri(), expected);
        assert!(spec.has_password());
        let bare = spec.without_password();
        assert!(!bare.has_password());
        assert_eq!(bare.to_uri(), expected);
        assert_eq!(bare.user(), Some("gl"));
        assert_eq!(ConnectionSpec::parse(expected).unwrap(), bare);
    }

    #[test]
    fn with_password_restores_and_encodes() {
        let bare = ConnectionSpec::parse("postgres://gl@h/gl").unwrap();
        let full = bare.with_password(Some(Password::from("p@ss/#")));
        assert_eq!(
            full.to_uri(),
            "postgresql://gl:p%40ss%2F%23@h/gl?validateSsl=false&ssl=true"
        );
        assert_eq!(ConnectionSpec::parse(&full.to_uri()).unwrap(), full);
        assert_eq!(full.with_password(None), bare);
        assert!(!bare
            .with_password(Some(Password::from(String::new())))
            .has_password());
        let sqlite = ConnectionSpec::parse("sqlite:///tmp/a.db").unwrap();
        assert_eq!(sqlite.with_password(Some("x".into())), sqlite);
    }

    #[test]
    fn percent_encoded_password_is_decoded_but_rendered_encoded() {
        let spec = ConnectionSpec::parse("postgresql://u:p%40ss@h/db").unwrap();
        assert_eq!(spec.password().unwrap().expose(), "p@ss");
        assert!(spec.to_uri().contains("u:p%40ss@h"));
        let spec = ConnectionSpec::parse("postgresql://u%3Aname:a%25b@h/db").unwrap();
        assert_eq!(spec.user(), Some("u:name"));
        assert_eq!(spec.password().unwrap().expose(), "a%b");
    }

    #[test]
    fn ipv6_host_is_reported_without_brackets() {
        let spec = ConnectionSpec::parse("postgresql://u@[::1]:6543/db").unwrap();
        assert_eq!(spec.host(), Some("::1"));
        assert_eq!(spec.port(), Some(6543));
        assert_eq!(spec.effective_port(), Some(6543));
    }

    #[test]
    fn absent_port_stays_absent_but_effective_port_defaults() {
        for (input, port) in [
            ("postgresql://h/db", 5432),
            ("postgres://h", 5432),
            ("mysql://h/db", 3306),
            ("mariadb://h/db", 3306),
        ] {
            let spec = ConnectionSpec::parse(input).unwrap();
            assert_eq!(spec.port(), None, "{input}");
            assert_eq!(spec.effective_port(), Some(port), "{input}");
            assert!(!spec.to_uri().contains(&format!(":{port}")), "{input}");
        }
        assert_eq!(Kind::Sqlite.default_port(), None);
    }

    #[test]
    fn sqlite_exposes_only_its_path() {
        let spec = ConnectionSpec::parse("sqlite:///var/lib/my%20app.db").unwrap();
        assert_eq!(spec.sqlite_path(), Some(Path::new("/var/lib/my app.db")));
        assert_eq!(spec.host(), None);
        assert_eq!(spec.port(), None);
        assert_eq!(spec.effective_port(), None);
        assert_eq!(spec.user(), None);
        assert_eq!(spec.database(), None);
        assert!(!spec.has_password());
        assert!(!spec.ssl());
        assert!(!spec.validate_ssl());
        assert_eq!(spec.to_redacted_uri(), spec.to_uri());
    }

    #[test]
    fn option_accessors_read_normalized_values() {
        let spec = ConnectionSpec::parse(
            "mysql://h/db?validateSsl=on&ssl=yes&sslRootCert=/etc/ssl/ca%20bundle.pem&connectTimeout=7",
        )
        .unwrap();
        assert!(spec.ssl());
        assert!(spec.validate_ssl());
        assert_eq!(
            spec.ssl_root_cert(),
            Some(Path::new("/etc/ssl/ca bundle.pem"))
        );
        assert_eq!(spec.connect_timeout(), Some(Duration::from_secs(7)));
        let spec = ConnectionSpec::parse("mysql://h/db?ssl=off").unwrap();
        assert!(!spec.ssl());
    }

    #[test]
    fn unknown_option_is_named_without_echoing_the_uri() {
        let e =
            ConnectionSpec::parse("postgresql://u:Sup3rS3cret@h/db?sslmode=require").unwrap_err();
        assert_eq!(e, UriError::UnknownOption("sslmode".into()));
        assert_eq!(e.code(), "unknown_option");
        let msg = e.to_string();
        assert!(msg.contains("\"sslmode\""), "{msg}");
        assert!(msg.contains("validateSsl"), "{msg}");
        assert!(!msg.contains("require") && !msg.contains("h/db"), "{msg}");
    }

    #[test]
    fn echoed_names_are_capped() {
        let long = "x".repeat(500);
        let e = ConnectionSpec::parse(&format!("postgresql://h/db?{long}=1")).unwrap_err();
        assert!(e.to_string().len() < 250, "{e}");
        let e = ConnectionSpec::parse(&format!("{long}://h/db")).unwrap_err();
        assert_eq!(e.code(), "unsupported_scheme");
        assert!(e.to_string().len() < 250, "{e}");
    }

    #[test]
    fn specified_messages_are_exact() {
        let cases = [
            (
                "oracle://h/db",
                "unsupported scheme \"oracle\": use one of postgresql, postgres, mysql, mariadb, sqlite",
            ),
            (
                "nonsense",
                "configUri must look like postgresql://user:password@host:5432/database",
            ),
            (
                "sqlite:relative.db",
                "relative SQLite path: use sqlite:///absolute/path/to/file.db \
                 (three slashes; an SQLite configUri has no host)",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                ConnectionSpec::parse(input).unwrap_err().to_string(),
                message
            );
        }
        let e = ConnectionSpec::parse("postgresql://u:a@b@h/db").unwrap_err();
        assert!(e.to_string().contains("unencoded '@'") && e.to_string().contains("%40"));
        let e = ConnectionSpec::parse("postgresql://u:a/b@h/db").unwrap_err();
        assert!(e.to_string().contains("'/'") && e.to_string().contains("%2F"));
        let e = ConnectionSpec::parse("postgresql://u:a#b@h/db").unwrap_err();
        assert!(e.to_string().contains("%23"));
        let e = ConnectionSpec::parse("postgresql://u:a%zz@h/db").unwrap_err();
        assert!(e.to_string().contains("%25"));
        let e = ConnectionSpec::parse("postgresql://h:0/db").unwrap_err();
        assert!(e.to_string().starts_with("bad port"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let spec = ConnectionSpec::parse("postgresql://gl:Sup3r%40S3cret@h/db").unwrap();
        let debug = format!("{spec:?} {:?} {spec:#?}", spec.password());
        assert!(!debug.contains("S3cret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
        assert!(debug.contains("gl"), "{debug}");
        assert_eq!(format!("{:?}", Password::from("x")), "Password(***)");
    }

    #[test]
    fn same_destination_compares_kind_host_effective_port_and_user() {
        let base = "postgresql://gl:pw@db.example.com:5432/gl";
        let cases = [
            ("postgres://gl@db.example.com/other?ssl=false", true),
            ("postgresql://gl:other@DB.EXAMPLE.COM:5432/gl", true),
            ("postgresql://gl@db.example.com:5433/gl", false),
            ("postgresql://admin@db.example.com:5432/gl", false),
            ("postgresql://db.example.com:5432/gl", false),
            ("postgresql://gl@other.example.com:5432/gl", false),
            ("mysql://gl@db.example.com:5432/gl", false),
        ];
        let base = ConnectionSpec::parse(base).unwrap();
        for (other, same) in cases {
            let other = ConnectionSpec::parse(other).unwrap();
            assert_eq!(base.same_destination(&other), same, "{other:?}");
            assert_eq!(other.same_destination(&base), same, "{other:?}");
        }
        let a = ConnectionSpec::parse("sqlite:///tmp/a.db").unwrap();
        let b = ConnectionSpec::parse("sqlite:///tmp/b.db").unwrap();
        assert!(a.same_destination(&a.clone()));
        assert!(!a.same_destination(&b));
    }

    #[test]
    fn from_str_matches_parse() {
        let spec: ConnectionSpec = "mariadb://h/db".parse().unwrap();
        assert_eq!(spec.kind(), Kind::Mysql);
        assert_eq!(Kind::Mysql.to_string(), "mysql");
    }

    /// Found by the config_uri fuzz target: a password with an `@` followed by `/` or `?`
    /// used to be split at its own `@`, making a host of the rest of the password.
    #[test]
    fn sqlite_path_is_checked_after_decoding() {
        for (uri, code) in [
            (
                "sqlite://///////////////////////%2F%2F",
                "sqlite_not_a_file",
            ),
            ("sqlite:///tmp/dir%2F", "sqlite_not_a_file"),
            ("sqlite:///!%00%00%00%00%2F", "control_character"),
            ("sqlite:///tmp/a%0Ab.db", "control_character"),
        ] {
            let err = ConnectionSpec::parse(uri).unwrap_err();
            assert_eq!(err.code(), code, "{uri}: {err}");
        }
        let spec = ConnectionSpec::parse("sqlite:///tmp/a%20b.db").unwrap();
        assert_eq!(ConnectionSpec::parse(&spec.to_uri()).unwrap(), spec);
    }

    #[test]
    fn password_with_at_then_slash_or_question_is_refused_not_split() {
        for uri in [
            "postgresql://someuser:t0p@s3cret/x@somedb.example.com",
            "mysql://u:Tr0ub4dor@3?horse@somedb.example.com:5432/some-db",
            "postgres://:@s/@somedb.example.com",
            // The fuzz target's SQLite case: the user's `?` starts a query holding the password.
            "sqlite://?-:horse/:/@[6666:733f:6c73:703a:7373:6f61:746f:6b43]:0",
            "sqlite:///tmp/x?u:s3cret@h",
        ] {
            let err = ConnectionSpec::parse(uri).unwrap_err();
            let text = err.to_string();
            assert_eq!(err.code(), "unencoded_character", "{uri}: {text}");
            for fragment in ["s3cret", "horse", "Tr0ub4dor"] {
                assert!(!text.contains(fragment), "{uri}: {text}");
            }
        }
    }

    const PIN: &str = "SHA256:H1A0MOgNmSX3XWZTmX/3zKGCHwCbWDGC1iyaSmZ5Jng";
    const PUBLIC_KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGPtdZVw/YnAu2iNNS1OlwNMGQuMORfutzcnLMOAy+ts bastion";

    #[test]
    fn ssh_options_are_normalized_and_read_back() {
        let key = encode(PUBLIC_KEY, COMPONENT);
        let uri = format!(
            "postgresql://u@db.internal/app?sshHost=bastion.example.com&sshUser=ops\
             &sshHostKey={key}&sshJump=jump%40gw.example.com%3BSHA256:H1A0MOgNmSX3XWZTmX/3zKGCHwCbWDGC1iyaSmZ5Jng"
        );
        let spec = ConnectionSpec::parse(&uri).unwrap();
        let rendered = spec.to_uri();
        assert_eq!(
            rendered,
            format!(
                "postgresql://u@db.internal/app?sshHost=bastion.example.com&sshUser=ops\
                 &sshHostKey={PIN}&sshJump=jump%40gw.example.com:22;{PIN}&validateSsl=false&ssl=true"
            )
        );
        assert_eq!(
            ConnectionSpec::parse(&rendered).unwrap(),
            spec,
            "renders what it reads"
        );
        let route = spec.ssh_route().unwrap();
        assert_eq!(route.hops.len(), 2);
        assert_eq!(route.hops[0].label(), "jump@gw.example.com:22");
        assert_eq!(route.bastion().label(), "ops@bastion.example.com:22");
        assert_eq!(route.bastion().host_key.as_ref().unwrap().as_str(), PIN);
        assert!(ConnectionSpec::parse("postgresql://u@h/db")
            .unwrap()
            .ssh_route()
            .is_none());
    }

    #[test]
    fn ssh_options_that_make_no_tunnel_are_refused() {
        for (uri, code) in [
            ("postgresql://u@h/db?sshUser=ops", "bad_ssh_settings"),
            ("postgresql://u@h/db?sshHost=b", "bad_ssh_settings"),
            ("mysql://u@h/db?sshHost=b", "bad_ssh_settings"),
            (
                "postgresql://u@h/db?sshHost=b&sshUser=ops&sshPort=0",
                "bad_option_value",
            ),
            (
                "postgresql://u@h/db?sshHost=b%20c&sshUser=ops",
                "bad_option_value",
            ),
            (
                "postgresql://u@h/db?sshHost=b&sshUser=ops&sshHostKey=SHA256:short",
                "bad_option_value",
            ),
            (
                "postgresql://u@h/db?sshHost=b&sshUser=ops&sshJump=nohop",
                "bad_ssh_jump",
            ),
            ("sqlite:///tmp/x.db?sshHost=b", "sqlite_option"),
        ] {
            let err = ConnectionSpec::parse(uri).unwrap_err();
            assert_eq!(err.code(), code, "{uri}: {err}");
        }
    }

    #[test]
    fn another_ssh_path_is_another_destination() {
        let base = "postgresql://u:pw@db.internal/app?sshHost=b1&sshUser=ops";
        let spec = ConnectionSpec::parse(base).unwrap();
        let same = ConnectionSpec::parse(
            "postgresql://u@db.internal/app?sshUser=ops&sshHost=B1&sshPort=22",
        )
        .unwrap();
        assert!(
            spec.same_destination(&same),
            "the same hops, spelled differently"
        );
        for other in [
            "postgresql://u@db.internal/app",
            "postgresql://u@db.internal/app?sshHost=b2&sshUser=ops",
            "postgresql://u@db.internal/app?sshHost=b1&sshUser=root",
            "postgresql://u@db.internal/app?sshHost=b1&sshUser=ops&sshPort=2222",
            &format!("postgresql://u@db.internal/app?sshHost=b1&sshUser=ops&sshHostKey={PIN}"),
            "postgresql://u@db.internal/app?sshHost=b1&sshUser=ops&sshJump=j%40gw",
        ] {
            let other = ConnectionSpec::parse(other).unwrap();
            assert!(!spec.same_destination(&other), "{other:?}");
            assert!(!spec.same_ssh_path(&other), "{other:?}");
        }
    }

    #[test]
    fn ssh_credentials_never_print() {
        let spec = ConnectionSpec::parse("postgresql://u@h/db?sshHost=b&sshUser=ops")
            .unwrap()
            .with_ssh_credentials(SshCredentials {
                private_key: Some(zeroize::Zeroizing::new("PRIVATE-KEY-TEXT".into())),
                passphrase: Some(zeroize::Zeroizing::new("PASSPHRASE-TEXT".into())),
                password: Some(zeroize::Zeroizing::new("SSH-PASSWORD-TEXT".into())),
            });
        let shown = format!("{spec:?} {}", spec.to_uri());
        for secret in ["PRIVATE-KEY-TEXT", "PASSPHRASE-TEXT", "SSH-PASSWORD-TEXT"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
