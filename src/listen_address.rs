//! `[server] listen`: an IP address or a host name, and a port. A name (`localhost:8080`) is
//! resolved when the server starts, and the server listens on every address it resolves to, so
//! `localhost` answers on 127.0.0.1 and on ::1 alike, whichever a client's resolver prefers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;

/// Where the server listens, as written: `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenAddress {
    host: Host,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// What a listen address looks like, for the messages that refuse one.
pub const EXPECTED: &str =
    "expected an address and a port such as 127.0.0.1:8080, [::1]:8080 or localhost:8080";

impl ListenAddress {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address itself when it is an IP address; `None` for a name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.host {
            Host::Ip(ip) => Some(ip),
            Host::Name(_) => None,
        }
    }

    /// Every address to listen on: the IP address, or each address the name resolves to (in
    /// the resolver's order, each once).
    pub async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let name = match &self.host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => name,
        };
        let mut addresses: Vec<SocketAddr> = Vec::new();
        for address in tokio::net::lookup_host((name.as_str(), self.port)).await? {
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
        if addresses.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{name} resolves to no address"),
            ));
        }
        Ok(addresses)
    }
}

impl From<SocketAddr> for ListenAddress {
    fn from(address: SocketAddr) -> Self {
        ListenAddress {
            host: Host::Ip(address.ip()),
            port: address.port(),
        }
    }
}

impl FromStr for ListenAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(address.into());
        }
        let refuse = || format!("{text:?}: {EXPECTED}");
        let (name, port) = text.rsplit_once(':').ok_or_else(refuse)?;
        let port: u16 = port.parse().map_err(|_| refuse())?;
        // A host name's letters (RFC 1123); anything else (a bare IPv6 address without its
        // brackets, a URL) is a mistake better named now than by the resolver.
        let is_name = !name.is_empty()
            && name.len() <= 253
            && name
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63)
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !is_name {
            return Err(refuse());
        }
        Ok(ListenAddress {
            host: Host::Name(name.to_ascii_lowercase()),
            port,
        })
    }
}

impl TryFrom<String> for ListenAddress {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(ip) => SocketAddr::new(*ip, self.port).fmt(f),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_parse_and_print_as_written() {
        for text in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "0.0.0.0:0",
            "localhost:8080",
        ] {
            let address: ListenAddress = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
        }
        let name: ListenAddress = "db-1.Internal:443".parse().unwrap();
        assert_eq!(name.to_string(), "db-1.internal:443");
        assert_eq!(name.port(), 443);
        assert_eq!(name.ip(), None);
    }

    #[test]
    fn what_is_not_an_address_and_a_port_is_refused_with_an_example() {
        for text in [
            "localhost",
            "localhost:",
            "localhost:99999",
            ":8080",
            "::1:8080",
            "http://localhost:8080",
            "local host:8080",
            "a..b:80",
        ] {
            let err = text.parse::<ListenAddress>().unwrap_err();
            assert!(err.contains("localhost:8080"), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_addresses_only_each_once() {
        let address: ListenAddress = "localhost:0".parse().unwrap();
        let resolved = address.resolve().await.unwrap();
        assert!(!resolved.is_empty());
        assert!(
            resolved.iter().all(|a| a.ip().is_loopback()),
            "{resolved:?}"
        );
        let mut unique = resolved.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), resolved.len(), "{resolved:?}");
        let ip: ListenAddress = "127.0.0.1:7".parse().unwrap();
        assert_eq!(
            ip.resolve().await.unwrap(),
            vec!["127.0.0.1:7".parse::<SocketAddr>().unwrap()]
        );
    }
}
