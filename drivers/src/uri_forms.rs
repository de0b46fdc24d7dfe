//! The connection URIs admins copy from elsewhere, rewritten into the contract's `configUri`
//! with a note for each change: libpq's (`postgres://`, `sslmode`, `sslrootcert`,
//! `connect_timeout`, `application_name`, `?user=` and `?password=`), the JDBC drivers'
//! (`jdbc:postgresql://`, `jdbc:mysql://`, `jdbc:mariadb://`) and MySQL's (`ssl-mode`,
//! `sslMode`).
//!
//! Pure string work, like [`crate::uri`], which then checks and normalizes the rewritten URI as
//! it does any `configUri`. An option that is understood but cannot be honoured is an error
//! naming it ([`UriError::CannotHonour`]), never dropped in silence; a note never holds a
//! password.
//!
//! | written | becomes | why |
//! |---|---|---|
//! | `jdbc:` before the scheme | removed | |
//! | `postgres://`, `mariadb://` | `postgresql://`, `mysql://` | the stored form |
//! | `?user=`, `?password=` | the URI's user and password, before the `@` | |
//! | `sslmode=disable` | `ssl=false` | |
//! | `sslmode=allow`, `prefer` | `validateSsl=false&ssl=true` | Jackal never falls back to plain text, nor starts with it: a server without TLS fails the test (`tls_unavailable`) |
//! | `sslmode=require` | `validateSsl=false&ssl=true` (`validateSsl=true` with `sslrootcert`, which libpq then verifies against) | |
//! | `sslmode=verify-ca` | `validateSsl=true&ssl=true` | `validateSsl` checks the host name too: stricter than `verify-ca` |
//! | `sslmode=verify-full` | `validateSsl=true&ssl=true` | |
//! | `sslrootcert=/path` | `sslRootCert=/path` | the same rule: an absolute path, read under the server's `root_cert_dirs` |
//! | `sslrootcert=system` | removed; `validateSsl=true&ssl=true` unless `sslmode=verify-full` says so | without `sslRootCert`, `validateSsl=true` trusts the system's CAs; libpq allows `system` only with `verify-full` |
//! | `connect_timeout=N` | `connectTimeout=N` | `0` (wait forever) cannot be honoured: a test always has a deadline |
//! | `application_name`, `ApplicationName` | removed | tests always connect as `jackal-connection-test` |
//! | `ssl=true` in `jdbc:postgresql://` without `sslmode` | `validateSsl=true` added | the PostgreSQL JDBC driver then verifies as `verify-full` does |
//! | `connectTimeout=ms` in `jdbc:mysql://`, `jdbc:mariadb://` | seconds, rounded up | those drivers count milliseconds |
//! | `ssl-mode`, `sslMode` (MySQL) `DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY` (also MariaDB's `disable`, `trust`, `verify-ca`, `verify-full`) | as `sslmode` above | |
//!
//! `sslcert`, `sslkey`, `sslpassword` (and MySQL's `ssl-cert`, `ssl-key`) name files on the
//! machine the URI came from: an error says to send their content as the `sslCert`, `sslKey` and
//! `sslKeyPassword` arguments instead.

use std::fmt::Write as _;

use crate::uri::{
    check_percent_escapes, decode, echo, encode_component, parse_bool, ConnectionSpec, Password,
    UriError,
};

/// A `configUri` as pasted, checked and normalized, with what was rewritten to get there.
#[derive(Debug)]
pub struct Normalized {
    /// The validated spec; its [`ConnectionSpec::to_uri`] is what is stored.
    pub spec: ConnectionSpec,
    /// One short sentence per change made; empty when the URI was already in the contract's
    /// form. Never holds a password.
    pub notes: Vec<String>,
}

/// Parses `input`, a `configUri` in the contract's form or in one of the forms of the module
/// documentation, into the contract's form.
pub fn parse(input: &str) -> Result<Normalized, UriError> {
    let mut notes = Vec::new();
    let rewritten = rewrite(input.trim(), &mut notes)?;
    let spec = ConnectionSpec::parse(&rewritten.uri).map_err(|e| rewritten.renamed_error(e))?;
    Ok(Normalized { spec, notes })
}

/// Which family of clients the URI comes from: what its options mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// libpq or the PostgreSQL JDBC driver.
    Postgres,
    /// MySQL's and MariaDB's clients and JDBC drivers.
    Mysql,
}

/// What a TLS mode of another client asks for, in the contract's two options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tls {
    ssl: bool,
    validate: bool,
}

const PLAIN: Tls = Tls {
    ssl: false,
    validate: false,
};
const ENCRYPT: Tls = Tls {
    ssl: true,
    validate: false,
};
const VERIFY: Tls = Tls {
    ssl: true,
    validate: true,
};

