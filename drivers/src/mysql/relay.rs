//! MySQL and MariaDB through an SSH channel.
//!
//! `mysql_async` dials only TCP or a Unix socket and takes no stream of ours, so the channel
//! reaches it through a Unix socket that only this process can use. No TCP port is opened, and
//! the socket is guarded three ways:
//!
//! - it lives in a fresh directory of mode 0700 (`tempfile`), so another user cannot reach it;
//! - a connection is relayed only when the kernel says (`SO_PEERCRED`) it comes from this very
//!   process; any other is closed before a byte is read from or written to it;
//! - the socket and its directory are removed as soon as this process's own connection is
//!   accepted (or when the test ends first), so nothing can connect afterwards.
//!
//! `mysql_async` does not use TLS over a Unix socket (it takes one for a local server), so TLS,
//! when configUri asks for it, is started here, on the channel, exactly as the PostgreSQL probe
//! does it: same rustls configuration, same roots, the database's name as written. That takes
//! knowing the connection phase: the server's greeting is passed on, `mysql_async`'s login
//! packet is held back while an SSL request (its first 32 bytes, with `CLIENT_SSL`) goes to the
//! server and TLS starts, then the login goes on inside TLS. The SSL request took one sequence
//! number, so until the server's OK or ERR ends the login, packets to the server are numbered
//! one up and packets from it one down; after that, bytes are copied unchanged.
//!
//! Without TLS the last leg (bastion → database) is plain, and over a Unix socket
//! `mysql_async` would answer caching_sha2_password's request for the full password with the
//! password itself: that request is refused here instead of passed on.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::consts::CapabilityFlags;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::attempt::{Io, Peer};
use crate::report::{ErrorCode, ProbeFailure, TlsReport};
use crate::tls::{self, Handshake};

/// The largest packet of the connection phase relayed: greetings, logins and auth exchanges
/// are a few hundred bytes; anything near this is not a MySQL server.
const MAX_LOGIN_PACKET: usize = 64 * 1024;

/// The first byte of the server's OK and ERR packets, which end the connection phase.
const OK: u8 = 0x00;
const ERR: u8 = 0xff;

/// caching_sha2_password's "perform full authentication": the client is to send the password.
const FULL_AUTH_REQUEST: &[u8] = &[0x01, 0x04];

/// A relay between `mysql_async` (on [`Relay::socket`]) and the channel. Dropping it stops the
/// relay and removes the socket.
pub(crate) struct Relay {
    socket: std::path::PathBuf,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

/// What the relay learned, read by the probe after `mysql_async` returns.
#[derive(Debug, Default)]
struct State {
    /// Why the relay stopped the login, when it did: this is the test's failure.
    failure: Option<ProbeFailure>,
    /// TLS on the last leg, once it is up.
    tls: Option<TlsReport>,
    /// How long the greeting and the TLS handshake took, once the handshake ended either way.
    tls_time: Option<Duration>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Opens the private socket and starts relaying it to `server`, starting TLS with `tls`.
    pub(crate) fn start(
        server: Box<dyn Io>,
        tls: Option<Handshake>,
        peer: Peer,
    ) -> Result<Relay, ProbeFailure> {
        let inside_jackal = |e: io::Error| {
            ProbeFailure::new(
                ErrorCode::ServerError,
                format!("opening the private socket that hands the SSH channel to the MySQL client failed inside Jackal: {e}"),
            )
        };
        // tempfile makes the directory with mode 0700.
        let dir = tempfile::Builder::new()
            .prefix("jackal-mysql-")
            .tempdir()
            .map_err(inside_jackal)?;
        let socket = dir.path().join("s");
        let listener = UnixListener::bind(&socket).map_err(inside_jackal)?;
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(serve(listener, dir, server, tls, peer, state.clone()));
        Ok(Relay {
            socket,
            state,
            task,
        })
    }

    /// Where `mysql_async` connects.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// The relay's own failure, when it stopped the login.
    pub(crate) fn failure(&self) -> Option<ProbeFailure> {
        self.lock().failure.clone()
    }

