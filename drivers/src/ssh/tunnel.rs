//! Opening a tunnel: Jackal dials the first hop itself (its addresses already resolved and
//! checked by the egress policy), speaks SSH, verifies the pinned host key, logs in, and opens
//! a `direct-tcpip` channel to the next hop, then over that channel the same again, until the
//! bastion opens the channel to the database. The channel is the database connection's
//! stream: no port is ever listened on.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use russh::client::{self, AuthResult, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use russh::{ChannelOpenFailure, Preferred};
use tokio::net::TcpStream;

use super::credentials::SshCredentials;
use super::route::{Hop, HostKeyPin, SshRoute};
use crate::attempt::{dial_error_code, Attempt, Io};
use crate::report::{ErrorCode, Phase, ProbeFailure};

/// Host-key algorithms accepted: russh's defaults without `ssh-rsa` (SHA-1 signatures), as
/// OpenSSH has done since 8.8.
const HOST_KEY_ALGORITHMS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// The russh client configuration of every hop. Public so that a benchmark's floor runs the
/// very same one.
pub fn client_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        // The test's deadline bounds every step; the session ends with the test.
        inactivity_timeout: None,
        nodelay: true,
        preferred: Preferred {
            key: Cow::Borrowed(HOST_KEY_ALGORITHMS),
            ..Preferred::default()
        },
        ..Default::default()
    })
}

/// An open tunnel: the stream to the database, and the sessions it runs through, which must
/// live as long as the stream.
pub(crate) struct Tunnel {
    stream: Box<dyn Io>,
    sessions: Sessions,
}

/// The SSH sessions under a tunnel; dropping them closes it.
pub(crate) struct Sessions(#[allow(dead_code)] Vec<Handle<HostKeyCheck>>);

impl Tunnel {
    pub(crate) fn into_parts(self) -> (Box<dyn Io>, Sessions) {
        (self.stream, self.sessions)
    }
}

/// Why the host-key check refused a server.
#[derive(Debug)]
pub(crate) enum CheckError {
    Unknown { presented: String },
    Mismatch { presented: String, pinned: String },
    Ssh(russh::Error),
}

impl From<russh::Error> for CheckError {
    fn from(e: russh::Error) -> Self {
        CheckError::Ssh(e)
    }
}

/// Accepts exactly the pinned key; remembers what was presented, for the message.
pub(crate) struct HostKeyCheck {
    pin: Option<HostKeyPin>,
}

impl client::Handler for HostKeyCheck {
    type Error = CheckError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key else {
            // Host certificates are not asked for (Preferred::host_key_certificates is empty).
            return Ok(false);
        };
        let presented = HostKeyPin::of(key);
        match &self.pin {
            Some(pin) if *pin == presented => Ok(true),
            Some(pin) => Err(CheckError::Mismatch {
                presented: presented.to_string(),
                pinned: pin.to_string(),
            }),
            None => Err(CheckError::Unknown {
                presented: presented.to_string(),
            }),
        }
    }
}

/// Where a hop's pin goes in `configUri`: the option to add or correct.
fn pin_option(route: &SshRoute, index: usize) -> String {
    if index + 1 == route.hops.len() {
        "sshHostKey".to_owned()
    } else {
        format!("hop {} of sshJump (user@host:port;SHA256:…)", index + 1)
    }
}

/// Where one hop is asked to open its channel: the next hop, or the database behind the
/// bastion.
#[derive(Debug, Clone)]
pub(crate) enum Leg {
    /// Addresses Jackal resolved and the egress policy allowed, tried in order.
    Addresses(Vec<SocketAddr>),
    /// A name for the hop to resolve (`[egress] ssh_resolves_names`).
    Name { host: String, port: u16 },
}

impl Leg {
    /// What the hop is asked to reach, as `direct-tcpip` names it: a checked IP, or the name.
    fn destinations(&self) -> Vec<(String, u16)> {
        match self {
            Leg::Addresses(addrs) => addrs
                .iter()
                .map(|a| (a.ip().to_string(), a.port()))
                .collect(),
            Leg::Name { host, port } => vec![(host.clone(), *port)],
        }
    }
}