impl Tls {
    fn render(self) -> String {
        match self.ssl {
            false => "ssl=false".to_owned(),
            true => format!("validateSsl={}&ssl=true", self.validate),
        }
    }
}

/// A TLS mode as written (`sslmode=prefer`), what it becomes, and why, when that needs saying.
struct TlsMode {
    /// The option that asked for it, as written (`sslmode`, `ssl-mode`, `sslMode`).
    option: &'static str,
    written: String,
    tls: Tls,
    why: Option<&'static str>,
    /// libpq's `sslmode=require`, which verifies the CA when given `sslrootcert`.
    verifies_with_root: bool,
    /// libpq's `sslmode=verify-full`: the only mode `sslrootcert=system` allows.
    full: bool,
}

const NO_FALLBACK: &str = "Jackal never falls back to plain text (nor starts with it), so a \
    server without TLS fails the test with tls_unavailable; write ssl=false to test without TLS";
const NAME_CHECKED: &str = "Jackal's validateSsl checks the host name as well as the CA, so a \
    certificate that does not name the host fails the test with tls_failed";

fn tls_mode(family: Family, name: &'static str, value: &str) -> Result<TlsMode, UriError> {
    let mode = |tls, why, verifies_with_root, full| TlsMode {
        option: name,
        written: format!("{name}={value}"),
        tls,
        why,
        verifies_with_root,
        full,
    };
    let normalized = value.to_ascii_lowercase().replace('_', "-");
    match (family, normalized.as_str()) {
        (Family::Postgres, "disable") | (Family::Mysql, "disabled" | "disable") => {
            Ok(mode(PLAIN, None, false, false))
        }
        (Family::Postgres, "allow" | "prefer") | (Family::Mysql, "preferred") => {
            Ok(mode(ENCRYPT, Some(NO_FALLBACK), false, false))
        }
        (Family::Postgres, "require") => Ok(mode(ENCRYPT, None, true, false)),
        (Family::Mysql, "required" | "trust") => Ok(mode(ENCRYPT, None, false, false)),
        (_, "verify-ca") => Ok(mode(VERIFY, Some(NAME_CHECKED), false, false)),
        (Family::Postgres, "verify-full") | (Family::Mysql, "verify-identity" | "verify-full") => {
            Ok(mode(VERIFY, None, false, true))
        }
        (Family::Postgres, _) => Err(UriError::BadOptionValue {
            option: "sslmode",
            expected: "one of disable, allow, prefer, require, verify-ca, verify-full",
        }),
        (Family::Mysql, _) => Err(UriError::BadOptionValue {
            option: name,
            expected: "one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY",
        }),
    }
}

/// The rewritten URI, and which of its options were renamed from another client's spelling,
/// so that an error about one names it as the person wrote it.
struct Rewritten {
    uri: String,
    renamed: Vec<(&'static str, &'static str)>,
}

impl Rewritten {
    fn unchanged(uri: &str) -> Rewritten {
        Rewritten {
            uri: uri.to_owned(),
            renamed: Vec::new(),
        }
    }

    fn renamed_error(&self, e: UriError) -> UriError {
        match e {
            UriError::BadOptionValue { option, expected } => {
                let option = self
                    .renamed
                    .iter()
                    .find(|(_, ours)| *ours == option)
                    .map_or(option, |(theirs, _)| theirs);
                UriError::BadOptionValue { option, expected }
            }
            other => other,
        }
    }
}

/// One option of the query, once read.
enum Segment {
    /// Kept as written (the contract's own options, and those `uri` refuses by name).
    Raw(String),
    /// Where the TLS options go, in place of the option that asked for them.
    Tls,
}