    /// TLS on the last leg, when it was started.
    pub(crate) fn tls(&self) -> Option<TlsReport> {
        self.lock().tls.clone()
    }

    /// How long the greeting and TLS took, once the handshake ended (either way).
    pub(crate) fn tls_time(&self) -> Option<Duration> {
        self.lock().tls_time
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(
    listener: UnixListener,
    dir: tempfile::TempDir,
    server: Box<dyn Io>,
    tls: Option<Handshake>,
    peer: Peer,
    state: Arc<Mutex<State>>,
) {
    let mut client = match accept_own(&listener).await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(error = %e, "the MySQL relay socket failed before its client connected");
            return;
        }
    };
    // Nothing else may connect from now on.
    drop(listener);
    drop(dir);
    if let Err(failure) = relay(&mut client, server, tls, &peer, &state).await {
        // Recorded while the client's socket is still open (it closes below), so the probe
        // finds it when mysql_async reports the closed connection.
        state.lock().unwrap_or_else(|p| p.into_inner()).failure = Some(failure);
    }
    drop(client);
}

/// The first connection that comes from this process. Others are closed unread.
async fn accept_own(listener: &UnixListener) -> io::Result<UnixStream> {
    let me = std::process::id();
    loop {
        let (stream, _) = listener.accept().await?;
        let pid = stream.peer_cred().ok().and_then(|cred| cred.pid());
        if pid.and_then(|pid| u32::try_from(pid).ok()) == Some(me) {
            return Ok(stream);
        }
        tracing::warn!(
            ?pid,
            "closed a connection to a MySQL tunnel's private socket that did not come from Jackal"
        );
    }
}

/// One packet: its sequence number and payload.
type Packet = (u8, Vec<u8>);

async fn read_packet<R: AsyncRead + Unpin>(from: &mut R) -> io::Result<Packet> {
    let mut header = [0u8; 4];
    from.read_exact(&mut header).await?;
    Ok((header[3], read_payload(from, &header).await?))
}

/// The payload announced by `header`, refused when larger than a login packet can be.
async fn read_payload<R: AsyncRead + Unpin>(from: &mut R, header: &[u8; 4]) -> io::Result<Vec<u8>> {
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    if len > MAX_LOGIN_PACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {len}-byte packet during the MySQL login"),
        ));
    }
    let mut payload = vec![0; len];
    from.read_exact(&mut payload).await?;
    Ok(payload)
}

async fn write_packet<W: AsyncWrite + Unpin>(
    to: &mut W,
    seq: u8,
    payload: &[u8],
) -> io::Result<()> {
    let len = u32::try_from(payload.len()).expect("bounded by MAX_LOGIN_PACKET");
    let mut packet = Vec::with_capacity(4 + payload.len());
    packet.extend_from_slice(&len.to_le_bytes()[..3]);
    packet.push(seq);
    packet.extend_from_slice(payload);
    to.write_all(&packet).await?;
    to.flush().await
}

/// The server's capability flags (their lower half, which holds `CLIENT_SSL`) from its
/// greeting (protocol 10): version byte, NUL-terminated version string, connection id (4),
/// first 8 bytes of the nonce, a filler byte, then the flags.
fn greeting_capabilities(greeting: &[u8]) -> Option<CapabilityFlags> {
    let version_end = 1 + greeting.get(1..)?.iter().position(|&b| b == 0)?;
    let at = version_end + 1 + 4 + 8 + 1;
    let lower = greeting.get(at..at + 2)?;
    Some(CapabilityFlags::from_bits_truncate(u32::from(
        u16::from_le_bytes([lower[0], lower[1]]),
    )))
}