/// Opens the tunnel through `route`, the first hop at `first_addrs`; hop `i` opens its channel
/// to `legs[i]` (the next hop's, then the database's).
pub(crate) async fn open(
    route: &SshRoute,
    credentials: &SshCredentials,
    first_addrs: &[SocketAddr],
    legs: &[Leg],
    attempt: &mut Attempt,
) -> Result<Tunnel, ProbeFailure> {
    debug_assert_eq!(legs.len(), route.hops.len());
    let key = credentials
        .key_for_auth()
        .map_err(|e| ProbeFailure::new(ErrorCode::SshAuthFailed, e.to_string()))?;
    let mut sessions: Vec<Handle<HostKeyCheck>> = Vec::new();
    let mut stream: Option<Box<dyn Io>> = None;
    for ((index, hop), leg) in route.hops.iter().enumerate().zip(legs) {
        let label = hop.label();
        let handler = HostKeyCheck {
            pin: hop.host_key.clone(),
        };
        let mut session = attempt
            .run_hop(Phase::SshConnect, &label, async {
                let result = match stream.take() {
                    None => match dial(first_addrs).await {
                        Ok(tcp) => client::connect_stream(client_config(), tcp, handler).await,
                        Err(e) => Err(e),
                    },
                    Some(channel) => {
                        client::connect_stream(client_config(), channel, handler).await
                    }
                };
                result.map_err(|e| handshake_failure(e, hop, &pin_option(route, index)))
            })
            .await?;
        attempt
            .run_hop(
                Phase::SshAuth,
                &label,
                log_in(&mut session, hop, key.as_ref(), credentials),
            )
            .await?;
        let what = match route.hops.get(index + 1) {
            Some(next) => format!("the next SSH hop {}", next.label()),
            None => "the database".to_owned(),
        };
        let channel = attempt
            .run_hop(
                Phase::SshForward,
                &label,
                open_channel(&session, leg, hop, &what),
            )
            .await?;
        stream = Some(Box::new(channel.into_stream()));
        sessions.push(session);
    }
    Ok(Tunnel {
        stream: stream.expect("a route has at least one hop"),
        sessions: Sessions(sessions),
    })
}

/// A `direct-tcpip` channel from `hop` to the first destination of `leg` it can reach.
async fn open_channel(
    session: &Handle<HostKeyCheck>,
    leg: &Leg,
    hop: &Hop,
    what: &str,
) -> Result<russh::Channel<client::Msg>, ProbeFailure> {
    let mut last = None;
    for (host, port) in leg.destinations() {
        match session
            .channel_open_direct_tcpip(host.as_str(), u32::from(port), "127.0.0.1", 0)
            .await
        {
            Ok(channel) => return Ok(channel),
            // Another address of the same name may answer.
            Err(russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed)) => {
                last = Some((host, port));
            }
            Err(e) => {
                return Err(forward_failure(
                    e,
                    hop,
                    &format!("{what} at {}", host_port(&host, port)),
                ))
            }
        }
    }
    let (host, port) = last.expect("a leg has at least one destination");
    Err(forward_failure(
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed),
        hop,
        &format!("{what} at {}", host_port(&host, port)),
    ))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// TCP to the first address of the first hop that answers.
async fn dial(addrs: &[SocketAddr]) -> Result<TcpStream, CheckError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(russh::Error::IO)?;
                return Ok(tcp);
            }
            Err(e) => last = Some((*addr, e)),
        }
    }
    let (addr, e) = last.expect("the first hop has at least one address");
    Err(CheckError::Ssh(russh::Error::IO(std::io::Error::new(
        e.kind(),
        format!("{addr}: {e}"),
    ))))
}