fn rewrite(input: &str, notes: &mut Vec<String>) -> Result<Rewritten, UriError> {
    // As `uri` does before anything else: `url` would drop a tab or line break in silence.
    if input.chars().any(char::is_control) {
        return Err(UriError::ControlCharacter);
    }
    let (jdbc, uri) = match input.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("jdbc:") => (true, &input[5..]),
        _ => (false, input),
    };
    let Some(scheme_end) = uri.find("://") else {
        return match jdbc {
            true => Err(UriError::UnsupportedJdbcUrl),
            false => Ok(Rewritten::unchanged(uri)),
        };
    };
    let scheme = uri[..scheme_end].to_ascii_lowercase();
    let family = match scheme.as_str() {
        "postgresql" | "postgres" => Family::Postgres,
        "mysql" | "mariadb" => Family::Mysql,
        _ if jdbc => {
            return Err(match scheme.contains(':') {
                true => UriError::UnsupportedJdbcUrl,
                false => UriError::UnsupportedScheme(echo(&format!("jdbc:{scheme}"))),
            })
        }
        _ => return Ok(Rewritten::unchanged(uri)),
    };
    if jdbc {
        notes.push(format!(
            "jdbc:{scheme}:// became {scheme}:// (a configUri has no jdbc: prefix)"
        ));
    }
    match scheme.as_str() {
        "postgres" => notes.push("postgres:// became postgresql://".to_owned()),
        "mariadb" => notes.push("mariadb:// became mysql://".to_owned()),
        _ => {}
    }
    let rest = &uri[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_end);
    let Some((path, query)) = after.split_once('?') else {
        return Ok(Rewritten::unchanged(uri));
    };
    // `uri` explains a `#`, a stray `%` and an `@` after the host (a password's `/` unencoded)
    // better than any rewriting could: such a URI is handed on as it is. An `@` in the query
    // may be a `?password=`'s, which is encoded when it moves before the host.
    if path.contains('@') || uri.contains('#') || check_percent_escapes(uri).is_err() {
        return Ok(Rewritten::unchanged(uri));
    }
    let mut options = Options::read(family, jdbc, query, notes)?;
    let authority = options.userinfo(authority, notes)?;
    let query = options.finish(notes)?;
    let mut out = format!("{scheme}://{authority}{path}");
    if !query.is_empty() {
        let _ = write!(out, "?{query}");
    }
    Ok(Rewritten {
        uri: out,
        renamed: options.renamed,
    })
}

/// The options of a pasted URI, read once.
struct Options {
    family: Family,
    jdbc: bool,
    segments: Vec<Segment>,
    /// The foreign option names already seen, to refuse a repeated one.
    seen: Vec<&'static str>,
    tls: Option<TlsMode>,
    /// `sslrootcert=system` was given.
    system_roots: bool,
    /// `sslrootcert` given as a path.
    root_cert: bool,
    /// The contract's own `ssl` and `validateSsl` as written, with their place in `segments`.
    ssl: Option<(usize, Option<bool>)>,
    validate_ssl: Option<(usize, Option<bool>)>,
    user: Option<String>,
    password: Option<Password>,
    renamed: Vec<(&'static str, &'static str)>,
}

impl Options {
    fn read(
        family: Family,
        jdbc: bool,
        query: &str,
        notes: &mut Vec<String>,
    ) -> Result<Options, UriError> {
        let mut options = Options {
            family,
            jdbc,
            segments: Vec::new(),
            seen: Vec::new(),
            tls: None,
            system_roots: false,
            root_cert: false,
            ssl: None,
            validate_ssl: None,
            user: None,
            password: None,
            renamed: Vec::new(),
        };
        for raw in query.split('&').filter(|seg| !seg.is_empty()) {
            let (raw_name, raw_value) = raw.split_once('=').unwrap_or((raw, ""));
            options.read_one(raw, &decode(raw_name)?, raw_value, notes)?;
        }
        Ok(options)
    }

    /// Refuses a foreign option given twice (the contract's own are refused by `uri`).
    fn first(&mut self, name: &'static str) -> Result<(), UriError> {
        if self.seen.contains(&name) {
            return Err(UriError::DuplicateOption(name.to_owned()));
        }
        self.seen.push(name);
        Ok(())
    }