/// Relays one connection: the connection phase packet by packet (TLS started on the way when
/// asked), then bytes unchanged, until either side closes.
async fn relay(
    client: &mut UnixStream,
    mut server: Box<dyn Io>,
    tls: Option<Handshake>,
    peer: &Peer,
    state: &Mutex<State>,
) -> Result<(), ProbeFailure> {
    let not_mysql = |e: io::Error| {
        ProbeFailure::new(
            ErrorCode::ServerError,
            format!("the server at {peer} did not answer like a MySQL or MariaDB server ({e}): check the database's host and port in configUri"),
        )
    };
    let started = Instant::now();
    let (seq, greeting) = read_packet(&mut server).await.map_err(not_mysql)?;
    // An ERR instead of a greeting (a host the server refuses) goes to mysql_async as it is.
    let refused = greeting.first() == Some(&ERR);
    // The client certificate presented during the handshake, if any.
    let mut presented = None;
    let shift = match tls {
        Some(tls) if !refused => {
            let offered = greeting_capabilities(&greeting)
                .ok_or_else(|| not_mysql(io::ErrorKind::InvalidData.into()))?;
            if !offered.contains(CapabilityFlags::CLIENT_SSL) {
                // TLS ends here, refused: the time to the greeting is the `tls` phase's.
                // And TLS is known to be off: the server offered none, nothing else was sent.
                let mut recorded = state.lock().unwrap_or_else(|p| p.into_inner());
                recorded.tls_time = Some(started.elapsed());
                recorded.tls = Some(TlsReport::off());
                drop(recorded);
                return Err(ProbeFailure::new(
                    ErrorCode::TlsUnavailable,
                    format!("the server at {peer} does not offer TLS, and configUri asks for it (ssl=true): enable TLS on the server, or set ssl=false"),
                ));
            }
            forward(client, seq, &greeting).await?;
            let (seq, mut login) = read_packet(client).await.map_err(client_lost)?;
            if login.len() < 32 {
                return Err(client_lost(io::ErrorKind::InvalidData.into()));
            }
            let flags = u32::from_le_bytes([login[0], login[1], login[2], login[3]])
                | CapabilityFlags::CLIENT_SSL.bits();
            login[..4].copy_from_slice(&flags.to_le_bytes());
            write_packet(&mut server, seq, &login[..32])
                .await
                .map_err(not_mysql)?;
            let handshake = tls.run(server).await;
            let stream = {
                let mut recorded = state.lock().unwrap_or_else(|p| p.into_inner());
                recorded.tls_time = Some(started.elapsed());
                let (stream, report) = handshake?;
                presented = report
                    .facts
                    .as_ref()
                    .and_then(|facts| facts.client_certificate.clone());
                recorded.tls = Some(report);
                stream
            };
            server = Box::new(stream);
            write_packet(&mut server, seq.wrapping_add(1), &login)
                .await
                .map_err(not_mysql)?;
            1
        }
        _ => {
            forward(client, seq, &greeting).await?;
            0
        }
    };
    let encrypted = shift == 1;
    let logged_in = AtomicBool::new(refused);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let to_server = async {
        while !logged_in.load(Ordering::Acquire) {
            let mut header = [0u8; 4];
            if client_read.read_exact(&mut header).await.is_err() {
                return Ok(());
            }
            // The client speaks again only after the server's OK: a command, numbered from 0,
            // of any size. Passed on as it is, with the rest of the stream.
            if logged_in.load(Ordering::Acquire) {
                server_write.write_all(&header).await.map_err(not_mysql)?;
                break;
            }
            let Ok(payload) = read_payload(&mut client_read, &header).await else {
                return Ok(());
            };
            write_packet(&mut server_write, header[3].wrapping_add(shift), &payload)
                .await
                .map_err(not_mysql)?;
        }
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
        Ok(())
    };
    let to_client = async {
        while !logged_in.load(Ordering::Acquire) {
            let (seq, payload) = match read_packet(&mut server_read).await {
                Ok(packet) => packet,
                Err(e) => {
                    // TLS 1.3 servers refuse a missing or unaccepted client certificate after
                    // the handshake: the alert comes with the first read.
                    if let Some(failure) =
                        tls::client_cert_failure(&e, &peer.to_string(), presented.as_ref())
                    {
                        return Err(failure);
                    }
                    // Too large for a login packet, or not TLS where TLS was started.
                    if e.kind() == io::ErrorKind::InvalidData {
                        return Err(not_mysql(e));
                    }
                    // Closed mid-login: mysql_async sees its socket close and says so.
                    let _ = client_write.shutdown().await;
                    return Ok(());
                }
            };
            // mysql_async looks at the first two bytes only: so does this check.
            if !encrypted && payload.starts_with(FULL_AUTH_REQUEST) {
                return Err(ProbeFailure::new(
                    ErrorCode::ServerError,
                    format!("the server at {peer} asks for the password itself (caching_sha2_password's full authentication), and the last leg of the tunnel, from the bastion to the database, is not encrypted: Jackal does not send it; set ssl=true (the server then receives it inside TLS)"),
                ));
            }
            if matches!(payload.first(), Some(&OK) | Some(&ERR)) {
                logged_in.store(true, Ordering::Release);
            }
            write_packet(&mut client_write, seq.wrapping_sub(shift), &payload)
                .await
                .map_err(client_lost)?;
        }
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
        Ok(())
    };
    tokio::try_join!(to_server, to_client).map(|_| ())
}

