//! Hosts as Jackal accepts them, wherever one is written (the database in `configUri`, the
//! bastion in `sshHost`, each hop of `sshJump`): a host name, an IPv4 address as a dotted quad
//! of decimal numbers, or an IPv6 address.
//!
//! Resolvers read more than that as an address: `inet_aton` (and so `getaddrinfo`, and an SSH
//! server asked to open a channel to a name) takes `127.1`, `2130706437`, `0x7f.0.0.1` and
//! `0177.0.0.1` (octal) as 127.0.0.1, and the URL standard does the same for any host whose
//! last label is a number. A host in such a spelling would be checked as a name and dialled as
//! an address, so every one of them is refused: a name's last label is never numeric.

use std::net::IpAddr;

/// Why a host was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// Not a host name or IP address at all (empty, a space, a character no name has).
    Invalid,
    /// A number in another spelling than a dotted quad (`127.1`, `0x7f000001`, `0177.0.0.1`).
    NumericSpelling,
}

impl HostError {
    /// What to write instead; a sentence fragment for the caller's message.
    pub fn advice(self) -> &'static str {
        match self {
            HostError::Invalid => {
                "a host name, an IPv4 address (a dotted quad such as 10.0.0.5) or an IPv6 address"
            }
            HostError::NumericSpelling => {
                "written as a number in a form other than a dotted quad (127.1, 2130706437, \
                 0x7f.0.0.1 and 0177.0.0.1 are refused, since resolvers read them as other \
                 addresses than they seem): write an IPv4 address as four decimal numbers \
                 (127.0.0.1), or a host name whose last label is not a number"
            }
        }
    }
}

/// `text` as Jackal writes it: an IP address in its canonical form (IPv6 without brackets), or
/// the name as written. `[…]` around an IPv6 address is accepted and dropped.
pub fn parse(text: &str) -> Result<String, HostError> {
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::Invalid)?;
        return match inner.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => Ok(v6.to_string()),
            _ => Err(HostError::Invalid),
        };
    }
    // std reads exactly four decimal numbers without leading zeros, and IPv6.
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let labels: Vec<&str> = text.strip_suffix('.').unwrap_or(text).split('.').collect();
    let valid = !text.is_empty()
        && text.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(HostError::Invalid);
    }
    if labels.last().is_some_and(|last| is_number(last)) {
        return Err(HostError::NumericSpelling);
    }
    Ok(text.to_owned())
}

/// A label the URL standard's IPv4 parser (and `inet_aton`) reads as a number: decimal digits,
/// or `0x` and hexadecimal digits (none at all included).
fn is_number(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_canonical_addresses_are_read() {
        for (written, read) in [
            ("db.example.com", "db.example.com"),
            ("DB.Example.com", "DB.Example.com"),
            ("db.example.com.", "db.example.com."),
            ("localhost", "localhost"),
            ("my_host-1", "my_host-1"),
            ("10.0.0.5", "10.0.0.5"),
            ("0.0.0.0", "0.0.0.0"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("[FD00:0::1]", "fd00::1"),
            ("::ffff:127.0.0.5", "::ffff:127.0.0.5"),
            ("1e100.net", "1e100.net"),
            ("0x7f.example", "0x7f.example"),
            ("db.0xg", "db.0xg"),
        ] {
            assert_eq!(parse(written), Ok(read.to_owned()), "{written}");
        }
    }

    #[test]
    fn every_other_numeric_spelling_is_refused() {
        for written in [
            "127.1",
            "127.0.1",
            "2130706437",
            "0x7f000001",
            "0X7F000001",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "127.0.0.01",
            "127.0.0.1.",
            "127.0.0.0x1",
            "1.2.3.4.5",
            "256.0.0.1",
            "db.123",
            "0x",
            "09",
        ] {
            assert_eq!(parse(written), Err(HostError::NumericSpelling), "{written}");
        }
    }

    #[test]
    fn what_is_no_host_is_invalid() {
        for written in [
            "",
            ".",
            "a..b",
            "db host",
            "db%2Ehost",
            "[127.0.0.1]",
            "[::1",
            "[db.example.com]",
            "fe80::1%eth0",
            &"a".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert_eq!(parse(written), Err(HostError::Invalid), "{written:?}");
        }
    }
}