    fn read_one(
        &mut self,
        raw: &str,
        name: &str,
        raw_value: &str,
        notes: &mut Vec<String>,
    ) -> Result<(), UriError> {
        let value = || decode(raw_value);
        let keep = Segment::Raw(raw.to_owned());
        match (self.family, name) {
            (_, "user") => {
                self.first("user")?;
                self.user = Some(self.credential("user", raw_value)?);
            }
            (_, "password") => {
                self.first("password")?;
                self.password = Some(Password::from(self.credential("password", raw_value)?));
            }
            (_, "ssl") => {
                self.ssl = Some((self.segments.len(), parse_bool(&value()?)));
                self.segments.push(keep);
            }
            (_, "validateSsl") => {
                self.validate_ssl = Some((self.segments.len(), parse_bool(&value()?)));
                self.segments.push(keep);
            }
            (Family::Postgres, "sslmode") | (Family::Mysql, "ssl-mode" | "sslMode") => {
                let name = match name {
                    "sslmode" => "sslmode",
                    "sslMode" => "sslMode",
                    _ => "ssl-mode",
                };
                if self.tls.is_some() {
                    return Err(UriError::DuplicateOption(name.to_owned()));
                }
                self.tls = Some(tls_mode(self.family, name, &value()?)?);
                self.segments.push(Segment::Tls);
            }
            (Family::Postgres, "sslrootcert") => {
                self.first("sslrootcert")?;
                if value()? == "system" {
                    self.system_roots = true;
                    notes.push(
                        "sslrootcert=system was dropped: without sslRootCert, validateSsl=true \
                         trusts the system's CA certificates"
                            .to_owned(),
                    );
                } else {
                    self.root_cert = true;
                    self.renamed.push(("sslrootcert", "sslRootCert"));
                    self.segments
                        .push(Segment::Raw(format!("sslRootCert={raw_value}")));
                    notes.push(
                        "sslrootcert became sslRootCert (a file on the Jackal server, read only \
                         under its [drivers.tls] root_cert_dirs)"
                            .to_owned(),
                    );
                }
            }
            (Family::Postgres, "connect_timeout") => {
                self.first("connect_timeout")?;
                let seconds = value()?;
                if seconds.trim_start_matches('0').is_empty() && !seconds.is_empty() {
                    return Err(UriError::CannotHonour {
                        option: "connect_timeout",
                        problem: "0 means waiting forever, and a test always has a deadline: \
                                  give 1 to 300 seconds, or leave it out for the server's default",
                    });
                }
                self.renamed.push(("connect_timeout", "connectTimeout"));
                self.segments
                    .push(Segment::Raw(format!("connectTimeout={raw_value}")));
                notes.push(format!(
                    "connect_timeout={} became connectTimeout (the whole test's deadline, in \
                     seconds)",
                    echo(&seconds)
                ));
            }
            (Family::Postgres, "application_name" | "ApplicationName") => {
                self.first("application_name")?;
                notes.push(format!(
                    "{name} was dropped: Jackal's tests always connect as \
                     jackal-connection-test, so that a server's logs tell them apart"
                ));
            }
            (Family::Mysql, "connectTimeout") if self.jdbc => {
                self.first("connectTimeout")?;
                let seconds = jdbc_millis_to_seconds(&value()?)?;
                self.segments
                    .push(Segment::Raw(format!("connectTimeout={seconds}")));
                notes.push(format!(
                    "connectTimeout={} (milliseconds in a MySQL or MariaDB JDBC URL) became \
                     connectTimeout={seconds} (seconds, rounded up)",
                    echo(&value()?)
                ));
            }
            (Family::Postgres, "sslcert" | "sslkey" | "sslpassword")
            | (Family::Mysql, "ssl-cert" | "ssl-key") => {
                return Err(UriError::CannotHonour {
                    option: match name {
                        "sslcert" => "sslcert",
                        "sslkey" => "sslkey",
                        "sslpassword" => "sslpassword",
                        "ssl-cert" => "ssl-cert",
                        _ => "ssl-key",
                    },
                    problem: "it names a client certificate, key or key password for files on \
                              the machine the URI came from: leave it out of configUri and send \
                              the certificate's and key's PEM text as the sslCert and sslKey \
                              arguments (and the key's password as sslKeyPassword)",
                });
            }
            _ => self.segments.push(keep),
        }
        Ok(())
    }

    /// A `?user=` or `?password=` value, decoded as the client that wrote it decodes it.
    fn credential(&self, name: &'static str, raw_value: &str) -> Result<String, UriError> {
        // The JDBC drivers read a query value as a form value, where `+` is a space; a person
        // copying the URL may mean either, and guessing would change a password in silence.
        if self.jdbc && raw_value.contains('+') {
            return Err(UriError::CannotHonour {
                option: name,
                problem: "a JDBC driver reads a '+' in it as a space, and it may have been meant \
                          as a '+': write %2B for a '+' or %20 for a space",
            });
        }
        decode(raw_value)
    }

