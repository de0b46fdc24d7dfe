//! The host a request names (its `Host` header, or the authority of an absolute request URI),
//! and the hosts `[server] allowed_hosts` admits.

use std::fmt;
use std::net::Ipv6Addr;

/// A host and an optional port, as a request spells them, normalized for comparison: a name in
/// lower case without a trailing dot, an IPv6 address in brackets in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    host: String,
    port: Option<u16>,
}

impl HostPort {
    /// `example.com`, `Example.COM:8080`, `127.0.0.1`, `[::1]:8080`; `None` for anything else
    /// (an unbracketed IPv6 address, user info, a path, an empty host, a bad port).
    pub fn parse(text: &str) -> Option<Self> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (address, after) = rest.split_once(']')?;
            let address: Ipv6Addr = address.parse().ok()?;
            (format!("[{address}]"), after)
        } else {
            let end = text.find(':').unwrap_or(text.len());
            let name = text[..end].strip_suffix('.').unwrap_or(&text[..end]);
            let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
            if name.is_empty() || !name.chars().all(valid) {
                return None;
            }
            (name.to_ascii_lowercase(), &text[end..])
        };
        let port = match after_colon(port)? {
            "" => None,
            digits if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse().ok()?)
            }
            _ => return None,
        };
        Some(HostPort { host, port })
    }
}

/// What follows the `:` of a port, "" for none; `None` when something else follows the host.
fn after_colon(rest: &str) -> Option<&str> {
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix(':')
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// One entry of `[server] allowed_hosts`: a host, admitted on any port, or a host and port,
/// admitted on that port only (as the request's `Host` writes it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct AllowedHost(HostPort);

impl AllowedHost {
    /// Whether a request naming `named` is for this host.
    pub fn admits(&self, named: &HostPort) -> bool {
        self.0.host == named.host && self.0.port.is_none_or(|port| named.port == Some(port))
    }
}

impl TryFrom<String> for AllowedHost {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        HostPort::parse(text.trim())
            .map(AllowedHost)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a host: write a name or address, optionally with a port \
                 (jackal.example.com, 127.0.0.1:8080, [::1])"
                )
            })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(text: &str) -> AllowedHost {
        text.parse().unwrap()
    }

    fn named(text: &str) -> HostPort {
        HostPort::parse(text).unwrap()
    }

    #[test]
    fn names_compare_without_case_or_trailing_dot_and_ports_only_when_listed() {
        let any_port = allowed("Jackal.Example.com");
        for host in [
            "jackal.example.com",
            "JACKAL.example.COM:8080",
            "jackal.example.com.:1",
        ] {
            assert!(any_port.admits(&named(host)), "{host}");
        }
        assert!(!any_port.admits(&named("evil.example.com")));
        assert!(!any_port.admits(&named("jackal.example.com.evil.test")));
        let one_port = allowed("localhost:8080");
        assert!(one_port.admits(&named("LOCALHOST:8080")));
        assert!(!one_port.admits(&named("localhost")));
        assert!(!one_port.admits(&named("localhost:8081")));
    }

    #[test]
    fn ipv6_addresses_are_bracketed_and_compared_as_addresses() {
        let loopback = allowed("[::1]");
        for host in ["[::1]", "[0:0:0:0:0:0:0:1]:8080", "[::0001]"] {
            assert!(loopback.admits(&named(host)), "{host}");
        }
        assert!(!loopback.admits(&named("[::2]")));
        assert!(allowed("[2001:DB8::1]:443").admits(&named("[2001:db8::1]:443")));
    }

    #[test]
    fn what_is_not_a_host_is_refused() {
        for text in [
            "",
            "::1",
            "a b",
            "user@host",
            "host/path",
            "host:port",
            "host:65536",
            "[::1",
            "[x]",
            "[::1]x",
            ":80",
            "host:80:80",
            ".",
            "*.example.com",
        ] {
            assert!(HostPort::parse(text).is_none(), "{text:?}");
            assert!(text.parse::<AllowedHost>().is_err(), "{text:?}");
        }
        let message = "::1".parse::<AllowedHost>().unwrap_err();
        assert!(message.contains("[::1]"), "{message}");
    }
}