fn handshake_failure(err: CheckError, hop: &Hop, option: &str) -> ProbeFailure {
    let label = hop.label();
    match err {
        CheckError::Unknown { presented } => ProbeFailure::new(
            ErrorCode::SshHostKeyUnknown,
            format!(
                "{label} presented the host key {presented}, and none is pinned for it: if that is \
                 the server's key (check with ssh-keygen -lf on the server), add it as {option}"
            ),
        ),
        CheckError::Mismatch { presented, pinned } => ProbeFailure::new(
            ErrorCode::SshHostKeyMismatch,
            format!(
                "{label} presented the host key {presented}, but {pinned} is pinned ({option}): \
                 the server's key changed or another machine answered; nothing was sent to it. \
                 Check the key on the server before changing the pin"
            ),
        ),
        CheckError::Ssh(russh::Error::IO(e)) => {
            // A refused first hop is a dial error (through a channel there is no dial),
            // reported with SSH's own codes and words.
            match dial_error_code(&e) {
                Some(ErrorCode::Refused) => ProbeFailure::new(
                    ErrorCode::SshRefused,
                    format!(
                        "nothing is listening for SSH at {label} ({e}): check sshHost and sshPort \
                         (SSH's default port is 22), and that the SSH server is running"
                    ),
                ),
                Some(ErrorCode::Timeout) => ProbeFailure::new(
                    ErrorCode::SshTimeout,
                    format!("nothing answered at {label} ({e}): check sshHost, sshPort and the firewall"),
                ),
                Some(code) => ProbeFailure::new(
                    code,
                    format!("could not reach the SSH server {label} ({e}): check sshHost and the network"),
                ),
                None => ProbeFailure::new(
                    ErrorCode::SshFailed,
                    format!("the connection to {label} failed during the SSH handshake ({e}): is an SSH server listening there?"),
                ),
            }
        }
        CheckError::Ssh(e) => ProbeFailure::new(
            ErrorCode::SshFailed,
            format!(
                "the SSH handshake with {label} failed ({e}): is an SSH server listening there?"
            ),
        ),
    }
}

async fn log_in(
    session: &mut Handle<HostKeyCheck>,
    hop: &Hop,
    key: Option<&Arc<PrivateKey>>,
    credentials: &SshCredentials,
) -> Result<(), ProbeFailure> {
    let label = hop.label();
    let failed = |e: russh::Error| {
        ProbeFailure::new(
            ErrorCode::SshFailed,
            format!("the SSH login to {label} broke off ({e})"),
        )
    };
    let (result, tried) = if let Some(key) = key {
        let hash = if key.algorithm().is_rsa() {
            // rsa-sha2-512/256 as the server lists them; never SHA-1 ssh-rsa, which OpenSSH
            // refuses since 8.8.
            session
                .best_supported_rsa_hash()
                .await
                .map_err(failed)?
                .flatten()
                .or(Some(HashAlg::Sha256))
        } else {
            None
        };
        let result = session
            .authenticate_publickey(&hop.user, PrivateKeyWithHashAlg::new(key.clone(), hash))
            .await
            .map_err(failed)?;
        (
            result,
            "the key sshPrivateKey (fingerprint ".to_owned()
                + &key.public_key().fingerprint(HashAlg::Sha256).to_string()
                + ")",
        )
    } else if let Some(password) = &credentials.password {
        let result = session
            .authenticate_password(&hop.user, password.as_str())
            .await
            .map_err(failed)?;
        (result, "the password sshPassword".to_owned())
    } else {
        return Err(ProbeFailure::new(
            ErrorCode::SshAuthFailed,
            format!(
                "no SSH credentials are stored for this data source: send sshPrivateKey (with \
                 sshKeyPassphrase if it is encrypted) or sshPassword to log in to {label}"
            ),
        ));
    };
    match result {
        AuthResult::Success => Ok(()),
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            let offered: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
            let offered = if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            };
            Err(ProbeFailure::new(
                ErrorCode::SshAuthFailed,
                format!(
                    "{label} refused {tried} for user {:?}; it offers: {offered}. Check sshUser, \
                     and that the key is in the user's authorized_keys (or the password is right)",
                    hop.user
                ),
            ))
        }
    }
}

fn forward_failure(err: russh::Error, hop: &Hop, what: &str) -> ProbeFailure {
    let label = hop.label();
    match err {
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited) => {
            ProbeFailure::new(
                ErrorCode::SshForwardDenied,
                format!(
                    "{label} refused to open a channel to {what} (administratively prohibited): \
                     its sshd must allow TCP forwarding for this user (AllowTcpForwarding, \
                     PermitOpen)"
                ),
            )
        }
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed) => ProbeFailure::new(
            ErrorCode::Unreachable,
            format!(
                "{label} could not connect to {what}: check the host and port as the bastion \
                 sees them, and that the server is running"
            ),
        ),
        russh::Error::ChannelOpenFailure(reason) => ProbeFailure::new(
            ErrorCode::SshForwardDenied,
            format!("{label} did not open a channel to {what} ({reason:?})"),
        ),
        e => ProbeFailure::new(
            ErrorCode::SshFailed,
            format!(
                "the SSH session with {label} broke off while opening a channel to {what} ({e})"
            ),
        ),
    }
}