async fn forward(client: &mut UnixStream, seq: u8, payload: &[u8]) -> Result<(), ProbeFailure> {
    write_packet(client, seq, payload)
        .await
        .map_err(client_lost)
}

/// The MySQL client's side of the socket failed: Jackal's own fault, not the server's.
fn client_lost(e: io::Error) -> ProbeFailure {
    ProbeFailure::new(
        ErrorCode::ServerError,
        format!("the MySQL client inside Jackal left the tunnel during the login: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 greeting as sent on the wire (payload only), with `CLIENT_SSL` set.
    fn greeting(ssl: bool) -> Vec<u8> {
        let mut g = vec![10];
        g.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        g.extend_from_slice(&7u32.to_le_bytes());
        g.extend_from_slice(b"abcdefgh");
        g.push(0);
        let lower: u16 = if ssl { 0xfffe } else { 0xf7fe };
        g.extend_from_slice(&lower.to_le_bytes());
        g.extend_from_slice(&[45, 2, 0, 0x3f, 21]);
        g
    }

    #[test]
    fn the_greeting_says_whether_the_server_offers_tls() {
        let with = greeting_capabilities(&greeting(true)).unwrap();
        assert!(with.contains(CapabilityFlags::CLIENT_SSL));
        let without = greeting_capabilities(&greeting(false)).unwrap();
        assert!(!without.contains(CapabilityFlags::CLIENT_SSL));
        assert!(without.contains(CapabilityFlags::CLIENT_PROTOCOL_41));
        // Cut anywhere before the flags: not a greeting.
        let full = greeting(true);
        for len in 0..full.len() - 7 {
            assert!(greeting_capabilities(&full[..len]).is_none(), "{len}");
        }
    }

    #[tokio::test]
    async fn packets_round_trip_and_oversized_ones_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        write_packet(&mut a, 3, b"hello").await.unwrap();
        assert_eq!(read_packet(&mut b).await.unwrap(), (3, b"hello".to_vec()));

        let mut header = ((MAX_LOGIN_PACKET + 1) as u32).to_le_bytes();
        header[3] = 0;
        a.write_all(&header).await.unwrap();
        let err = read_packet(&mut b).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_connection_from_another_process_is_closed_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = UnixListener::bind(&path).unwrap();
        // Another process connects first and writes; then this process connects.
        let mut other = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\ntry:\n  s.sendall(b'x')\n  print('answered' if s.recv(1) else 'closed')\nexcept (ConnectionResetError, BrokenPipeError):\n  print('closed')",
                path.display().to_string()
            ))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let accept = tokio::spawn(async move { accept_own(&listener).await });
        // The other process's connection is closed, unanswered: it reads end of stream, or a
        // reset (it sent a byte that was never read), or its send finds the socket closed.
        let mut out = String::new();
        let mut stdout = other.stdout.take().unwrap();
        let read = stdout.read_to_string(&mut out);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
        assert_eq!(out.trim(), "closed");
        assert!(!accept.is_finished(), "a foreign connection was accepted");
        let mut own = UnixStream::connect(&path).await.unwrap();
        let mut accepted = accept.await.unwrap().unwrap();
        own.write_all(b"me").await.unwrap();
        let mut buf = [0u8; 2];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"me");
    }
}