    /// The authority with `?user=` and `?password=` moved before the `@`.
    fn userinfo(&mut self, authority: &str, notes: &mut Vec<String>) -> Result<String, UriError> {
        if self.user.is_none() && self.password.is_none() {
            return Ok(authority.to_owned());
        }
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let (written_user, written_password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (info, None),
            },
            None => ("", None),
        };
        let twice = |option| UriError::CannotHonour {
            option,
            problem: "configUri gives it both before the @ and as a query option: keep one",
        };
        let user = match self.user.take() {
            Some(_) if !written_user.is_empty() => return Err(twice("user")),
            Some(user) => {
                notes.push("?user= moved before the @ (the URI's user)".to_owned());
                encode_component(&user)
            }
            None => written_user.to_owned(),
        };
        let password = match self.password.take() {
            Some(_) if written_password.is_some_and(|p| !p.is_empty()) => {
                return Err(twice("password"))
            }
            Some(password) => {
                notes.push(
                    "?password= moved before the @ (the URI's password, percent-encoded)"
                        .to_owned(),
                );
                Some(encode_component(password.expose()))
            }
            None => written_password.map(str::to_owned),
        };
        Ok(match password {
            Some(password) => format!("{user}:{password}@{host}"),
            None if user.is_empty() => host.to_owned(),
            None => format!("{user}@{host}"),
        })
    }

    /// The query in the contract's spelling, once every option has been read.
    fn finish(&mut self, notes: &mut Vec<String>) -> Result<String, UriError> {
        if let Some(mode) = &mut self.tls {
            let mut why = mode.why;
            if mode.verifies_with_root && self.root_cert {
                mode.tls = VERIFY;
                why = Some(
                    "libpq verifies the server's certificate against sslrootcert under \
                     sslmode=require, and Jackal's validateSsl checks the host name too",
                );
            }
            let mut note = format!("{} became {}", mode.written, mode.tls.render());
            if let Some(why) = why {
                let _ = write!(note, ": {why}");
            }
            notes.push(note);
        }
        if self.system_roots {
            match &self.tls {
                Some(mode) if !mode.full => {
                    return Err(UriError::CannotHonour {
                        option: "sslrootcert",
                        problem: "sslrootcert=system is allowed only with \
                                  sslmode=verify-full (libpq refuses it with weaker modes): \
                                  write sslmode=verify-full, or leave sslrootcert out",
                    })
                }
                Some(_) => {}
                None => {
                    notes.push(
                        "sslrootcert=system means sslmode=verify-full: validateSsl=true&ssl=true \
                         were added"
                            .to_owned(),
                    );
                    self.tls = Some(TlsMode {
                        option: "sslrootcert",
                        written: "sslrootcert=system".to_owned(),
                        tls: VERIFY,
                        why: None,
                        verifies_with_root: false,
                        full: true,
                    });
                    self.segments.push(Segment::Tls);
                }
            }
        }
        match &self.tls {
            Some(mode) => self.drop_agreeing(mode.tls, mode.option)?,
            None => self.jdbc_ssl(notes),
        }
        let tls = self.tls.as_ref().map(|mode| mode.tls.render());
        Ok(self
            .segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Raw(raw) => Some(raw.clone()),
                Segment::Tls => tls.clone(),
            })
            .collect::<Vec<_>>()
            .join("&"))
    }

    /// The PostgreSQL JDBC driver verifies as `sslmode=verify-full` does when it is given
    /// `ssl=true` and no `sslmode`: so does the URI it becomes.
    fn jdbc_ssl(&mut self, notes: &mut Vec<String>) {
        if !(self.jdbc && self.family == Family::Postgres) || self.validate_ssl.is_some() {
            return;
        }
        if let Some((at, Some(true))) = self.ssl {
            self.segments
                .insert(at, Segment::Raw("validateSsl=true".to_owned()));
            notes.push(
                "ssl=true in a PostgreSQL JDBC URL means sslmode=verify-full: validateSsl=true \
                 was added"
                    .to_owned(),
            );
        }
    }

    /// The contract's own `ssl` and `validateSsl`, when a TLS mode says the same: dropped (the
    /// mode's rendering says it once). Saying otherwise is an error naming both.
    fn drop_agreeing(&mut self, tls: Tls, option: &'static str) -> Result<(), UriError> {
        let checks = [(self.ssl, tls.ssl), (self.validate_ssl, tls.validate)];
        for (given, wanted) in checks {
            if let Some((_, value)) = given {
                if value != Some(wanted) {
                    return Err(UriError::CannotHonour {
                        option,
                        problem: "it and the ssl or validateSsl option of the same configUri \
                                  ask for different things: keep one of them",
                    });
                }
            }
        }
        let mut drop: Vec<usize> = [self.ssl, self.validate_ssl]
            .into_iter()
            .flatten()
            .map(|(at, _)| at)
            .collect();
        drop.sort_unstable_by(|a, b| b.cmp(a));
        for at in drop {
            self.segments.remove(at);
        }
        Ok(())
    }
}

