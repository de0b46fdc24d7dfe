//! The way to a database through SSH, as `configUri` writes it: the bastion (`sshHost`,
//! `sshPort`, `sshUser`, `sshHostKey`) and the jump hosts in front of it (`sshJump`). None of
//! it is secret; the keys and passwords are in [`super::SshCredentials`].
//!
//! `sshJump` lists the hops in the order Jackal dials them, as OpenSSH's `-J` does, separated
//! by `,`; each hop is `user@host[:port]`, optionally followed by `;` and its pinned host key:
//! `jump@10.0.0.1;SHA256:abc…,ops@10.0.1.1:2222;SHA256:def…`. The bastion comes after the
//! last hop, the database after the bastion.

use std::fmt;

use russh::keys::ssh_key::known_hosts::Entry as KnownHostsEntry;
use russh::keys::{HashAlg, PublicKey};

use crate::host::{self, HostError};

/// The default SSH port.
pub const DEFAULT_PORT: u16 = 22;

/// At most this many jump hosts in front of the bastion: each one is a handshake under the same
/// deadline, and a longer chain is a mistake more often than a network.
pub const MAX_JUMPS: usize = 8;

/// A host key pinned by its SHA-256 fingerprint, `SHA256:` and unpadded base64 as
/// `ssh-keygen -lf` prints it: the one form every spelling is normalized to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyPin(String);

impl HostKeyPin {
    /// Reads a fingerprint (`SHA256:…`), a public-key line (`ssh-ed25519 AAAA… comment`) or a
    /// `known_hosts` line (`host ssh-ed25519 AAAA…`, hashed hosts and markers included).
    pub fn parse(text: &str) -> Result<HostKeyPin, &'static str> {
        const EXPECTED: &str = "a host key fingerprint as ssh-keygen -lf prints it \
            (SHA256:…), or the server's public-key or known_hosts line";
        let text = text.trim();
        if let Some(b64) = text.strip_prefix("SHA256:") {
            let digest = decode_unpadded_base64(b64).ok_or(EXPECTED)?;
            return if digest.len() == 32 {
                Ok(HostKeyPin(format!("SHA256:{}", b64.trim_end_matches('='))))
            } else {
                Err(EXPECTED)
            };
        }
        // known_hosts fields are separated by spaces or tabs; the parser takes single spaces.
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let key = PublicKey::from_openssh(&line)
            .ok()
            .or_else(|| {
                line.parse::<KnownHostsEntry>()
                    .ok()
                    .map(|e| e.public_key().clone())
            })
            .ok_or(EXPECTED)?;
        Ok(HostKeyPin::of(&key))
    }

    /// The pin of `key`.
    pub fn of(key: &PublicKey) -> HostKeyPin {
        HostKeyPin(key.fingerprint(HashAlg::Sha256).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostKeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn decode_unpadded_base64(text: &str) -> Option<Vec<u8>> {
    use russh::keys::ssh_key::Fingerprint;
    // The fingerprint type parses exactly this form; a digest of the wrong size fails there.
    format!("SHA256:{}", text.trim_end_matches('='))
        .parse::<Fingerprint>()
        .ok()
        .map(|f| f.as_bytes().to_vec())
}

/// One SSH server on the way: whom to log in as, where, and the host key it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub user: String,
    /// As written; an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
    pub host_key: Option<HostKeyPin>,
}

impl Hop {
    /// `user@host:port`, as phases and messages name the hop.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.host, self.port)
        }
    }

    /// The same server, user and port (host names compare as DNS does).
    pub fn same_place(&self, other: &Hop) -> bool {
        self.user == other.user
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
    }
}

/// The hops from Jackal to the bastion, the bastion last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRoute {
    pub hops: Vec<Hop>,
}

impl SshRoute {
    /// The bastion: the hop that opens the channel to the database.
    pub fn bastion(&self) -> &Hop {
        self.hops.last().expect("a route has a bastion")
    }

    /// The same servers, users and ports in the same order, each pinned to the same key: a
    /// secret entered for one route may be used on the other. A changed pin counts as another
    /// route, since it may be another machine.
    pub fn same_path(&self, other: &SshRoute) -> bool {
        self.hops.len() == other.hops.len()
            && self
                .hops
                .iter()
                .zip(&other.hops)
                .all(|(a, b)| a.same_place(b) && a.host_key == b.host_key)
    }
}

pub(crate) fn parse_port(text: &str) -> Option<u16> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0)
}

/// A user name: not empty, no control character, no `@`, `,` or `;` (the jump list's
/// delimiters).
pub(crate) fn parse_user(text: &str) -> Option<String> {
    (!text.is_empty()
        && text.len() <= 256
        && !text
            .chars()
            .any(|c| c.is_control() || matches!(c, '@' | ',' | ';')))
    .then(|| text.to_owned())
}

/// Parses `sshJump`; the hops in dialling order.
pub(crate) fn parse_jump(text: &str) -> Result<Vec<Hop>, String> {
    let mut hops = Vec::new();
    for (i, raw) in text.split(',').enumerate() {
        let n = i + 1;
        let (place, key) = match raw.split_once(';') {
            Some((place, key)) => (place.trim(), Some(key.trim())),
            None => (raw.trim(), None),
        };
        let (user, host_port) = place
            .rsplit_once('@')
            .ok_or_else(|| format!("hop {n} of sshJump must be user@host[:port]"))?;
        let user = parse_user(user)
            .ok_or_else(|| format!("hop {n} of sshJump has no valid user before '@'"))?;
        let (host, port) = split_host_port(host_port).map_err(|e| match e {
            Some(HostError::NumericSpelling) => format!(
                "the host of hop {n} of sshJump is {}",
                HostError::NumericSpelling.advice()
            ),
            _ => format!("hop {n} of sshJump has no valid host[:port] after '@'"),
        })?;
        let host_key = key
            .map(|k| {
                HostKeyPin::parse(k).map_err(|expected| {
                    format!("the host key of hop {n} of sshJump must be {expected}")
                })
            })
            .transpose()?;
        hops.push(Hop {
            user,
            host,
            port,
            host_key,
        });
    }
    if hops.len() > MAX_JUMPS {
        return Err(format!(
            "sshJump lists {} hops; at most {MAX_JUMPS} are allowed",
            hops.len()
        ));
    }
    Ok(hops)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `Err(Some(_))` when the host is what is wrong.
fn split_host_port(text: &str) -> Result<(String, u16), Option<HostError>> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest.split_once(']').ok_or(None)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(None)?),
            };
            (&text[..inner.len() + 2], port)
        }
        None => match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let port = match port {
        Some(p) => parse_port(p).ok_or(None)?,
        None => DEFAULT_PORT,
    };
    Ok((host::parse(host).map_err(Some)?, port))
}

/// The normalized `sshJump`: every port explicit, pins as fingerprints.
pub(crate) fn render_jump(hops: &[Hop]) -> String {
    hops.iter()
        .map(|hop| match &hop.host_key {
            Some(pin) => format!("{};{pin}", hop.label()),
            None => hop.label(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key made for this test, and its fingerprint as `ssh-keygen -lf` printed it.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGPtdZVw/YnAu2iNNS1OlwNMGQuMORfutzcnLMOAy+ts bastion";
    const ED25519_FINGERPRINT: &str = "SHA256:H1A0MOgNmSX3XWZTmX/3zKGCHwCbWDGC1iyaSmZ5Jng";

    #[test]
    fn a_pin_is_normalized_to_the_fingerprint_from_every_spelling() {
        let from_line = HostKeyPin::parse(ED25519).unwrap();
        assert_eq!(from_line.as_str(), ED25519_FINGERPRINT);
        let from_fingerprint = HostKeyPin::parse(from_line.as_str()).unwrap();
        assert_eq!(from_fingerprint, from_line);
        let known_hosts = format!("[bastion.example.com]:2222,10.0.0.5\t{ED25519}");
        assert_eq!(HostKeyPin::parse(&known_hosts).unwrap(), from_line);
        let padded = format!("{}=", from_line.as_str());
        assert_eq!(HostKeyPin::parse(&padded).unwrap(), from_line);
    }

    #[test]
    fn a_bad_pin_is_refused() {
        for bad in [
            "",
            "SHA256:",
            "SHA256:abc",
            "MD5:00:11",
            "ssh-ed25519 AAAA",
            "hello",
        ] {
            assert!(HostKeyPin::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_jump_list_reads_hops_ports_and_pins_and_renders_them_back() {
        let pin = HostKeyPin::parse(ED25519).unwrap();
        let text = format!("jump@10.0.0.1;{pin},ops@[fd00::1]:2222,me@gw.example.com");
        let hops = parse_jump(&text).unwrap();
        assert_eq!(hops.len(), 3);
        assert_eq!(hops[0].label(), "jump@10.0.0.1:22");
        assert_eq!(hops[0].host_key.as_ref(), Some(&pin));
        assert_eq!(hops[1].label(), "ops@[fd00::1]:2222");
        assert_eq!(hops[2].host, "gw.example.com");
        let rendered = render_jump(&hops);
        assert_eq!(
            rendered,
            format!("jump@10.0.0.1:22;{pin},ops@[fd00::1]:2222,me@gw.example.com:22")
        );
        assert_eq!(parse_jump(&rendered).unwrap(), hops);
    }

    #[test]
    fn a_bad_jump_list_says_which_hop() {
        for (bad, says) in [
            ("10.0.0.1", "hop 1"),
            ("a@h,b@", "hop 2"),
            ("a@h:0", "hop 1"),
            ("a@h;SHA256:nope", "host key of hop 1"),
            ("@h", "hop 1"),
        ] {
            let err = parse_jump(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let long = ["a@h"; MAX_JUMPS + 1].join(",");
        assert!(parse_jump(&long).unwrap_err().contains("at most"));
    }
}