/// A MySQL or MariaDB JDBC `connectTimeout` (milliseconds) as the contract's whole seconds.
fn jdbc_millis_to_seconds(value: &str) -> Result<u64, UriError> {
    let millis = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .ok_or(UriError::BadOptionValue {
            option: "connectTimeout",
            expected: "a whole number of milliseconds in a MySQL or MariaDB JDBC URL",
        })?;
    match millis.div_ceil(1000) {
        0 => Err(UriError::CannotHonour {
            option: "connectTimeout",
            problem: "0 means waiting forever, and a test always has a deadline: give 1000 to \
                      300000 milliseconds, or leave it out for the server's default",
        }),
        seconds @ 1..=300 => Ok(seconds),
        _ => Err(UriError::CannotHonour {
            option: "connectTimeout",
            problem: "a test's deadline is at most 300 seconds: give at most 300000 \
                      milliseconds",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what it proves, pasted, stored `to_uri()`, a piece of each note in order)
    const REWRITTEN: &[(&str, &str, &str, &[&str])] = &[
        (
            "the contract's form gets no note",
            "postgresql://u:p@h:5432/db?ssl=true",
            "postgresql://u:p@h:5432/db?ssl=true&validateSsl=false",
            &[],
        ),
        (
            "postgres alias",
            "postgres://u:p@h/db",
            "postgresql://u:p@h/db?validateSsl=false&ssl=true",
            &["postgres:// became postgresql://"],
        ),
        (
            "mariadb alias",
            "mariadb://u@h/db",
            "mysql://u@h/db?validateSsl=false&ssl=true",
            &["mariadb:// became mysql://"],
        ),
        (
            "sslmode=disable",
            "postgresql://u@h/db?sslmode=disable",
            "postgresql://u@h/db?ssl=false&validateSsl=false",
            &["sslmode=disable became ssl=false"],
        ),
        (
            "sslmode=allow does not start with plain text",
            "postgresql://u@h/db?sslmode=allow",
            "postgresql://u@h/db?validateSsl=false&ssl=true",
            &["sslmode=allow became validateSsl=false&ssl=true: Jackal never falls back"],
        ),
        (
            "sslmode=prefer does not fall back",
            "postgresql://u@h/db?sslmode=prefer",
            "postgresql://u@h/db?validateSsl=false&ssl=true",
            &["sslmode=prefer became validateSsl=false&ssl=true: Jackal never falls back"],
        ),
        (
            "sslmode=require",
            "postgresql://u@h/db?sslmode=require",
            "postgresql://u@h/db?validateSsl=false&ssl=true",
            &["sslmode=require became validateSsl=false&ssl=true"],
        ),
        (
            "sslmode=verify-ca checks the name too",
            "postgresql://u@h/db?sslmode=verify-ca",
            "postgresql://u@h/db?validateSsl=true&ssl=true",
            &["sslmode=verify-ca became validateSsl=true&ssl=true: Jackal's validateSsl checks the host name"],
        ),
        (
            "sslmode=verify-full",
            "postgresql://u@h/db?sslmode=verify-full",
            "postgresql://u@h/db?validateSsl=true&ssl=true",
            &["sslmode=verify-full became validateSsl=true&ssl=true"],
        ),
        (
            "options keep their places around the mapped ones",
            "postgres://u@h/db?connect_timeout=10&sslmode=verify-full&sslrootcert=/etc/ssl/db/ca.pem&application_name=psql",
            "postgresql://u@h/db?connectTimeout=10&validateSsl=true&ssl=true&sslRootCert=/etc/ssl/db/ca.pem",
            &[
                "postgres:// became postgresql://",
                "connect_timeout=10 became connectTimeout",
                "sslrootcert became sslRootCert",
                "application_name was dropped",
                "sslmode=verify-full became validateSsl=true&ssl=true",
            ],
        ),
        (
            "require with a root certificate verifies, as libpq does",
            "postgresql://u@h/db?sslmode=require&sslrootcert=/certs/ca.pem",
            "postgresql://u@h/db?validateSsl=true&ssl=true&sslRootCert=/certs/ca.pem",
            &[
                "sslrootcert became sslRootCert",
                "sslmode=require became validateSsl=true&ssl=true: libpq verifies",
            ],
        ),
        (
            "sslrootcert=system implies verify-full",
            "postgresql://u@h/db?sslrootcert=system",
            "postgresql://u@h/db?validateSsl=true&ssl=true",
            &["sslrootcert=system was dropped", "sslrootcert=system means sslmode=verify-full"],
        ),
        (
            "an agreeing ssl option is said once",
            "postgresql://u@h/db?ssl=true&sslmode=require",
            "postgresql://u@h/db?validateSsl=false&ssl=true",
            &["sslmode=require became"],
        ),
        (
            "libpq's user and password in the query",
            "postgresql://h/db?user=app&password=p%40ss%2Bw%20rd",
            "postgresql://app:p%40ss%2Bw%20rd@h/db?validateSsl=false&ssl=true",
            &["?user= moved before the @", "?password= moved before the @"],
        ),
        (
            "JDBC PostgreSQL: ssl=true verifies as verify-full",
            "jdbc:postgresql://h:5432/db?user=u&password=p&ssl=true",
            "postgresql://u:p@h:5432/db?validateSsl=true&ssl=true",
            &[
                "jdbc:postgresql:// became postgresql://",
                "?user= moved",
                "?password= moved",
                "ssl=true in a PostgreSQL JDBC URL means sslmode=verify-full",
            ],
        ),
        (
            "JDBC PostgreSQL with its own sslmode",
            "JDBC:postgresql://h/db?sslmode=require&ssl=true",
            "postgresql://h/db?validateSsl=false&ssl=true",
            &["jdbc:postgresql:// became", "sslmode=require became"],
        ),
        (
            "JDBC password with characters that need encoding",
            "jdbc:mysql://db.example.com:3306/shop?user=shop&password=a%3Ab%2Fc@d",
            "mysql://shop:a%3Ab%2Fc%40d@db.example.com:3306/shop?validateSsl=false&ssl=true",
            &["jdbc:mysql:// became mysql://", "?user= moved", "?password= moved"],
        ),
        (
            "JDBC MySQL: milliseconds become seconds",
            "jdbc:mysql://h/db?connectTimeout=2500&sslMode=VERIFY_IDENTITY",
            "mysql://h/db?connectTimeout=3&validateSsl=true&ssl=true",
            &[
                "jdbc:mysql:// became",
                "connectTimeout=2500 (milliseconds in a MySQL or MariaDB JDBC URL) became connectTimeout=3",
                "sslMode=VERIFY_IDENTITY became validateSsl=true&ssl=true",
            ],
        ),
        (
            "JDBC MariaDB's own ssl modes",
            "jdbc:mariadb://h:3307/db?sslMode=trust",
            "mysql://h:3307/db?validateSsl=false&ssl=true",
            &["jdbc:mariadb:// became", "mariadb:// became mysql://", "sslMode=trust became validateSsl=false&ssl=true"],
        ),
        (
            "MySQL ssl-mode=DISABLED",
            "mysql://u@h/db?ssl-mode=DISABLED",
            "mysql://u@h/db?ssl=false&validateSsl=false",
            &["ssl-mode=DISABLED became ssl=false"],
        ),
        (
            "MySQL ssl-mode=PREFERRED",
            "mysql://u@h/db?ssl-mode=PREFERRED",
            "mysql://u@h/db?validateSsl=false&ssl=true",
            &["ssl-mode=PREFERRED became validateSsl=false&ssl=true: Jackal never falls back"],
        ),
        (
            "MySQL ssl-mode=REQUIRED",
            "mysql://u@h/db?ssl-mode=REQUIRED",
            "mysql://u@h/db?validateSsl=false&ssl=true",
            &["ssl-mode=REQUIRED became validateSsl=false&ssl=true"],
        ),
        (
            "MySQL ssl-mode=VERIFY_CA",
            "mysql://u@h/db?ssl-mode=VERIFY_CA",
            "mysql://u@h/db?validateSsl=true&ssl=true",
            &["ssl-mode=VERIFY_CA became validateSsl=true&ssl=true: Jackal's validateSsl checks the host name"],
        ),
        (
            "MySQL ssl-mode=VERIFY_IDENTITY",
            "mysql://u@h/db?ssl-mode=VERIFY_IDENTITY",
            "mysql://u@h/db?validateSsl=true&ssl=true",
            &["ssl-mode=VERIFY_IDENTITY became validateSsl=true&ssl=true"],
        ),
    ];

    #[test]
    fn pasted_forms_become_the_contracts_with_a_note_per_change() {
        for (what, pasted, stored, notes) in REWRITTEN {
            let normalized = parse(pasted).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(normalized.spec.to_uri(), *stored, "{what}");
            assert_eq!(
                normalized.notes.len(),
                notes.len(),
                "{what}: {:?}",
                normalized.notes
            );
            for (note, piece) in normalized.notes.iter().zip(notes.iter()) {
                assert!(note.contains(piece), "{what}: {note:?} lacks {piece:?}");
            }
            // What is stored is in the contract's form: pasted again, it changes nothing.
            let again = parse(stored).unwrap();
            assert!(again.notes.is_empty(), "{what}: {:?}", again.notes);
            assert_eq!(again.spec.to_uri(), *stored, "{what}");
        }
    }

    /// (what it proves, pasted, the code, the option the message names)
    const REFUSED: &[(&str, &str, &str, &str)] = &[
        (
            "an sslmode libpq does not know",
            "postgresql://h/db?sslmode=sometimes",
            "bad_option_value",
            "sslmode",
        ),
        (
            "an ssl-mode MySQL does not know",
            "mysql://h/db?ssl-mode=MAYBE",
            "bad_option_value",
            "ssl-mode",
        ),
        (
            "connect_timeout=0 waits forever",
            "postgresql://h/db?connect_timeout=0",
            "cannot_honour_option",
            "connect_timeout",
        ),
        (
            "connect_timeout beyond a test's deadline",
            "postgresql://h/db?connect_timeout=900",
            "bad_option_value",
            "connect_timeout",
        ),
        (
            "a relative sslrootcert",
            "postgresql://h/db?sslrootcert=root.crt",
            "bad_option_value",
            "sslrootcert",
        ),
        (
            "sslrootcert=system with a weaker mode",
            "postgresql://h/db?sslmode=require&sslrootcert=system",
            "cannot_honour_option",
            "sslrootcert",
        ),
        (
            "sslmode against ssl",
            "postgresql://h/db?sslmode=disable&ssl=true",
            "cannot_honour_option",
            "sslmode",
        ),
        (
            "ssl-mode against validateSsl",
            "mysql://h/db?ssl-mode=REQUIRED&validateSsl=true",
            "cannot_honour_option",
            "ssl-mode",
        ),
        (
            "sslmode twice",
            "postgresql://h/db?sslmode=require&sslmode=disable",
            "duplicate_option",
            "sslmode",
        ),
        (
            "a client certificate file",
            "postgresql://h/db?sslcert=/home/me/.postgresql/postgresql.crt",
            "cannot_honour_option",
            "sslcert",
        ),
        (
            "a client key password",
            "postgresql://h/db?sslpassword=hunter2",
            "cannot_honour_option",
            "sslpassword",
        ),
        (
            "MySQL's client key file",
            "mysql://h/db?ssl-key=/k.pem",
            "cannot_honour_option",
            "ssl-key",
        ),
        (
            "the user twice",
            "postgresql://a@h/db?user=b",
            "cannot_honour_option",
            "user",
        ),
        (
            "the password twice",
            "postgresql://a:x@h/db?password=y",
            "cannot_honour_option",
            "password",
        ),
        (
            "a JDBC password's '+'",
            "jdbc:postgresql://h/db?user=u&password=a+b",
            "cannot_honour_option",
            "password",
        ),
        (
            "JDBC milliseconds of 0",
            "jdbc:mysql://h/db?connectTimeout=0",
            "cannot_honour_option",
            "connectTimeout",
        ),
        (
            "JDBC milliseconds beyond a deadline",
            "jdbc:mariadb://h/db?connectTimeout=301000",
            "cannot_honour_option",
            "connectTimeout",
        ),
        (
            "a JDBC URL without a host",
            "jdbc:postgresql:db",
            "unsupported_jdbc_url",
            "JDBC",
        ),
        (
            "a JDBC load balancer",
            "jdbc:mysql:loadbalance://h1,h2/db",
            "unsupported_jdbc_url",
            "JDBC",
        ),
        (
            "another JDBC driver",
            "jdbc:sqlserver://h:1433",
            "unsupported_scheme",
            "jdbc:sqlserver",
        ),
        (
            "libpq's options are PostgreSQL's",
            "mysql://h/db?sslmode=require",
            "unknown_option",
            "sslmode",
        ),
    ];

    #[test]
    fn options_understood_but_not_honoured_are_refused_by_name() {
        for (what, pasted, code, named) in REFUSED {
            let e = parse(pasted).unwrap_err();
            assert_eq!(e.code(), *code, "{what}: {e}");
            let message = e.to_string();
            assert!(message.contains(named), "{what}: {message}");
        }
    }

    #[test]
    fn notes_and_errors_never_hold_the_password() {
        let secret = "Zq9-s3cr3t";
        let normalized = parse(&format!(
            "jdbc:postgresql://h/db?user=u&password={secret}&sslmode=require"
        ))
        .unwrap();
        assert_eq!(normalized.spec.password().unwrap().expose(), secret);
        for note in &normalized.notes {
            assert!(!note.contains(secret), "{note}");
        }
        for pasted in [
            format!("postgresql://a:x@h/db?password={secret}"),
            format!("postgresql://h/db?password={secret}&sslmode=bogus"),
            format!("postgresql://h/db?sslpassword={secret}"),
        ] {
            let e = parse(&pasted).unwrap_err();
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
        }
    }

    #[test]
    fn what_the_uri_parser_explains_is_left_to_it() {
        // An unencoded '/' in a password ends the authority early; the parser's advice names it.
        let e = parse("postgres://u:p/x@h/db?sslmode=require").unwrap_err();
        assert_eq!(e.code(), "unencoded_character", "{e}");
        let e = parse("postgres://u:100%@h/db?sslmode=require").unwrap_err();
        assert_eq!(e.code(), "bad_percent_encoding", "{e}");
        let e = parse("postgres://u@h/db?sslmode=require\n").unwrap();
        assert_eq!(e.notes.len(), 2);
        let e = parse("postgres://u@h/d\tb?sslmode=require").unwrap_err();
        assert_eq!(e.code(), "control_character", "{e}");
    }
}
